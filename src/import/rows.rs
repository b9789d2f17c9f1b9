//! The loop the CRM readers share (bulk sync's flags, the drift report's contacts): lines
//! of [`Text`] turned into rows by a [`LineParser`], rejects counted and the first
//! [`MAX_STORED_REJECTS`] kept, rows handed on one at a time.

use chrono::{DateTime, Utc};

use super::flags::FlagFormat;
use super::limits::{Limits, UploadError};
use super::upload::{reject, Line, Text, MAX_LINE_BYTES, MAX_STORED_REJECTS};
use super::ByteStream;
use crate::domain::{Encoding, Region};
use crate::store::imports::Reject;

/// One line's outcome: a row, nothing (a blank line, a header), or a reject (its reason
/// code and message).
pub type Row<T> = Result<Option<T>, (&'static str, String)>;

/// Turns one line into a row. `Err` refuses the whole file (e.g. no column to read).
pub trait LineParser {
    type Item;
    fn feed(&mut self, line: &Line<'_>) -> Result<Row<Self::Item>, UploadError>;
}

/// A CRM export being read: what every reader of one knows of it. Each reader
/// ([`FlagReader`](super::flags::FlagReader), [`ConsentReader`](super::consents::ConsentReader),
/// [`ContactReader`](super::contacts::ContactReader)) is a [`LineParser`] for its own
/// `L`, the positions of the columns it reads.
pub struct Export<L> {
    pub format: FlagFormat,
    /// The region of numbers written without a country code.
    pub region: Region,
    /// The instant rows are judged at, as the API would judge them.
    pub now: DateTime<Utc>,
    /// A CSV file's columns, once its first line is read.
    pub columns: Option<L>,
}

impl<L> Export<L> {
    pub fn new(format: FlagFormat, region: Region, now: DateTime<Utc>) -> Export<L> {
        Export {
            format,
            region,
            now,
            columns: None,
        }
    }
}

/// What reading a file came to (the rows themselves were handed on).
#[derive(Debug, Default)]
pub struct RowsRead {
    /// Data rows: accepted and rejected (the header and blank lines are not rows).
    pub rows_total: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// The first [`MAX_STORED_REJECTS`] rejects (all are counted).
    pub rejects: Vec<Reject>,
    pub bytes: u64,
    pub checksum: String,
}

/// The rows of a file, one at a time in file order.
pub struct RowReader<P> {
    text: Text,
    parser: P,
    read: RowsRead,
}

impl<L> RowReader<Export<L>>
where
    Export<L>: LineParser,
{
    /// Starts reading `body`, an export in `format` (see [`Export`] for the rest).
    pub async fn open(
        body: impl ByteStream,
        format: FlagFormat,
        region: Region,
        encoding: Option<Encoding>,
        limits: Limits,
        now: DateTime<Utc>,
    ) -> Result<RowReader<Export<L>>, UploadError> {
        Ok(RowReader {
            text: Text::open(body, limits, encoding).await?,
            parser: Export::new(format, region, now),
            read: RowsRead::default(),
        })
    }
}

impl<P: LineParser> RowReader<P> {
    /// The next accepted row, or `None` at the end of the file.
    pub async fn next(&mut self) -> Result<Option<P::Item>, UploadError> {
        while let Some(line) = self.text.next_line().await? {
            let parsed = if line.too_long {
                Err((
                    "line_too_long",
                    format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                ))
            } else {
                self.parser.feed(&line)?
            };
            match parsed {
                Ok(None) => continue,
                Ok(Some(row)) => {
                    self.read.rows_total += 1;
                    self.read.rows_accepted += 1;
                    return Ok(Some(row));
                }
                Err((reason, message)) => {
                    self.read.rows_total += 1;
                    self.read.rows_rejected += 1;
                    if self.read.rejects.len() < MAX_STORED_REJECTS {
                        self.read.rejects.push(reject(&line, reason, message));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Ends the reading once every row is read: counts, rejects, size and SHA-256.
    pub async fn finish(self) -> Result<RowsRead, UploadError> {
        let mut read = self.read;
        (read.bytes, read.checksum) = self.text.finish().await?;
        Ok(read)
    }
}

/// A line's text as both readers take it: without its `\r` (and the first line without a
/// byte-order mark); `Ok(None)` when blank; rejected when not UTF-8 or holding a NUL.
pub fn line_text<'a>(line: &Line<'a>) -> Row<&'a str> {
    let mut bytes = line.text.strip_suffix(b"\r").unwrap_or(line.text);
    if line.number == 1 {
        bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(("invalid_utf8", "the line is not valid UTF-8".into()));
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.contains('\0') {
        return Err(("invalid_character", "the line contains a NUL byte".into()));
    }
    Ok(Some(text))
}

/// What `parser` makes of `lines`, numbered from 1 (the readers' unit tests).
#[cfg(test)]
pub fn feed_all<P: LineParser>(
    parser: &mut P,
    lines: &[&str],
) -> Vec<Result<Row<P::Item>, UploadError>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            parser.feed(&Line {
                number: i as u64 + 1,
                text: l.as_bytes(),
                too_long: false,
            })
        })
        .collect()
}
