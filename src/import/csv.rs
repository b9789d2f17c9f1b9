//! Reading registry CSV exports one physical line at a time.
//!
//! What exports look like in practice: UTF-8 with or without a BOM, LF or CRLF, a
//! delimiter among `,` `;` tab `|`, an optional header naming the phone column
//! (phone/number/numer/telefon/msisdn …) and, for deltas, an `op` column.

use std::borrow::Cow;

use crate::domain::{NumberErrorKind, Op, PhoneNumber, Region};

pub const PHONE_COLUMNS: &[&str] = &[
    "phone",
    "number",
    "numer",
    "telefon",
    "msisdn",
    "tel",
    "phone_number",
    "phonenumber",
    "numer_telefonu",
    "nr_telefonu",
    "e164",
];
const OP_COLUMNS: &[&str] = &["op", "operation", "action", "operacja"];
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// What one physical line of the file amounts to.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A blank line or the header: not a row, not a reject.
    Skip,
    Row(PhoneNumber, Op),
    Reject {
        reason: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone)]
struct Layout {
    delimiter: Option<u8>,
    phone: usize,
    op: Option<usize>,
}

/// A line-by-line reader that learns the file's layout from its first non-blank line.
pub struct CsvLines {
    region: Region,
    layout: Option<Layout>,
}

impl CsvLines {
    pub fn new(region: Region) -> CsvLines {
        CsvLines {
            region,
            layout: None,
        }
    }

    /// Reads physical line `line_no` (1-based), without its `\n`.
    pub fn feed(&mut self, line_no: u64, raw: &[u8]) -> Parsed {
        let mut bytes = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line_no == 1 {
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return reject("invalid_utf8", "the line is not valid UTF-8".into());
        };
        if text.trim().is_empty() {
            return Parsed::Skip;
        }
        if text.contains('\0') {
            return reject("invalid_character", "the line contains a NUL byte".into());
        }
        let layout = match &self.layout {
            Some(layout) => layout.clone(),
            None => {
                let (layout, is_header) = detect(text);
                self.layout = Some(layout);
                if is_header {
                    return Parsed::Skip;
                }
                self.layout.clone().expect("just set")
            }
        };
        let fields = split(text, layout.delimiter);
        let Some(phone) = fields.get(layout.phone) else {
            return reject(
                "missing_column",
                format!(
                    "the row has no column {} (the phone column)",
                    layout.phone + 1
                ),
            );
        };
        let op = match layout.op.map(|i| fields.get(i).map(|f| f.trim())) {
            None | Some(None) | Some(Some("")) => Op::Add,
            Some(Some(op)) => match op.parse() {
                Ok(op) => op,
                Err(message) => return reject("invalid_op", message),
            },
        };
        match PhoneNumber::parse(phone, self.region) {
            Ok(n) => Parsed::Row(n, op),
            Err(e) => reject(reason_code(e.kind), e.message),
        }
    }
}

fn reject(reason: &'static str, message: String) -> Parsed {
    Parsed::Reject { reason, message }
}

/// The reason code of a reject caused by an unreadable number.
pub fn reason_code(kind: NumberErrorKind) -> &'static str {
    match kind {
        NumberErrorKind::Empty => "empty_number",
        NumberErrorKind::TooLong => "too_long",
        NumberErrorKind::InvalidCharacter => "invalid_character",
        NumberErrorKind::MultipleNumbers => "multiple_numbers",
        NumberErrorKind::NotANumber => "not_a_number",
        NumberErrorKind::InvalidForRegion => "invalid_number",
    }
}

/// What the first non-blank line of a CSV file says about the rest: the delimiter, and,
/// when it is a header, the column names. Other readers of CSV exports (a CRM's flags or
/// contacts) find their columns through it too.
#[derive(Debug, Clone)]
pub struct Columns {
    pub delimiter: Option<u8>,
    /// The fields of the first line as names: lower case and trimmed; read loosely,
    /// also spaces and dashes as `_` and Polish letters without their marks (`Nie
    /// dzwonić` is `nie_dzwonic`).
    names: Vec<String>,
    /// Whether the first line is a header: it names the phone column, or no field of it
    /// holds a digit.
    pub is_header: bool,
}

impl Columns {
    /// Learns the columns from `first`, the first non-blank line. `loose` reads header
    /// names as [`column_name`] does (CRM exports); registry files keep exact names.
    pub fn detect(first: &str, loose: bool) -> Columns {
        let delimiter = DELIMITERS
            .into_iter()
            .map(|d| (d, count_unquoted(first, d)))
            .filter(|&(_, n)| n > 0)
            .max_by_key(|&(_, n)| n)
            .map(|(d, _)| d);
        let names: Vec<String> = split(first, delimiter)
            .iter()
            .map(|f| {
                if loose {
                    column_name(f)
                } else {
                    f.trim().to_lowercase()
                }
            })
            .collect();
        // A header with names we don't know: no field has a digit in it.
        let is_header = names.iter().any(|n| PHONE_COLUMNS.contains(&n.as_str()))
            || names.iter().all(|n| !n.chars().any(|c| c.is_numeric()));
        Columns {
            delimiter,
            names,
            is_header,
        }
    }

    /// The position of the first column named one of `wanted` (header files only).
    pub fn find(&self, wanted: &[&str]) -> Option<usize> {
        if !self.is_header {
            return None;
        }
        self.names.iter().position(|n| wanted.contains(&n.as_str()))
    }

    /// The column named one of `wanted`, or why not: the first line names no `name` column
    /// (the names looked for are said).
    pub fn require(&self, name: &str, wanted: &[&str]) -> Result<usize, String> {
        self.find(wanted).ok_or_else(|| {
            format!(
                "the header has no {name} column (looked for {})",
                wanted.join(", ")
            )
        })
    }

    /// The phone column: named in the header, else the first.
    pub fn phone(&self) -> usize {
        self.find(PHONE_COLUMNS).unwrap_or(0)
    }

    /// The fields of `line` under this delimiter, unquoted.
    pub fn fields<'a>(&self, line: &'a str) -> Vec<Cow<'a, str>> {
        split(line, self.delimiter)
    }
}

/// The field at `column` of a row's `fields`, when the row has it and it is not blank.
pub fn present(fields: &[Cow<'_, str>], column: Option<usize>) -> Option<String> {
    column
        .and_then(|i| fields.get(i))
        .filter(|f| !f.trim().is_empty())
        .map(|f| f.to_string())
}

/// A header field as a name to look for, read loosely (see [`Columns`]).
pub fn column_name(field: &str) -> String {
    field
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            c => c,
        })
        .collect()
}

/// Learns the layout from the first non-blank line; says whether that line is a header.
fn detect(first: &str) -> (Layout, bool) {
    let columns = Columns::detect(first, false);
    let op = if columns.is_header {
        columns.find(OP_COLUMNS)
    } else {
        op_by_value(first, columns.delimiter)
    };
    (
        Layout {
            delimiter: columns.delimiter,
            phone: columns.phone(),
            op,
        },
        columns.is_header,
    )
}

/// Without a header, a second column holding an operation marks a delta file.
fn op_by_value(first: &str, delimiter: Option<u8>) -> Option<usize> {
    split(first, delimiter)
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, f)| f.trim().parse::<Op>().is_ok())
        .map(|(i, _)| i)
}

fn count_unquoted(line: &str, delimiter: u8) -> usize {
    let mut quoted = false;
    line.bytes()
        .filter(|&b| {
            if b == b'"' {
                quoted = !quoted;
            }
            !quoted && b == delimiter
        })
        .count()
}

/// Splits a line into fields, honouring double quotes (`""` inside quotes is a quote).
fn split(line: &str, delimiter: Option<u8>) -> Vec<Cow<'_, str>> {
    let Some(d) = delimiter else {
        return vec![unquote(line)];
    };
    let mut fields = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, b) in line.bytes().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            fields.push(unquote(&line[start..i]));
            start = i + 1;
        }
    }
    fields.push(unquote(&line[start..]));
    fields
}

fn unquote(field: &str) -> Cow<'_, str> {
    let t = field.trim();
    match t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if inner.contains("\"\"") => Cow::Owned(inner.replace("\"\"", "\"")),
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&str]) -> Vec<Parsed> {
        let mut r = CsvLines::new(Region::PL);
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| r.feed(i as u64 + 1, l.as_bytes()))
            .collect()
    }

    fn row(e164: &str) -> Parsed {
        Parsed::Row(PhoneNumber::parse(e164, Region::PL).unwrap(), Op::Add)
    }

    #[test]
    fn a_header_names_the_phone_column() {
        let out = read(&[
            "\u{feff}id;Telefon;name\r",
            "1;601 234 567;Jan\r",
            "2;\"+48 501 234 567\";Ewa",
        ]);
        assert_eq!(out[0], Parsed::Skip);
        assert_eq!(out[1], row("+48601234567"));
        assert_eq!(out[2], row("+48501234567"));
    }

    #[test]
    fn without_a_header_the_first_column_is_the_phone() {
        let out = read(&["601234567", "", "   ", "0048501234567"]);
        assert_eq!(
            out,
            vec![
                row("+48601234567"),
                Parsed::Skip,
                Parsed::Skip,
                row("+48501234567")
            ]
        );
    }

    #[test]
    fn an_unknown_header_is_skipped_and_the_first_column_used() {
        let out = read(&["kontakt|miasto", "601234567|Radom"]);
        assert_eq!(out, vec![Parsed::Skip, row("+48601234567")]);
    }

    #[test]
    fn tabs_and_commas_are_detected() {
        assert_eq!(
            read(&["msisdn\tx", "48601234567\ty"])[1],
            row("+48601234567")
        );
        assert_eq!(read(&["601234567,a,b"])[0], row("+48601234567"));
    }

    #[test]
    fn bad_rows_are_rejected_with_a_reason() {
        let out = read(&["phone", "=cmd|' /C calc'!A0", "12", "601234567", "a,b"]);
        assert!(matches!(out[1], Parsed::Reject { .. }));
        assert!(matches!(
            out[2],
            Parsed::Reject {
                reason: "not_a_number" | "invalid_number",
                ..
            }
        ));
        assert_eq!(out[3], row("+48601234567"));
        let mut r = CsvLines::new(Region::PL);
        assert!(matches!(
            r.feed(1, b"\xff\xfe601"),
            Parsed::Reject {
                reason: "invalid_utf8",
                ..
            }
        ));
    }

    #[test]
    fn delta_rows_carry_their_operation() {
        let out = read(&[
            "numer;op",
            "601234567;A",
            "501234567;-",
            "502234567;",
            "503234567;x",
        ]);
        assert_eq!(out[1], row("+48601234567"));
        assert_eq!(
            out[2],
            Parsed::Row(
                PhoneNumber::parse("+48501234567", Region::PL).unwrap(),
                Op::Remove
            )
        );
        assert_eq!(out[3], row("+48502234567"));
        assert!(matches!(
            out[4],
            Parsed::Reject {
                reason: "invalid_op",
                ..
            }
        ));
        let headerless = read(&["601234567,del"]);
        assert_eq!(
            headerless[0],
            Parsed::Row(
                PhoneNumber::parse("+48601234567", Region::PL).unwrap(),
                Op::Remove
            )
        );
    }

    #[test]
    fn header_names_are_found_whatever_their_case_spacing_and_marks() {
        let c = Columns::detect("Numer telefonu;Klient;\"Nie dzwonić\";Wygasa", true);
        assert!(c.is_header);
        assert_eq!(c.delimiter, Some(b';'));
        assert_eq!(c.phone(), 0);
        assert_eq!(c.find(&["client", "klient"]), Some(1));
        assert_eq!(c.find(&["nie_dzwonic"]), Some(2));
        assert_eq!(c.find(&["campaign"]), None);
        let headerless = Columns::detect("601234567,acme,true", true);
        assert!(!headerless.is_header);
        assert_eq!(headerless.find(&["client"]), None);
        assert_eq!(headerless.phone(), 0);
        assert_eq!(headerless.fields("601234567,\"a,b\",x")[1], "a,b");
    }

    #[test]
    fn quoted_fields_may_hold_the_delimiter() {
        assert!(matches!(
            read(&["\"601,234,567\";x"])[0],
            Parsed::Reject { .. }
        ));
        assert_eq!(
            read(&["name;phone", "\"Kowalski; Jan\";601234567"])[1],
            row("+48601234567")
        );
    }
}
