//! What every handler can reach: the pool, this process's snapshot, the settings, the
//! imports running here, the metrics and the receipt signer.

use std::sync::Arc;

use sqlx::PgPool;

use crate::activity::Activity;
use crate::config::Settings;
use crate::domain::PhoneNumber;
use crate::import::{self, Importer, Running};
use crate::index::Index;
use crate::jobs;
use crate::metrics::Metrics;

use super::metrics::StateMetrics;
use crate::receipts::{ReceiptKey, Receipts};

/// Cheap to clone: one reference count (axum clones the state for every layer and
/// extractor of every request, so a clone per field was measurable on `/v1/check`:
/// each is an atomic add on a cache line the other cores touch too).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; reached through it (`state.index`, `state.metrics`, …).
#[derive(Clone)]
pub struct Shared {
    pub db: PgPool,
    pub index: Arc<Index>,
    pub settings: Arc<Settings>,
    /// The imports this process runs, with how far each has got.
    pub imports: Arc<Running>,
    /// This process's metrics (`/metrics`): the state above is read at every scrape.
    pub metrics: Arc<Metrics>,
    /// What `/v1/check` answered over the last 24 hours, per minute (this process only).
    pub activity: Arc<Activity>,
    /// Signs `/check` answers (or not, when receipts are off).
    pub receipts: Receipts,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// With receipts on, they are signed with a new key of this process's own, which is
    /// not published until [`Receipts::register`]; start-up uses [`AppState::with_receipts`]
    /// with the configured key instead.
    pub fn new(db: PgPool, settings: Settings) -> AppState {
        let receipts = if settings.receipts {
            let key = ReceiptKey::generate().expect("the operating system's random source");
            Receipts::new(key, Some(db.clone()))
        } else {
            Receipts::off()
        };
        let index = Arc::new(Index::with_consent_exemptions(
            settings.consent_exempt_registries(),
        ));
        let settings = Arc::new(settings);
        let imports = Arc::<Running>::default();
        let state = StateMetrics {
            db: db.clone(),
            index: index.clone(),
            settings: settings.clone(),
            imports: imports.clone(),
        };
        let metrics = if settings.metrics {
            Metrics::new(Some(Box::new(state)))
        } else {
            Metrics::off()
        };
        AppState(Arc::new(Shared {
            db,
            index,
            settings,
            imports,
            metrics: Arc::new(metrics),
            activity: Arc::default(),
            receipts,
        }))
    }

    /// The same state, signing receipts as `receipts` does.
    pub fn with_receipts(self, receipts: Receipts) -> AppState {
        let mut shared = Shared::clone(&self.0);
        shared.receipts = receipts;
        AppState(Arc::new(shared))
    }

    /// The same state with other settings (the metrics, imports and receipts shared).
    pub fn with_settings(self, settings: Settings) -> AppState {
        let mut shared = Shared::clone(&self.0);
        shared.settings = Arc::new(settings);
        AppState(Arc::new(shared))
    }

    /// Masks a number for logs unless TARCZA_LOG_NUMBERS is on.
    pub fn loggable(&self, number: PhoneNumber) -> String {
        self.settings.loggable(number)
    }

    /// What the background jobs work with (a sync started through the API runs as one).
    pub fn jobs(&self) -> jobs::Context {
        jobs::Context {
            db: self.db.clone(),
            index: self.index.clone(),
            settings: self.settings.clone(),
            imports: self.imports.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// What an import started by a request works with.
    pub fn importer(&self) -> Importer {
        Importer {
            db: self.db.clone(),
            index: self.index.clone(),
            options: import::Options::of(&self.settings),
            running: self.imports.clone(),
            metrics: self.metrics.clone(),
        }
    }
}
