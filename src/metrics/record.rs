//! What is counted where things happen: a check and its result, the reasons a number
//! was blocked, an HTTP request, a refused key, a do-not-call change, a webhook delivery,
//! an import. Switched off (TARCZA_METRICS=false), each is a no-op.

use std::time::Duration;

use super::labels::{
    ActionLabels, AuthFailure, BlockLabels, CheckMode, CheckResult, HttpLabels, ImportLabels,
    RowLabels, SourceLabels,
};
use super::Metrics;

impl Metrics {
    /// `count` checks of `mode` came to `result`.
    pub fn checked(&self, mode: CheckMode, result: CheckResult, count: u64) {
        if self.on && count > 0 {
            self.checks[mode as usize][result as usize].inc_by(count);
        }
    }

    /// A check request of `mode` took `took`.
    pub fn check_took(&self, mode: CheckMode, took: Duration) {
        if !self.on {
            return;
        }
        self.check_duration[mode as usize].observe(took);
    }

    /// `count` blocked numbers had a do-not-call entry among their reasons.
    pub fn dnc_blocks(&self, count: u64) {
        if self.on && count > 0 {
            self.dnc_blocks.inc_by(count);
        }
    }

    /// `count` blocked numbers lacked the consent a `consent_required` policy asks for.
    pub fn consent_blocks(&self, count: u64) {
        if self.on && count > 0 {
            self.consent_blocks.inc_by(count);
        }
    }

    /// `count` blocked numbers were in `registry`.
    pub fn registry_blocks(&self, registry: &str, count: u64) {
        if !self.on || count == 0 {
            return;
        }
        if let Some((_, counter)) = self
            .registry_blocks
            .load()
            .iter()
            .find(|(name, _)| &**name == registry)
        {
            counter.inc_by(count);
            return;
        }
        let counter = self.blocks.get_or_create_owned(&BlockLabels {
            source: "registry",
            registry: registry.to_string(),
        });
        counter.inc_by(count);
        self.registry_blocks.rcu(|resolved| {
            let mut resolved = Vec::clone(resolved);
            if !resolved.iter().any(|(name, _)| &**name == registry) {
                resolved.push((registry.into(), counter.clone()));
            }
            resolved
        });
    }

    /// A request to `route` (its matched pattern) was answered `status` after `took`.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        if !self.on {
            return;
        }
        let hot = match (route, method, status) {
            ("/v1/check", "GET", 200) => Some(&self.check_ok[0]),
            ("/v1/check", "POST", 200) => Some(&self.check_ok[1]),
            _ => None,
        };
        if let Some((count, duration)) = hot {
            count.inc();
            duration.observe(took);
            return;
        }
        let labels = HttpLabels {
            route: route.to_string(),
            method: method.to_string(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&labels).observe(took);
    }

    pub fn auth_failed(&self, reason: AuthFailure) {
        if !self.on {
            return;
        }
        self.auth_failures[reason as usize].inc();
    }

    /// A change to the do-not-call list (`add`, `extend`, `existing`, `remove`).
    pub fn dnc_changed(&self, action: &'static str) {
        if !self.on {
            return;
        }
        self.dnc_changes
            .get_or_create(&ActionLabels { action })
            .inc();
    }

    /// A webhook delivery attempt ended: delivered (a 2xx) or not.
    pub fn webhook_attempt(&self, delivered: bool) {
        if !self.on {
            return;
        }
        self.webhook_deliveries[usize::from(!delivered)].inc();
    }

    /// How many webhook subscriptions are failing or expired.
    pub fn webhooks_failing(&self, count: i64) {
        if !self.on {
            return;
        }
        self.webhooks_failing.set(count);
    }

    /// An import of `registry` from `source` (`upload`, `sync`) ended.
    pub fn import_ended(&self, registry: &str, source: &'static str, ended: &ImportEnd) {
        if !self.on {
            return;
        }
        self.imports
            .get_or_create(&ImportLabels {
                registry: registry.to_string(),
                source,
                status: ended.status,
            })
            .inc();
        self.import_duration
            .get_or_create(&SourceLabels { source })
            .observe(ended.took);
        for (outcome, rows) in [
            ("accepted", ended.rows_accepted),
            ("rejected", ended.rows_rejected),
            ("duplicate", ended.rows_duplicate),
        ] {
            self.import_rows
                .get_or_create(&RowLabels {
                    registry: registry.to_string(),
                    outcome,
                })
                .inc_by(rows);
        }
    }
}

/// How an import ended, for [`Metrics::import_ended`].
#[derive(Debug)]
pub struct ImportEnd {
    pub status: &'static str,
    pub took: Duration,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_duplicate: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switched_off_they_count_nothing() {
        let m = Metrics::off();
        m.checked(CheckMode::Single, CheckResult::Allowed, 1);
        m.check_took(CheckMode::Single, Duration::from_micros(70));
        m.registry_blocks("robinson", 2);
        m.http_request("/v1/check", "GET", 200, Duration::from_micros(300));
        m.auth_failed(AuthFailure::Missing);
        let text = m.encode();
        assert!(text.contains(r#"tarcza_checks_total{mode="single",result="allowed"} 0"#));
        assert!(!text.contains("robinson"), "{text}");
        assert!(text.contains(r#"tarcza_auth_failures_total{reason="missing"} 0"#));
    }
}
