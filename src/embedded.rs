#![allow(unsafe_code)] // pre_exec/prctl and libc user lookups; each block has a SAFETY note.

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

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

/// Superuser created by `initdb` (`-U`); trust auth, so no password.
const SUPERUSER: &str = "tarcza";
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

/// Who runs `initdb` and `postgres`: `None` is the current user.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

struct Binaries {
    initdb: PathBuf,
    postgres: PathBuf,
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

        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
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

        let lock = lock_dir(&dir)?;

        let run_as = if is_root() {
            let user = lookup_user(SERVER_USER)?.ok_or_else(|| {
                anyhow!(
                    "running as root, but there is no `{SERVER_USER}` user to run PostgreSQL as \
                     (PostgreSQL refuses to run as root): create it, run tarcza as a normal user, \
                     or set DATABASE_URL"
                )
            })?;
            check_reachable(&dir, user)?;
            Some(user)
        } else {
            None
        };

        if !pgdata.join("PG_VERSION").exists() {
            if pgdata.exists() {
                bail!(
                    "{} exists but is not a PostgreSQL cluster (no PG_VERSION); \
                     move it away or use another TARCZA_DATA_DIR",
                    pgdata.display()
                );
            }
            init_cluster(&bins, &dir, &pgdata, &log_path, run_as, &options)?;
        }
        check_owner(&pgdata, run_as)?;

        match fs::DirBuilder::new().mode(0o700).create(&run_dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(e).with_context(|| format!("creating {}", run_dir.display()));
            }
            _ => {}
        }
        let log = open_log(&log_path)?;
        if let Some(user) = run_as {
            chown(&run_dir, user)?;
            chown(&log_path, user)?;
        }
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

    /// Connection URL for `database`, in the form sqlx 0.8 and libpq accept for
    /// a Unix socket:
    /// `postgres://tarcza@localhost:5432/<db>?host=<abs run dir>&sslmode=disable`.
    /// The `host` query parameter, being an absolute path, overrides
    /// `localhost` and selects the socket `<run dir>/.s.PGSQL.5432`. Port, user
    /// and sslmode are explicit so `PGPORT`/`PGUSER`/`PGSSLMODE` can't interfere.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/{}?host={}&sslmode=disable",
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

    /// Stops the server (fast shutdown, SIGINT) and waits for it to exit;
    /// after 30 s escalates to SIGQUIT (immediate shutdown), then SIGKILL.
    /// Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let pid = child.id();
        let mut result = Ok(());
        let steps = [
            (libc::SIGINT, "SIGINT", STOP_TIMEOUT),
            (libc::SIGQUIT, "SIGQUIT", Duration::from_secs(10)),
            (libc::SIGKILL, "SIGKILL", Duration::from_secs(10)),
        ];
        let mut exited = false;
        for (i, (signal, name, timeout)) in steps.into_iter().enumerate() {
            // The child has not been reaped yet (we are the only one who
            // waits for it), so `pid` cannot have been reused: signalling it
            // is safe. If it already exited on its own, the signal is harmless.
            if child.try_wait()?.is_some() {
                exited = true;
                break;
            }
            if i > 0 {
                tracing::warn!(pid, "PostgreSQL did not shut down in time, sending {name}");
                result = Err(anyhow!(
                    "PostgreSQL (pid {pid}) did not shut down within {}s of SIGINT; sent {name}",
                    STOP_TIMEOUT.as_secs()
                ));
            }
            send_signal(pid, signal).with_context(|| format!("sending {name} to {pid}"))?;
            if wait_child(child, timeout)? {
                exited = true;
                break;
            }
        }
        if !exited {
            bail!("PostgreSQL (pid {pid}) is still running after SIGKILL");
        }
        let status = child.try_wait()?;
        tracing::info!(pid, ?status, "embedded PostgreSQL stopped");
        self.child = None;
        self.keeper_release = None;
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        result
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
            let ready = fs::read_to_string(&pid_file).is_ok_and(|text| {
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

fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(format!(".s.PGSQL.{PORT}"))
}

/// Forks `cmd` from a new thread that stays alive until released, so that the
/// PR_SET_PDEATHSIG set in the child is tied to a thread that outlives the
/// caller's (possibly short-lived) thread. The thread only blocks on the
/// channel: the caller owns the [`Child`] and reaps it.
fn spawn_from_keeper_thread(mut cmd: Command) -> Result<(Child, JoinHandle<()>, mpsc::Sender<()>)> {
    let (child_tx, child_rx) = mpsc::channel::<io::Result<Child>>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let keeper = thread::Builder::new()
        .name("tarcza-postgres-keeper".into())
        .spawn(move || {
            let spawned = cmd.spawn();
            let ok = spawned.is_ok();
            if child_tx.send(spawned).is_ok() && ok {
                // Returns when the sender is dropped, i.e. after the server has
                // been reaped (or the process is exiting anyway).
                let _ = release_rx.recv();
            }
        })
        .context("spawning the PostgreSQL keeper thread")?;
    let child = child_rx
        .recv()
        .map_err(|_| anyhow!("PostgreSQL keeper thread died"))??;
    Ok((child, keeper, release_tx))
}

/// Makes the kernel send SIGINT (fast shutdown) to the server when the thread
/// that forked it exits — which, given the keeper thread, means when our
/// process exits or dies, even by SIGKILL.
fn set_parent_death_signal(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: `pre_exec` is unsafe because the closure runs in the forked child
    // of a possibly multi-threaded process, where only async-signal-safe
    // operations are allowed. The closure only makes the `prctl` and `getppid`
    // system calls and builds `io::Error`s from raw errno values; it does not
    // allocate, lock or touch shared state. It runs after the uid/gid switch,
    // so the death signal is not cleared by a later credential change.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGINT as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // If we died between fork and prctl, the signal was never sent.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Polls until the child exits; `true` if it did within `timeout`.
fn wait_child(child: &mut Child, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn send_signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// uid and primary gid of `name`, `None` if there is no such user.
fn lookup_user(name: &str) -> Result<Option<RunAs>> {
    let cname = CString::new(name)?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut pwd = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated,
    // `pwd` and `result` are writable, `buf` is writable for `buf.len()` bytes.
    // getpwnam_r is the thread-safe variant.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            pwd.as_mut_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc)).context(format!("looking up user {name}"));
    }
    if result.is_null() {
        return Ok(None);
    }
    // SAFETY: getpwnam_r succeeded and returned `result == pwd`, so `pwd` is initialised.
    let pwd = unsafe { pwd.assume_init() };
    Ok(Some(RunAs {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    }))
}

/// The server runs as `user` with only its primary group (std drops the
/// supplementary groups when root switches uid), so it needs search (x)
/// permission on `dir` and on every ancestor through owner, group or other bits.
fn check_reachable(dir: &Path, user: RunAs) -> Result<()> {
    for ancestor in dir.ancestors() {
        let meta =
            fs::metadata(ancestor).with_context(|| format!("inspecting {}", ancestor.display()))?;
        let mode = meta.mode();
        let bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        if mode & bit == 0 {
            bail!(
                "the `{SERVER_USER}` user (PostgreSQL runs as it because tarcza runs as root) \
                 cannot reach {}: {} (mode {:o}) is not searchable by it; set TARCZA_DATA_DIR \
                 to a directory under /var/lib or /tmp",
                dir.display(),
                ancestor.display(),
                mode & 0o7777
            );
        }
    }
    Ok(())
}

fn check_owner(pgdata: &Path, run_as: Option<RunAs>) -> Result<()> {
    let meta = fs::metadata(pgdata).with_context(|| format!("inspecting {}", pgdata.display()))?;
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let expected = run_as.map_or_else(|| unsafe { libc::geteuid() }, |u| u.uid);
    if meta.uid() != expected {
        bail!(
            "{} is owned by uid {}, but PostgreSQL would run as uid {expected}; \
             fix its ownership or use another TARCZA_DATA_DIR",
            pgdata.display(),
            meta.uid()
        );
    }
    Ok(())
}

fn chown(path: &Path, user: RunAs) -> Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .with_context(|| format!("chown {} to {SERVER_USER}", path.display()))
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("tarcza.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // flock(2): the lock belongs to the open file description, so a second
    // open() of the same file conflicts even within this process.
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => bail!(
            "data directory {} is in use by another tarcza process",
            dir.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Runs initdb into `dir/pgdata.initdb-tmp` and renames it to `pgdata` on success.
fn init_cluster(
    bins: &Binaries,
    dir: &Path,
    pgdata: &Path,
    log_path: &Path,
    run_as: Option<RunAs>,
    options: &Options,
) -> Result<()> {
    let tmp = dir.join("pgdata.initdb-tmp");
    let mut log = open_log(log_path)?;
    let mut last_error = String::new();
    for locale in ["C.UTF-8", "C"] {
        // A leftover from an interrupted initdb: ours (we hold the lock), discard it.
        if tmp.exists() {
            fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        if let Some(user) = run_as {
            chown(&tmp, user)?;
        }
        let mut cmd = Command::new(&bins.initdb);
        cmd.arg("-D")
            .arg(&tmp)
            .args(["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"])
            .arg(format!("--locale={locale}"))
            .current_dir(dir)
            .stdin(Stdio::null());
        if !options.fsync {
            cmd.arg("--no-sync");
        }
        if let Some(user) = run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        tracing::info!(pgdata = %pgdata.display(), locale, "initialising PostgreSQL cluster");
        let out = cmd
            .output()
            .with_context(|| format!("running {}", bins.initdb.display()))?;
        writeln!(
            log,
            "--- tarcza: initdb --locale={locale} at unix time {}",
            unix_now()
        )
        .ok();
        log.write_all(&out.stdout).ok();
        log.write_all(&out.stderr).ok();
        if out.status.success() {
            fs::rename(&tmp, pgdata)
                .with_context(|| format!("renaming {} to {}", tmp.display(), pgdata.display()))?;
            if options.fsync {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .with_context(|| format!("syncing {}", dir.display()))?;
            }
            return Ok(());
        }
        last_error = format!(
            "initdb --locale={locale} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
        tracing::warn!("{last_error}");
    }
    let _ = fs::remove_dir_all(&tmp);
    bail!("{last_error}")
}

fn find_binaries() -> Result<Binaries> {
    if let (Some(postgres), Some(initdb)) = (find_in_path("postgres"), find_in_path("initdb")) {
        // Prefer the initdb next to the real postgres binary so versions match
        // (PATH entries are often symlinks into /usr/lib/postgresql/N/bin).
        let sibling = fs::canonicalize(&postgres)
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("initdb")))
            .filter(|p| is_executable(p));
        return Ok(Binaries {
            initdb: sibling.unwrap_or(initdb),
            postgres,
        });
    }
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let bin = entry.path().join("bin");
            if !is_executable(&bin.join("postgres")) || !is_executable(&bin.join("initdb")) {
                continue;
            }
            let name = entry.file_name();
            let Some(version) = name.to_str().and_then(|n| {
                n.split('.')
                    .map(|p| p.parse().ok())
                    .collect::<Option<Vec<u32>>>()
            }) else {
                continue;
            };
            if best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin));
            }
        }
    }
    match best {
        Some((_, bin)) => Ok(Binaries {
            initdb: bin.join("initdb"),
            postgres: bin.join("postgres"),
        }),
        None => {
            bail!("no PostgreSQL server binaries found: install postgresql or set DATABASE_URL")
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Last [`LOG_TAIL_LINES`] lines of the log (reading at most its last 64 KiB).
fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        Ok(lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"))
    };
    read().unwrap_or_else(|e| format!("(could not read {}: {e})", path.display()))
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
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the temp dir, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> TestDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("tarcza-pg-{tag}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            TestDir(path)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn fast() -> Options {
        Options { fsync: false }
    }

    fn psql(args: &[&str]) -> String {
        let out = Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn start_lock_connect_stop_restart() {
        let dir = TestDir::new("main");
        let mut pg = EmbeddedPostgres::start_with(&dir.0, fast()).expect("first start");
        assert!(pg.dir().join("pgdata/PG_VERSION").exists());
        assert!(!pg.dir().join("pgdata.initdb-tmp").exists());

        // Same process, second File handle: flock still conflicts.
        let err = EmbeddedPostgres::start_with(&dir.0, fast()).expect_err("second start");
        assert!(
            err.to_string()
                .contains("is in use by another tarcza process"),
            "{err:#}"
        );

        let run = pg.socket_dir().to_str().unwrap().to_string();
        let conninfo = format!("host={run} port=5432 user=tarcza dbname=postgres");
        assert_eq!(psql(&[&conninfo, "-c", "select 1"]), "1");
        // libpq agrees with the URL form handed to sqlx.
        let url = pg.url("postgres");
        assert_eq!(
            url,
            format!("postgres://tarcza@localhost:5432/postgres?host={run}&sslmode=disable")
        );
        assert_eq!(psql(&[&url, "-c", "select current_user"]), "tarcza");
        psql(&[&url, "-c", "create database t1"]);
        assert_eq!(
            psql(&[&pg.url("t1"), "-c", "select current_database()"]),
            "t1"
        );
        assert_eq!(
            psql(&[
                &url,
                "-c",
                "select pg_encoding_to_char(encoding) from pg_database where datname = 't1'"
            ]),
            "UTF8"
        );

        pg.stop().expect("stop");
        pg.stop().expect("stop is idempotent");
        assert!(!pg.dir().join("pgdata/postmaster.pid").exists());
        drop(pg);

        // Reuse: no initdb, data still there.
        let mut pg = EmbeddedPostgres::start_with(&dir.0, fast()).expect("restart");
        assert_eq!(
            psql(&[&pg.url("t1"), "-c", "select current_database()"]),
            "t1"
        );
        pg.stop().expect("stop again");
    }

    #[test]
    fn start_from_short_lived_thread_survives_thread_exit() {
        let dir = TestDir::new("thread");
        let path = dir.0.clone();
        let pg = thread::spawn(move || EmbeddedPostgres::start_with(&path, fast()))
            .join()
            .unwrap()
            .expect("start");
        // The starting thread is gone; PR_SET_PDEATHSIG must not have fired.
        thread::sleep(Duration::from_millis(500));
        assert_eq!(psql(&[&pg.url("postgres"), "-c", "select 1"]), "1");
        drop(pg);
    }

    /// `kill -9` of the owning process shuts the server down (PR_SET_PDEATHSIG).
    #[test]
    fn owner_death_stops_server() {
        const VAR: &str = "TARCZA_EMBEDPG_DEATH_DIR";
        if let Some(dir) = std::env::var_os(VAR) {
            // Child mode: start from a thread that then exits, and die hard.
            let dir = PathBuf::from(dir);
            let pg = thread::spawn(move || EmbeddedPostgres::start_with(&dir, fast()))
                .join()
                .unwrap()
                .expect("start in child");
            std::mem::forget(pg);
            send_signal(std::process::id(), libc::SIGKILL).unwrap();
            unreachable!();
        }
        let dir = TestDir::new("death");
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "embedded::tests::owner_death_stops_server",
                "--test-threads=1",
            ])
            .env(VAR, &dir.0)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        let pid_file = dir.0.join("pgdata/postmaster.pid");
        let deadline = Instant::now() + Duration::from_secs(30);
        while pid_file.exists() {
            assert!(
                Instant::now() < deadline,
                "postgres still running after its owner died"
            );
            thread::sleep(Duration::from_millis(50));
        }
        // The directory lock died with the owner too.
        let mut pg = EmbeddedPostgres::start_with(&dir.0, fast()).expect("start after crash");
        pg.stop().unwrap();
    }

    #[test]
    fn too_long_dir_is_rejected() {
        let dir = TestDir::new("long");
        let long = dir.0.join("x".repeat(100));
        let err = EmbeddedPostgres::start_with(&long, fast()).expect_err("too long");
        let msg = err.to_string();
        assert!(msg.contains("too long"), "{msg}");
        assert!(msg.contains(".s.PGSQL.5432"), "{msg}");
        assert!(msg.contains("TARCZA_DATA_DIR"), "{msg}");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(percent_encode("/a b/c+d&e", true), "/a%20b/c%2Bd%26e");
        assert_eq!(percent_encode("my db/x", false), "my%20db%2Fx");
        assert_eq!(percent_encode("tarcza_test-1", false), "tarcza_test-1");
    }

    #[test]
    fn unreachable_dir_is_rejected_for_root() {
        if !is_root() {
            return;
        }
        let Some(user) = lookup_user(SERVER_USER).unwrap() else {
            return;
        };
        let dir = TestDir::new("perm");
        let inner = dir.0.join("private/data");
        fs::create_dir_all(&inner).unwrap();
        fs::set_permissions(dir.0.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
        let err = check_reachable(&inner, user).expect_err("0700 parent");
        assert!(err.to_string().contains("/var/lib or /tmp"), "{err:#}");
        assert!(check_reachable(&std::env::temp_dir(), user).is_ok());
    }
}
