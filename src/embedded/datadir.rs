//! The data directory: who may own it and what is in it, and opening its files without
//! following links.
//!
//! tarcza often runs as root, and the data directory may sit in a shared place such as
//! `/tmp`. Whoever can create an entry in it could plant a symbolic link named
//! `postgres.log` or `run` and have root append to, or `chown` to `postgres`, any file
//! on the machine. So the directory, its ancestors and its entries must belong to root
//! or to us and be writable by no one else; files are opened with `O_NOFOLLOW` and
//! checked through the open descriptor; ownership is changed with `fchown` on that
//! descriptor, never through a path.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::unix::{geteuid, RunAs};
use super::SERVER_USER;

/// Who may own what: root and this process's user everywhere; inside the data
/// directory also the user PostgreSQL runs as (when we are root).
#[derive(Debug, Clone, Copy)]
pub(super) struct Owners {
    euid: u32,
    server: Option<RunAs>,
}

impl Owners {
    pub(super) fn new(server: Option<RunAs>) -> Owners {
        Owners {
            euid: geteuid(),
            server,
        }
    }

    fn trusted(&self, uid: u32) -> bool {
        uid == 0 || uid == self.euid
    }

    fn may_own_entry(&self, uid: u32) -> bool {
        self.trusted(uid) || self.server.is_some_and(|s| s.uid == uid)
    }
}

/// Creates `dir` if it is missing: as root searchable by the server user (0711),
/// otherwise private (0700). Missing parents get 0755.
pub(super) fn create(dir: &Path, owners: &Owners) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mode = if owners.server.is_some() {
        0o711
    } else {
        0o700
    };
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(e).with_context(|| format!("creating {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Refuses a path to the data directory that runs through a symbolic link another
/// user owns (one planted in `/tmp`, say). `given` is the path as configured.
pub(super) fn check_links(given: &Path, owners: &Owners) -> Result<()> {
    let absolute =
        std::path::absolute(given).with_context(|| format!("resolving {}", given.display()))?;
    for path in absolute.ancestors() {
        let Ok(meta) = fs::symlink_metadata(path) else {
            continue;
        };
        if meta.file_type().is_symlink() && !owners.trusted(meta.uid()) {
            bail!(
                "{} is a symbolic link owned by uid {}, not by root or the user tarcza runs as \
                 (uid {}): that user could point the data directory anywhere; remove the link \
                 or set TARCZA_DATA_DIR to a path without it",
                path.display(),
                meta.uid(),
                owners.euid
            );
        }
    }
    Ok(())
}

/// Refuses a data directory (canonical `dir`) that someone else could tamper with:
/// `dir` and every ancestor must belong to root or us and be writable by no one else
/// (an ancestor may be if it is sticky, as `/tmp` is: then no one else can rename our
/// entry in it); every entry in `dir` must be no symbolic link, belong to root, us or
/// the server user, and be writable by no one else.
pub(super) fn check(dir: &Path, owners: &Owners) -> Result<()> {
    for path in dir.ancestors() {
        let meta =
            fs::symlink_metadata(path).with_context(|| format!("inspecting {}", path.display()))?;
        if !owners.trusted(meta.uid()) {
            bail!(
                "{} is owned by uid {}, not by root or the user tarcza runs as (uid {}): \
                 that user could replace the data directory; fix its ownership or use \
                 another TARCZA_DATA_DIR",
                path.display(),
                meta.uid(),
                owners.euid
            );
        }
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && (path == dir || !sticky) {
            bail!(writable_by_others(path, meta.mode()));
        }
    }
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        check_entry(&entry.path(), owners)?;
    }
    Ok(())
}

fn check_entry(path: &Path, owners: &Owners) -> Result<()> {
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("inspecting {}", path.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link: tarcza refuses links in its data directory (it would \
             open or chown whatever the link points at); remove it",
            path.display()
        );
    }
    if !owners.may_own_entry(meta.uid()) {
        bail!(
            "{} is owned by uid {}, not by root, the user tarcza runs as (uid {}) or \
             `{SERVER_USER}`; remove it or fix its ownership",
            path.display(),
            meta.uid(),
            owners.euid
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(writable_by_others(path, meta.mode()));
    }
    Ok(())
}

fn writable_by_others(path: &Path, mode: u32) -> String {
    format!(
        "{} is writable by others (mode {:o}): anyone in its group or on the machine could \
         plant links in it; run `chmod go-w {}` or use another TARCZA_DATA_DIR",
        path.display(),
        mode & 0o7777,
        path.display()
    )
}

/// Opens `path` without following a final symbolic link (`ELOOP` instead) and checks,
/// on the open descriptor, that it is what we expect and has one name only (a hard
/// link to someone else's file would have two).
fn open_checked(
    options: &mut OpenOptions,
    path: &Path,
    owners: &Owners,
    dir: bool,
) -> Result<File> {
    let file = options
        .custom_flags(libc::O_NOFOLLOW | if dir { libc::O_DIRECTORY } else { 0 })
        .open(path)
        .map_err(|e| {
            // O_NOFOLLOW fails with ELOOP on a link, or ENOTDIR with O_DIRECTORY.
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                anyhow::anyhow!(
                    "{} is a symbolic link: tarcza refuses links in its data directory; \
                     remove it",
                    path.display()
                )
            } else {
                anyhow::Error::new(e).context(format!("opening {}", path.display()))
            }
        })?;
    let meta = file
        .metadata()
        .with_context(|| format!("inspecting {}", path.display()))?;
    if dir != meta.is_dir() || (!dir && !meta.is_file()) {
        bail!(
            "{} is not a {}; remove it",
            path.display(),
            if dir { "directory" } else { "regular file" }
        );
    }
    if !owners.may_own_entry(meta.uid()) {
        bail!(
            "{} is owned by uid {}; remove it or fix its ownership",
            path.display(),
            meta.uid()
        );
    }
    if !dir && meta.nlink() != 1 {
        bail!(
            "{} has {} hard links: it may be another file's second name; remove it",
            path.display(),
            meta.nlink()
        );
    }
    Ok(file)
}

/// Gives an open file or directory `mode` and, when we are root, to the server user,
/// through its descriptor.
fn hand_over(file: &File, path: &Path, mode: u32, owners: &Owners) -> Result<()> {
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))?;
    if let Some(user) = owners.server {
        std::os::unix::fs::fchown(file, Some(user.uid), Some(user.gid))
            .with_context(|| format!("chown {} to {SERVER_USER}", path.display()))?;
    }
    Ok(())
}

/// Creates (if missing) a directory for the server at `path`: mode 0700, owned by the
/// server user when we are root.
pub(super) fn server_dir(path: &Path, owners: &Owners) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("creating {}", path.display()));
        }
        _ => {}
    }
    let file = open_checked(OpenOptions::new().read(true), path, owners, true)?;
    hand_over(&file, path, 0o700, owners)
}

/// Takes the data directory's lock (`tarcza.lock`, mode 0600), or says who holds it.
pub(super) fn lock_dir(dir: &Path, owners: &Owners) -> Result<File> {
    let path = dir.join("tarcza.lock");
    let file = open_checked(
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600),
        &path,
        owners,
        false,
    )?;
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

/// Opens the server log for appending: mode 0600 (it holds numbers and client names
/// from constraint errors, unmasked), owned by the server user when we are root.
pub(super) fn open_log(path: &Path, owners: &Owners) -> Result<File> {
    let file = open_checked(
        OpenOptions::new().create(true).append(true).mode(0o600),
        path,
        owners,
        false,
    )?;
    hand_over(&file, path, 0o600, owners)?;
    Ok(file)
}

/// Reads a file that the server user controls (its log, `postmaster.pid`) without
/// following a link it may have put there.
pub(super) fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The server runs as `user` with only its primary group (std drops the
/// supplementary groups when root switches uid), so it needs search (x)
/// permission on `dir` and on every ancestor through owner, group or other bits.
pub(super) fn check_reachable(dir: &Path, user: RunAs) -> Result<()> {
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

/// The cluster must belong to the user PostgreSQL runs as (it refuses otherwise, less
/// clearly).
pub(super) fn check_owner(pgdata: &Path, owners: &Owners) -> Result<()> {
    let meta =
        fs::symlink_metadata(pgdata).with_context(|| format!("inspecting {}", pgdata.display()))?;
    let expected = owners.server.map_or(owners.euid, |u| u.uid);
    if meta.file_type().is_symlink() || !meta.is_dir() {
        bail!(
            "{} is not a directory; move it away or use another TARCZA_DATA_DIR",
            pgdata.display()
        );
    }
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
