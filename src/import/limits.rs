//! What one upload may cost, and why an upload could not be read: the limits, and the
//! reader over a file's text that refuses, as soon as it is seen, a file growing past its
//! limit or expanding too many times over what was sent (a decompression bomb is refused
//! after a few megabytes of work).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

/// A stage of the reading pipeline.
pub(super) type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

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

/// An I/O error met while reading an upload, as the reason it could not be read: a
/// broken limit is `refused`, anything else `failed`.
pub(super) fn read_error(e: io::Error) -> UploadError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<OverLimit>())
    {
        Some(over) => UploadError::Refused(over.0.clone()),
        None => UploadError::Failed(format!("the file could not be read: {e}")),
    }
}

/// A compressed upload may expand at most this many times (deflate itself tops out
/// near 1032:1, so only a file of almost nothing but one repeated byte, or an archive
/// nested in another, comes near it)...
pub const MAX_RATIO: u64 = 1000;
/// ...once it has expanded to this much: a small file of long runs is fine.
pub const RATIO_GRACE_BYTES: u64 = 16 << 20;

/// The text of an upload after unzipping and gunzipping, stopped with a refusal when it
/// grows past `max_out`, or (for a compressed upload, past [`RATIO_GRACE_BYTES`]) past
/// [`MAX_RATIO`] times the bytes sent: a decompression bomb is refused after a few
/// megabytes of work, not after the hours its expansion would take.
pub(super) struct Bounded {
    inner: Reader,
    out: u64,
    sent: Arc<AtomicU64>,
    compressed: bool,
    max_out: u64,
}

/// A limit an upload broke (carried inside an `io::Error` through the readers).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct OverLimit(pub(super) String);

impl Bounded {
    /// `inner` bounded to `max_out` bytes, and (when `compressed`) to [`MAX_RATIO`] times
    /// the bytes `sent` so far.
    pub(super) fn new(
        inner: Reader,
        sent: Arc<AtomicU64>,
        compressed: bool,
        max_out: u64,
    ) -> Bounded {
        Bounded {
            inner,
            out: 0,
            sent,
            compressed,
            max_out,
        }
    }

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
