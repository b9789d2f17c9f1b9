//! What `/v1/check` has answered lately, per minute, for the console's chart: a ring of
//! 24 hours of counters in this process's memory. It is per process and starts empty
//! after a restart; it is a picture of the traffic, not a record (the audit log is the
//! record of changes; checks change nothing and are not stored anywhere).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Minutes kept: 24 hours.
pub const MINUTES: usize = 24 * 60;

#[derive(Default)]
struct Slot {
    /// The minute (Unix time / 60) the counters belong to.
    minute: AtomicI64,
    checks: AtomicU64,
    blocked: AtomicU64,
    blocked_dnc: AtomicU64,
    blocked_registry: AtomicU64,
}

/// Counters of one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Numbers checked (a batch counts each number it holds).
    pub checks: u64,
    /// Of those, numbers that may not be called (for any reason, a missing consent too).
    pub blocked: u64,
    /// Blocked by the do-not-call list (a number blocked by both sources counts in both).
    pub blocked_dnc: u64,
    /// Blocked by a registry.
    pub blocked_registry: u64,
}

impl Counts {
    /// Counts one verdict: `blocked` whether it may not be called, `dnc` / `registry`
    /// whether those sources blocked it.
    pub fn add(&mut self, blocked: bool, dnc: bool, registry: bool) {
        self.checks += 1;
        self.blocked += u64::from(blocked || dnc || registry);
        self.blocked_dnc += u64::from(dnc);
        self.blocked_registry += u64::from(registry);
    }
}

/// One minute of the history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Minute {
    /// The minute's start.
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The ring. Recording is a few relaxed atomic additions (it is on the hot path); when a
/// minute's slot is reused a count made in the same instant may be lost, which a chart
/// can bear.
pub struct Activity {
    slots: Box<[Slot]>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            slots: (0..MINUTES).map(|_| Slot::default()).collect(),
        }
    }
}

impl Activity {
    pub fn record(&self, now: DateTime<Utc>, counts: Counts) {
        let minute = now.timestamp().div_euclid(60);
        let slot = &self.slots[minute.rem_euclid(MINUTES as i64) as usize];
        let seen = slot.minute.load(Relaxed);
        if seen > minute {
            // The slot already holds a later minute (the clock went back): not worth a count.
            return;
        }
        if seen < minute
            && slot
                .minute
                .compare_exchange(seen, minute, Relaxed, Relaxed)
                .is_ok()
        {
            slot.checks.store(0, Relaxed);
            slot.blocked.store(0, Relaxed);
            slot.blocked_dnc.store(0, Relaxed);
            slot.blocked_registry.store(0, Relaxed);
        }
        slot.checks.fetch_add(counts.checks, Relaxed);
        slot.blocked.fetch_add(counts.blocked, Relaxed);
        slot.blocked_dnc.fetch_add(counts.blocked_dnc, Relaxed);
        slot.blocked_registry
            .fetch_add(counts.blocked_registry, Relaxed);
    }

    /// The minutes of the 24 hours up to `now` that saw any check, oldest first.
    pub fn last_day(&self, now: DateTime<Utc>) -> Vec<Minute> {
        let current = now.timestamp().div_euclid(60);
        let mut out: Vec<Minute> = self
            .slots
            .iter()
            .filter_map(|s| {
                let minute = s.minute.load(Relaxed);
                let counts = Counts {
                    checks: s.checks.load(Relaxed),
                    blocked: s.blocked.load(Relaxed),
                    blocked_dnc: s.blocked_dnc.load(Relaxed),
                    blocked_registry: s.blocked_registry.load(Relaxed),
                };
                let recent = minute > current - MINUTES as i64 && minute <= current;
                (recent && counts.checks > 0).then(|| Minute {
                    at: DateTime::from_timestamp(minute * 60, 0).unwrap_or_default(),
                    counts,
                })
            })
            .collect();
        out.sort_by_key(|m| m.at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    fn counts(checks: u64, dnc: u64, registry: u64) -> Counts {
        let mut c = Counts::default();
        for i in 0..checks {
            c.add(i < dnc || i < registry, i < dnc, i < registry);
        }
        c
    }

    #[test]
    fn minutes_are_counted_apart_and_read_oldest_first() {
        let a = Activity::default();
        a.record(at(0), counts(3, 1, 0));
        a.record(at(0), counts(2, 1, 1));
        a.record(at(5), counts(1, 0, 0));
        let day = a.last_day(at(10));
        assert_eq!(day.len(), 2);
        assert_eq!(
            day[0].at,
            DateTime::from_timestamp(1_800_000_000 / 60 * 60, 0).unwrap()
        );
        assert_eq!(
            day[0].counts,
            Counts {
                checks: 5,
                blocked: 2,
                blocked_dnc: 2,
                blocked_registry: 1
            }
        );
        assert_eq!(day[1].counts.checks, 1);
    }

    #[test]
    fn a_day_later_the_slot_starts_again_and_old_minutes_drop_out() {
        let a = Activity::default();
        a.record(at(0), counts(7, 0, 0));
        assert_eq!(a.last_day(at(MINUTES as i64 - 1)).len(), 1);
        assert!(a.last_day(at(MINUTES as i64)).is_empty());
        a.record(at(MINUTES as i64), counts(2, 0, 0));
        let day = a.last_day(at(MINUTES as i64));
        assert_eq!(day.len(), 1);
        assert_eq!(day[0].counts.checks, 2, "the reused slot starts from zero");
        // A late count for a minute whose slot was reused is dropped, not misfiled.
        a.record(at(0), counts(4, 0, 0));
        assert_eq!(a.last_day(at(MINUTES as i64))[0].counts.checks, 2);
    }
}
