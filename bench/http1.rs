//! A minimal HTTP/1.1 keep-alive client for the benchmark's own probes (the throughput
//! figures come from wrk; this one checks answers and measures during imports).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    pub async fn get(&mut self, path: &str, key: &str) -> io::Result<Reply> {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\r\n",
            self.host
        );
        self.stream.get_mut().write_all(head.as_bytes()).await?;
        self.read_reply().await
    }

    pub async fn post(
        &mut self,
        path: &str,
        key: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Reply> {
        self.send_head("POST", path, key, content_type, body.len() as u64)
            .await?;
        self.stream.get_mut().write_all(body).await?;
        self.read_reply().await
    }

    /// POSTs `len` bytes read from `body` (e.g. a file), streamed.
    pub async fn post_stream(
        &mut self,
        path: &str,
        key: &str,
        len: u64,
        mut body: impl AsyncRead + Unpin,
    ) -> io::Result<Reply> {
        self.send_head("POST", path, key, "text/csv", len).await?;
        tokio::io::copy(&mut body, self.stream.get_mut()).await?;
        self.read_reply().await
    }

    async fn send_head(
        &mut self,
        method: &str,
        path: &str,
        key: &str,
        ctype: &str,
        len: u64,
    ) -> io::Result<()> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: {ctype}\r\nContent-Length: {len}\r\n\r\n",
            self.host
        );
        self.stream.get_mut().write_all(head.as_bytes()).await
    }

    async fn read_reply(&mut self) -> io::Result<Reply> {
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(io::Error::other("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(Reply { status, body })
    }
}
