//! The command line: the subcommands and their arguments. The settings every command
//! shares are [`Config`], flattened in.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::parse::parse_role;
use super::Config;
use crate::domain::Role;

/// tarcza: may this number be dialled? A do-not-call suppression service for contact
/// centres, answering from memory out of the internal do-not-call list and national
/// opt-out registries (Lista Robinsonów and others).
#[derive(Parser, Debug)]
#[command(name = "tarcza", version, about, long_about = None, after_help = REGISTRY_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

const REGISTRY_HELP: &str = "\
Per-registry settings (NAME = the registry name in capitals, e.g. ROBINSON):
  TARCZA_REGISTRY_<NAME>_SOURCE        http(s) URL, file, or directory (newest file wins)
  TARCZA_REGISTRY_<NAME>_INTERVAL      time between syncs [default: 6h]
  TARCZA_REGISTRY_<NAME>_MAX_AGE       data older than this is stale; 0 = never [default: 31d]
  TARCZA_REGISTRY_<NAME>_STALE_POLICY  block (503 stale_registry) or warn [default: block]
  TARCZA_REGISTRY_<NAME>_MODE          snapshot or delta [default: snapshot]
  TARCZA_REGISTRY_<NAME>_FORMAT        csv or sha256 [default: csv]
  TARCZA_REGISTRY_<NAME>_HASH_SCHEME   e164_digits, e164_plus or national [default: e164_digits]
  TARCZA_REGISTRY_<NAME>_ENCODING      windows-1250 or iso-8859-2 [default: UTF-8]
  TARCZA_REGISTRY_<NAME>_CONSENT_EXEMPTS
                                       true: a valid consent of the call's client exempts
                                       a number from this registry [default: false]";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the canonical E.164 form of a number, or why it is not a number.
    Normalize {
        /// The number as typed, e.g. "601 234 567".
        number: String,
    },
    /// Manage API keys from the command line.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI 3.1 document of the API (the committed openapi.json:
    /// `tarcza openapi > openapi.json`).
    Openapi,
    /// Import a registry file through a running tarcza: streams it with a progress bar,
    /// follows the server while it finishes, then prints the import's record. Exit
    /// status: 0 succeeded, 1 failed or refused, 3 the server refused the request (key,
    /// registry, parameters, another import running), 4 the server could not be reached
    /// or could not answer.
    Import(ImportArgs),
    /// Ask a running tarcza whether numbers may be called, and why not. `-` reads numbers
    /// from standard input, one a line. Exit status: 0 every number may be called, 1 at
    /// least one may not (blocked, or not a number), 3 the server refused the request,
    /// 4 the server could not be reached or could not answer (do not call).
    Check(CheckArgs),
}

/// Where the running tarcza is, and the key to use.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The running tarcza's base URL.
    #[arg(long, env = "TARCZA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The API key (ops for `import`, dialer for `check`).
    #[arg(long, env = "TARCZA_KEY", hide_env_values = true)]
    pub key: String,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The registry file: CSV or one SHA-256 per line; plain, gzip or zip.
    pub file: PathBuf,
    /// The registry to import into, e.g. robinson.
    #[arg(long)]
    pub registry: String,
    /// snapshot (the file is the whole registry) or delta (additions and removals).
    #[arg(long)]
    pub mode: Option<String>,
    /// csv or sha256.
    #[arg(long)]
    pub format: Option<String>,
    /// For --format sha256: e164_digits, e164_plus or national.
    #[arg(long)]
    pub hash_scheme: Option<String>,
    /// The file's text encoding: utf-8, windows-1250 or iso-8859-2.
    #[arg(long)]
    pub encoding: Option<String>,
    /// Accept an import that removes more than max_shrink of the entries.
    #[arg(long)]
    pub force: bool,
    /// Print the import's record as JSON (on standard output) instead of a summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The numbers, in any spelling; `-` reads them from standard input, one a line.
    #[arg(required = true)]
    pub numbers: Vec<String>,
    /// The client the calls are made for.
    #[arg(long)]
    pub client: Option<String>,
    /// The campaign the calls are made for.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Print each result as a line of JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Bind the key to this client (a dialer or agent key only; README "Client-bound
        /// keys").
        #[arg(long)]
        client: Option<String>,
        /// With --client: a campaign of it the key is bound to (repeat for more).
        #[arg(long = "campaign", requires = "client")]
        campaigns: Vec<String>,
        /// With --client: the key may also add global entries.
        #[arg(long, requires = "client")]
        may_block_global: bool,
    },
}
