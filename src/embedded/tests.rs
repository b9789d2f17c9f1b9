//! Tests of the embedded PostgreSQL: the cluster, the child process, and the data
//! directory checks, against real binaries and real files.

use super::unix::send_signal;
use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

    // The log holds unmasked numbers from constraint errors: owner only.
    assert_eq!(mode_of(&pg.dir().join("postgres.log")), 0o600);
    assert_eq!(mode_of(&pg.dir().join("tarcza.lock")), 0o600);
    assert_eq!(mode_of(&pg.dir().join("run")), 0o700);

    pg.stop().expect("stop");
    pg.stop().expect("stop is idempotent");
    assert!(!pg.dir().join("pgdata/postmaster.pid").exists());
    drop(pg);

    // Reuse: no initdb, data still there; a log left readable by an older version is
    // made private again.
    fs::set_permissions(
        dir.0.join("postgres.log"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut pg = EmbeddedPostgres::start_with(&dir.0, fast()).expect("restart");
    assert_eq!(
        psql(&[&pg.url("t1"), "-c", "select current_database()"]),
        "t1"
    );
    assert_eq!(mode_of(&pg.dir().join("postgres.log")), 0o600);
    pg.stop().expect("stop again");
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
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

/// A file outside the data directory that a planted link points at, and what it was.
struct Victim {
    path: PathBuf,
    before: (u32, u32, Vec<u8>),
}

impl Victim {
    fn file(dir: &Path) -> Victim {
        let path = dir.join("victim");
        fs::write(&path, b"root's secret\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        Victim::of(path)
    }

    fn dir(dir: &Path) -> Victim {
        let path = dir.join("victim-dir");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        Victim::of(path)
    }

    fn of(path: PathBuf) -> Victim {
        let before = Victim::state(&path);
        Victim { path, before }
    }

    fn state(path: &Path) -> (u32, u32, Vec<u8>) {
        let meta = fs::metadata(path).unwrap();
        let content = if meta.is_file() {
            fs::read(path).unwrap()
        } else {
            fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_encoded_bytes())
                .collect::<Vec<_>>()
                .concat()
        };
        (meta.uid(), meta.mode() & 0o7777, content)
    }

    fn assert_untouched(&self, planted: &str) {
        assert_eq!(
            Victim::state(&self.path),
            self.before,
            "{} changed through the planted {planted} link",
            self.path.display()
        );
    }
}

/// A local user who can create entries in the data directory plants a symbolic link
/// where tarcza opens or chowns something: start-up refuses, and the file the link
/// points at keeps its owner, mode and content.
#[test]
fn a_planted_symlink_in_the_data_directory_is_refused_and_its_target_untouched() {
    for planted in ["postgres.log", "tarcza.lock", "run", "pgdata.initdb-tmp"] {
        let outside = TestDir::new("victim");
        fs::create_dir_all(&outside.0).unwrap();
        let victim = if planted == "run" || planted == "pgdata.initdb-tmp" {
            Victim::dir(&outside.0)
        } else {
            Victim::file(&outside.0)
        };
        let dir = TestDir::new("planted");
        fs::create_dir_all(&dir.0).unwrap();
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o711)).unwrap();
        std::os::unix::fs::symlink(&victim.path, dir.0.join(planted)).unwrap();

        let err = EmbeddedPostgres::start_with(&dir.0, fast()).expect_err(planted);
        let msg = format!("{err:#}");
        assert!(msg.contains(planted), "{planted}: {msg}");
        assert!(msg.contains("symbolic link"), "{planted}: {msg}");
        victim.assert_untouched(planted);
        assert!(!dir.0.join("pgdata").exists(), "{planted}: initdb ran");
    }
}

/// A link planted for the data directory itself by another user (e.g. in /tmp) is
/// refused too; so is a data directory another user owns or anyone may write to.
#[test]
fn a_data_directory_others_can_tamper_with_is_refused() {
    // Writable by others, or by the group: anyone could plant entries.
    for mode in [0o777, 0o1777, 0o770] {
        let dir = TestDir::new("open");
        fs::create_dir_all(&dir.0).unwrap();
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(mode)).unwrap();
        let err = EmbeddedPostgres::start_with(&dir.0, fast()).expect_err("open dir");
        let msg = format!("{err:#}");
        assert!(msg.contains("writable by others"), "{mode:o}: {msg}");
        assert!(fs::read_dir(&dir.0).unwrap().next().is_none(), "{mode:o}");
    }

    // An entry writable by others.
    let dir = TestDir::new("entry");
    fs::create_dir_all(dir.0.join("run")).unwrap();
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o711)).unwrap();
    fs::set_permissions(dir.0.join("run"), fs::Permissions::from_mode(0o777)).unwrap();
    let err = EmbeddedPostgres::start_with(&dir.0, fast()).expect_err("open entry");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("run") && msg.contains("writable by others"),
        "{msg}"
    );

    // A parent directory anyone may rename entries in (not sticky, unlike /tmp).
    let parent = TestDir::new("parent");
    fs::create_dir_all(parent.0.join("data")).unwrap();
    fs::set_permissions(&parent.0, fs::Permissions::from_mode(0o777)).unwrap();
    let err = EmbeddedPostgres::start_with(&parent.0.join("data"), fast()).expect_err("parent");
    let msg = format!("{err:#}");
    assert!(msg.contains("writable by others"), "{msg}");

    if !is_root() {
        return;
    }
    let nobody = lookup_user("nobody").unwrap().expect("a `nobody` user");
    // Owned by another user.
    let dir = TestDir::new("theirs");
    fs::create_dir_all(&dir.0).unwrap();
    std::os::unix::fs::chown(&dir.0, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let err = EmbeddedPostgres::start_with(&dir.0, fast()).expect_err("their dir");
    let msg = format!("{err:#}");
    assert!(msg.contains("owned by uid"), "{msg}");

    // The data directory path is a link another user planted in a sticky directory.
    let target = TestDir::new("target");
    fs::create_dir_all(&target.0).unwrap();
    let link = TestDir::new("link");
    std::os::unix::fs::symlink(&target.0, &link.0).unwrap();
    std::os::unix::fs::lchown(&link.0, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let err = EmbeddedPostgres::start_with(&link.0, fast()).expect_err("their link");
    let msg = format!("{err:#}");
    assert!(msg.contains("symbolic link"), "{msg}");
    assert!(fs::read_dir(&target.0).unwrap().next().is_none());
    fs::remove_file(&link.0).unwrap();
}

/// A link that appears after the directory was checked (a race) is not followed either:
/// every open in the data directory is `O_NOFOLLOW`, and a second hard link to a file
/// is refused.
#[test]
fn files_in_the_data_directory_are_opened_without_following_links() {
    let outside = TestDir::new("victim");
    fs::create_dir_all(&outside.0).unwrap();
    let file = Victim::file(&outside.0);
    let folder = Victim::dir(&outside.0);
    let dir = TestDir::new("race");
    fs::create_dir_all(&dir.0).unwrap();
    let owners = datadir::Owners::new(if is_root() {
        lookup_user(SERVER_USER).unwrap()
    } else {
        None
    });

    let log = dir.0.join("postgres.log");
    std::os::unix::fs::symlink(&file.path, &log).unwrap();
    let err = open_log(&log, &owners).expect_err("log link");
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    let lock = dir.0.join("tarcza.lock");
    std::os::unix::fs::symlink(&file.path, &lock).unwrap();
    let err = lock_dir(&dir.0, &owners).expect_err("lock link");
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    let run = dir.0.join("run");
    std::os::unix::fs::symlink(&folder.path, &run).unwrap();
    let err = datadir::server_dir(&run, &owners).expect_err("run link");
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    file.assert_untouched("postgres.log or tarcza.lock");
    folder.assert_untouched("run");

    fs::remove_file(&log).unwrap();
    fs::hard_link(&file.path, &log).unwrap();
    let err = open_log(&log, &owners).expect_err("log hard link");
    assert!(format!("{err:#}").contains("hard links"), "{err:#}");
    file.assert_untouched("postgres.log (hard link)");
}
