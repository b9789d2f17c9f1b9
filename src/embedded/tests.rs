use super::unix::send_signal;
use super::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tarcza-pg-{tag}-{}-{n}", std::process::id()));
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
