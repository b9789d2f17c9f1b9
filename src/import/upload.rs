//! Streaming an uploaded registry file: raw bytes → (unzip) → (gunzip) → (decode) →
//! lines → parsed rows. The body is never held whole in memory (a zip archive is spooled
//! to a temporary file); only the parsed keys are kept.

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_compression::tokio::bufread::GzipDecoder;
use axum::body::Body;
use encoding_rs::Encoding;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::task::JoinHandle;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::csv::{CsvLines, Op, Parsed};
use super::hashed::{HashLine, HashLines};
use super::Format;
use crate::domain::Region;
use crate::store::imports::Reject;

/// Longest physical line we read; longer lines are rejected, not buffered.
pub const MAX_LINE_BYTES: usize = 4096;
/// How many rejected rows are kept for the import report (all are counted).
pub const MAX_STORED_REJECTS: usize = 1000;
/// How many lines are parsed between two yields to the scheduler.
const YIELD_EVERY: u64 = 4096;
/// Upper bound on data rows, so a decompression bomb cannot exhaust memory.
pub const MAX_ROWS: u64 = 600_000_000;

#[derive(Debug, Default)]
pub struct Upload {
    /// Keys (E.164 digits, or hash prefixes) with their operation, in file order.
    pub rows: Vec<(u64, Op)>,
    pub rows_total: u64,
    pub rows_rejected: u64,
    pub rejects: Vec<Reject>,
    pub bytes: u64,
    pub checksum: String,
}

/// Why an upload could not be read at all (as opposed to rows being rejected).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UploadError(pub String);

/// How to read an upload.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    pub region: Region,
    pub max_bytes: u64,
    pub format: Format,
    /// The text encoding of the file, when it is not UTF-8.
    pub encoding: Option<&'static Encoding>,
}

pub async fn read(body: Body, opts: ReadOptions) -> Result<Upload, UploadError> {
    let max_bytes = opts.max_bytes;
    let tally = Arc::new(Mutex::new((0u64, Sha256::new())));
    let counted = tally.clone();
    let stream = body
        .into_data_stream()
        .map_err(|e| io::Error::other(format!("the upload was interrupted: {e}")))
        .and_then(move |chunk| {
            let mut t = counted.lock().expect("tally lock");
            t.0 += chunk.len() as u64;
            t.1.update(&chunk);
            let result = if t.0 > max_bytes {
                Err(io::Error::other(format!(
                    "the upload is larger than the {max_bytes}-byte limit (TARCZA_MAX_UPLOAD_BYTES)"
                )))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    let mut raw = BufReader::with_capacity(1 << 16, StreamReader::new(stream));
    let is_zip = raw
        .fill_buf()
        .await
        .map_err(read_error)?
        .starts_with(b"PK\x03\x04");
    let (mut raw, unzipping): (Pin<Box<dyn AsyncBufRead + Send>>, _) = if is_zip {
        let (reader, task) = unzip(spool(&mut raw).await?).await?;
        (
            Box::pin(BufReader::with_capacity(1 << 16, reader)),
            Some(task),
        )
    } else {
        (Box::pin(raw), None)
    };
    let gzip = raw
        .fill_buf()
        .await
        .map_err(read_error)?
        .starts_with(&[0x1f, 0x8b]);
    let mut upload = Upload::default();
    let mut reader: Pin<Box<dyn AsyncBufRead + Send>> = if gzip {
        let mut decoder = GzipDecoder::new(raw);
        decoder.multiple_members(true);
        Box::pin(BufReader::with_capacity(1 << 16, decoder))
    } else {
        raw
    };
    // Text exports have no NUL bytes; a PNG or a PDF has them near the start.
    if reader.fill_buf().await.map_err(read_error)?.contains(&0) {
        return Err(UploadError(
            "the upload is not a text file (it holds binary data); send a CSV file, plain, \
             gzip or zip"
                .into(),
        ));
    }
    let mut lines = Lines::new(opts);
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0u64;
    while let Some(overflow) = next_line(&mut reader, &mut line)
        .await
        .map_err(read_error)?
    {
        line_no += 1;
        if line_no.is_multiple_of(YIELD_EVERY) {
            // Parsing is CPU work between reads that are often already buffered: let the
            // other tasks of this worker (signals, the scheduler, requests) run.
            tokio::task::yield_now().await;
        }
        let text = match opts.encoding {
            Some(e) => Cow::Owned(
                e.decode_without_bom_handling(&line)
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
            Ok(Some(row)) => upload.rows.push(row),
            Err((reason, message)) => {
                upload.rows_rejected += 1;
                if upload.rejects.len() < MAX_STORED_REJECTS {
                    let raw = raw_text(&text);
                    upload.rejects.push(Reject {
                        line: line_no as i64,
                        raw: String::from_utf8_lossy(&raw[..raw.len().min(200)])
                            .replace('\0', "\u{fffd}"),
                        reason: reason.to_string(),
                        message,
                    });
                }
            }
        }
        upload.rows_total += 1;
        if upload.rows_total > MAX_ROWS {
            return Err(UploadError(format!(
                "the file has more than {MAX_ROWS} rows"
            )));
        }
    }
    drop(reader);
    if let Some(task) = unzipping {
        // The reader ends when the unzipping task stops, for whatever reason: only its
        // result says whether the whole file was read.
        task.await
            .map_err(|e| UploadError(format!("unzipping failed: {e}")))?
            .map_err(|e| UploadError(format!("the zip archive could not be read: {e}")))?;
    }
    let t = tally.lock().expect("tally lock");
    upload.bytes = t.0;
    upload.checksum =
        t.1.clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    Ok(upload)
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
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| UploadError(format!("creating a temporary file failed: {e}")))?
        .map_err(|e| UploadError(format!("creating a temporary file failed: {e}")))?;
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
    file: std::fs::File,
) -> Result<(DuplexStream, JoinHandle<io::Result<u64>>), UploadError> {
    let (archive, index) = tokio::task::spawn_blocking(move || {
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| format!("the zip archive could not be read: {e}"))?;
        let mut files = Vec::new();
        for i in 0..archive.len() {
            let entry = archive
                .by_index_raw(i)
                .map_err(|e| format!("the zip archive could not be read: {e}"))?;
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            if entry.is_file() && !name.starts_with("__MACOSX/") {
                files.push(i);
            }
        }
        match files[..] {
            [one] => Ok((archive, one)),
            [] => Err("the zip archive holds no file".to_string()),
            _ => Err(format!(
                "the zip archive holds {} files; send an archive holding one",
                files.len()
            )),
        }
    })
    .await
    .map_err(|e| UploadError(format!("unzipping failed: {e}")))?
    .map_err(UploadError)?;
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

/// A line as the file has it, less its line ending.
fn raw_text(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn read_error(e: io::Error) -> UploadError {
    UploadError(format!("the file could not be read: {e}"))
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
