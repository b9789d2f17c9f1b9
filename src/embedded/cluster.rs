//! Finding the PostgreSQL binaries and creating a cluster with `initdb`.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::datadir::{open_log, open_nofollow, server_dir, Owners};
use super::unix::RunAs;
use super::{unix_now, Options, LOG_TAIL_LINES, SUPERUSER};

pub(super) struct Binaries {
    pub(super) initdb: PathBuf,
    pub(super) postgres: PathBuf,
}

/// Runs initdb into `dir/pgdata.initdb-tmp` and renames it to `pgdata` on success.
pub(super) fn init_cluster(
    bins: &Binaries,
    dir: &Path,
    pgdata: &Path,
    log_path: &Path,
    run_as: Option<RunAs>,
    owners: &Owners,
    options: &Options,
) -> Result<()> {
    let tmp = dir.join("pgdata.initdb-tmp");
    let mut log = open_log(log_path, owners)?;
    let mut last_error = String::new();
    for locale in ["C.UTF-8", "C"] {
        // A leftover from an interrupted initdb: ours (we hold the lock), discard it.
        // (remove_dir_all removes a link itself, never what it points at.)
        if fs::symlink_metadata(&tmp).is_ok() {
            fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        server_dir(&tmp, owners)?;
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

pub(super) fn find_binaries() -> Result<Binaries> {
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
pub(super) fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = open_nofollow(path)?;
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
