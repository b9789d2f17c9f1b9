//! Per-registry settings from `TARCZA_REGISTRY_<NAME>_<SETTING>` variables: where its
//! data comes from, how often to fetch it, how old it may get, what to do when it is older,
//! and whether a client's documented consent exempts a number from its block.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::parse_duration;
use crate::domain::{Encoding, Format, HashScheme, Mode};

const PREFIX: &str = "TARCZA_REGISTRY_";
/// The settings a registry variable may name, longest first so `_MAX_AGE` is not read as
/// a registry called `…_MAX` with a setting `AGE`.
const SETTINGS: [&str; 9] = [
    "CONSENT_EXEMPTS",
    "STALE_POLICY",
    "HASH_SCHEME",
    "ENCODING",
    "INTERVAL",
    "MAX_AGE",
    "SOURCE",
    "FORMAT",
    "MODE",
];

/// Data older than this makes `/check` fail closed, unless configured otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(31 * 86_400);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(6 * 3600);

#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// An `http://` or `https://` URL, fetched with a conditional GET.
    Http(reqwest::Url),
    /// A local file, or a directory whose newest file is the current one.
    Path(PathBuf),
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the source is empty".into());
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return reqwest::Url::parse(s)
                .map(Source::Http)
                .map_err(|e| format!("{s:?} is not a valid URL: {e}"));
        }
        if s.contains("://") {
            return Err(format!(
                "{s:?}: only http://, https:// and file paths are supported"
            ));
        }
        Ok(Source::Path(PathBuf::from(
            s.strip_prefix("file:").unwrap_or(s),
        )))
    }

    /// How the source is shown in import records, logs, the audit log and the registry
    /// view: a URL without its user, password, query and fragment (they may hold
    /// credentials).
    pub fn describe(&self) -> String {
        match self {
            Source::Http(url) => redact_url(url),
            Source::Path(path) => path.display().to_string(),
        }
    }
}

/// `url` without user, password, query and fragment.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// What `/check` does when a registry's data is older than its maximum age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StalePolicy {
    /// Answer 503 `stale_registry`: the dialer does not call (fail closed).
    Block,
    /// Answer as usual, with a warning in the response.
    Warn,
}

impl StalePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            StalePolicy::Block => "block",
            StalePolicy::Warn => "warn",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RegistryConfig {
    pub name: String,
    pub source: Option<Source>,
    pub interval: Duration,
    /// `None` only when configured as `0` (no maximum age).
    pub max_age: Option<Duration>,
    pub stale_policy: StalePolicy,
    pub mode: Mode,
    pub format: Format,
    pub encoding: Option<Encoding>,
    /// A valid consent of the call's client exempts a number from this registry's block,
    /// for that client only. Off unless an operator decides the law allows it.
    pub consent_exempts: bool,
}

impl RegistryConfig {
    /// The settings of a registry nobody configured.
    pub fn unconfigured(name: &str) -> RegistryConfig {
        RegistryConfig {
            name: name.to_string(),
            source: None,
            interval: DEFAULT_INTERVAL,
            max_age: Some(DEFAULT_MAX_AGE),
            stale_policy: StalePolicy::Block,
            mode: Mode::Snapshot,
            format: Format::Csv,
            encoding: None,
            consent_exempts: false,
        }
    }
}

/// Reads every `TARCZA_REGISTRY_<NAME>_<SETTING>` among `vars`. An error names the
/// variable and says what is wrong with it.
pub fn from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<RegistryConfig>, String> {
    let mut found: BTreeMap<String, BTreeMap<&'static str, (String, String)>> = BTreeMap::new();
    for (key, value) in vars {
        let Some(rest) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((name, setting)) = SETTINGS.iter().find_map(|s| {
            rest.strip_suffix(s)
                .and_then(|n| n.strip_suffix('_'))
                .map(|n| (n, *s))
        }) else {
            return Err(format!(
                "{key}: unknown registry setting; use TARCZA_REGISTRY_<NAME>_ followed by one of {}",
                SETTINGS.join(", ")
            ));
        };
        let name = name.to_ascii_lowercase();
        if !valid_name(&name) {
            return Err(format!(
                "{key}: {name:?} is not a registry name (a letter, then up to 31 letters, digits or _)"
            ));
        }
        found
            .entry(name)
            .or_default()
            .insert(setting, (key.clone(), value));
    }
    found
        .into_iter()
        .map(|(name, settings)| build(&name, &settings))
        .collect()
}

fn build(
    name: &str,
    settings: &BTreeMap<&'static str, (String, String)>,
) -> Result<RegistryConfig, String> {
    let mut c = RegistryConfig::unconfigured(name);
    let named = |key: &str, e: String| format!("{key}: {e}");
    let mut scheme = None;
    let mut sha256 = false;
    for (setting, (key, value)) in settings {
        let v = value.trim();
        match *setting {
            "SOURCE" => c.source = Some(Source::parse(v).map_err(|e| named(key, e))?),
            "INTERVAL" => {
                c.interval = parse_duration(v).map_err(|e| named(key, e))?;
                if c.interval < Duration::from_secs(1) {
                    return Err(named(key, "the interval must be at least 1s".into()));
                }
            }
            "MAX_AGE" => {
                let age = parse_duration(v).map_err(|e| named(key, e))?;
                c.max_age = (!age.is_zero()).then_some(age);
            }
            "STALE_POLICY" => {
                c.stale_policy = match v.to_ascii_lowercase().as_str() {
                    "block" => StalePolicy::Block,
                    "warn" => StalePolicy::Warn,
                    _ => return Err(named(key, format!("{v:?} is not block or warn"))),
                }
            }
            "MODE" => {
                c.mode = v
                    .to_ascii_lowercase()
                    .parse::<Mode>()
                    .map_err(|_| named(key, format!("{v:?} is not snapshot or delta")))?
            }
            "FORMAT" => match v.to_ascii_lowercase().as_str() {
                "csv" => sha256 = false,
                "sha256" => sha256 = true,
                _ => return Err(named(key, format!("{v:?} is not csv or sha256"))),
            },
            "HASH_SCHEME" => {
                scheme = Some(v.trim().parse::<HashScheme>().map_err(|e| named(key, e))?)
            }
            "ENCODING" => c.encoding = Some(v.parse::<Encoding>().map_err(|e| named(key, e))?),
            "CONSENT_EXEMPTS" => {
                c.consent_exempts = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(named(key, format!("{v:?} is not true or false"))),
                }
            }
            _ => unreachable!("SETTINGS lists every setting"),
        }
    }
    if sha256 {
        c.format = Format::Sha256(scheme.unwrap_or(HashScheme::E164Digits));
    } else if scheme.is_some() {
        let key = &settings["HASH_SCHEME"].0;
        return Err(named(
            key,
            format!(
                "a hash scheme needs TARCZA_REGISTRY_{}_FORMAT=sha256",
                name.to_ascii_uppercase()
            ),
        ));
    }
    Ok(c)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_registry_is_read_from_its_variables() {
        let c = from_vars(vars(&[
            (
                "TARCZA_REGISTRY_ROBINSON_SOURCE",
                "https://example.org/robinson.csv.gz",
            ),
            ("TARCZA_REGISTRY_ROBINSON_INTERVAL", "6h"),
            ("TARCZA_REGISTRY_ROBINSON_MAX_AGE", "31d"),
            ("TARCZA_REGISTRY_ROBINSON_STALE_POLICY", "warn"),
            ("TARCZA_REGISTRY_ES_ROBINSON_SOURCE", "/srv/es"),
            ("TARCZA_REGISTRY_ES_ROBINSON_FORMAT", "sha256"),
            ("TARCZA_REGISTRY_ES_ROBINSON_HASH_SCHEME", "e164_plus"),
            ("TARCZA_REGISTRY_ES_ROBINSON_CONSENT_EXEMPTS", "TRUE"),
            ("TARCZA_BIND", "127.0.0.1:1"),
        ]))
        .unwrap();
        assert_eq!(c.len(), 2);
        let es = &c[0];
        assert_eq!(es.name, "es_robinson");
        assert_eq!(es.source, Some(Source::Path("/srv/es".into())));
        assert_eq!(es.format, Format::Sha256(HashScheme::E164Plus));
        assert_eq!(es.max_age, Some(DEFAULT_MAX_AGE));
        assert!(es.consent_exempts);
        let pl = &c[1];
        assert_eq!(pl.name, "robinson");
        assert_eq!(pl.interval, Duration::from_secs(6 * 3600));
        assert_eq!(pl.stale_policy, StalePolicy::Warn);
        assert_eq!(pl.format, Format::Csv);
        assert!(!pl.consent_exempts, "off unless an operator turns it on");
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        for (key, value) in [
            ("TARCZA_REGISTRY_ROBINSON_INTERVAL", "often"),
            ("TARCZA_REGISTRY_ROBINSON_STALE_POLICY", "ignore"),
            ("TARCZA_REGISTRY_ROBINSON_SOURCE", "ftp://example.org/x"),
            ("TARCZA_REGISTRY_ROBINSON_COLOUR", "red"),
            ("TARCZA_REGISTRY_9X_SOURCE", "/tmp"),
            ("TARCZA_REGISTRY_ROBINSON_HASH_SCHEME", "e164_plus"),
            ("TARCZA_REGISTRY_ROBINSON_ENCODING", "klingon"),
            ("TARCZA_REGISTRY_ROBINSON_CONSENT_EXEMPTS", "yes"),
        ] {
            let e = from_vars(vars(&[(key, value)])).unwrap_err();
            assert!(e.starts_with(key), "{e}");
        }
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        let s = Source::parse("https://ops:secret@example.org/list.csv?token=abc#x").unwrap();
        assert_eq!(s.describe(), "https://example.org/list.csv");
        let s = Source::parse("https://tok3n@example.org/list.csv").unwrap();
        assert_eq!(s.describe(), "https://example.org/list.csv");
    }
}
