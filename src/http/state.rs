//! What every handler can reach: the pool, this process's snapshot and the settings.

use std::sync::Arc;

use sqlx::PgPool;

use crate::activity::Activity;
use crate::config::Settings;
use crate::domain::PhoneNumber;
use crate::index::Index;
use crate::jobs;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub index: Arc<Index>,
    pub settings: Arc<Settings>,
    /// What `/v1/check` answered over the last 24 hours, per minute (this process only).
    pub activity: Arc<Activity>,
}

impl AppState {
    pub fn new(db: PgPool, settings: Settings) -> AppState {
        AppState {
            db,
            index: Arc::new(Index::with_consent_exemptions(
                settings.consent_exempt_registries(),
            )),
            settings: Arc::new(settings),
            activity: Arc::default(),
        }
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
        }
    }
}
