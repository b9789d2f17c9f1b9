//! What history is read from (migration 0020): when each data version was committed, each
//! do-not-call entry's state by version, each registry's generations and the keys each
//! generation added and removed, and where history begins.
//!
//! A generation's changes are stored in chunks of at most [`CHUNK`] ascending keys: the
//! first key in the row (in an order-preserving signed form, so that hash keys above
//! `i64::MAX` sort right) and the others as LEB128-encoded gaps. A Polish registry of 10M
//! numbers has gaps of a few thousand between changed numbers, two bytes each.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Most keys in one stored chunk: a look-up decodes one chunk per generation.
pub const CHUNK: usize = 1024;

/// The data version in force at `at`, and when it was committed; `None` before the first
/// version history knows.
pub async fn version_at(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<Option<(i64, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, committed_at FROM data_version_log WHERE committed_at <= $1 \
         ORDER BY committed_at DESC, version DESC LIMIT 1",
    )
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// The earliest instant history can answer for: when it began, or the last retention
/// cut-off, whichever is later.
pub async fn floor(conn: &mut PgConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("SELECT since FROM history_floor")
        .fetch_one(conn)
        .await
}

/// A do-not-call entry of a number, with the key that made it and the one that removed it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct EntryRow {
    pub id: i64,
    /// The number's digits, or the prefix's when `prefix` is set (a range block).
    pub number: i64,
    pub prefix: bool,
    pub client: Option<String>,
    pub campaign: Option<String>,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub deactivated_by: Option<i64>,
    pub deactivated_by_name: Option<String>,
    pub deactivation_reason: Option<String>,
}

/// Every do-not-call entry that can concern `number` (as its digits), by id: the number's
/// own, and every range block of a prefix of it (its leading 1 to all of its digits).
pub async fn dnc_entries(
    conn: &mut PgConnection,
    number: u64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let prefixes: Vec<i64> = std::iter::successors(Some(number), |d| Some(d / 10))
        .take_while(|d| *d > 0)
        .map(|d| d as i64)
        .collect();
    sqlx::query_as(
        "SELECT e.id, e.number, e.prefix, e.client, e.campaign, e.reason, e.source, e.created_at, e.created_by, \
                c.name AS created_by_name, e.deactivated_at, e.deactivated_by, d.name AS deactivated_by_name, \
                e.deactivation_reason \
         FROM dnc_entries e \
         LEFT JOIN api_keys c ON c.id = e.created_by \
         LEFT JOIN api_keys d ON d.id = e.deactivated_by \
         WHERE (e.number = $1 AND NOT e.prefix) OR (e.prefix AND e.number = ANY($2)) \
         ORDER BY e.id",
    )
    .bind(number as i64)
    .bind(prefixes)
    .fetch_all(conn)
    .await
}

/// One state of a do-not-call entry: from `version` (committed at `committed_at`) on.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct StateRow {
    pub entry_id: i64,
    pub version: i64,
    pub committed_at: Option<DateTime<Utc>>,
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The states of `entries`, by entry and version.
pub async fn dnc_states(
    conn: &mut PgConnection,
    entries: &[i64],
) -> Result<Vec<StateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.entry_id, s.version, l.committed_at, s.active, s.expires_at \
         FROM dnc_entry_states s LEFT JOIN data_version_log l ON l.version = s.version \
         WHERE s.entry_id = ANY($1) ORDER BY s.entry_id, s.version",
    )
    .bind(entries)
    .fetch_all(conn)
    .await
}

/// A registry (for history: its id and name).
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RegistryName {
    pub id: i32,
    pub name: String,
}

pub async fn registries(conn: &mut PgConnection) -> Result<Vec<RegistryName>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM registries ORDER BY name")
        .fetch_all(conn)
        .await
}

/// A generation of a registry's members that went live.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct GenerationRow {
    pub generation: i64,
    pub version: i64,
    pub committed_at: Option<DateTime<Utc>>,
    pub previous: Option<i64>,
    pub hash_scheme: Option<String>,
    pub changes_recorded: bool,
}

/// The generations of registry `registry_id`, in the order they went live.
pub async fn generations(
    conn: &mut PgConnection,
    registry_id: i32,
) -> Result<Vec<GenerationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT g.generation, g.version, l.committed_at, g.previous, g.hash_scheme, \
                g.changes_recorded \
         FROM registry_generations g LEFT JOIN data_version_log l ON l.version = g.version \
         WHERE g.registry_id = $1 ORDER BY g.version, g.generation",
    )
    .bind(registry_id)
    .fetch_all(conn)
    .await
}

/// A generation going live, as history records it.
pub struct NewGeneration<'a> {
    pub registry_id: i32,
    pub generation: i64,
    pub version: i64,
    pub previous: Option<i64>,
    pub hash_scheme: Option<&'a str>,
    pub entries: i64,
    /// Keys it added and removed, ascending; `None` when it replaced no data (nothing
    /// is stored then: the registry was empty before it).
    pub changes: Option<(&'a [u64], &'a [u64])>,
}

/// Records a generation and its changes (in the transaction that makes it live).
pub async fn record_generation(
    conn: &mut PgConnection,
    g: &NewGeneration<'_>,
) -> Result<(), sqlx::Error> {
    let (added, removed) = g.changes.unwrap_or((&[], &[]));
    sqlx::query(
        "INSERT INTO registry_generations (registry_id, generation, version, previous, \
         hash_scheme, entries, added, removed, changes_recorded) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(g.registry_id)
    .bind(g.generation)
    .bind(g.version)
    .bind(g.previous)
    .bind(g.hash_scheme)
    .bind(g.entries)
    .bind(added.len() as i64)
    .bind(removed.len() as i64)
    .bind(g.changes.is_some() || g.previous.is_none())
    .execute(&mut *conn)
    .await?;
    for (keys, is_removal) in [(added, false), (removed, true)] {
        write_chunks(&mut *conn, g.registry_id, g.generation, is_removal, keys).await?;
    }
    Ok(())
}

async fn write_chunks(
    conn: &mut PgConnection,
    registry_id: i32,
    generation: i64,
    removed: bool,
    keys: &[u64],
) -> Result<(), sqlx::Error> {
    // A few hundred rows a statement, as arrays: one round trip per batch.
    for batch in keys.chunks(CHUNK * 256) {
        let mut firsts = Vec::new();
        let mut lasts = Vec::new();
        let mut counts = Vec::new();
        let mut blobs = Vec::new();
        for chunk in batch.chunks(CHUNK) {
            firsts.push(ordered(chunk[0]));
            lasts.push(ordered(chunk[chunk.len() - 1]));
            counts.push(chunk.len() as i32);
            blobs.push(encode_gaps(chunk));
        }
        sqlx::query(
            "INSERT INTO registry_changes (registry_id, generation, removed, first_key, \
             last_key, count, keys) \
             SELECT $1, $2, $3, * FROM UNNEST($4::bigint[], $5::bigint[], $6::int[], $7::bytea[])",
        )
        .bind(registry_id)
        .bind(generation)
        .bind(removed)
        .bind(firsts)
        .bind(lasts)
        .bind(counts)
        .bind(blobs)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A question for [`changes_containing`]: does generation `generation`'s set of added
/// (or, with `removed`, removed) keys hold `key`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub generation: i64,
    pub removed: bool,
    pub key: u64,
}

/// The probes that hit: for each, the one chunk that could hold its key is read and
/// decoded.
pub async fn changes_containing(
    conn: &mut PgConnection,
    registry_id: i32,
    probes: &[Probe],
) -> Result<Vec<Probe>, sqlx::Error> {
    if probes.is_empty() {
        return Ok(Vec::new());
    }
    let generations: Vec<i64> = probes.iter().map(|p| p.generation).collect();
    let removed: Vec<bool> = probes.iter().map(|p| p.removed).collect();
    let keys: Vec<i64> = probes.iter().map(|p| ordered(p.key)).collect();
    let rows: Vec<(i64, bool, i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT p.generation, p.removed, p.key, c.first_key, c.keys \
         FROM UNNEST($2::bigint[], $3::boolean[], $4::bigint[]) AS p (generation, removed, key) \
         CROSS JOIN LATERAL ( \
             SELECT first_key, last_key, keys FROM registry_changes c \
             WHERE c.registry_id = $1 AND c.generation = p.generation \
               AND c.removed = p.removed AND c.first_key <= p.key \
             ORDER BY c.first_key DESC LIMIT 1) c \
         WHERE c.last_key >= p.key",
    )
    .bind(registry_id)
    .bind(generations)
    .bind(removed)
    .bind(keys)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, key, first, blob)| chunk_contains(*first, blob, unordered(*key)))
        .map(|(generation, removed, key, _, _)| Probe {
            generation,
            removed,
            key: unordered(key),
        })
        .collect())
}

/// The signed form of `key` that sorts as the unsigned key does.
fn ordered(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

fn unordered(stored: i64) -> u64 {
    (stored as u64) ^ (1 << 63)
}

/// The keys after the first of an ascending chunk, as LEB128 gaps.
fn encode_gaps(chunk: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() * 3);
    for pair in chunk.windows(2) {
        let mut gap = pair[1] - pair[0];
        loop {
            let byte = (gap & 0x7f) as u8;
            gap >>= 7;
            if gap == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// The keys of a stored chunk, ascending.
fn decode_chunk(first: i64, blob: &[u8]) -> Vec<u64> {
    let mut key = unordered(first);
    let mut keys = vec![key];
    let (mut gap, mut shift) = (0u64, 0u32);
    for &byte in blob {
        gap |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            key = key.wrapping_add(gap);
            keys.push(key);
            (gap, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    keys
}

fn chunk_contains(first: i64, blob: &[u8], key: u64) -> bool {
    decode_chunk(first, blob).binary_search(&key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_numbers_and_hash_keys() {
        let numbers: Vec<u64> = vec![
            48_500_000_000,
            48_500_000_001,
            48_600_123_456,
            48_999_999_999,
        ];
        let hashes: Vec<u64> = vec![3, 1 << 40, (1 << 63) - 1, 1 << 63, u64::MAX - 1, u64::MAX];
        for (keys, absent) in [(numbers, 48_500_000_002), (hashes, 4), (vec![42], 43)] {
            let blob = encode_gaps(&keys);
            assert_eq!(decode_chunk(ordered(keys[0]), &blob), keys);
            for &k in &keys {
                assert!(chunk_contains(ordered(keys[0]), &blob, k));
            }
            assert!(!chunk_contains(ordered(keys[0]), &blob, absent));
        }
    }

    #[test]
    fn the_signed_form_sorts_as_the_key() {
        let keys = [0u64, 1, i64::MAX as u64, 1 << 63, u64::MAX];
        for pair in keys.windows(2) {
            assert!(ordered(pair[0]) < ordered(pair[1]), "{pair:?}");
            assert_eq!(unordered(ordered(pair[0])), pair[0]);
        }
    }

    #[test]
    fn gaps_of_dense_numbers_take_about_two_bytes() {
        let keys: Vec<u64> = (0..1000u64).map(|i| 48_600_000_000 + i * 5000).collect();
        assert!(encode_gaps(&keys).len() <= 2 * 999);
    }
}
