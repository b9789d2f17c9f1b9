//! One accepted TCP connection, as hyper sees it: a `TcpStream` that closes gently and
//! gives hyper's own error answers our JSON body.
//!
//! **Lingering close.** When tarcza answers before reading a whole request (a 413 for a
//! 64 MB body, a 431 for a huge head), hyper closes the socket with the client's data
//! still unread, and the kernel answers that with a reset, which also throws away the
//! answer the client has not read yet. A client that writes its whole body before
//! reading (Python's `urllib`, many CRM integrations) then sees `Broken pipe` or
//! `Connection reset` instead of the 413. So, as nginx does, the socket is not closed
//! when hyper lets go of it: we send our FIN, read and discard what the client still
//! sends for at most [`LINGER_TOTAL`] (and [`LINGER_IDLE`] of silence), then close.
//!
//! **hyper's own answers.** A request hyper cannot parse (head over the limit, URI too
//! long, malformed) never reaches the router: hyper writes a bare `431`/`414`/`400` with
//! no body and closes. The write of exactly such a head is replaced by the same status
//! with the usual `{"error": {"code", "message"}}` body.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest time a closing connection is drained (nginx's `lingering_time`).
pub const LINGER_TOTAL: Duration = Duration::from_secs(30);
/// Longest silence while draining (nginx's `lingering_timeout`).
pub const LINGER_IDLE: Duration = Duration::from_secs(5);

/// A client's TCP connection for hyper; see the module docs.
pub struct ClientSocket {
    /// `None` only once handed to the lingering close.
    stream: Option<TcpStream>,
    /// Largest request head, for the 431 message.
    head_limit: usize,
    /// A replacement answer not yet fully written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl ClientSocket {
    pub fn new(stream: TcpStream, head_limit: usize) -> ClientSocket {
        ClientSocket {
            stream: Some(stream),
            head_limit,
            pending: None,
        }
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.stream.as_mut().expect("the stream is ours until drop"))
    }

    /// Writes out what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.pending.take() {
            if written == bytes.len() {
                break;
            }
            let stream = Pin::new(self.stream.as_mut().expect("the stream is ours until drop"));
            match stream.poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.pending = Some((bytes, written + n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.pending = Some((bytes, written));
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// If `buf` is hyper's bare error answer, queues ours instead and says so.
    fn replace(&mut self, buf: &[u8]) -> bool {
        let Some(status) = bare_error_status(buf) else {
            return false;
        };
        self.pending = Some((error_answer(status, self.head_limit), 0));
        true
    }
}

impl AsyncRead for ClientSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if this.replace(buf) {
            // hyper sees its bytes written; ours go out now or on the next flush.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        this.stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if this.replace(only) {
                let _ = this.poll_pending(cx)?;
                return Poll::Ready(Ok(only.len()));
            }
        }
        this.stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        this.stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        this.stream().poll_shutdown(cx)
    }
}

impl Drop for ClientSocket {
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        // Outside a runtime (the process is exiting) the socket just closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pending = self.pending.take();
            runtime.spawn(linger(stream, pending));
        }
    }
}

/// Finishes a replacement answer, sends our FIN, and discards what the client still
/// sends until it closes, falls silent for [`LINGER_IDLE`], or [`LINGER_TOTAL`] passes.
async fn linger(mut stream: TcpStream, pending: Option<(Vec<u8>, usize)>) {
    let deadline = Instant::now() + LINGER_TOTAL;
    if let Some((bytes, written)) = pending {
        let write = stream.write_all(&bytes[written..]);
        if !matches!(tokio::time::timeout_at(deadline, write).await, Ok(Ok(()))) {
            return;
        }
    }
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0u8; 64 << 10];
    loop {
        let idle = (Instant::now() + LINGER_IDLE).min(deadline);
        match tokio::time::timeout_at(idle, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return,
        }
    }
}

/// The status of `buf` if it is exactly a head hyper writes on its own for a request it
/// could not parse: `400`, `414` or `431`, no body (`content-length: 0`), no content
/// type. tarcza's own answers always carry a JSON body, so they never match.
fn bare_error_status(buf: &[u8]) -> Option<u16> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !matches!(status, 400 | 414 | 431) || rest.get(3) != Some(&b' ') {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?.to_ascii_lowercase();
    let end = head.find("\r\n\r\n")? + 4;
    let bare = end == buf.len()
        && head.contains("\r\ncontent-length: 0\r\n")
        && !head.contains("\r\ncontent-type:");
    bare.then_some(status)
}

/// Our answer for one of hyper's: the same status, the usual error body, and the
/// connection closed.
fn error_answer(status: u16, head_limit: usize) -> Vec<u8> {
    let (reason, code, message) = match status {
        431 => (
            "Request Header Fields Too Large",
            "request_head_too_large",
            format!(
                "the request line and headers are larger than {head_limit} bytes; \
                 nothing was changed"
            ),
        ),
        414 => (
            "URI Too Long",
            "uri_too_long",
            "the request target (path and query string) is too long; nothing was changed"
                .to_string(),
        ),
        _ => (
            "Bad Request",
            "malformed_request",
            "the request is not valid HTTP/1.1; nothing was changed".to_string(),
        ),
    };
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_error_heads_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sat, 28 Nov 2026 10:00:00 GMT\r\n\r\n";
        assert_eq!(bare_error_status(bare), Some(431));
        let bare = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error_status(bare), Some(400));
        // Our own answers: a JSON body, a content type.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error_status(ours), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(bare_error_status(with_body), None);
        let other = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error_status(other), None);
        assert_eq!(bare_error_status(b"{\"error\": 1}"), None);
        assert_eq!(bare_error_status(b"HTTP/1.1 4"), None);

        let answer = String::from_utf8(error_answer(431, 65536)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "request_head_too_large");
    }
}
