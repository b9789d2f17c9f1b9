//! Registry membership in the past. A registry keeps only its live generation's members
//! (in memory and in its member table) plus, for every generation, the keys it added and
//! removed. So membership at an earlier generation is found by walking back from the
//! live one: the first later generation that touches the number says what it was before
//! (removed by it: a member; added by it: not one); if none touches it, it was what it is
//! now. Forward from the live generation works the same way round.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::HistoryError;
use crate::domain::{HashScheme, PhoneNumber};
use crate::index::RegistryIndex;
use crate::store::history::{self as store, GenerationRow, Probe};

/// A generation of a registry as history shows it: the import that wrote it and when it
/// went live.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct GenerationRef {
    pub import_id: i64,
    pub live_from: Option<DateTime<Utc>>,
}

/// Whether a number was a registry member at some version, and since/until which import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub registry: String,
    /// The generation live at that version; `None`: the registry had no data yet.
    pub generation: Option<GenerationRef>,
    pub member: bool,
    /// For a member: the import that added the number, when known (not when it was
    /// added before history began or before the retention cut-off).
    pub added_by: Option<GenerationRef>,
    /// For a former member: the import that removed it.
    pub removed_by: Option<GenerationRef>,
}

/// One change of a number's membership, for its timeline.
#[derive(Debug)]
pub struct Change {
    pub generation: GenerationRef,
    pub added: bool,
}

/// What is known about one number in one registry's generations.
pub struct Walk<'a> {
    registry: &'a str,
    gens: Vec<GenerationRow>,
    /// `hits[i]` = (added by generation i, removed by generation i).
    hits: Vec<(bool, bool)>,
    /// Index of the live generation (as this process has it) and membership there.
    live: Option<(usize, bool)>,
}

impl<'a> Walk<'a> {
    /// Reads what the registry's recorded changes say about `number`; `live` is the
    /// registry as this process's snapshot has it.
    pub async fn read(
        conn: &mut PgConnection,
        registry_id: i32,
        registry: &'a str,
        live: Option<&RegistryIndex>,
        number: PhoneNumber,
    ) -> Result<Walk<'a>, HistoryError> {
        let gens = store::generations(conn, registry_id).await?;
        let key = |g: &GenerationRow| key_of(g.hash_scheme.as_deref(), number);
        let mut probes = Vec::with_capacity(gens.len() * 2);
        for (i, g) in gens.iter().enumerate() {
            probes.push(Probe {
                generation: g.generation,
                removed: false,
                key: key(g),
            });
            if i > 0 {
                probes.push(Probe {
                    generation: g.generation,
                    removed: true,
                    key: key(&gens[i - 1]),
                });
            }
        }
        let found = store::changes_containing(conn, registry_id, &probes).await?;
        let hits = gens
            .iter()
            .map(|g| {
                let hit = |removed| {
                    found
                        .iter()
                        .any(|p| p.generation == g.generation && p.removed == removed)
                };
                (hit(false), hit(true))
            })
            .collect();
        let live = match live.and_then(|r| r.generation.map(|g| (g, r))) {
            None => None,
            Some((generation, r)) => {
                let i = gens
                    .iter()
                    .position(|g| g.generation == generation)
                    .ok_or(HistoryError::Behind)?;
                Some((i, r.members.contains(r.key(number))))
            }
        };
        Ok(Walk {
            registry,
            gens,
            hits,
            live,
        })
    }

    /// Index of the generation live at `version`; `None`: no data yet.
    fn index_at(&self, version: i64) -> Option<usize> {
        self.gens.iter().rposition(|g| g.version <= version)
    }

    fn scheme_changed(&self, i: usize) -> bool {
        i > 0 && self.gens[i].hash_scheme != self.gens[i - 1].hash_scheme
    }

    fn reference(&self, i: usize) -> GenerationRef {
        GenerationRef {
            import_id: self.gens[i].generation,
            live_from: self.gens[i].committed_at,
        }
    }

    /// Whether the number was a member of generation `target`.
    fn member_of(&self, target: usize) -> Result<bool, HistoryError> {
        let Some((live, member_now)) = self.live else {
            // The registry has data that this process's snapshot does not.
            return Err(HistoryError::Behind);
        };
        if target < live {
            for h in target + 1..=live {
                if !self.gens[h].changes_recorded {
                    return Err(HistoryError::Unrecorded);
                }
                let (added, removed) = self.hits[h];
                if removed {
                    return Ok(true);
                }
                if added || self.scheme_changed(h) {
                    return Ok(false);
                }
            }
            return Ok(member_now);
        }
        let mut member = member_now;
        for h in live + 1..=target {
            if !self.gens[h].changes_recorded || self.gens[h].previous.is_none() {
                return Err(HistoryError::Behind);
            }
            let (added, removed) = self.hits[h];
            member = if self.scheme_changed(h) {
                added
            } else {
                added || (member && !removed)
            };
        }
        Ok(member)
    }

    /// Membership at data version `version`.
    pub fn at(&self, version: i64) -> Result<Membership, HistoryError> {
        let mut out = Membership {
            registry: self.registry.to_string(),
            generation: None,
            member: false,
            added_by: None,
            removed_by: None,
        };
        let Some(i) = self.index_at(version) else {
            return Ok(out);
        };
        out.generation = Some(self.reference(i));
        out.member = self.member_of(i)?;
        if out.member {
            out.added_by = (0..=i)
                .rev()
                .find(|&h| self.hits[h].0)
                .or_else(|| self.first_import_holds_it(i).then_some(0))
                .map(|h| self.reference(h));
        } else {
            out.removed_by = (0..=i)
                .rev()
                .find(|&h| self.hits[h].1)
                .map(|h| self.reference(h));
        }
        Ok(out)
    }

    /// Whether a member of generation `i` that no recorded change added came with the
    /// registry's first data: true only when that first import replaced nothing and every
    /// change since is recorded.
    fn first_import_holds_it(&self, i: usize) -> bool {
        self.gens[0].previous.is_none()
            && self.gens[0].changes_recorded
            && self.gens[1..=i].iter().all(|g| g.changes_recorded)
    }

    /// Every recorded change of the number's membership, oldest first (the first import's
    /// data counts as added by it).
    pub fn changes(&self) -> Result<Vec<Change>, HistoryError> {
        let mut out = Vec::new();
        if !self.gens.is_empty()
            && self.gens[0].previous.is_none()
            && self.gens[0].changes_recorded
            && self.member_of(0)?
        {
            out.push(Change {
                generation: self.reference(0),
                added: true,
            });
        }
        for (h, &(added, removed)) in self.hits.iter().enumerate() {
            if removed {
                out.push(Change {
                    generation: self.reference(h),
                    added: false,
                });
            }
            if added {
                out.push(Change {
                    generation: self.reference(h),
                    added: true,
                });
            }
        }
        Ok(out)
    }
}

/// The key `number` has in a generation stored under `scheme` (`None`: plain numbers).
fn key_of(scheme: Option<&str>, number: PhoneNumber) -> u64 {
    match scheme.and_then(|s| s.parse::<HashScheme>().ok()) {
        Some(scheme) => scheme.key(number),
        None => number.digits(),
    }
}
