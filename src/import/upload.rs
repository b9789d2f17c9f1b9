//! Streaming an uploaded registry file: raw bytes → (unzip) → (gunzip) → (decode) →
//! lines → parsed rows. The body is never held whole in memory (a zip archive is spooled
//! to a temporary file); only the distinct keys are kept (see `collect`), and what an
//! upload may cost is bounded ([`Limits`], [`MAX_RATIO`], [`MAX_ZIP_ENTRIES`]).

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use async_compression::tokio::bufread::GzipDecoder;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream,
    ReadBuf,
};
use tokio::task::JoinHandle;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::collect::{Collected, Collector};
use super::csv::{CsvLines, Parsed};
use super::hashed::{HashLine, HashLines};
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
/// A compressed upload may expand at most this many times (deflate itself tops out
/// near 1032:1, so only a file of almost nothing but one repeated byte, or an archive
/// nested in another, comes near it)...
pub const MAX_RATIO: u64 = 1000;
/// ...once it has expanded to this much: a small file of long runs is fine.
pub const RATIO_GRACE_BYTES: u64 = 16 << 20;
/// Most entries a zip archive may list: one data file, plus the folders and the
/// `__MACOSX/` resource forks archivers add around it.
pub const MAX_ZIP_ENTRIES: u64 = 16;

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

/// Why an upload could not be read at all (as opposed to rows being rejected).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file breaks a rule (a limit, nesting, too many zip entries): `refused`.
    #[error("{0}")]
    Refused(String),
    /// The file could not be read (cut off, damaged, not text): `failed`.
    #[error("{0}")]
    Failed(String),
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

/// How much work one upload may cause.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes as sent (TARCZA_MAX_UPLOAD_BYTES).
    pub sent_bytes: u64,
    /// Bytes of text after unzipping and gunzipping (TARCZA_MAX_DECOMPRESSED_BYTES).
    pub text_bytes: u64,
    /// Physical lines, the header and blank lines included (TARCZA_MAX_IMPORT_LINES).
    pub lines: u64,
}

pub async fn read(body: impl ByteStream, opts: ReadOptions) -> Result<Upload, UploadError> {
    let max_bytes = opts.limits.sent_bytes;
    let sent = Arc::new(AtomicU64::new(0));
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let (counted, hashing) = (sent.clone(), hasher.clone());
    let stream = body
        .map_err(|e| io::Error::other(format!("the upload was interrupted: {e}")))
        .and_then(move |chunk| {
            let total =
                counted.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
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
    let bounded = Box::pin(Bounded {
        inner: decoded,
        out: 0,
        sent: sent.clone(),
        compressed,
        max_out: opts.limits.text_bytes,
    });
    let (head, mut reader) = peek(bounded, 1 << 16).await.map_err(read_error)?;
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
    let mut lines = Lines::new(opts);
    let mut collector = Collector::new(opts.mode, opts.format == Format::Csv);
    let mut upload = Upload::default();
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0u64;
    while let Some(overflow) = next_line(&mut reader, &mut line)
        .await
        .map_err(read_error)?
    {
        line_no += 1;
        // Blank lines count: a file of nothing but line ends is work too.
        if line_no > opts.limits.lines {
            return Err(UploadError::Refused(format!(
                "the file has more than {} lines (the header and blank lines count; \
                 TARCZA_MAX_IMPORT_LINES); nothing was changed",
                opts.limits.lines
            )));
        }
        if line_no.is_multiple_of(YIELD_EVERY) {
            // Parsing is CPU work between reads that are often already buffered: let the
            // other tasks of this worker (signals, the scheduler, requests) run.
            tokio::task::yield_now().await;
        }
        let text = match opts.encoding {
            Some(e) => Cow::Owned(
                e.codec()
                    .decode_without_bom_handling(&line)
                    .0
                    .into_owned()
                    .into_bytes(),
            ),
            None => Cow::Borrowed(&line[..]),
        };
        let parsed = if overflow {
            Err((
                "line_too_long",
                format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            ))
        } else {
            lines.feed(line_no, &text)
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
                    upload.rejects.push(Reject {
                        line: line_no as i64,
                        raw: shown(raw_text(&text)),
                        reason: reason.to_string(),
                        message,
                    });
                }
            }
        }
        upload.rows_total += 1;
    }
    drop(reader);
    if let Some(task) = unzipping {
        // The reader ends when the unzipping task stops, for whatever reason: only its
        // result says whether the whole file was read.
        task.await
            .map_err(|e| UploadError::Failed(format!("unzipping failed: {e}")))?
            .map_err(|e| UploadError::Failed(format!("the zip archive could not be read: {e}")))?;
    }
    upload.snapshot_removes = collector.snapshot_removes;
    upload.keys = collector.finish().await;
    upload.bytes = sent.load(Ordering::Relaxed);
    upload.checksum = hash::checksum(hasher.lock().expect("hasher lock").clone());
    Ok(upload)
}

type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

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

/// The text of an upload after unzipping and gunzipping, stopped with a refusal when it
/// grows past `max_out`, or (for a compressed upload, past [`RATIO_GRACE_BYTES`]) past
/// [`MAX_RATIO`] times the bytes sent: a decompression bomb is refused after a few
/// megabytes of work, not after the hours its expansion would take.
struct Bounded {
    inner: Reader,
    out: u64,
    sent: Arc<AtomicU64>,
    compressed: bool,
    max_out: u64,
}

/// A limit an upload broke (carried inside an `io::Error` through the readers).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct OverLimit(String);

impl Bounded {
    fn check(&self) -> io::Result<()> {
        if self.out > self.max_out {
            return Err(io::Error::other(OverLimit(format!(
                "the file is larger than {} bytes once decompressed \
                 (TARCZA_MAX_DECOMPRESSED_BYTES); nothing was changed",
                self.max_out
            ))));
        }
        let sent = self.sent.load(Ordering::Relaxed).max(1);
        if self.compressed && self.out > RATIO_GRACE_BYTES && self.out / sent > MAX_RATIO {
            return Err(io::Error::other(OverLimit(format!(
                "the file expands more than {MAX_RATIO} times when decompressed ({} bytes \
                 sent became more than {} bytes): a decompression bomb, or an archive nested \
                 in another. Nothing was changed",
                sent, self.out
            ))));
        }
        Ok(())
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for Bounded {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        this.check()?;
        this.inner.as_mut().poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.out += amt as u64;
        self.inner.as_mut().consume(amt);
    }
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

/// Copies the rest of the upload to an anonymous temporary file: a zip archive is read
/// from its end (the central directory), so it cannot be streamed.
async fn spool(from: &mut (impl AsyncBufRead + Unpin)) -> Result<std::fs::File, UploadError> {
    let temp_failed = |e: &dyn std::fmt::Display| {
        UploadError::Failed(format!("creating a temporary file failed: {e}"))
    };
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| temp_failed(&e))?
        .map_err(|e| temp_failed(&e))?;
    let mut file = tokio::fs::File::from_std(file);
    tokio::io::copy_buf(from, &mut file)
        .await
        .map_err(read_error)?;
    file.flush().await.map_err(read_error)?;
    Ok(file.into_std().await)
}

/// Opens a spooled zip archive holding one file and streams that file's contents. The
/// task's result says whether the whole file was read (the CRC is checked at its end).
async fn unzip(
    mut file: std::fs::File,
) -> Result<(DuplexStream, JoinHandle<io::Result<u64>>), UploadError> {
    let (archive, index) = tokio::task::spawn_blocking(move || {
        check_zip_directory(&mut file)?;
        let unreadable = |e: zip::result::ZipError| {
            UploadError::Failed(format!("the zip archive could not be read: {e}"))
        };
        let mut archive = zip::ZipArchive::new(file).map_err(unreadable)?;
        let mut files = Vec::new();
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(unreadable)?;
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            if entry.is_file() && !name.starts_with("__MACOSX/") {
                files.push(i);
            }
        }
        match files[..] {
            [one] => Ok((archive, one)),
            [] => Err(UploadError::Refused(
                "the zip archive holds no file; nothing was changed".into(),
            )),
            _ => Err(UploadError::Refused(format!(
                "the zip archive holds {} files; send an archive holding one. Nothing was changed",
                files.len()
            ))),
        }
    })
    .await
    .map_err(|e| UploadError::Failed(format!("unzipping failed: {e}")))??;
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let mut out = SyncIoBridge::new(writer);
    let task = tokio::task::spawn_blocking(move || {
        let mut archive = archive;
        let mut entry = archive.by_index(index).map_err(io::Error::other)?;
        let copied = io::copy(&mut entry, &mut out)?;
        out.shutdown()?;
        Ok(copied)
    });
    Ok((reader, task))
}

/// Refuses an archive whose central directory lists more than [`MAX_ZIP_ENTRIES`]
/// entries, from the entry counts of its end records alone, before the directory is read
/// (a directory of 400 000 entries costs the zip reader 86 MB). Every end-record
/// signature in the region a reader searches (the last 64 KiB and a bit) is checked, so a
/// reader that skips one it finds inconsistent cannot fall back to an unchecked one.
fn check_zip_directory(file: &mut std::fs::File) -> Result<(), UploadError> {
    use std::io::{Read, Seek, SeekFrom};
    const EOCD: &[u8] = b"PK\x05\x06";
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const EOCD64: &[u8] = b"PK\x06\x06";
    const EOCD_LEN: usize = 22;
    const LOCATOR_LEN: usize = 20;
    /// Bytes between where a ZIP64 end record says it is and where it is (an archive
    /// behind a stub); more is not looked through.
    const MAX_SHIFT: u64 = 1 << 20;
    let io_failed =
        |e: io::Error| UploadError::Failed(format!("the zip archive could not be read: {e}"));
    let too_many = |n: u64| {
        UploadError::Refused(format!(
            "the zip archive lists {n} entries; an upload holds one file, so at most \
             {MAX_ZIP_ENTRIES} entries are read. Nothing was changed"
        ))
    };
    let u16_at = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |b: &[u8], i: usize| {
        u64::from(u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")))
    };
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));

    let len = file.seek(SeekFrom::End(0)).map_err(io_failed)?;
    let tail_start = len.saturating_sub((EOCD_LEN + 4 + (1 << 16)) as u64);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(tail_start)).map_err(io_failed)?;
    file.by_ref()
        .take(len - tail_start)
        .read_to_end(&mut tail)
        .map_err(io_failed)?;
    for at in (0..tail.len().saturating_sub(EOCD_LEN - 1)).rev() {
        if &tail[at..at + 4] != EOCD {
            continue;
        }
        let record = &tail[at..at + EOCD_LEN];
        let entries = u16_at(record, 8).max(u16_at(record, 10));
        let zip64 = entries == 0xFFFF
            || u32_at(record, 12) == 0xFFFF_FFFF
            || u32_at(record, 16) == 0xFFFF_FFFF;
        if !zip64 {
            if entries > MAX_ZIP_ENTRIES {
                return Err(too_many(entries));
            }
            continue;
        }
        // The ZIP64 locator sits right before the end record and says where the ZIP64
        // end record is (shifted, in an archive behind a stub).
        let locator_at = (tail_start + at as u64).checked_sub(LOCATOR_LEN as u64);
        let mut locator = [0u8; LOCATOR_LEN];
        let found = match locator_at {
            Some(pos) => {
                file.seek(SeekFrom::Start(pos)).map_err(io_failed)?;
                file.read_exact(&mut locator).is_ok() && &locator[..4] == LOCATOR
            }
            None => false,
        };
        let Some(locator_at) = locator_at.filter(|_| found) else {
            if entries > MAX_ZIP_ENTRIES {
                return Err(too_many(entries));
            }
            continue;
        };
        let declared = u64_at(&locator, 8);
        if declared >= locator_at || locator_at - declared > MAX_SHIFT + 56 {
            return Err(UploadError::Refused(
                "the zip archive's ZIP64 end record is not where its locator says; \
                 nothing was changed"
                    .into(),
            ));
        }
        let mut region = Vec::new();
        file.seek(SeekFrom::Start(declared)).map_err(io_failed)?;
        file.by_ref()
            .take(locator_at - declared)
            .read_to_end(&mut region)
            .map_err(io_failed)?;
        for i in 0..region.len().saturating_sub(55) {
            if &region[i..i + 4] == EOCD64 {
                let entries = u64_at(&region, i + 24).max(u64_at(&region, i + 32));
                if entries > MAX_ZIP_ENTRIES {
                    return Err(too_many(entries));
                }
            }
        }
    }
    Ok(())
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

fn read_error(e: io::Error) -> UploadError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<OverLimit>())
    {
        Some(over) => UploadError::Refused(over.0.clone()),
        None => UploadError::Failed(format!("the file could not be read: {e}")),
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
    use std::io::{Seek, Write};

    use super::*;

    /// An archive end as a ZIP64 writer leaves it: the ZIP64 end record claiming
    /// `entries`, its locator, and a classic end record that defers to them.
    fn zip64_end(entries: u64) -> std::fs::File {
        let mut bytes = b"PK\x03\x04 (local headers and data)".to_vec();
        let eocd64_at = bytes.len() as u64;
        bytes.extend(b"PK\x06\x06");
        bytes.extend(44u64.to_le_bytes());
        bytes.extend([45, 0, 45, 0]);
        bytes.extend([0; 8]);
        bytes.extend(entries.to_le_bytes());
        bytes.extend(entries.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(b"PK\x06\x07");
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(eocd64_at.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(b"PK\x05\x06");
        bytes.extend([0; 4]);
        bytes.extend([0xff; 12]);
        bytes.extend([0; 2]);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.rewind().unwrap();
        file
    }

    #[test]
    fn a_zip64_end_record_claiming_many_entries_is_refused_from_its_count() {
        let err = check_zip_directory(&mut zip64_end(400_000)).unwrap_err();
        assert!(
            matches!(&err, UploadError::Refused(m) if m.contains("400000 entries")),
            "{err}"
        );
        assert!(check_zip_directory(&mut zip64_end(1)).is_ok());
    }

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
