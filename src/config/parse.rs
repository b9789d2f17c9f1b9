//! Reading one value of the configuration: durations, shares, regions, retention periods,
//! the public URL and roles. Each error names the value and what it should look like.

use std::time::Duration;

use crate::domain::{Region, Retention, Role};

pub(super) fn parse_region(s: &str) -> Result<Region, String> {
    s.trim()
        .to_ascii_uppercase()
        .parse::<Region>()
        .map_err(|_| format!("{s:?} is not an ISO 3166 region code known to the number metadata"))
}

/// `TARCZA_PUBLIC_URL`: kept as its origin, `scheme://host[:port]`, lower case.
pub(super) fn parse_public_url(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let lower = t.to_ascii_lowercase();
    let Some((scheme, authority)) = lower.split_once("://") else {
        return Err(format!(
            "{s:?} is not a URL such as https://dnc.example.com"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("{s:?} must start with https:// or http://"));
    }
    let bad = |c: char| c.is_whitespace() || "/?#@\\".contains(c);
    if authority.is_empty() || authority.contains(bad) {
        return Err(format!(
            "{s:?} must be only a scheme, a host and an optional port (no path, query or user)"
        ));
    }
    Ok(lower)
}

pub(super) fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

pub(super) fn parse_share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share between 0 and 1 (e.g. 0.05)")),
    }
}

/// A duration that must be more than zero: a period, a timeout or a limit of time.
pub(super) fn parse_interval(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("{s:?} is zero; it must be more than zero")),
        d => Ok(d),
    }
}

/// A retention period: whole years (`6y`) or a duration (`30d`, `12h`), more than zero.
pub(super) fn parse_retention(s: &str) -> Result<Retention, String> {
    let t = s.trim();
    if let Some(years) = t.strip_suffix('y') {
        return match years.trim().parse::<u32>() {
            Ok(y) if y > 0 => Ok(Retention {
                years: y,
                seconds: 0,
            }),
            _ => Err(format!(
                "{s:?} is not a number of years more than zero (e.g. 6y)"
            )),
        };
    }
    let d = parse_interval(s)?;
    if d.as_secs() == 0 {
        return Err(format!("{s:?} is shorter than a second"));
    }
    Ok(Retention {
        years: 0,
        seconds: d.as_secs(),
    })
}

/// Parses durations such as `500ms`, `30s`, `15m`, `6h`, `31d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 15m, 6h, 31d)"))?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?} has an unknown unit (use ms, s, m, h or d)")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Config};
    use clap::Parser;

    #[test]
    fn durations_read_the_usual_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_duration("31d"), Ok(Duration::from_secs(31 * 86_400)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn intervals_and_timeouts_must_be_more_than_zero() {
        assert!(parse_interval("0ms").is_err());
        assert!(parse_interval("0").is_err());
        assert_eq!(parse_interval("1ms"), Ok(Duration::from_millis(1)));
        for var in [
            "TARCZA_RECONCILE_INTERVAL",
            "TARCZA_MAX_SNAPSHOT_LAG",
            "TARCZA_REQUEST_TIMEOUT",
            "TARCZA_HEADER_TIMEOUT",
        ] {
            let flag = format!(
                "--{}",
                var["TARCZA_".len()..].to_lowercase().replace('_', "-")
            );
            let e = Cli::try_parse_from(["tarcza", &flag, "0ms"]).unwrap_err();
            assert!(e.to_string().contains("zero"), "{var}: {e}");
        }
    }

    #[test]
    fn the_public_url_is_kept_as_its_origin() {
        assert_eq!(
            parse_public_url("HTTPS://Dnc.Example.com/").as_deref(),
            Ok("https://dnc.example.com")
        );
        assert_eq!(
            parse_public_url("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        for bad in [
            "dnc.example.com",
            "ftp://x",
            "https://x/console",
            "https://u@x",
            "https://",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention_is_six_years_unless_set() {
        assert_eq!(Config::defaults().evidence_retention, Retention::DEFAULT);
        assert_eq!(
            parse_retention("10y"),
            Ok(Retention {
                years: 10,
                seconds: 0
            })
        );
        assert_eq!(
            parse_retention("30d"),
            Ok(Retention {
                years: 0,
                seconds: 30 * 86_400
            })
        );
        for bad in ["0y", "0", "-1y", "forever", "500ms"] {
            assert!(parse_retention(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_and_shares_are_checked() {
        assert!(parse_region("pl").is_ok());
        assert!(parse_region("XX").is_err());
        assert!(parse_share("1.5").is_err());
        assert_eq!(parse_share("0.05"), Ok(0.05));
    }
}
