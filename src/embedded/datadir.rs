//! The data directory: its lock, the server log, and who owns what.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::unix::{geteuid, RunAs};
use super::SERVER_USER;

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

pub(super) fn check_owner(pgdata: &Path, run_as: Option<RunAs>) -> Result<()> {
    let meta = fs::metadata(pgdata).with_context(|| format!("inspecting {}", pgdata.display()))?;
    let expected = run_as.map_or_else(geteuid, |u| u.uid);
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

pub(super) fn chown(path: &Path, user: RunAs) -> Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .with_context(|| format!("chown {} to {SERVER_USER}", path.display()))
}

pub(super) fn lock_dir(dir: &Path) -> Result<File> {
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

pub(super) fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}
