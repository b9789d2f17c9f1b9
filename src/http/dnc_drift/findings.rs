//! The drift report's findings: per client, the contacts tarcza blocks that the CRM does
//! not flag and those the CRM flags that tarcza does not block, with their counts.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{PhoneNumber, Scope};
use crate::import::contacts::Contact;
use crate::index::{Reason, Snapshot};

/// One contact the report names.
#[derive(Serialize, ToSchema)]
#[schema(as = DriftFinding)]
pub(super) struct Finding<'s> {
    /// The number in canonical E.164 form.
    #[schema(value_type = String, example = "+48601234567")]
    pub(super) number: PhoneNumber,
    /// The export's line it is on (the first, if it is there more than once).
    pub(super) line: u64,
    /// Why tarcza blocks it, as `/check` says (forgotten flags only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reasons: Vec<Reason<'s>>,
}

/// A client's (or the whole export's) counts.
#[derive(Serialize, Default, Clone, Copy, ToSchema)]
#[schema(as = DriftCounts)]
pub(super) struct Counts {
    /// Readable rows of the client.
    pub(super) contacts: u64,
    /// Of them, flagged "do not call" in the CRM.
    pub(super) flagged: u64,
    /// Of them, blocked by tarcza (a do-not-call entry or a registry).
    pub(super) blocked: u64,
    /// Contacts named in `forgotten`: blocked by tarcza, not flagged in the CRM.
    pub(super) forgotten: u64,
    /// Contacts named in `candidates`: flagged in the CRM, not blocked by tarcza.
    pub(super) candidates: u64,
}

impl Counts {
    pub(super) fn add(&mut self, o: &Counts) {
        self.contacts += o.contacts;
        self.flagged += o.flagged;
        self.blocked += o.blocked;
        self.forgotten += o.forgotten;
        self.candidates += o.candidates;
    }
}

/// The report of one client of the export (or of the rows that name none).
#[derive(Serialize, ToSchema)]
#[schema(as = DriftClient)]
pub(super) struct ClientReport<'s> {
    /// The client, as the export spells it (`null`: the rows that name none).
    pub(super) client: Option<String>,
    #[serde(skip)]
    pub(super) scope: Scope,
    pub(super) counts: Counts,
    /// Contacts tarcza blocks that the CRM does not flag, with `/check`'s reasons.
    pub(super) forgotten: Vec<Finding<'s>>,
    /// Contacts the CRM flags that tarcza does not block.
    pub(super) candidates: Vec<Finding<'s>>,
    /// Numbers already named (`true`: forgotten), so a repeated row is named once.
    #[serde(skip)]
    pub(super) named: HashSet<(u64, bool)>,
}

/// The findings so far, by client key (`None`: rows without a client).
#[derive(Default)]
pub(super) struct Findings<'s> {
    pub(super) clients: BTreeMap<Option<String>, ClientReport<'s>>,
}

impl<'s> Findings<'s> {
    pub(super) fn add(&mut self, snapshot: &'s Snapshot, c: Contact, now: DateTime<Utc>) {
        // What /check answers for a call for this client; a missing consent is not a
        // do-not-call flag, so only entries and registries count.
        let reasons: Vec<Reason<'s>> = snapshot
            .check(c.number, &c.scope, now)
            .reasons
            .into_iter()
            .filter(|r| matches!(r, Reason::Dnc { .. } | Reason::Registry { .. }))
            .collect();
        let key = c.scope.client_key().map(str::to_string);
        let report = self.clients.entry(key).or_insert_with(|| ClientReport {
            client: c.scope.client().map(str::to_string),
            scope: c.scope.clone(),
            counts: Counts::default(),
            forgotten: Vec::new(),
            candidates: Vec::new(),
            named: HashSet::new(),
        });
        let blocked = !reasons.is_empty();
        report.counts.contacts += 1;
        report.counts.flagged += u64::from(c.flagged);
        report.counts.blocked += u64::from(blocked);
        if blocked == c.flagged || !report.named.insert((c.number.digits(), blocked)) {
            return;
        }
        let finding = Finding {
            number: c.number,
            line: c.line,
            reasons,
        };
        if blocked {
            report.counts.forgotten += 1;
            report.forgotten.push(finding);
        } else {
            report.counts.candidates += 1;
            report.candidates.push(finding);
        }
    }

    pub(super) fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for r in self.clients.values() {
            t.add(&r.counts);
        }
        t
    }
}
