//! The words of the metrics' labels (how a number was asked about, what a check came to,
//! why a key was refused) and the label sets of the families that hold them.

use prometheus_client::encoding::EncodeLabelSet;

/// How a number was asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// `GET /v1/check`.
    Single,
    /// `POST /v1/check`.
    Batch,
}

/// What a check came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Allowed,
    Blocked,
    /// Not a number (422 `invalid_number`, or a batch item's error).
    Invalid,
    /// No data loaded yet, or a registry with a source not loaded yet (503 `not_ready`).
    NotReady,
    /// Stale registry data or a stale snapshot (503 `stale_registry`, `stale_snapshot`).
    Stale,
}

impl CheckMode {
    pub(super) const ALL: [CheckMode; 2] = [CheckMode::Single, CheckMode::Batch];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            CheckMode::Single => "single",
            CheckMode::Batch => "batch",
        }
    }
}

impl CheckResult {
    pub(super) const ALL: [CheckResult; 5] = [
        CheckResult::Allowed,
        CheckResult::Blocked,
        CheckResult::Invalid,
        CheckResult::NotReady,
        CheckResult::Stale,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            CheckResult::Allowed => "allowed",
            CheckResult::Blocked => "blocked",
            CheckResult::Invalid => "invalid",
            CheckResult::NotReady => "not_ready",
            CheckResult::Stale => "stale",
        }
    }

    /// The result a refused check counts as, from the code of its error answer.
    pub fn of_error(code: &str) -> Option<CheckResult> {
        match code {
            "invalid_number" => Some(CheckResult::Invalid),
            "not_ready" => Some(CheckResult::NotReady),
            "stale_registry" | "stale_snapshot" => Some(CheckResult::Stale),
            _ => None,
        }
    }
}

/// Why a request's key was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <key>`.
    Malformed,
    /// A key that is unknown or revoked.
    Unknown,
    /// A valid key whose role is too low.
    Forbidden,
}

impl AuthFailure {
    pub(super) const ALL: [AuthFailure; 4] = [
        AuthFailure::Missing,
        AuthFailure::Malformed,
        AuthFailure::Unknown,
        AuthFailure::Forbidden,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Unknown => "unknown",
            AuthFailure::Forbidden => "forbidden",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CheckLabels {
    pub(super) mode: &'static str,
    pub(super) result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ModeLabels {
    pub(super) mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BlockLabels {
    /// `dnc`, `consent` or `registry`.
    pub(super) source: &'static str,
    /// The registry's name; empty for `dnc`.
    pub(super) registry: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct HttpLabels {
    /// The matched route (`/v1/dnc/{id}`), never the raw path; `unmatched` for 404s.
    pub(super) route: String,
    pub(super) method: String,
    pub(super) status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabels {
    pub(super) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ActionLabels {
    pub(super) action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ImportLabels {
    pub(super) registry: String,
    /// `upload` or `sync`.
    pub(super) source: &'static str,
    pub(super) status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SourceLabels {
    pub(super) source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RowLabels {
    pub(super) registry: String,
    /// `accepted`, `rejected` or `duplicate`.
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) outcome: &'static str,
}
