//! Streaming an uploaded registry file: raw bytes → (unzip) → (gunzip) → (decode) →
//! lines → parsed rows. The body is never held whole in memory (a zip archive is spooled
//! to a temporary file); only the distinct keys are kept (see `collect`), and what an
//! upload may cost is bounded (see `limits` and `archive`).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_compression::tokio::bufread::GzipDecoder;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

use super::archive::{spool, unzip};
use super::collect::{Collected, Collector};
use super::csv::{CsvLines, Parsed};
use super::hashed::{HashLine, HashLines};
use super::limits::{read_error, Bounded, Limits, Reader, UploadError};
use super::progress::Progress;
use super::ByteStream;
use crate::domain::{hash, Encoding, Format, Mode, Region};
use crate::store::imports::Reject;

/// Longest physical line we read; longer lines are rejected, not buffered.
pub const MAX_LINE_BYTES: usize = 4096;
/// How many rejected rows are kept for the import report (all are counted).
pub const MAX_STORED_REJECTS: usize = 1000;
/// How much of a rejected line is shown back (`rejects[].raw`): enough to find the row,
/// with its line number, not a copy of the file.
pub const RAW_CHARS: usize = 40;
/// How many lines are parsed between two yields to the scheduler.
const YIELD_EVERY: u64 = 4096;

#[derive(Debug, Default)]
pub struct Upload {
    /// The distinct keys (E.164 digits, or hash prefixes) the file adds and removes.
    pub keys: Collected,
    /// Data rows: accepted and rejected (the header and blank lines are not rows).
    pub rows_total: u64,
    /// Rows read as a number (or hash), repeats included.
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// Rows of a snapshot asking to remove their number (a snapshot cannot).
    pub snapshot_removes: u64,
    pub rejects: Vec<Reject>,
    pub bytes: u64,
    pub checksum: String,
}

/// How to read an upload.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    pub region: Region,
    pub mode: Mode,
    pub format: Format,
    /// The text encoding of the file, when it is not UTF-8.
    pub encoding: Option<Encoding>,
    pub limits: Limits,
}

/// Reads an upload to its end, keeping `progress` up to date as it goes.
pub async fn read(
    body: impl ByteStream,
    opts: ReadOptions,
    progress: &Arc<Progress>,
) -> Result<Upload, UploadError> {
    let mut text =
        Text::open_watched(body, opts.limits, opts.encoding, Some(progress.clone())).await?;
    let mut lines = Lines::new(opts);
    let mut collector = Collector::new(opts.mode, opts.format == Format::Csv);
    let mut upload = Upload::default();
    while let Some(line) = text.next_line().await? {
        if line.number.is_multiple_of(YIELD_EVERY) {
            progress.rows(
                upload.rows_total,
                upload.rows_accepted,
                upload.rows_rejected,
            );
        }
        let parsed = if line.too_long {
            Err((
                "line_too_long",
                format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            ))
        } else {
            lines.feed(line.number, line.text)
        };
        match parsed {
            Ok(None) => continue,
            Ok(Some((key, op))) => {
                upload.rows_accepted += 1;
                collector.push(key, op).await;
            }
            Err((reason, message)) => {
                upload.rows_rejected += 1;
                if upload.rejects.len() < MAX_STORED_REJECTS {
                    upload.rejects.push(reject(&line, reason, message));
                }
            }
        }
        upload.rows_total += 1;
    }
    let (bytes, checksum) = text.finish().await?;
    upload.snapshot_removes = collector.snapshot_removes;
    upload.keys = collector.finish().await;
    upload.bytes = bytes;
    upload.checksum = checksum;
    progress.rows(
        upload.rows_total,
        upload.rows_accepted,
        upload.rows_rejected,
    );
    Ok(upload)
}

/// The reject of physical line `line`, showing only the start of it.
pub fn reject(line: &Line<'_>, reason: &str, message: String) -> Reject {
    Reject {
        line: line.number as i64,
        raw: shown(raw_text(line.text)),
        reason: reason.to_string(),
        message,
    }
}

/// One physical line of an upload's text.
pub struct Line<'a> {
    /// 1-based, as the file has it (the header is line 1).
    pub number: u64,
    /// Without its `\n`; decoded to UTF-8 when the upload names an encoding; cut at
    /// [`MAX_LINE_BYTES`].
    pub text: &'a [u8],
    /// The line was longer than [`MAX_LINE_BYTES`] (the rest was skipped).
    pub too_long: bool,
}

/// The text of an upload, line by line: raw bytes → (unzip) → (gunzip) → bounded text
/// → (decoded) lines, with the size and SHA-256 of what was sent. Registry imports, CRM
/// bulk syncs and drift reports all read their files through it, so they share its
/// formats and its limits.
pub struct Text {
    reader: Reader,
    unzipping: Option<tokio::task::JoinHandle<io::Result<u64>>>,
    sent: Arc<AtomicU64>,
    hasher: Arc<Mutex<Sha256>>,
    encoding: Option<Encoding>,
    max_lines: u64,
    line: Vec<u8>,
    decoded: Vec<u8>,
    line_no: u64,
}

impl Text {
    /// Starts reading `body`: detects zip and gzip by their magic bytes and refuses
    /// nesting, binary data and (as it reads) what breaks `limits`.
    pub async fn open(
        body: impl ByteStream,
        limits: Limits,
        encoding: Option<Encoding>,
    ) -> Result<Text, UploadError> {
        Text::open_watched(body, limits, encoding, None).await
    }

    /// [`Text::open`], recording the bytes received so far in `progress` as they come.
    pub async fn open_watched(
        body: impl ByteStream,
        limits: Limits,
        encoding: Option<Encoding>,
        progress: Option<Arc<Progress>>,
    ) -> Result<Text, UploadError> {
        let max_bytes = limits.sent_bytes;
        let sent = Arc::new(AtomicU64::new(0));
        let hasher = Arc::new(Mutex::new(Sha256::new()));
        let (counted, hashing) = (sent.clone(), hasher.clone());
        let stream = body
            .map_err(|e| io::Error::other(format!("the upload was interrupted: {e}")))
            .and_then(move |chunk| {
                let total =
                    counted.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
                if let Some(progress) = &progress {
                    progress.received(total);
                }
                hashing.lock().expect("hasher lock").update(&chunk);
                let result = if total > max_bytes {
                    Err(io::Error::other(format!(
                        "the upload is larger than the {max_bytes}-byte limit (TARCZA_MAX_UPLOAD_BYTES)"
                    )))
                } else {
                    Ok(chunk)
                };
                std::future::ready(result)
            });
        let raw: Reader = Box::pin(BufReader::with_capacity(1 << 16, StreamReader::new(stream)));
        // The first chunk of a body may be a single byte: look at enough of it.
        let (head, mut raw) = peek(raw, 4).await.map_err(read_error)?;
        let is_zip = head.starts_with(ZIP_MAGIC);
        let mut unzipping = None;
        let mut compressed = false;
        if is_zip {
            let (reader, task) = unzip(spool(&mut raw).await?).await?;
            unzipping = Some(task);
            compressed = true;
            raw = Box::pin(BufReader::with_capacity(1 << 16, reader));
        }
        let (head, raw) = peek(raw, 4).await.map_err(read_error)?;
        if is_zip && head.starts_with(ZIP_MAGIC) {
            return Err(nested("a zip archive inside a zip archive"));
        }
        let gzip = head.starts_with(GZIP_MAGIC);
        let decoded: Reader = if gzip {
            compressed = true;
            let mut decoder = GzipDecoder::new(raw);
            decoder.multiple_members(true);
            Box::pin(BufReader::with_capacity(1 << 16, decoder))
        } else {
            raw
        };
        let bounded = Box::pin(Bounded::new(
            decoded,
            sent.clone(),
            compressed,
            limits.text_bytes,
        ));
        let (head, reader) = peek(bounded, 1 << 16).await.map_err(read_error)?;
        if gzip && (head.starts_with(GZIP_MAGIC) || head.starts_with(ZIP_MAGIC)) {
            return Err(nested("an archive inside a gzip file"));
        }
        // Text exports have no NUL bytes; a PNG or a PDF has them near the start.
        if head.contains(&0) {
            return Err(UploadError::Failed(
                "the upload is not a text file (it holds binary data); send a CSV file, plain, \
                 gzip or zip"
                    .into(),
            ));
        }
        Ok(Text {
            reader,
            unzipping,
            sent,
            hasher,
            encoding,
            max_lines: limits.lines,
            line: Vec::with_capacity(256),
            decoded: Vec::new(),
            line_no: 0,
        })
    }

    /// The next physical line, or `None` at the end of the text.
    pub async fn next_line(&mut self) -> Result<Option<Line<'_>>, UploadError> {
        let Some(too_long) = next_line(&mut self.reader, &mut self.line)
            .await
            .map_err(read_error)?
        else {
            return Ok(None);
        };
        self.line_no += 1;
        // Blank lines count: a file of nothing but line ends is work too.
        if self.line_no > self.max_lines {
            return Err(UploadError::Refused(format!(
                "the file has more than {} lines (the header and blank lines count; \
                 TARCZA_MAX_IMPORT_LINES); nothing was changed",
                self.max_lines
            )));
        }
        if self.line_no.is_multiple_of(YIELD_EVERY) {
            // Parsing is CPU work between reads that are often already buffered: let the
            // other tasks of this worker (signals, the scheduler, requests) run.
            tokio::task::yield_now().await;
        }
        let text: &[u8] = match self.encoding {
            Some(e) => {
                self.decoded.clear();
                let (text, _) = e.codec().decode_without_bom_handling(&self.line);
                self.decoded.extend_from_slice(text.as_bytes());
                &self.decoded
            }
            None => &self.line,
        };
        Ok(Some(Line {
            number: self.line_no,
            text,
            too_long,
        }))
    }

    /// Ends the reading once every line is read: the bytes sent and their SHA-256, or
    /// why the file was not whole (a zip archive is checked at its end).
    pub async fn finish(self) -> Result<(u64, String), UploadError> {
        let Text {
            reader,
            unzipping,
            sent,
            hasher,
            ..
        } = self;
        drop(reader);
        if let Some(task) = unzipping {
            // The reader ends when the unzipping task stops, for whatever reason: only its
            // result says whether the whole file was read.
            task.await
                .map_err(|e| UploadError::Failed(format!("unzipping failed: {e}")))?
                .map_err(|e| {
                    UploadError::Failed(format!("the zip archive could not be read: {e}"))
                })?;
        }
        let checksum = hash::checksum(hasher.lock().expect("hasher lock").clone());
        Ok((sent.load(Ordering::Relaxed), checksum))
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

fn nested(what: &str) -> UploadError {
    UploadError::Refused(format!(
        "the upload is {what}; one level of each is read (a zip holding one file, which may \
         be gzip-compressed, or a gzip file), nothing nested deeper. Nothing was changed"
    ))
}

/// Reads at least `n` bytes (fewer only at the end of input) without losing them: the
/// bytes, and a reader that yields them again followed by the rest.
async fn peek(mut reader: Reader, n: usize) -> io::Result<(Vec<u8>, Reader)> {
    let mut head = Vec::with_capacity(n);
    while head.len() < n {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let take = available.len().min(n - head.len());
        head.extend_from_slice(&available[..take]);
        reader.consume(take);
    }
    let again: Reader = Box::pin(io::Cursor::new(head.clone()).chain(reader));
    Ok((head, again))
}

/// The line reader of the upload's format.
enum Lines {
    Csv(CsvLines),
    Hashed(HashLines),
}

impl Lines {
    fn new(opts: ReadOptions) -> Lines {
        match opts.format {
            Format::Csv => Lines::Csv(CsvLines::new(opts.region)),
            Format::Sha256(_) => Lines::Hashed(HashLines::default()),
        }
    }

    fn feed(&mut self, line_no: u64, line: &[u8]) -> HashLine {
        match self {
            Lines::Hashed(h) => h.feed(line_no, line),
            Lines::Csv(c) => match c.feed(line_no, line) {
                Parsed::Skip => Ok(None),
                Parsed::Row(n, op) => Ok(Some((n.digits(), op))),
                Parsed::Reject { reason, message } => Err((reason, message)),
            },
        }
    }
}

/// A line as the file has it, less its line ending.
fn raw_text(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What `rejects[].raw` shows of a rejected line: its first [`RAW_CHARS`] characters,
/// with `…` when cut.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(RAW_CHARS * 4)]);
    let text = text.replace('\0', "\u{fffd}");
    match text.char_indices().nth(RAW_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if line.len() > RAW_CHARS * 4 => format!("{text}…"),
        None => text,
    }
}

/// Reads the next line (without `\n`) into `buf`. Returns `None` at the end of input,
/// `Some(true)` when the line was longer than [`MAX_LINE_BYTES`] (the rest is skipped).
async fn next_line<R: AsyncBufRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut overflow = false;
    let mut seen_any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(seen_any.then_some(overflow));
        }
        seen_any = true;
        let (take, used, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i, i + 1, true),
            None => (available.len(), available.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len());
        overflow |= take > room;
        buf.extend_from_slice(&available[..take.min(room)]);
        reader.consume(used);
        if found {
            return Ok(Some(overflow));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_line_is_shown_only_in_part() {
        assert_eq!(shown(b"601 234 56x"), "601 234 56x");
        let long = "tajne: ".repeat(20);
        let cut = shown(long.as_bytes());
        assert_eq!(cut.chars().count(), RAW_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shown(b"a\0b"), "a\u{fffd}b");
    }
}
