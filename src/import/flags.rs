//! Reading a CRM's do-not-call flags (bulk sync, `POST /v1/dnc/imports`): CSV read as
//! registry files are ([`Text`]: zip, gzip, encodings, limits; [`Columns`]: delimiter
//! and header names, read loosely), or JSON Lines. Each row is judged as `POST /v1/dnc`
//! judges one entry; a row that fails is a line-numbered reject, never a guess.
//!
//! Rows are handed on one at a time (to the database's `COPY`), so a file of millions
//! costs no memory in proportion to its size beyond the rejects kept.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::csv::{present, reason_code, Columns};
use super::limits::UploadError;
use super::rows::{self, line_text, Export, LineParser, RowReader, RowsRead};
use super::upload::Line;
use crate::domain::{fields, PhoneNumber, Scope};

/// The source of an entry whose row names none.
pub const DEFAULT_SOURCE: &str = "crm";

const CLIENT_COLUMNS: &[&str] = &["client", "klient"];
const CAMPAIGN_COLUMNS: &[&str] = &["campaign", "kampania"];
const REASON_COLUMNS: &[&str] = &["reason", "powod"];
const SOURCE_COLUMNS: &[&str] = &["source", "zrodlo"];
const EXTERNAL_ID_COLUMNS: &[&str] = &["external_id", "crm_id", "externalid", "id"];
const EXPIRES_COLUMNS: &[&str] = &["expires_at", "expires", "wygasa", "valid_until"];

/// How the flags are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagFormat {
    Csv,
    /// One JSON object per line: `number` and optional `client`, `campaign`, `reason`,
    /// `source`, `external_id`, `expires_at`.
    JsonLines,
}

/// One flag, as valid as a `POST /v1/dnc` body that passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// Its physical line in the file.
    pub line: u64,
    pub number: PhoneNumber,
    pub scope: Scope,
    pub reason: Option<String>,
    pub source: String,
    pub external_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What reading the file came to (the flags themselves went to the sink).
pub type FlagsRead = RowsRead;

/// The flags of a file, one at a time in file order; rejects are counted (and the first
/// [`MAX_STORED_REJECTS`](super::upload::MAX_STORED_REJECTS) kept) on the way.
pub type FlagReader = RowReader<Rows>;

type Row = rows::Row<Flag>;

/// The positions of a CSV file's columns, learnt from its first non-blank line.
pub struct Layout {
    columns: Columns,
    phone: usize,
    client: Option<usize>,
    campaign: Option<usize>,
    reason: Option<usize>,
    source: Option<usize>,
    external_id: Option<usize>,
    expires_at: Option<usize>,
}

/// The reader's state.
pub type Rows = Export<Layout>;

/// The fields of one row before they are judged.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFlag {
    number: String,
    client: Option<String>,
    campaign: Option<String>,
    reason: Option<String>,
    source: Option<String>,
    external_id: Option<String>,
    expires_at: Option<String>,
}

impl LineParser for Rows {
    type Item = Flag;

    fn feed(&mut self, line: &Line<'_>) -> Result<Row, UploadError> {
        Ok(self.row(line))
    }
}

impl Rows {
    fn row(&mut self, line: &Line<'_>) -> Row {
        let Some(text) = line_text(line)? else {
            return Ok(None);
        };
        let raw = match self.format {
            FlagFormat::JsonLines => serde_json::from_str::<RawFlag>(text)
                .map_err(|e| ("invalid_json", format!("the line is not a flag: {e}")))?,
            FlagFormat::Csv => match self.csv(text) {
                Some(raw) => raw?,
                None => return Ok(None),
            },
        };
        self.judge(line.number, raw).map(Some)
    }

    /// A CSV row's fields, or `None` for the header.
    fn csv(&mut self, text: &str) -> Option<Result<RawFlag, (&'static str, String)>> {
        if self.columns.is_none() {
            let columns = Columns::detect(text, true);
            let is_header = columns.is_header;
            self.columns = Some(Layout {
                phone: columns.phone(),
                client: columns.find(CLIENT_COLUMNS),
                campaign: columns.find(CAMPAIGN_COLUMNS),
                reason: columns.find(REASON_COLUMNS),
                source: columns.find(SOURCE_COLUMNS),
                external_id: columns.find(EXTERNAL_ID_COLUMNS),
                expires_at: columns.find(EXPIRES_COLUMNS),
                columns,
            });
            if is_header {
                return None;
            }
        }
        let layout = self.columns.as_ref().expect("just set");
        let fields = layout.columns.fields(text);
        let Some(number) = fields.get(layout.phone) else {
            return Some(Err((
                "missing_column",
                format!(
                    "the row has no column {} (the phone column)",
                    layout.phone + 1
                ),
            )));
        };
        let field = |i: Option<usize>| present(&fields, i);
        Some(Ok(RawFlag {
            number: number.to_string(),
            client: field(layout.client),
            campaign: field(layout.campaign),
            reason: field(layout.reason),
            source: field(layout.source),
            external_id: field(layout.external_id),
            expires_at: field(layout.expires_at),
        }))
    }

    /// The row as `POST /v1/dnc` would take it, or why not.
    fn judge(&self, line: u64, raw: RawFlag) -> Result<Flag, (&'static str, String)> {
        let number = PhoneNumber::parse(&raw.number, self.region)
            .map_err(|e| (reason_code(e.kind), e.message))?;
        let scope = Scope::from_parts(raw.client.as_deref(), raw.campaign.as_deref())
            .map_err(|e| ("invalid_scope", e.0))?;
        let invalid = |e: fields::FieldError| ("invalid_field", e.0);
        let reason = fields::text("reason", raw.reason.as_deref()).map_err(invalid)?;
        let source = fields::text("source", raw.source.as_deref())
            .map_err(invalid)?
            .unwrap_or_else(|| DEFAULT_SOURCE.to_string());
        let external_id = fields::external_id(raw.external_id.as_deref()).map_err(invalid)?;
        let expires_at = match raw.expires_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                let at = DateTime::parse_from_rfc3339(t)
                    .map_err(|e| {
                        (
                            "invalid_expires_at",
                            format!("expires_at {t:?} is not an RFC 3339 time: {e}"),
                        )
                    })?
                    .with_timezone(&Utc);
                if at <= self.now {
                    return Err((
                        "invalid_expires_at",
                        format!("expires_at {t} is in the past; an entry must block for some time"),
                    ));
                }
                Some(at)
            }
        };
        Ok(Flag {
            line,
            number,
            scope,
            reason,
            source,
            external_id,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Region;

    fn rows(format: FlagFormat, lines: &[&str]) -> Vec<Row> {
        let mut r = Rows::new(format, Region::PL, Utc::now());
        let out = rows::feed_all(&mut r, lines).into_iter();
        out.map(|r| r.expect("a flag file is never refused by a line"))
            .collect()
    }

    #[test]
    fn csv_columns_are_found_by_their_names_in_any_order() {
        let out = rows(
            FlagFormat::Csv,
            &[
                "\u{feff}Klient;Numer telefonu;Powód;CRM ID;Wygasa\r",
                "Acme;601 234 567;prosił;c-1;2999-01-01T00:00:00Z\r",
                "\"Beta; Sp. z o.o.\";+48 501 234 567;;;",
            ],
        );
        assert_eq!(out[0], Ok(None));
        let a = out[1].clone().unwrap().unwrap();
        assert_eq!(a.number.e164(), "+48601234567");
        assert_eq!(a.scope.client(), Some("Acme"));
        assert_eq!(a.reason.as_deref(), Some("prosił"));
        assert_eq!(a.source, DEFAULT_SOURCE);
        assert_eq!(a.external_id.as_deref(), Some("c-1"));
        assert!(a.expires_at.is_some());
        let b = out[2].clone().unwrap().unwrap();
        assert_eq!(b.scope.client(), Some("Beta; Sp. z o.o."));
        assert_eq!((b.reason, b.external_id, b.expires_at), (None, None, None));
    }

    #[test]
    fn a_headerless_csv_is_numbers_in_its_first_column() {
        let out = rows(FlagFormat::Csv, &["601234567,whatever", "", "501234567"]);
        assert_eq!(out[0].clone().unwrap().unwrap().scope, Scope::Global);
        assert_eq!(out[1], Ok(None));
        assert_eq!(
            out[2].clone().unwrap().unwrap().number.e164(),
            "+48501234567"
        );
    }

    #[test]
    fn json_lines_are_read_strictly() {
        let out = rows(
            FlagFormat::JsonLines,
            &[
                r#"{"number": "601234567", "client": "acme", "source": "hubspot", "external_id": "17"}"#,
                r#"{"number": 601234567}"#,
                r#"{"number": "601234567", "colour": "red"}"#,
                r#"{"number": "601234567", "expires_at": "2001-01-01T00:00:00Z"}"#,
                r#"{"number": "12"}"#,
                r#"not json"#,
            ],
        );
        let a = out[0].clone().unwrap().unwrap();
        assert_eq!(a.source, "hubspot");
        assert_eq!(a.scope.client(), Some("acme"));
        let reasons: Vec<&str> = out[1..].iter().map(|r| r.clone().unwrap_err().0).collect();
        assert_eq!(reasons[0], "invalid_json");
        assert_eq!(reasons[1], "invalid_json");
        assert_eq!(reasons[2], "invalid_expires_at");
        assert!(matches!(reasons[3], "not_a_number" | "invalid_number"));
        assert_eq!(reasons[4], "invalid_json");
    }
}
