//! Real processes and real sockets: the `tarcza` binary started on a test database, and a
//! minimal HTTP/1.1 client over a tokio TcpStream (one request per connection).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::ADMIN_KEY;

/// A status and a JSON body (Null when empty or not JSON), and the body's bytes.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: Vec<u8>,
}

/// Sends one request and reads the whole answer (`Connection: close`).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Reply> {
    let mut sock = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(key) = key {
        head.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    let payload: &[u8] = match body {
        Some((content_type, bytes)) => {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
            bytes
        }
        None => b"",
    };
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(payload).await?;
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await?;
    parse_reply(&raw)
}

/// Parses a raw HTTP/1.1 response with a Content-Length (or close-delimited) body.
pub fn parse_reply(raw: &[u8]) -> std::io::Result<Reply> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no complete response head"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("head is not UTF-8"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let body = &raw[split + 4..];
    Ok(Reply {
        status,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        raw: body.to_vec(),
    })
}

/// A private copy of the binary cargo built for this test run, taken at first use: the
/// target directory may be shared with other checkouts whose builds replace the binary.
pub fn binary() -> &'static std::path::Path {
    static COPY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        remove_leftovers();
        let copy = std::env::temp_dir().join(format!("tarcza-bin-{}", std::process::id()));
        std::fs::copy(env!("CARGO_BIN_EXE_tarcza"), &copy).expect("copy the tarcza binary");
        copy
    })
}

/// Removes binary copies and process logs of earlier test runs that are gone.
fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("tarcza-bin-")
            .or_else(|| name.strip_prefix("tarcza-proc-"))
            .and_then(|rest| rest.split(['-', '.']).next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// A `tarcza serve` process on `127.0.0.1:<free port>`, killed (SIGKILL) when dropped.
pub struct Tarcza {
    child: Child,
    pub addr: SocketAddr,
    log_path: std::path::PathBuf,
}

impl Tarcza {
    /// Starts the binary against `db_url` and waits until `/readyz` answers 200.
    pub async fn start(db_url: &str) -> Tarcza {
        Tarcza::start_with(db_url, &[]).await
    }

    /// [`Tarcza::start`] with more environment variables (later ones win).
    pub async fn start_with(db_url: &str, env: &[(&str, &str)]) -> Tarcza {
        let addr = free_port().await;
        let log_path = std::env::temp_dir().join(format!(
            "tarcza-proc-{}-{}.log",
            std::process::id(),
            addr.port()
        ));
        let log = std::fs::File::create(&log_path).expect("process log file");
        let child = Command::new(binary())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", db_url)
            .env("TARCZA_BIND", addr.to_string())
            .env("TARCZA_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
            .env("TARCZA_RECONCILE_INTERVAL", "1s")
            .env("TARCZA_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("process log file"))
            .stderr(log)
            .spawn()
            .expect("start the tarcza binary");
        let mut t = Tarcza {
            child,
            addr,
            log_path: log_path.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = t.call("GET", "/readyz", None).await {
                if r.status == 200 {
                    return t;
                }
            }
            let exited = t.child.try_wait().expect("poll the child");
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!(
                    "tarcza on {addr} never became ready ({exited:?}); its log:\n{log}\n\
                     (\"migration N … missing\" means {} was built from another checkout \
                     sharing the target dir)",
                    env!("CARGO_BIN_EXE_tarcza")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the process has logged so far (at `warn` and above).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9 tarcza");
        self.child.wait().expect("reap tarcza");
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        json: Option<&Value>,
    ) -> std::io::Result<Reply> {
        let body = json.map(|v| v.to_string().into_bytes());
        request(
            self.addr,
            method,
            path,
            Some(ADMIN_KEY),
            body.as_deref().map(|b| ("application/json", b)),
        )
        .await
    }

    /// `/v1/check` allows `number` (a national number, digits only)?
    pub async fn allowed(&self, number: &str) -> bool {
        self.allowed_with(number, ADMIN_KEY)
            .await
            .expect("check answered")
    }

    pub async fn allowed_with(&self, number: &str, key: &str) -> Result<bool, u16> {
        let r = request(
            self.addr,
            "GET",
            &format!("/v1/check?number={number}"),
            Some(key),
            None,
        )
        .await
        .map_err(|_| 0u16)?;
        match r.status {
            200 => Ok(r.body["allowed"].as_bool().expect("allowed is a bool")),
            other => Err(other),
        }
    }

    pub async fn upload(&self, query: &str, csv: &[u8]) -> Reply {
        request(
            self.addr,
            "POST",
            &format!("/v1/registries/robinson/imports?{query}"),
            Some(ADMIN_KEY),
            Some(("text/csv", csv)),
        )
        .await
        .expect("upload answered")
    }
}

/// A port that was free a moment ago.
pub async fn free_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// Polls `probe` until it returns true; returns how long that took, or panics after `limit`.
pub async fn time_until<F, Fut>(limit: Duration, what: &str, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `count` Polish mobile numbers from 600 000 000 + `start`, one per line.
pub fn csv_numbers(count: u64, start: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(count as usize * 10);
    for i in 0..count {
        out.extend_from_slice(format!("{}\n", 600_000_000 + start + i).as_bytes());
    }
    out
}

impl Drop for Tarcza {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
