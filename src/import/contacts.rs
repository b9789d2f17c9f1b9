//! Reading a CRM's contact export for the drift report (`POST /v1/dnc/drift`): each row a
//! number, the CRM's do-not-call flag and optionally the client, in CSV read as the bulk
//! sync reads its flags ([`Text`], [`Columns`]) or in JSON Lines. A row that cannot be
//! read is a line-numbered reject, never a guess: a flag is one of [`TRUE_VALUES`] or
//! [`FALSE_VALUES`], anything else (blank included) is rejected.
//!
//! Rows are handed on one at a time, so an export of millions costs no memory in
//! proportion to its size beyond the rejects kept.

use serde::Deserialize;

use super::csv::{reason_code, Columns};
use super::flags::FlagFormat;
use super::limits::UploadError;
use super::rows::{self, line_text, Export, LineParser, RowReader, RowsRead};
use super::upload::Line;
use crate::domain::{PhoneNumber, Region, Scope};

/// Header names of the flag column (read loosely: `Nie dzwonić` is `nie_dzwonic`).
pub const FLAG_COLUMNS: &[&str] = &[
    "dnc",
    "nie_dzwonic",
    "do_not_call",
    "donotcall",
    "dont_call",
    "do_not_contact",
    "blocked",
    "zablokowany",
    "zakaz_dzwonienia",
    "opt_out",
    "optout",
];
const CLIENT_COLUMNS: &[&str] = &["client", "klient"];
/// Flag values meaning "do not call", compared without case after trimming.
pub const TRUE_VALUES: &[&str] = &["true", "1", "yes", "tak"];
/// Flag values meaning "may be called".
pub const FALSE_VALUES: &[&str] = &["false", "0", "no", "nie"];

/// One contact of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// Its physical line in the file.
    pub line: u64,
    pub number: PhoneNumber,
    /// The client's scope (`Global` when the export names none).
    pub scope: Scope,
    /// Whether the CRM flags the contact "do not call".
    pub flagged: bool,
}

/// What reading the export came to (the contacts themselves were handed on).
pub type ContactsRead = RowsRead;

/// The contacts of an export, one at a time in file order.
pub type ContactReader = RowReader<Rows>;

type Row = rows::Row<Contact>;

/// The positions of a CSV export's columns, from its header.
pub struct Layout {
    columns: Columns,
    phone: usize,
    flag: usize,
    client: Option<usize>,
}

/// The reader's state.
pub type Rows = Export<Layout>;

/// A JSON Lines contact before it is judged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    number: String,
    dnc: bool,
    client: Option<String>,
}

impl LineParser for Rows {
    type Item = Contact;

    /// One line: a contact, nothing (blank, header), a reject, or an export that cannot
    /// be read at all (no flag column).
    fn feed(&mut self, line: &Line<'_>) -> Result<Row, UploadError> {
        let text = match line_text(line) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(Ok(None)),
            Err(reject) => return Ok(Err(reject)),
        };
        let (number, flagged, client) = match self.format {
            FlagFormat::JsonLines => match serde_json::from_str::<RawContact>(text) {
                Ok(raw) => (raw.number, Ok(raw.dnc), raw.client),
                Err(e) => {
                    return Ok(Err((
                        "invalid_json",
                        format!("the line is not a contact: {e}"),
                    )))
                }
            },
            FlagFormat::Csv => {
                if self.columns.is_none() {
                    self.columns = Some(layout(text)?);
                    return Ok(Ok(None));
                }
                let layout = self.columns.as_ref().expect("just set");
                let fields = layout.columns.fields(text);
                let (Some(number), Some(flag)) =
                    (fields.get(layout.phone), fields.get(layout.flag))
                else {
                    return Ok(Err((
                        "missing_column",
                        format!(
                            "the row has {} fields; the phone and flag columns are {} and {}",
                            fields.len(),
                            layout.phone + 1,
                            layout.flag + 1
                        ),
                    )));
                };
                let client = layout
                    .client
                    .and_then(|i| fields.get(i))
                    .map(|f| f.to_string());
                (number.to_string(), flag_value(flag), client)
            }
        };
        Ok(judge(line.number, self.region, &number, flagged, client))
    }
}

/// The columns of a CSV export, from its header; an export without a flag column cannot
/// be compared with anything.
fn layout(first: &str) -> Result<Layout, UploadError> {
    let columns = Columns::detect(first, true);
    let flag = columns
        .require("do-not-call flag", FLAG_COLUMNS)
        .map_err(|m| UploadError::Refused(format!("{m}: an export must name it in a header")))?;
    Ok(Layout {
        phone: columns.phone(),
        client: columns.find(CLIENT_COLUMNS),
        flag,
        columns,
    })
}

/// A CSV flag field: one of [`TRUE_VALUES`] or [`FALSE_VALUES`].
fn flag_value(field: &str) -> Result<bool, String> {
    let v = field.trim().to_lowercase();
    if TRUE_VALUES.contains(&v.as_str()) {
        Ok(true)
    } else if FALSE_VALUES.contains(&v.as_str()) {
        Ok(false)
    } else {
        let shown: String = field.chars().take(20).collect();
        Err(format!(
            "the flag {shown:?} is not one of {} (do not call) or {} (may be called)",
            TRUE_VALUES.join("/"),
            FALSE_VALUES.join("/")
        ))
    }
}

fn judge(
    line: u64,
    region: Region,
    number: &str,
    flagged: Result<bool, String>,
    client: Option<String>,
) -> Row {
    let number =
        PhoneNumber::parse(number, region).map_err(|e| (reason_code(e.kind), e.message))?;
    let flagged = flagged.map_err(|m| ("invalid_flag", m))?;
    let scope = Scope::from_parts(client.as_deref(), None).map_err(|e| ("invalid_scope", e.0))?;
    Ok(Some(Contact {
        line,
        number,
        scope,
        flagged,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn rows(format: FlagFormat, lines: &[&str]) -> Vec<Result<Row, String>> {
        let mut r = Rows::new(format, Region::PL, Utc::now());
        let out = rows::feed_all(&mut r, lines).into_iter();
        out.map(|r| r.map_err(|e| format!("{e:?}"))).collect()
    }

    fn contact(r: &Result<Row, String>) -> Contact {
        r.clone().unwrap().unwrap().unwrap()
    }

    #[test]
    fn columns_are_found_by_their_names_and_flags_by_their_words() {
        let out = rows(
            FlagFormat::Csv,
            &[
                "\u{feff}Klient;Nie dzwonić;Numer telefonu;Imię\r",
                "Acme;TAK;601 234 567;Jan\r",
                " acme ; nie ;+48 501 234 567;Ewa",
                ";1;601234568;",
                "Acme;0;601234569;",
                "Acme;x;601234570;",
                "Acme;;601234571;",
                "Acme;yes;12;",
            ],
        );
        assert_eq!(out[0], Ok(Ok(None)));
        let a = contact(&out[1]);
        assert_eq!(a.number.e164(), "+48601234567");
        assert_eq!(a.scope.client(), Some("Acme"));
        assert!(a.flagged);
        let b = contact(&out[2]);
        assert_eq!(b.scope.client_key(), Some("acme"));
        assert!(!b.flagged);
        let c = contact(&out[3]);
        assert_eq!(c.scope, Scope::Global);
        assert!(c.flagged);
        assert!(!contact(&out[4]).flagged);
        let reasons: Vec<&str> = out[5..]
            .iter()
            .map(|r| r.clone().unwrap().unwrap_err().0)
            .collect();
        assert_eq!(reasons[0], "invalid_flag");
        assert_eq!(reasons[1], "invalid_flag", "a blank flag is not read as no");
        assert!(matches!(reasons[2], "not_a_number" | "invalid_number"));
    }

    #[test]
    fn an_export_without_a_flag_column_is_refused() {
        let out = rows(FlagFormat::Csv, &["phone,client", "601234567,acme"]);
        assert!(out[0].clone().unwrap_err().contains("flag column"));
        let out = rows(FlagFormat::Csv, &["601234567,1"]);
        assert!(out[0].is_err(), "a headerless export says nothing of flags");
    }

    #[test]
    fn json_lines_are_read_strictly() {
        let out = rows(
            FlagFormat::JsonLines,
            &[
                r#"{"number": "601234567", "dnc": true, "client": "acme"}"#,
                r#"{"number": "601234567", "dnc": "yes"}"#,
                r#"{"number": "601234567"}"#,
                r#"{"number": "601234567", "dnc": false, "colour": "red"}"#,
            ],
        );
        let a = contact(&out[0]);
        assert!(a.flagged);
        assert_eq!(a.scope.client(), Some("acme"));
        for r in &out[1..] {
            assert_eq!(r.clone().unwrap().unwrap_err().0, "invalid_json");
        }
    }
}
