//! One integration test binary: the real router, a real Postgres, a fresh database per test.

mod helpers;

mod auth;
mod check;
mod dnc;
mod formats;
mod health;
mod imports;
mod sync;
