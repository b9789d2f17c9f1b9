//! The command line's client side: `tarcza import` and `tarcza check` talk to a running
//! tarcza over its HTTP API (`--url`/`TARCZA_URL`, `--key`/`TARCZA_KEY`), like any other
//! client. Progress goes to standard error (a bar on a terminal, plain lines otherwise),
//! results to standard output.
//!
//! A client of the API: it uses no other module of the crate but `config` (its
//! arguments), and speaks only what `openapi.json` documents.

mod check;
mod client;
mod import;

use std::process::ExitCode;

pub use check::check;
pub use import::import;

/// How a command ended: its exit status (README "Commands"); a larger one is worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// The import succeeded; every number checked may be called.
    Ok = 0,
    /// The import failed or was refused; a number may not be called (or is no number).
    No = 1,
    /// The server refused the request itself (4xx: the key, the registry, a parameter,
    /// another import running).
    Refused = 3,
    /// The server could not be reached or could not answer (a connection error, 5xx,
    /// 503 not_ready): for `check`, do not call.
    Unavailable = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}
