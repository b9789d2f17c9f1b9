//! Writing how an import ended: success swaps the new generation in, in the same
//! transaction as the record and its audit event; any other ending records why and
//! changes nothing.

use serde_json::json;
use sqlx::{Connection, PgConnection};

use super::{ImportError, ImportRequest};
use crate::domain::{ChangeAction, HashScheme, ImportStatus};
use crate::index::{Changes, Members};
use crate::store::audit::{self, AuditEvent};
use crate::store::changes::{self, NewChange};
use crate::store::history as store_history;
use crate::store::imports::{self, Import, Outcome};
use crate::store::registries;
use crate::store::{bump_version, members as member_tables};

/// What the registry's history records of a new generation: the generation its changes
/// were computed against, and the changes (`None` when it replaces no data).
pub(super) struct History<'a> {
    pub based_on: Option<i64>,
    pub changes: Option<&'a Changes>,
}

/// Writes the members into a new table and makes it the registry's live generation,
/// together with the import's success and the generation's history, in one transaction.
pub(super) async fn swap_in(
    conn: &mut PgConnection,
    req: &ImportRequest,
    import_id: i64,
    members: &Members,
    outcome: &Outcome,
    history: History<'_>,
) -> Result<Import, sqlx::Error> {
    let mut tx = conn.begin().await?;
    member_tables::write(&mut tx, import_id, members.iter()).await?;
    let previous = registries::lock_generation(&mut tx, req.registry.id).await?;
    if previous != history.based_on {
        // Cannot happen while the import holds the registry's lock; if it did, the
        // recorded changes would be wrong, so nothing is changed.
        return Err(sqlx::Error::Protocol(format!(
            "the live generation is {previous:?}, not {:?} as read when the file was \
             compared with it",
            history.based_on
        )));
    }
    let version = bump_version(&mut tx).await?;
    let hash_scheme = req.format.hash_scheme();
    let live = registries::Live {
        generation: import_id,
        entries: members.len() as i64,
        version,
        source_time: req.source_time,
        hash_scheme,
    };
    registries::set_live(&mut tx, req.registry.id, &live).await?;
    let added_removed = history
        .changes
        .map(|c| (c.added.as_slice(), c.removed.as_slice()));
    let generation = store_history::NewGeneration {
        registry_id: req.registry.id,
        generation: import_id,
        version,
        previous,
        hash_scheme: hash_scheme.map(HashScheme::as_str),
        entries: members.len() as i64,
        changes: added_removed,
    };
    store_history::record_generation(&mut tx, &generation).await?;
    if let Some(previous) = previous {
        member_tables::drop(&mut tx, previous).await?;
    }
    let done = imports::finish(&mut tx, import_id, outcome, req.source_time).await?;
    audit::record(&mut tx, outcome_event(req, import_id, outcome)).await?;
    let change = NewChange {
        actor: req.actor,
        registry: Some(&req.registry.name),
        import_id: Some(import_id),
        entries: Some(live.entries),
        ..NewChange::default()
    };
    changes::record(&mut tx, version, ChangeAction::RegistryImport, change).await?;
    tx.commit().await?;
    Ok(done)
}

/// Records an import that ends without changing the registry.
pub(super) async fn conclude(
    conn: &mut PgConnection,
    req: &ImportRequest,
    import_id: i64,
    outcome: Outcome,
    rejects: &[imports::Reject],
) -> Result<Import, ImportError> {
    tracing::info!(import_id, status = %outcome.status, error = ?outcome.error, "import ended without changes");
    let mut tx = conn.begin().await?;
    let done = imports::finish(&mut tx, import_id, &outcome, req.source_time).await?;
    imports::save_rejects(&mut tx, import_id, rejects).await?;
    audit::record(&mut tx, outcome_event(req, import_id, &outcome)).await?;
    tx.commit().await?;
    Ok(done)
}

fn outcome_event<'a>(req: &ImportRequest, import_id: i64, o: &'a Outcome) -> AuditEvent<'a> {
    AuditEvent {
        actor: req.actor,
        action: match o.status {
            ImportStatus::Succeeded if o.unchanged => "import.unchanged",
            ImportStatus::Succeeded => "import.succeeded",
            ImportStatus::Refused => "import.refused",
            _ => "import.failed",
        },
        number: None,
        subject: Some(format!("import:{import_id}")),
        details: json!({
            "registry": req.registry.name, "rows_total": o.rows_total,
            "rows_rejected": o.rows_rejected, "entries_before": o.entries_before,
            "entries_after": o.entries_after, "checksum": o.checksum, "error": o.error,
            "source": req.source,
        }),
    }
}
