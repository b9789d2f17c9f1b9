//! One integration test binary: the real router, a real Postgres, a fresh database per test.

mod helpers;

mod audit;
mod auth;
mod bombs;
mod bootstrap;
mod changes;
mod check;
mod committed;
mod consents;
mod console;
mod crashes;
mod dnc;
mod dnc_imports;
mod dnc_list;
mod formats;
mod health;
mod history;
mod hostile;
mod imports;
mod net;
mod numbers;
mod outage;
mod oversized;
mod policies;
mod prefixes;
mod privacy;
mod queries;
mod receipts;
mod replicas;
mod roles;
mod scopes;
mod sources;
mod stats;
mod supervision;
mod sync;
