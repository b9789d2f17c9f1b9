//! Streaming an uploaded registry file: raw bytes → (gunzip) → lines → parsed rows.
//! The body is never held whole in memory; only the parsed numbers are kept.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_compression::tokio::bufread::GzipDecoder;
use axum::body::Body;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio_util::io::StreamReader;

use super::csv::{CsvLines, Op, Parsed};
use crate::domain::Region;
use crate::store::imports::Reject;

/// Longest physical line we read; longer lines are rejected, not buffered.
pub const MAX_LINE_BYTES: usize = 4096;
/// How many rejected rows are kept for the import report (all are counted).
pub const MAX_STORED_REJECTS: usize = 1000;
/// Upper bound on data rows, so a decompression bomb cannot exhaust memory.
pub const MAX_ROWS: u64 = 600_000_000;

#[derive(Debug, Default)]
pub struct Upload {
    /// Numbers with their operation, in file order.
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

pub async fn read(body: Body, region: Region, max_bytes: u64) -> Result<Upload, UploadError> {
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
    let gzip = {
        let head = raw.fill_buf().await.map_err(read_error)?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let mut upload = Upload::default();
    let mut reader: Pin<Box<dyn AsyncBufRead + Send>> = if gzip {
        let mut decoder = GzipDecoder::new(raw);
        decoder.multiple_members(true);
        Box::pin(BufReader::with_capacity(1 << 16, decoder))
    } else {
        Box::pin(raw)
    };
    // Text exports have no NUL bytes; a PNG, a ZIP or a PDF has them near the start.
    if reader.fill_buf().await.map_err(read_error)?.contains(&0) {
        return Err(UploadError(
            "the upload is not a text file (it holds binary data); send a CSV file, plain or gzip"
                .into(),
        ));
    }
    let mut lines = CsvLines::new(region);
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0u64;
    while let Some(overflow) = next_line(&mut reader, &mut line)
        .await
        .map_err(read_error)?
    {
        line_no += 1;
        let parsed = if overflow {
            Parsed::Reject {
                reason: "line_too_long",
                message: format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            }
        } else {
            lines.feed(line_no, &line)
        };
        match parsed {
            Parsed::Skip => continue,
            Parsed::Row(n, op) => upload.rows.push((n.digits(), op)),
            Parsed::Reject { reason, message } => {
                upload.rows_rejected += 1;
                if upload.rejects.len() < MAX_STORED_REJECTS {
                    upload.rejects.push(Reject {
                        line: line_no as i64,
                        raw: String::from_utf8_lossy(
                            &raw_text(&line)[..raw_text(&line).len().min(200)],
                        )
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
