//! Query strings read strictly: a parameter the endpoint does not know, or one given
//! twice, is a 400 naming it (a misspelt `Client=` must not silently check without the
//! client), and a literal `+` at the start of a phone number is a plus sign.

use std::borrow::Cow;
use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::Deserialize;

use crate::error::ApiError;

/// The query parameter that holds a phone number wherever an endpoint takes one.
const NUMBER: &str = "number";

/// The query string deserialized into `T`, a struct whose fields are the parameters the
/// endpoint takes; anything else is refused (see the module docs).
pub struct ApiQuery<T>(pub T);

/// For endpoints that take no query parameters: any parameter is refused.
pub type NoQuery = ApiQuery<NoParams>;

#[derive(Deserialize)]
pub struct NoParams {}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses `query` (the raw string after `?`) into `T`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if let Some(known) = field_names::<T>() {
        let mut seen = 0u128;
        for (name, _) in form_urlencoded::parse(query.as_bytes()) {
            slot(&name, known, &mut seen)?;
        }
    }
    let query = plus_in_number(query);
    serde_urlencoded::from_str(&query)
        .map_err(|e| ApiError::bad_request("invalid_query", format!("invalid query string: {e}")))
}

/// The string parameters `names` (the fields of `T`, in their order) of `query`, each
/// borrowed from it unless decoding changes it, read by the rules of [`parse`] (same
/// values, same refusals): for the hot `GET /v1/check`, whose usual query needs no
/// owned string at all.
pub fn borrowed<'q, T: DeserializeOwned, const N: usize>(
    query: &'q str,
    names: [&'static str; N],
) -> Result<[Option<Cow<'q, str>>; N], ApiError> {
    debug_assert_eq!(field_names::<T>(), Some(&names[..]), "the fields of T");
    let mut values = std::array::from_fn(|_| None);
    let mut seen = 0u128;
    // The pieces `form_urlencoded::parse` reads (it skips empty ones), one at a time so
    // that the raw value of `number` is at hand for the plus rule.
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let Some((name, value)) = form_urlencoded::parse(piece.as_bytes()).next() else {
            continue;
        };
        let i = slot(&name, &names, &mut seen)?;
        // As `number_value` finds it: the raw value, when the name is `number`.
        let raw_number = (names[i] == NUMBER)
            .then(|| piece.split_once('='))
            .flatten();
        values[i] = Some(match raw_number {
            Some((_, raw)) if raw.contains('+') => Cow::Owned(read_number(raw)),
            _ => value,
        });
    }
    Ok(values)
}

/// Which of `known` the parameter `name` is, the first time it comes (bit i of `seen`:
/// known[i] came; no struct here has 128 fields); else the 400 naming it.
fn slot(name: &str, known: &[&str], seen: &mut u128) -> Result<usize, ApiError> {
    let Some(i) = known.iter().position(|k| *k == name) else {
        return Err(unknown(name, known));
    };
    if *seen & (1 << i) != 0 {
        return Err(ApiError::bad_request(
            "duplicate_parameter",
            format!("the query parameter {name:?} is given more than once"),
        ));
    }
    *seen |= 1 << i;
    Ok(i)
}

fn unknown(name: &str, known: &[&str]) -> ApiError {
    let takes = if known.is_empty() {
        "this endpoint takes no query parameters".to_string()
    } else {
        format!("this endpoint takes: {}", known.join(", "))
    };
    ApiError::bad_request(
        "unknown_parameter",
        format!("unknown query parameter {name:?}; {takes}"),
    )
}

/// Form encoding turns `+` into a space, but dialers often send `number=+431234567`
/// unencoded, and a number never starts with a space: read as a space, that plus would
/// make a Vienna number a Polish one. So in `number`, a literal `+` before the first
/// digit is a plus sign; after it, a `+` is still a space (`%2B48+601+234+567`, as form
/// encoders write "+48 601 234 567"). `%2B` is a plus everywhere.
fn plus_in_number(query: &str) -> Cow<'_, str> {
    let has_plus = |piece: &str| number_value(piece).is_some_and(|v| v.contains('+'));
    if !query.split('&').any(has_plus) {
        return Cow::Borrowed(query);
    }
    let pieces: Vec<Cow<str>> = query
        .split('&')
        .map(|piece| match number_value(piece) {
            Some(raw) if raw.contains('+') => {
                let name = &piece[..piece.len() - raw.len() - 1];
                let number = read_number(raw);
                let encoded: String = form_urlencoded::byte_serialize(number.as_bytes()).collect();
                Cow::Owned(format!("{name}={encoded}"))
            }
            _ => Cow::Borrowed(piece),
        })
        .collect();
    Cow::Owned(pieces.join("&"))
}

/// The raw value of `piece` (`name=value`) when its name is `number`.
fn number_value(piece: &str) -> Option<&str> {
    let (name, value) = piece.split_once('=')?;
    let (name, _) = form_urlencoded::parse(name.as_bytes()).next()?;
    (name == NUMBER).then_some(value)
}

/// Percent-decodes a raw `number` value with the plus rule of [`plus_in_number`].
fn read_number(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, segment) in raw.split('+').enumerate() {
        if i > 0 {
            out.push(if out.chars().any(char::is_numeric) {
                ' '
            } else {
                '+'
            });
        }
        out.push_str(&percent_encoding::percent_decode_str(segment).decode_utf8_lossy());
    }
    out
}

/// The field names of struct `T` as serde sees them (renames applied), or `None` when `T`
/// is not a plain struct (then unknown parameters are left to its own `Deserialize`).
fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut names = None;
    let _ = T::deserialize(FieldProbe(&mut names));
    names
}

/// A deserializer that only records the field list a derived struct asks for.
struct FieldProbe<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Probed;

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field names probed")
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Probed
    }
}

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        *self.0 = Some(fields);
        Err(Probed)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Check {
        number: Option<String>,
        client: Option<String>,
        limit: Option<i64>,
    }

    fn number(query: &str) -> Option<String> {
        parse::<Check>(query).unwrap().number
    }

    fn code(query: &str) -> &'static str {
        parse::<Check>(query).err().unwrap().code()
    }

    #[test]
    fn a_leading_literal_plus_is_a_plus_sign() {
        assert_eq!(number("number=+431234567").unwrap(), "+431234567");
        assert_eq!(number("number=tel:+431234567").unwrap(), "tel:+431234567");
        assert_eq!(number("number=tel%3A+43").unwrap(), "tel:+43");
        assert_eq!(number("client=a&number=+43").unwrap(), "+43");
    }

    #[test]
    fn a_plus_after_the_first_digit_is_a_space_as_form_encoding_says() {
        assert_eq!(
            number("number=%2B48+601+234+567").unwrap(),
            "+48 601 234 567"
        );
        assert_eq!(number("number=+48+601+234+567").unwrap(), "+48 601 234 567");
        assert_eq!(number("number=601+234+567").unwrap(), "601 234 567");
        // A full-width digit counts as a digit.
        assert_eq!(number("number=%EF%BC%96+1").unwrap(), "\u{ff16} 1");
    }

    #[test]
    fn other_parameters_decode_a_plus_as_a_space() {
        let q: Check = parse("client=a+b&number=%2B48").unwrap();
        assert_eq!(q.client.unwrap(), "a b");
        assert_eq!(q.number.unwrap(), "+48");
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused_by_name() {
        assert_eq!(code("number=1&Client=ACME"), "unknown_parameter");
        assert_eq!(code("number=1&client_id=ACME"), "unknown_parameter");
        let e = parse::<Check>("number=1&Client=ACME").err().unwrap();
        assert!(e.to_string().contains("\"Client\""), "{e}");
        assert!(e.to_string().contains("number, client, limit"), "{e}");
        assert_eq!(code("number=1&number=2"), "duplicate_parameter");
        assert_eq!(code("limit=ten"), "invalid_query");
        assert!(parse::<NoParams>("").is_ok());
        assert_eq!(
            parse::<NoParams>("x=1").err().unwrap().code(),
            "unknown_parameter"
        );
    }

    /// The parameters of `GET /v1/check`, read by [`parse`] into owned strings.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Asked {
        number: Option<String>,
        client: Option<String>,
        campaign: Option<String>,
    }

    fn asked(query: &str) -> Result<Asked, ApiError> {
        let [number, client, campaign] =
            borrowed::<Asked, 3>(query, ["number", "client", "campaign"])?;
        Ok(Asked {
            number: number.map(Cow::into_owned),
            client: client.map(Cow::into_owned),
            campaign: campaign.map(Cow::into_owned),
        })
    }

    /// Pieces of query strings, hostile ones among them.
    const TOKENS: &[&str] = &[
        "number",
        "client",
        "campaign",
        "Client",
        "num%62er",
        "nu+mber",
        "number=",
        "=",
        "&",
        "&",
        "+",
        "+",
        "%2B",
        "%2b",
        "%",
        "%z",
        "%4",
        "%C3%A9",
        "%FF",
        "%E2%82",
        "6",
        "01",
        "48",
        "601234567",
        "tel:",
        "%3A",
        " ",
        "a",
        "é",
        ";",
        "%26",
        "%3D",
        "%EF%BC%96",
        "wew.",
        "\u{ff16}",
        "%00",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The borrowing reader gives what `parse` gives, value for value and refusal
        /// for refusal.
        #[test]
        fn borrowed_parameters_are_those_parse_reads(
            pieces in proptest::collection::vec(proptest::sample::select(TOKENS), 0..14)
        ) {
            let query = pieces.concat();
            match (parse::<Asked>(&query), asked(&query)) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b, "{:?}", query),
                (Err(a), Err(b)) => {
                    proptest::prop_assert_eq!(a.code(), b.code(), "{:?}", query);
                    proptest::prop_assert_eq!(a.to_string(), b.to_string(), "{:?}", query);
                }
                (a, b) => proptest::prop_assert!(false, "{:?}: {:?} but {:?}", query, a.map(|_| ()), b.map(|_| ())),
            }
        }
    }

    #[test]
    fn borrowed_parameters_are_borrowed_unless_decoding_changes_them() {
        let query = "number=601234567&client=acme&campaign=summer%2D1";
        let [number, client, campaign] =
            borrowed::<Asked, 3>(query, ["number", "client", "campaign"]).unwrap();
        assert!(matches!(number, Some(Cow::Borrowed("601234567"))));
        assert!(matches!(client, Some(Cow::Borrowed("acme"))));
        assert!(matches!(campaign, Some(Cow::Owned(c)) if c == "summer-1"));
        let [number, ..] =
            borrowed::<Asked, 3>("number=+48601234567", ["number", "client", "campaign"]).unwrap();
        assert_eq!(number.as_deref(), Some("+48601234567"));
    }

    #[test]
    fn empty_pieces_are_ignored() {
        assert_eq!(number("&number=601234567&").unwrap(), "601234567");
        assert!(parse::<Check>("").unwrap().number.is_none());
    }
}
