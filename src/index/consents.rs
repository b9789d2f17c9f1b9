//! Consents in memory: which client may call a number for which purpose, and until when.
//!
//! Built for a million consents and more: an array of 32-byte records ordered by a hash
//! of the number, with a directory of where each hash bucket starts (4 bytes per record,
//! rounded up to a power of two), so finding a number's consents costs a few memory reads
//! rather than a binary search's twenty (measured: `bench/rules_speed.rs`); plus the
//! consents changed since the array was built (added or withdrawn), kept by number and
//! merged into a new array once they grow past an eighth of it. A change therefore copies
//! only the small part, never the million. Client keys and purposes are interned as small
//! integers.
//!
//! Times are whole seconds, rounded towards refusing: a consent counts from the second
//! after it was given (`given_at` rounded up) and stops at its expiry rounded down.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::store::snapshot::ConsentRow;

/// Fewer changes than this never make a new array.
const MIN_MERGE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rec {
    number: u64,
    id: i64,
    client: u32,
    purpose: u32,
    /// Seconds since the epoch from which it counts.
    from: u32,
    /// Seconds since the epoch at which it stops counting; `u32::MAX`: never. A
    /// withdrawn consent has `from` after `until`.
    until: u32,
}

impl Rec {
    fn valid_at(&self, now: u32) -> bool {
        self.from <= now && now < self.until
    }
}

/// A consent that makes a call possible: which one, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsentRef {
    pub id: i64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Client keys and purposes as small integers.
#[derive(Debug, Default, Clone)]
struct Names {
    clients: HashMap<Arc<str>, u32>,
    purposes: HashMap<Arc<str>, u32>,
}

impl Names {
    fn intern(map: &mut HashMap<Arc<str>, u32>, name: &str) -> u32 {
        if let Some(&id) = map.get(name) {
            return id;
        }
        let id = map.len() as u32;
        map.insert(name.into(), id);
        id
    }
}

/// Records ordered by [`bucket_hash`] of their number, and where each bucket starts.
#[derive(Debug, Default)]
struct Table {
    recs: Vec<Rec>,
    /// `dir[b]..dir[b + 1]`: the records of bucket `b` (the hash's top `bits` bits).
    dir: Vec<u32>,
    bits: u32,
}

impl Table {
    fn new(mut recs: Vec<Rec>) -> Table {
        let bits = recs.len().max(1).next_power_of_two().trailing_zeros();
        let bucket = |n: u64| bucket_hash(n).checked_shr(64 - bits).unwrap_or(0) as usize;
        recs.sort_unstable_by_key(|r| (bucket(r.number), r.number, r.id));
        recs.shrink_to_fit();
        let mut dir = vec![0u32; (1usize << bits) + 1];
        for r in &recs {
            dir[bucket(r.number) + 1] += 1;
        }
        for b in 1..dir.len() {
            dir[b] += dir[b - 1];
        }
        Table { recs, dir, bits }
    }

    /// The records of `number` (and of the few others in its bucket).
    fn bucket_of(&self, number: u64) -> &[Rec] {
        if self.recs.is_empty() {
            return &[];
        }
        let b = bucket_hash(number).checked_shr(64 - self.bits).unwrap_or(0) as usize;
        &self.recs[self.dir[b] as usize..self.dir[b + 1] as usize]
    }

    fn heap_bytes(&self) -> usize {
        self.recs.capacity() * std::mem::size_of::<Rec>() + self.dir.capacity() * 4
    }
}

/// A bijective mix of a number's bits (splitmix64's finaliser), so buckets fill evenly
/// however numbers cluster.
fn bucket_hash(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug, Default, Clone)]
pub struct Consents {
    /// Consents valid when it was built (or later).
    base: Arc<Table>,
    /// Every consent changed since `base` was built, in its current state, by number;
    /// one here hides the base record with the same id.
    delta: HashMap<u64, Vec<Rec>>,
    delta_len: usize,
    names: Arc<Names>,
}

/// Builds the index of a full load row by row, so the rows (there may be millions) are
/// never held at once.
#[derive(Default)]
pub struct ConsentsBuilder {
    names: Names,
    recs: Vec<Rec>,
}

impl ConsentsBuilder {
    pub fn push(&mut self, row: &ConsentRow) {
        if let Some(r) = rec(&mut self.names, row) {
            self.recs.push(r);
        }
    }

    pub fn finish(self) -> Consents {
        Consents {
            base: Arc::new(Table::new(self.recs)),
            delta: HashMap::new(),
            delta_len: 0,
            names: Arc::new(self.names),
        }
    }
}

impl Consents {
    /// The index of `rows` (a full load: consents that are neither withdrawn nor expired).
    pub fn build(rows: impl IntoIterator<Item = ConsentRow>) -> Consents {
        let mut builder = ConsentsBuilder::default();
        for row in rows {
            builder.push(&row);
        }
        builder.finish()
    }

    /// This index with `rows` (consents changed since it was built: added or
    /// withdrawn) applied, at `now`.
    pub fn with_changes(&self, rows: Vec<ConsentRow>, now: DateTime<Utc>) -> Consents {
        if rows.is_empty() {
            return self.clone();
        }
        let mut names = (*self.names).clone();
        let mut delta = self.delta.clone();
        let mut delta_len = self.delta_len;
        for row in &rows {
            let Some(r) = rec(&mut names, row) else {
                continue;
            };
            let recs = delta.entry(r.number).or_default();
            match recs.iter_mut().find(|old| old.id == r.id) {
                Some(old) => *old = r,
                None => {
                    recs.push(r);
                    delta_len += 1;
                }
            }
        }
        let next = Consents {
            base: self.base.clone(),
            delta,
            delta_len,
            names: Arc::new(names),
        };
        if next.delta_len > next.merge_threshold() {
            next.merged(now)
        } else {
            next
        }
    }

    /// How many changed consents the index holds apart before it makes a new array:
    /// an eighth of the array, at least [`MIN_MERGE`]. A refresh that sees more changes
    /// than this reads all consents afresh instead (a bulk load).
    pub fn merge_threshold(&self) -> usize {
        MIN_MERGE.max(self.base.recs.len() / 8)
    }

    /// One array of the consents that can still count at `now` or later.
    fn merged(&self, now: DateTime<Utc>) -> Consents {
        let now = secs(now);
        let base: Vec<Rec> = self
            .base
            .recs
            .iter()
            .filter(|r| {
                !self
                    .delta
                    .get(&r.number)
                    .is_some_and(|d| d.iter().any(|c| c.id == r.id))
            })
            .chain(self.delta.values().flatten())
            .filter(|r| r.until > now && r.from < r.until)
            .copied()
            .collect();
        Consents {
            base: Arc::new(Table::new(base)),
            delta: HashMap::new(),
            delta_len: 0,
            names: self.names.clone(),
        }
    }

    /// A consent of `number` for the client whose key is `client_key` and for
    /// `purpose` that counts at `now`: the newest such, if any.
    pub fn find(
        &self,
        number: u64,
        client_key: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Option<ConsentRef> {
        let client = *self.names.clients.get(client_key)?;
        let purpose = *self.names.purposes.get(purpose)?;
        let now = secs(now);
        let changed = self.delta.get(&number).map_or(&[][..], Vec::as_slice);
        let base = self
            .base
            .bucket_of(number)
            .iter()
            .filter(|r| r.number == number && !changed.iter().any(|c| c.id == r.id));
        base.chain(changed)
            .filter(|r| r.client == client && r.purpose == purpose && r.valid_at(now))
            .max_by_key(|r| r.id)
            .map(|r| ConsentRef {
                id: r.id,
                expires_at: (r.until != u32::MAX)
                    .then(|| DateTime::from_timestamp(i64::from(r.until), 0))
                    .flatten(),
            })
    }

    /// Consents held (valid when loaded, or changed since).
    pub fn len(&self) -> usize {
        self.base.recs.len() + self.delta_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes of the records and their directory (names and the change map are small
    /// beside them).
    pub fn heap_bytes(&self) -> usize {
        self.base.heap_bytes() + self.delta_len * (std::mem::size_of::<Rec>() + 16)
    }
}

/// Seconds since the epoch as the records keep them (clamped to their range).
fn secs(t: DateTime<Utc>) -> u32 {
    t.timestamp().clamp(0, i64::from(u32::MAX - 1)) as u32
}

/// The seconds a consent counts in, `from..until`: from the next whole second after
/// `given_at` unless given on one, until the last whole second of `expires_at`.
fn window(given_at: DateTime<Utc>, expires_at: Option<DateTime<Utc>>) -> (u32, u32) {
    let from = secs(given_at) + u32::from(given_at.timestamp_subsec_nanos() > 0);
    (from, expires_at.map_or(u32::MAX, secs))
}

/// Whether a consent given at `given_at` and ending at `expires_at` (not withdrawn)
/// counts at `at`, to the second as `/check` counts it (history replays it with this).
pub fn counts_at(
    given_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> bool {
    let (from, until) = window(given_at, expires_at);
    let at = secs(at);
    from <= at && at < until
}

/// The end of a consent as `/check` reports it: the last whole second it counts up to.
pub fn counts_until(expires_at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    expires_at.and_then(|t| DateTime::from_timestamp(i64::from(secs(t)), 0))
}

fn rec(names: &mut Names, row: &ConsentRow) -> Option<Rec> {
    let number = u64::try_from(row.number).ok()?;
    let (from, until) = window(row.given_at, row.expires_at);
    let (from, until) = if row.withdrawn {
        (u32::MAX, 0)
    } else {
        (from, until)
    };
    Some(Rec {
        number,
        id: row.id,
        client: Names::intern(&mut names.clients, &row.client_key),
        purpose: Names::intern(&mut names.purposes, &row.purpose),
        from,
        until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(id: i64, number: i64, client: &str, given: DateTime<Utc>) -> ConsentRow {
        ConsentRow {
            id,
            number,
            client_key: client.into(),
            purpose: "marketing".into(),
            given_at: given,
            expires_at: None,
            withdrawn: false,
        }
    }

    #[test]
    fn the_directory_finds_every_number_and_only_it() {
        let recs: Vec<Rec> = (0..5_000u64)
            .flat_map(|i| {
                // Clustered numbers, some with several consents.
                (0..1 + i % 3).map(move |k| Rec {
                    number: 48_600_000_000 + i * 7,
                    id: (i * 10 + k) as i64,
                    client: 0,
                    purpose: 0,
                    from: 0,
                    until: u32::MAX,
                })
            })
            .collect();
        let table = Table::new(recs.clone());
        assert_eq!(table.dir.len(), recs.len().next_power_of_two() + 1);
        for r in &recs {
            let found: Vec<i64> = table
                .bucket_of(r.number)
                .iter()
                .filter(|c| c.number == r.number)
                .map(|c| c.id)
                .collect();
            assert_eq!(found.len() as u64, 1 + (r.number - 48_600_000_000) / 7 % 3);
            assert!(found.contains(&r.id));
        }
        assert!(table
            .bucket_of(48_600_000_001)
            .iter()
            .all(|c| c.number != 48_600_000_001));
        assert!(Table::new(vec![]).bucket_of(48_600_000_000).is_empty());
    }

    #[test]
    fn records_are_32_bytes() {
        assert_eq!(std::mem::size_of::<Rec>(), 32);
    }

    #[test]
    fn a_consent_counts_for_its_client_and_purpose_within_its_time() {
        let now = Utc::now();
        let mut expiring = row(2, 48601234567, "acme", now - Duration::days(2));
        expiring.expires_at = Some(now + Duration::hours(1));
        let c = Consents::build([
            row(1, 48601234567, "acme", now - Duration::days(1)),
            expiring,
        ]);
        let found = c.find(48601234567, "acme", "marketing", now).unwrap();
        assert_eq!(found.id, 2, "the newest valid one");
        assert!(c.find(48601234567, "other", "marketing", now).is_none());
        assert!(c.find(48601234567, "acme", "surveys", now).is_none());
        assert!(c.find(48601234568, "acme", "marketing", now).is_none());
        // After the expiry only the other one counts; before it was given, none.
        let later = now + Duration::hours(2);
        assert_eq!(
            c.find(48601234567, "acme", "marketing", later).unwrap().id,
            1
        );
        let before = now - Duration::days(3);
        assert!(c.find(48601234567, "acme", "marketing", before).is_none());
    }

    #[test]
    fn withdrawals_and_additions_apply_without_rebuilding_and_survive_a_merge() {
        let now = Utc::now();
        let given = now - Duration::days(1);
        let c = Consents::build((0..10_000).map(|i| row(i + 1, 48600000000 + i, "acme", given)));
        let mut withdrawn = row(5, 48600000004, "acme", given);
        withdrawn.withdrawn = true;
        let c2 = c.with_changes(
            vec![withdrawn, row(20_000, 48500000000, "beta", given)],
            now,
        );
        assert!(
            Arc::ptr_eq(&c.base, &c2.base),
            "no new array for two changes"
        );
        assert!(c2.find(48600000004, "acme", "marketing", now).is_none());
        assert!(
            c.find(48600000004, "acme", "marketing", now).is_some(),
            "old one unchanged"
        );
        assert_eq!(
            c2.find(48500000000, "beta", "marketing", now).unwrap().id,
            20_000
        );
        let merged = c2.merged(now);
        assert!(merged.delta.is_empty());
        assert_eq!(merged.base.recs.len(), 10_000);
        assert!(merged.find(48600000004, "acme", "marketing", now).is_none());
        assert_eq!(
            merged
                .find(48500000000, "beta", "marketing", now)
                .unwrap()
                .id,
            20_000
        );
        assert_eq!(
            merged
                .find(48600000009, "acme", "marketing", now)
                .unwrap()
                .id,
            10
        );
    }

    #[test]
    fn enough_changes_make_a_new_array() {
        let now = Utc::now();
        let given = now - Duration::days(1);
        let c = Consents::build([row(1, 48600000000, "acme", given)]);
        let rows = (0..MIN_MERGE as i64 + 1)
            .map(|i| row(i + 2, 48700000000 + i, "acme", given))
            .collect();
        let c2 = c.with_changes(rows, now);
        assert!(c2.delta.is_empty());
        assert_eq!(c2.len(), MIN_MERGE + 2);
    }

    #[test]
    fn times_round_towards_refusing() {
        let given = DateTime::from_timestamp(1_000, 500_000_000).unwrap();
        let mut r = row(1, 48600000000, "acme", given);
        r.expires_at = Some(DateTime::from_timestamp(2_000, 900_000_000).unwrap());
        let c = Consents::build([r]);
        let at = |s: i64, ns: u32| DateTime::from_timestamp(s, ns).unwrap();
        assert!(c
            .find(48600000000, "acme", "marketing", at(1_000, 900_000_000))
            .is_none());
        assert!(c
            .find(48600000000, "acme", "marketing", at(1_001, 0))
            .is_some());
        assert!(c
            .find(48600000000, "acme", "marketing", at(1_999, 999_000_000))
            .is_some());
        assert!(c
            .find(48600000000, "acme", "marketing", at(2_000, 100_000_000))
            .is_none());
    }
}
