//! Reading an import's file and deciding what it comes to: refused or failed from the
//! file alone, unchanged, refused for what it would remove, or the registry's next
//! generation. Every ending is recorded (see `record`); only success changes the data.

use std::sync::Arc;

use sqlx::PgConnection;

use super::limits::UploadError;
use super::progress::Watched;
use super::record::{conclude, swap_in, History};
use super::upload::{self, ReadOptions, Upload};
use super::{reading, ByteStream, ImportError, ImportRequest, Importer};
use crate::domain::{ImportPhase, ImportStatus, Mode};
use crate::index::Changes;
use crate::store::imports::{self, Import, Outcome};

/// Reads `body` for import `import_id`, holding the registry's lock on `conn`, and ends
/// the import. How far it has got is kept in `watched`.
pub(super) async fn load(
    to: &Importer,
    req: &ImportRequest,
    import_id: i64,
    watched: &Watched,
    body: impl ByteStream,
    conn: &mut PgConnection,
) -> Result<Import, ImportError> {
    let registry = &req.registry;
    let options = ReadOptions {
        region: to.options.region,
        mode: req.mode,
        format: req.format,
        encoding: req.encoding,
        limits: to.options.limits,
    };
    let upload = match upload::read(body, options, &watched.progress).await {
        Ok(upload) => upload,
        Err(e) => {
            let status = match e {
                UploadError::Refused(_) => ImportStatus::Refused,
                UploadError::Failed(_) => ImportStatus::Failed,
            };
            let outcome = Outcome {
                status,
                error: Some(e.to_string()),
                ..Outcome::default()
            };
            return conclude(conn, req, import_id, outcome, &[]).await;
        }
    };
    let mut outcome = Outcome {
        status: ImportStatus::Running,
        rows_total: upload.rows_total as i64,
        rows_rejected: upload.rows_rejected as i64,
        rows_accepted: upload.rows_accepted as i64,
        bytes: upload.bytes as i64,
        checksum: Some(upload.checksum.clone()),
        ..Outcome::default()
    };
    if let Some(problem) = unacceptable(&upload, req) {
        outcome.status = problem.0;
        outcome.error = Some(problem.1);
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }

    // Compare with what is live now (as Postgres has it, not as this process last saw it).
    watched.progress.enter(ImportPhase::Comparing);
    to.index.refresh(&to.db).await?;
    let snapshot = to.index.current().ok_or(ImportError::NotReady)?;
    let live = snapshot.registry(&registry.name);
    let current = live.map(|r| r.members.clone()).unwrap_or_default();
    let reading = reading(req, to.options.region);
    if imports::already_live(conn, registry.id, &upload.checksum, &reading).await? {
        outcome.status = ImportStatus::Succeeded;
        outcome.unchanged = true;
        outcome.entries_before = Some(current.len() as i64);
        outcome.entries_after = Some(current.len() as i64);
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }
    let live_scheme = live.and_then(|r| r.hash_scheme);
    if req.mode == Mode::Delta && !current.is_empty() && live_scheme != req.format.hash_scheme() {
        outcome.status = ImportStatus::Refused;
        outcome.error = Some(format!(
            "the registry holds {} data; a delta must be in the same format (send a snapshot \
             to change the format)",
            live_scheme.map_or("csv (numbers)".to_string(), |s| format!("sha256 ({s})"))
        ));
        return conclude(conn, req, import_id, outcome, &upload.rejects).await;
    }
    let Upload {
        keys,
        rejects,
        rows_accepted,
        ..
    } = upload;
    let mode = req.mode;
    let before = current.clone();
    // What the history keeps of this generation: the keys it adds and removes compared
    // with the one it replaces (all of both when the hash scheme changes, since the keys
    // then mean other things), none when it replaces no data.
    let based_on = live.and_then(|r| r.generation);
    let same_scheme = live_scheme == req.format.hash_scheme();
    let (members, distinct, removed, changes) = tokio::task::spawn_blocking(move || {
        let distinct = keys.distinct();
        let members = match mode {
            Mode::Snapshot => keys.adds,
            Mode::Delta => keys.applied_to(&before),
        };
        let removed = before.count_missing_from(&members);
        let changes = based_on.map(|_| {
            if same_scheme {
                before.changes_to(&members)
            } else {
                Changes {
                    added: members.iter().collect(),
                    removed: before.iter().collect(),
                }
            }
        });
        crate::index::return_free_memory();
        (members, distinct, removed, changes)
    })
    .await
    .map_err(|e| anyhow::anyhow!("building the new members failed: {e}"))?;
    outcome.rows_duplicate = rows_accepted.saturating_sub(distinct as u64) as i64;
    outcome.entries_before = Some(current.len() as i64);
    outcome.entries_after = Some(members.len() as i64);
    // A truncated snapshot and a broken or tampered delta feed alike must not unblock
    // people wholesale.
    if !req.force && removed as f64 > req.max_shrink * current.len() as f64 {
        outcome.status = ImportStatus::Refused;
        outcome.error = Some(format!(
            "this {} would remove {removed} of the {} current entries ({:.1}%), more than \
             max_shrink ({:.1}%); a truncated or damaged file must not unblock people. If the \
             removal is intended, upload again with force=true",
            req.mode.as_str(),
            current.len(),
            100.0 * removed as f64 / current.len() as f64,
            100.0 * req.max_shrink
        ));
        return conclude(conn, req, import_id, outcome, &rejects).await;
    }
    drop(current);

    let members = Arc::new(members);
    outcome.status = ImportStatus::Succeeded;
    let history = History {
        based_on,
        changes: changes.as_ref(),
    };
    watched.progress.enter(ImportPhase::Writing);
    match swap_in(conn, req, import_id, &members, &outcome, history).await {
        Ok(done) => {
            imports::save_rejects(&mut *conn, import_id, &rejects).await?;
            to.index.stage_members(import_id, members);
            if let Err(e) = to.index.refresh(&to.db).await {
                tracing::warn!(error = %e, "refresh after import failed; reconciliation will retry");
            }
            drop(rejects);
            crate::index::return_free_memory();
            tracing::info!(
                import_id,
                entries = done.outcome.entries_after,
                "import succeeded"
            );
            Ok(done)
        }
        Err(e) => {
            tracing::error!(import_id, error = %e, "import failed while writing");
            outcome.status = ImportStatus::Failed;
            outcome.error = Some(format!("writing the data failed: {e}"));
            conclude(conn, req, import_id, outcome, &rejects).await
        }
    }
}

/// Refusal or failure decided from the file alone.
fn unacceptable(upload: &Upload, req: &ImportRequest) -> Option<(ImportStatus, String)> {
    if let Some(expected) = &req.expected_sha256 {
        if !expected.trim().eq_ignore_ascii_case(&upload.checksum) {
            return Some((
                ImportStatus::Refused,
                format!(
                    "the file's SHA-256 is {}, not the declared {}; it was damaged or is not \
                     the file meant. Nothing was changed",
                    upload.checksum,
                    expected.trim()
                ),
            ));
        }
    }
    if let Some(expected) = req.expected_rows {
        if expected != upload.rows_total {
            return Some((
                ImportStatus::Refused,
                format!(
                    "the file has {} data rows, not the declared {expected}; nothing was changed",
                    upload.rows_total
                ),
            ));
        }
    }
    if upload.rows_total == 0 {
        return Some((ImportStatus::Failed, "the file holds no data rows".into()));
    }
    let rate = upload.rows_rejected as f64 / upload.rows_total as f64;
    if rate > req.max_reject_rate {
        return Some((
            ImportStatus::Refused,
            format!(
                "{} of {} rows ({:.1}%) were rejected, more than max_reject_rate ({:.1}%); \
                 nothing was changed. See rejects for the reasons",
                upload.rows_rejected,
                upload.rows_total,
                100.0 * rate,
                100.0 * req.max_reject_rate
            ),
        ));
    }
    if upload.snapshot_removes > 0 {
        return Some((
            ImportStatus::Refused,
            "a snapshot cannot remove numbers; send rows with a remove operation as mode=delta"
                .into(),
        ));
    }
    None
}
