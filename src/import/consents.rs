//! Reading a CRM's export of consents (`POST /v1/consents/imports`) with the bulk sync's
//! reader: CSV read as registry files are ([`Text`](super::upload::Text): zip, gzip,
//! encodings, limits; [`Columns`]: delimiter and header names, read loosely), or JSON
//! Lines. Each row is judged by [`NewConsent::new`], as `POST /v1/consents` judges one
//! consent; a row that fails is a line-numbered reject, never a guess.
//!
//! A CSV export must have a header naming its columns (a consent has too many required
//! fields to guess their order); a header without one of them refuses the file.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::csv::{present, reason_code, Columns, PHONE_COLUMNS};
use super::flags::{FlagFormat, DEFAULT_SOURCE};
use super::limits::UploadError;
use super::rows::{self, line_text, Export, LineParser, RowReader};
use super::upload::Line;
use crate::domain::consent::ConsentFields;
use crate::domain::{NewConsent, PhoneNumber};

const CLIENT_COLUMNS: &[&str] = &["client", "klient"];
const PURPOSE_COLUMNS: &[&str] = &["purpose", "cel"];
const EVIDENCE_COLUMNS: &[&str] = &[
    "evidence",
    "evidence_ref",
    "evidence_id",
    "dowod",
    "recording_id",
    "form_id",
];
const SOURCE_COLUMNS: &[&str] = &["source", "zrodlo"];
const GIVEN_COLUMNS: &[&str] = &[
    "given_at",
    "given",
    "consent_date",
    "consent_given_at",
    "data_zgody",
    "udzielona",
];
const EXPIRES_COLUMNS: &[&str] = &["expires_at", "expires", "wygasa", "valid_until"];
const NOTE_COLUMNS: &[&str] = &["note", "notatka", "uwagi"];

/// One consent of the file, judged, and the line it is on.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub line: u64,
    pub consent: NewConsent,
}

/// The consents of a file, one at a time in file order; rejects are counted (and the
/// first [`MAX_STORED_REJECTS`](super::upload::MAX_STORED_REJECTS) kept) on the way.
/// `now` is what `given_at` and `expires_at` are judged against (as `POST /v1/consents`
/// judges them).
pub type ConsentReader = RowReader<Rows>;

type Row = rows::Row<ConsentRow>;

/// The positions of a CSV export's columns, from its header.
pub struct Layout {
    columns: Columns,
    number: usize,
    client: usize,
    purpose: usize,
    evidence: usize,
    given_at: usize,
    source: Option<usize>,
    expires_at: Option<usize>,
    note: Option<usize>,
}

/// The reader's state.
pub type Rows = Export<Layout>;

/// The fields of one row before they are judged.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConsent {
    number: String,
    client: String,
    purpose: String,
    evidence: Option<String>,
    source: Option<String>,
    given_at: Option<String>,
    expires_at: Option<String>,
    note: Option<String>,
}

impl LineParser for Rows {
    type Item = ConsentRow;

    fn feed(&mut self, line: &Line<'_>) -> Result<Row, UploadError> {
        let Some(text) = line_text(line).ok().flatten() else {
            return Ok(self.row(line));
        };
        if self.format == FlagFormat::Csv && self.columns.is_none() {
            self.columns = Some(layout(text)?);
            return Ok(Ok(None));
        }
        Ok(self.row(line))
    }
}

/// The layout a CSV header gives, or why the file cannot be read.
fn layout(header: &str) -> Result<Layout, UploadError> {
    let columns = Columns::detect(header, true);
    if !columns.is_header {
        return Err(UploadError::Failed(
            "the first line is not a header: a CSV export of consents must name its columns \
             (number, client, purpose, evidence, given_at; source, expires_at, note optional)"
                .into(),
        ));
    }
    let required =
        |name: &str, wanted: &[&str]| columns.require(name, wanted).map_err(UploadError::Failed);
    Ok(Layout {
        number: required("number", PHONE_COLUMNS)?,
        client: required("client", CLIENT_COLUMNS)?,
        purpose: required("purpose", PURPOSE_COLUMNS)?,
        evidence: required("evidence", EVIDENCE_COLUMNS)?,
        given_at: required("given_at", GIVEN_COLUMNS)?,
        source: columns.find(SOURCE_COLUMNS),
        expires_at: columns.find(EXPIRES_COLUMNS),
        note: columns.find(NOTE_COLUMNS),
        columns,
    })
}

impl Rows {
    fn row(&self, line: &Line<'_>) -> Row {
        let Some(text) = line_text(line)? else {
            return Ok(None);
        };
        let raw = match self.format {
            FlagFormat::JsonLines => serde_json::from_str::<RawConsent>(text)
                .map_err(|e| ("invalid_json", format!("the line is not a consent: {e}")))?,
            FlagFormat::Csv => self.csv(text)?,
        };
        self.judge(line.number, raw).map(Some)
    }

    fn csv(&self, text: &str) -> Result<RawConsent, (&'static str, String)> {
        let layout = self.columns.as_ref().expect("the header comes first");
        let fields = layout.columns.fields(text);
        let optional = |i: Option<usize>| present(&fields, i);
        let required = |i: usize, name: &str| {
            fields.get(i).map(|f| f.to_string()).ok_or_else(|| {
                (
                    "missing_column",
                    format!("the row has no column {} (the {name} column)", i + 1),
                )
            })
        };
        Ok(RawConsent {
            number: required(layout.number, "number")?,
            client: required(layout.client, "client")?,
            purpose: required(layout.purpose, "purpose")?,
            evidence: optional(Some(layout.evidence)),
            source: optional(layout.source),
            given_at: optional(Some(layout.given_at)),
            expires_at: optional(layout.expires_at),
            note: optional(layout.note),
        })
    }

    /// The row as `POST /v1/consents` would take it (a row without a source is from
    /// `crm`), or why not.
    fn judge(&self, line: u64, raw: RawConsent) -> Result<ConsentRow, (&'static str, String)> {
        let number = PhoneNumber::parse(&raw.number, self.region)
            .map_err(|e| (reason_code(e.kind), e.message))?;
        let given_at = time("given_at", raw.given_at.as_deref())?;
        let expires_at = time("expires_at", raw.expires_at.as_deref())?;
        let source = raw.source.as_deref().filter(|s| !s.trim().is_empty());
        let consent = NewConsent::new(
            number,
            ConsentFields {
                client: &raw.client,
                purpose: &raw.purpose,
                evidence: raw.evidence.as_deref(),
                source: Some(source.unwrap_or(DEFAULT_SOURCE)),
                note: raw.note.as_deref(),
                given_at,
                expires_at,
            },
            self.now,
        )
        .map_err(|e| (e.code, e.message))?;
        Ok(ConsentRow { line, consent })
    }
}

/// An RFC 3339 time of a row (blank: none).
fn time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, (&'static str, String)> {
    let code = if name == "given_at" {
        "invalid_given_at"
    } else {
        "invalid_expires_at"
    };
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| (code, format!("{name} {t:?} is not an RFC 3339 time: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Region;

    fn rows(format: FlagFormat, lines: &[&str]) -> Vec<Result<Row, UploadError>> {
        rows::feed_all(&mut Rows::new(format, Region::PL, Utc::now()), lines)
    }

    fn ok(r: &Result<Row, UploadError>) -> ConsentRow {
        r.as_ref().ok().unwrap().clone().unwrap().unwrap()
    }

    fn rejected(r: &Result<Row, UploadError>) -> &'static str {
        r.as_ref().ok().unwrap().as_ref().unwrap_err().0
    }

    #[test]
    fn csv_columns_are_found_by_their_names_and_aliases_in_any_order() {
        let out = rows(
            FlagFormat::Csv,
            &[
                "\u{feff}Klient;Cel;Numer telefonu;Dowód;Data zgody;Wygasa;Źródło\r",
                "Acme;Marketing;601 234 567;rec-1;2026-01-02T10:00:00Z;2999-01-01T00:00:00Z;web\r",
                "\"Beta; Sp. z o.o.\";marketing;+48 501 234 567;form-7;2026-01-02T10:00:00+01:00;;",
            ],
        );
        assert!(matches!(out[0], Ok(Ok(None))));
        let a = ok(&out[1]);
        assert_eq!(a.line, 2);
        assert_eq!(a.consent.number.e164(), "+48601234567");
        assert_eq!(a.consent.client.as_str(), "Acme");
        assert_eq!(a.consent.purpose.as_str(), "marketing");
        assert_eq!(a.consent.evidence, "rec-1");
        assert_eq!(a.consent.source, "web");
        assert!(a.consent.expires_at.is_some());
        let b = ok(&out[2]);
        assert_eq!(b.consent.client.as_str(), "Beta; Sp. z o.o.");
        assert_eq!(b.consent.source, DEFAULT_SOURCE);
        assert_eq!(b.consent.given_at.to_rfc3339(), "2026-01-02T09:00:00+00:00");
        assert_eq!(b.consent.expires_at, None);
    }

    #[test]
    fn a_csv_without_a_header_or_a_required_column_is_refused() {
        let out = rows(FlagFormat::Csv, &["601234567,acme,marketing,rec-1"]);
        let Err(UploadError::Failed(m)) = &out[0] else {
            panic!("read a headerless export");
        };
        assert!(m.contains("not a header"), "{m}");
        let out = rows(FlagFormat::Csv, &["number,client,purpose,given_at"]);
        let Err(UploadError::Failed(m)) = &out[0] else {
            panic!("read an export without evidence");
        };
        assert!(m.contains("no evidence column"), "{m}");
    }

    #[test]
    fn each_row_is_judged_as_the_api_judges_one_consent() {
        let header = "number,client,purpose,evidence,given_at,expires_at";
        let out = rows(
            FlagFormat::Csv,
            &[
                header,
                "601234567,acme,marketing,,2026-01-02T10:00:00Z,",
                "601234567,acme,marketing,rec-1,yesterday,",
                "601234567,acme,marketing,rec-1,2999-01-02T10:00:00Z,",
                "601234567,acme,marketing,rec-1,2026-01-02T10:00:00Z,2026-01-01T10:00:00Z",
                "601234567, ,marketing,rec-1,2026-01-02T10:00:00Z,",
                "601234567,acme,direct marketing,rec-1,2026-01-02T10:00:00Z,",
                "12,acme,marketing,rec-1,2026-01-02T10:00:00Z,",
                "601234567,acme",
            ],
        );
        let codes: Vec<&str> = out[1..].iter().map(rejected).collect();
        assert_eq!(
            codes[..6],
            [
                "missing_field",
                "invalid_given_at",
                "invalid_given_at",
                "invalid_expires_at",
                "invalid_client",
                "invalid_purpose",
            ]
        );
        assert!(matches!(codes[6], "not_a_number" | "invalid_number"));
        assert_eq!(codes[7], "missing_column");
    }

    #[test]
    fn json_lines_are_read_strictly() {
        let out = rows(
            FlagFormat::JsonLines,
            &[
                r#"{"number": "601234567", "client": "acme", "purpose": "marketing", "evidence": "f-1", "source": "web", "given_at": "2026-01-02T10:00:00Z"}"#,
                r#"{"number": "601234567", "client": "acme", "purpose": "marketing", "evidence": "f-1", "given_at": "2026-01-02T10:00:00Z", "colour": "red"}"#,
                r#"{"number": "601234567", "client": "acme", "purpose": "marketing", "evidence": "f-1"}"#,
            ],
        );
        assert_eq!(ok(&out[0]).consent.source, "web");
        assert_eq!(rejected(&out[1]), "invalid_json");
        assert_eq!(rejected(&out[2]), "missing_field");
    }
}
