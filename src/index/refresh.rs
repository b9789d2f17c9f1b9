//! Building the next snapshot from Postgres: everything on first load, afterwards only
//! the rows stamped with a version newer than the current snapshot's.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::Utc;
use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgPool};

use super::consents::ConsentsBuilder;
use super::{
    Consents, DncBlock, Index, Members, Policies, PrefixBlocks, Principal, RegistryIndex, Snapshot,
};
use crate::domain::{Binding, Role, Scope};
use crate::store::snapshot::{self as reads, DncRow};
use crate::store::{self, members};

impl Index {
    /// Brings the snapshot up to the database's current version and returns it. Cheap
    /// when nothing changed (one query). Errors leave the current snapshot serving.
    pub async fn refresh(&self, pool: &PgPool) -> Result<i64, sqlx::Error> {
        let result = self.refresh_inner(pool).await;
        self.set_db_status(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        self.attempted(result.as_ref().is_err_and(store::is_unavailable));
        result
    }

    /// Brings the snapshot up to date after a committed write, so the write is visible to
    /// `/check` before its response is sent, waiting until `answer_by` at most: the
    /// refresh (a large registry reload can take long) goes on in its own task and lands
    /// later. Returns whether the snapshot shows the write now. The write stands either
    /// way; if the refresh fails (the database vanished in between), reconciliation
    /// catches up.
    pub async fn refresh_after_write(
        self: &Arc<Self>,
        pool: &PgPool,
        answer_by: Option<tokio::time::Instant>,
    ) -> bool {
        let (index, pool) = (self.clone(), pool.clone());
        let refresh = tokio::spawn(async move {
            let result = index.refresh(&pool).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "refresh after a write failed; reconciliation will retry");
            }
            result.is_ok()
        });
        let Some(answer_by) = answer_by else {
            return refresh.await.unwrap_or(false);
        };
        match tokio::time::timeout_at(answer_by, refresh).await {
            Ok(done) => done.unwrap_or(false),
            Err(_) => {
                tracing::warn!("refresh after a write is slow; answering that it is stored");
                false
            }
        }
    }

    async fn refresh_inner(&self, pool: &PgPool) -> Result<i64, sqlx::Error> {
        let _one_builder = self.loader.lock().await;
        // What this refresh reads is the database as of (at least) now.
        let as_of = std::time::Instant::now();
        let old = self.current();
        let mut tx = reads::begin(pool).await?;
        let version = reads::version(&mut tx).await?;
        if let Some(old) = &old {
            if old.version == version {
                self.confirm(as_of);
                return Ok(version);
            }
        }
        let since = old.as_ref().map_or(0, |s| s.version);

        let keys = match &old {
            Some(old) if !reads::keys_changed(&mut tx, since).await? => old.keys.clone(),
            _ => Arc::new(load_keys(&mut tx).await?),
        };
        let (dnc, prefixes) = load_dnc(&mut tx, old.as_deref(), since).await?;
        let consents = load_consents(&mut tx, old.as_deref(), since).await?;
        let policies = match &old {
            Some(old) if !reads::policies_changed(&mut tx, since).await? => old.policies.clone(),
            _ => Arc::new(Policies::build(reads::policies(&mut tx).await?)),
        };
        let registries = self.load_registries(&mut tx, old.as_deref()).await?;
        tx.commit().await?;

        self.current.store(Some(Arc::new(Snapshot {
            version,
            loaded_at: Utc::now(),
            dnc,
            prefixes,
            consents,
            policies,
            registries,
            keys,
        })));
        self.confirm(as_of);
        if old.is_none() {
            // The first load read every list from the database; what it read through is
            // garbage now, and an idle service would keep it resident.
            super::return_free_memory();
        }
        self.published.0.send_replace(version);
        tracing::debug!(version, since, "snapshot refreshed");
        Ok(version)
    }

    async fn load_registries(
        &self,
        conn: &mut PgConnection,
        old: Option<&Snapshot>,
    ) -> Result<Vec<Arc<RegistryIndex>>, sqlx::Error> {
        let registries = reads::registries(&mut *conn).await?;
        let mut out = Vec::with_capacity(registries.len());
        for row in registries {
            let previous = old.and_then(|s| s.registries.iter().find(|r| r.id == row.id));
            if let Some(p) = previous.filter(|p| p.version == row.version) {
                out.push(p.clone());
                continue;
            }
            let members = match (row.generation, previous) {
                (None, _) => Arc::new(Members::default()),
                (Some(g), Some(p)) if p.generation == Some(g) => p.members.clone(),
                (Some(g), _) => match self.take_staged(g) {
                    Some(m) => m,
                    None => {
                        let keys = members::read(&mut *conn, g).await?;
                        let members = Arc::new(Members::from_unsorted(keys));
                        super::return_free_memory();
                        members
                    }
                },
            };
            out.push(Arc::new(RegistryIndex {
                id: row.id,
                name: row.name.as_str().into(),
                version: row.version,
                generation: row.generation,
                loaded_at: row.loaded_at,
                source_time: row.source_time,
                last_import_id: row.last_import_id,
                hash_scheme: row.hash_scheme.and_then(|s| s.parse().ok()),
                members,
                consent_exempts: self.consent_exempt.contains(&row.name),
            }));
        }
        Ok(out)
    }
}

async fn load_keys(conn: &mut PgConnection) -> Result<HashMap<[u8; 32], Principal>, sqlx::Error> {
    let rows = reads::active_keys(conn).await?;
    let mut keys = HashMap::with_capacity(rows.len());
    for row in rows {
        let binding = row
            .client
            .as_deref()
            .map(|c| Binding::new(c, &row.campaigns, row.may_block_global))
            .transpose();
        // A key whose binding cannot be read is left out (it cannot call), never
        // loaded unbound.
        let (Ok(hash), Ok(role), Ok(binding)) = (
            <[u8; 32]>::try_from(row.key_hash),
            row.role.parse::<Role>(),
            binding,
        ) else {
            tracing::error!(key_id = row.id, "api key row is malformed; ignoring it");
            continue;
        };
        keys.insert(
            hash,
            Principal {
                id: row.id,
                name: row.name.into(),
                role,
                binding: binding.map(Arc::new),
            },
        );
    }
    Ok(keys)
}

type DncMap = HashMap<u64, Vec<DncBlock>>;
type Map<S> = HashMap<u64, Vec<DncBlock>, S>;

/// The do-not-call maps, of numbers and of prefixes: rebuilt whole on first load,
/// otherwise the previous maps with the changed entries replaced (an inactive entry is
/// removed); a map no changed entry touches is shared with the previous snapshot.
async fn load_dnc(
    conn: &mut PgConnection,
    old: Option<&Snapshot>,
    since: i64,
) -> Result<(Arc<DncMap>, Arc<PrefixBlocks>), sqlx::Error> {
    let rows = match old {
        None => reads::active_dnc(conn).await?,
        Some(_) => reads::dnc_changed(conn, since).await?,
    };
    let (prefix_rows, number_rows): (Vec<DncRow>, Vec<DncRow>) =
        rows.into_iter().partition(|r| r.prefix);
    let numbers = match old {
        Some(old) if number_rows.is_empty() => old.dnc.clone(),
        _ => Arc::new(apply(old.map(|o| &*o.dnc), number_rows)),
    };
    let prefixes = match old {
        Some(old) if prefix_rows.is_empty() => old.prefixes.clone(),
        _ => Arc::new(PrefixBlocks::new(apply(
            old.map(|o| o.prefixes.map()),
            prefix_rows,
        ))),
    };
    Ok((numbers, prefixes))
}

/// `old` (or an empty map) with `rows` applied, keyed by the rows' digits.
fn apply<S: BuildHasher + Default + Clone>(old: Option<&Map<S>>, rows: Vec<DncRow>) -> Map<S> {
    let mut map = old
        .cloned()
        .unwrap_or_else(|| HashMap::with_capacity_and_hasher(rows.len(), S::default()));
    for row in rows {
        let number = row.number as u64;
        if let Some(blocks) = map.get_mut(&number) {
            blocks.retain(|b| b.id != row.id);
            if blocks.is_empty() {
                map.remove(&number);
            }
        }
        if !row.active {
            continue;
        }
        let scope = Scope::from_parts(row.client.as_deref(), row.campaign.as_deref())
            .unwrap_or(Scope::Global);
        map.entry(number).or_default().push(DncBlock {
            id: row.id,
            scope,
            reason: row.reason.map(Into::into),
            expires_at: row.expires_at,
        });
    }
    map
}

/// The consents: streamed whole on first load (there may be millions) and after a bulk
/// change too large to apply piecemeal; otherwise the previous index with the changed
/// consents applied.
async fn load_consents(
    conn: &mut PgConnection,
    old: Option<&Snapshot>,
    since: i64,
) -> Result<Arc<Consents>, sqlx::Error> {
    if let Some(old) = old {
        let changed = reads::consents_changed_count(&mut *conn, since).await?;
        if changed == 0 {
            return Ok(old.consents.clone());
        }
        if (changed as usize) <= old.consents.merge_threshold() {
            let rows = reads::consents_changed(conn, since).await?;
            return Ok(Arc::new(old.consents.with_changes(rows, Utc::now())));
        }
    }
    let mut builder = ConsentsBuilder::default();
    let mut rows = reads::valid_consents(conn);
    while let Some(row) = rows.try_next().await? {
        builder.push(&row);
    }
    Ok(Arc::new(builder.finish()))
}
