//! Embedded PostgreSQL: a private server started from the machine's own binaries.
//!
//! # Why
//!
//! tarcza needs PostgreSQL, but a developer running `tarcza serve` or the test
//! suite should not have to install, configure and babysit a system-wide
//! server. When no `DATABASE_URL` is given, tarcza instead runs its *own*
//! `postgres` process out of a data directory it owns:
//!
//! ```text
//! <dir>/pgdata        the cluster (initdb'd on first use)
//! <dir>/run           socket directory: the server listens on a Unix socket only
//! <dir>/postgres.log  server output (stdout and stderr, appended)
//! <dir>/tarcza.lock   flock()ed for as long as one tarcza process uses <dir>
//! ```
//!
//! The test suite uses the same mechanism: one cluster per test process, and a
//! fresh database per test, created by the caller through sqlx on
//! [`EmbeddedPostgres::url`]`("postgres")`.
//!
//! # How
//!
//! * The binaries come from `PATH` (`initdb` and `postgres`), else from the
//!   highest version under `/usr/lib/postgresql/*/bin` (Debian/Ubuntu layout).
//! * The cluster is created with `initdb` into a temporary sibling directory
//!   which is renamed to `pgdata` only on success, so an interrupted `initdb`
//!   never leaves a half-made cluster behind.
//! * PostgreSQL refuses to run as root. When we are root, `initdb` and
//!   `postgres` run as the unprivileged `postgres` user, which therefore has to
//!   be able to reach `<dir>` (e.g. not under `/root`, which is mode 0700).
//! * The server is a plain foreground child process (not `pg_ctl`, which would
//!   daemonise it). It is stopped with SIGINT ("fast shutdown") by
//!   [`EmbeddedPostgres::stop`] / `Drop`, and — through
//!   `prctl(PR_SET_PDEATHSIG, SIGINT)` — also when our process dies in any way,
//!   including `kill -9`. PR_SET_PDEATHSIG fires when the *thread* that forked
//!   the child exits, not the process, so the child is forked from a dedicated
//!   keeper thread that lives until the server has exited (tokio's blocking
//!   threads and libtest's test threads come and go; the keeper does not).
//! * `listen_addresses=''`: no TCP port, so any number of clusters (one per test
//!   process) coexist on one machine; the socket is mode 0700.
//! * Stale `pgdata/postmaster.pid` files left by a crash are handled by
//!   PostgreSQL itself; we never delete them.
//!
//! # Files
//!
//! This file holds the public API and the start-up sequence; `cluster.rs` finds
//! the binaries and runs `initdb`; `process.rs` owns the server process (keeper
//! thread, stop); `datadir.rs` the data directory (lock, log, ownership); and
//! `unix.rs` every `unsafe` system call (users, signals, `prctl`).

mod cluster;
mod datadir;
mod process;
mod unix;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

use cluster::{find_binaries, init_cluster, log_tail};
use datadir::{check_owner, check_reachable, lock_dir, open_log, Owners};
use process::spawn_from_keeper_thread;
use unix::{is_root, lookup_user, set_parent_death_signal};

/// Superuser created by `initdb` (`-U`); trust auth, so no password.
const SUPERUSER: &str = "tarcza";
/// The role the service runs as: no superuser, owns no table it must not rewrite.
pub const SERVING_ROLE: &str = "tarcza_app";
/// The port only names the socket file (`.s.PGSQL.5432`): there is no TCP.
const PORT: u16 = 5432;
/// `sizeof(sockaddr_un.sun_path)` is 108 on Linux, including the final NUL.
const MAX_SOCKET_PATH: usize = 107;
/// Unprivileged user the server runs as when we are root.
const SERVER_USER: &str = "postgres";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 20;

/// Knobs for [`EmbeddedPostgres::start_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Durable writes. `false` (for tests only) passes `--no-sync` to initdb and
    /// `fsync=off`, `synchronous_commit=off`, `full_page_writes=off` to the
    /// server: much faster, but a machine crash can corrupt the cluster.
    pub fsync: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { fsync: true }
    }
}

/// The user PostgreSQL runs as: `None` (ourselves) unless we are root.
fn server_user() -> Result<Option<unix::RunAs>> {
    if !is_root() {
        return Ok(None);
    }
    let user = lookup_user(SERVER_USER)?.ok_or_else(|| {
        anyhow!(
            "running as root, but there is no `{SERVER_USER}` user to run PostgreSQL as \
             (PostgreSQL refuses to run as root): create it, run tarcza as a normal user, \
             or set DATABASE_URL"
        )
    })?;
    Ok(Some(user))
}

/// The data directory `dir`, made if missing and checked as for the embedded PostgreSQL
/// (no one else may tamper with it; see `datadir`), for other private files kept there
/// (the receipt signing key). Returns its canonical path.
pub fn private_dir(dir: &Path) -> Result<PathBuf> {
    let owners = Owners::new(server_user()?);
    datadir::check_links(dir, &owners)?;
    datadir::create(dir, &owners)?;
    let dir = fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    datadir::check(&dir, &owners)?;
    Ok(dir)
}

/// The effective user id of this process (files it makes belong to it).
pub fn current_uid() -> u32 {
    unix::geteuid()
}

/// A running private PostgreSQL server; see the module docs.
pub struct EmbeddedPostgres {
    dir: PathBuf,
    run_dir: PathBuf,
    /// `None` once stopped and reaped.
    child: Option<Child>,
    /// Dropping this lets the keeper thread end (only after the child is reaped).
    keeper_release: Option<mpsc::Sender<()>>,
    keeper: Option<JoinHandle<()>>,
    /// flock()ed for the lifetime of this value; released when the File closes.
    _lock: File,
}

impl EmbeddedPostgres {
    /// Starts (initialising on first use) a durable cluster in `dir`.
    /// Blocking; call from `spawn_blocking` in async code.
    pub fn start(dir: &Path) -> Result<EmbeddedPostgres> {
        Self::start_with(dir, Options::default())
    }

    /// Like [`start`](Self::start), with [`Options`].
    pub fn start_with(dir: &Path, options: Options) -> Result<EmbeddedPostgres> {
        let bins = find_binaries()?;
        let run_as = server_user()?;
        let owners = Owners::new(run_as);

        datadir::check_links(dir, &owners)?;
        datadir::create(dir, &owners)?;
        let dir = fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
        let pgdata = dir.join("pgdata");
        let run_dir = dir.join("run");
        let log_path = dir.join("postgres.log");
        let socket = socket_path(&run_dir);
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "data directory path is too long: the PostgreSQL socket {} would be {} bytes, \
                 over the {MAX_SOCKET_PATH}-byte limit for Unix socket paths; \
                 set TARCZA_DATA_DIR to a shorter directory",
                socket.display(),
                socket.as_os_str().len()
            );
        }

        datadir::check(&dir, &owners)?;
        let lock = lock_dir(&dir, &owners)?;
        if let Some(user) = run_as {
            check_reachable(&dir, user)?;
        }

        if !pgdata.join("PG_VERSION").exists() {
            if fs::symlink_metadata(&pgdata).is_ok() {
                bail!(
                    "{} exists but is not a PostgreSQL cluster (no PG_VERSION); \
                     move it away or use another TARCZA_DATA_DIR",
                    pgdata.display()
                );
            }
            init_cluster(&bins, &dir, &pgdata, &log_path, run_as, &owners, &options)?;
        }
        check_owner(&pgdata, &owners)?;

        datadir::server_dir(&run_dir, &owners)?;
        let log = open_log(&log_path, &owners)?;
        writeln!(
            &log,
            "--- tarcza: starting postgres at unix time {}",
            unix_now()
        )
        .ok();

        let mut cmd = Command::new(&bins.postgres);
        cmd.arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&run_dir)
            .args(["-p", &PORT.to_string()])
            .args(["-c", "listen_addresses="])
            .args(["-c", "unix_socket_permissions=0700"])
            .args(["-c", "max_connections=200"])
            .args(["-c", "shared_buffers=128MB"]);
        if !options.fsync {
            cmd.args(["-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
        }
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating log file handle")?)
            .stderr(log)
            // Own process group: a Ctrl-C in the terminal reaches tarcza only,
            // which then shuts the server down after draining its own work.
            .process_group(0);
        if let Some(user) = run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        set_parent_death_signal(&mut cmd);

        tracing::info!(dir = %dir.display(), postgres = %bins.postgres.display(), "starting embedded PostgreSQL");
        let (child, keeper, keeper_release) = spawn_from_keeper_thread(cmd)
            .with_context(|| format!("starting {}", bins.postgres.display()))?;

        let mut pg = EmbeddedPostgres {
            dir,
            run_dir,
            child: Some(child),
            keeper_release: Some(keeper_release),
            keeper: Some(keeper),
            _lock: lock,
        };
        // On error `pg` is dropped here, which stops the server.
        pg.wait_ready(&pgdata, &socket, &log_path)?;
        tracing::info!(socket = %socket.display(), "embedded PostgreSQL is ready");
        Ok(pg)
    }

    /// Connection URL for `database` as the superuser, in the form sqlx 0.8 and libpq
    /// accept for a Unix socket:
    /// `postgres://tarcza@localhost:5432/<db>?host=<abs run dir>&sslmode=disable`.
    /// The `host` query parameter, being an absolute path, overrides
    /// `localhost` and selects the socket `<run dir>/.s.PGSQL.5432`. Port, user
    /// and sslmode are explicit so `PGPORT`/`PGUSER`/`PGSSLMODE` can't interfere.
    /// The superuser owns the schema and runs migrations; the service itself runs
    /// as [`SERVING_ROLE`] ([`serving_url`](Self::serving_url)).
    pub fn url(&self, database: &str) -> String {
        self.url_as(SUPERUSER, database)
    }

    /// Connection URL for `database` as [`SERVING_ROLE`], the unprivileged role the
    /// service runs as (which the caller creates; see `store::roles`).
    pub fn serving_url(&self, database: &str) -> String {
        self.url_as(SERVING_ROLE, database)
    }

    fn url_as(&self, role: &str, database: &str) -> String {
        format!(
            "postgres://{}@localhost:{PORT}/{}?host={}&sslmode=disable",
            percent_encode(role, false),
            percent_encode(database, false),
            percent_encode(&self.run_dir.to_string_lossy(), true)
        )
    }

    /// The (canonical) data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The socket directory, `dir/run`.
    pub fn socket_dir(&self) -> &Path {
        &self.run_dir
    }

    fn wait_ready(&mut self, pgdata: &Path, socket: &Path, log_path: &Path) -> Result<()> {
        let child = self.child.as_mut().expect("child is running");
        let pid = child.id().to_string();
        let pid_file = pgdata.join("postmaster.pid");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "PostgreSQL exited during startup ({status}); last lines of {}:\n{}",
                    log_path.display(),
                    log_tail(log_path)
                );
            }
            // postmaster.pid: line 1 is the postmaster's PID, line 8 its status
            // ("starting", "stopping", "ready", "standby"). Checking the PID
            // ignores a stale file left by a crashed earlier run.
            let ready = read_to_string_nofollow(&pid_file).is_ok_and(|text| {
                let lines: Vec<&str> = text.lines().collect();
                lines.first().map(|l| l.trim()) == Some(pid.as_str())
                    && lines.get(7).map(|l| l.trim()) == Some("ready")
            });
            if ready && UnixStream::connect(socket).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "PostgreSQL did not become ready within {}s; last lines of {}:\n{}",
                    READY_TIMEOUT.as_secs(),
                    log_path.display(),
                    log_tail(log_path)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping embedded PostgreSQL");
        }
    }
}

impl std::fmt::Debug for EmbeddedPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPostgres")
            .field("dir", &self.dir)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish()
    }
}

/// The server user owns `pgdata`: read its files without following a link it put there.
fn read_to_string_nofollow(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    datadir::open_nofollow(path)?.read_to_string(&mut text)?;
    Ok(text)
}

fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(format!(".s.PGSQL.{PORT}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Percent-encodes all but RFC 3986 unreserved characters (and `/` if
/// `keep_slash`). Decoded identically by the `url` crate's query parser (which
/// sqlx uses; note it would turn a raw `+` into a space), sqlx's path
/// decoding, and libpq.
fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
