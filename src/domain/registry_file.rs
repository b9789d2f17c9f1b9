//! The words of registry files and their imports, shared by configuration, the HTTP API,
//! the import pipeline and storage: what a file holds ([`Format`]), whether it replaces
//! or changes a registry ([`Mode`]), its text encoding ([`Encoding`]), what a row asks
//! for ([`Op`]), how an import ended ([`ImportStatus`]) and what a running one is doing
//! ([`ImportPhase`]).
//!
//! Text becomes one of these at the edge (`FromStr`) and goes back to text when shown
//! or stored (`Display`); nothing in between compares strings.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::HashScheme;

/// What the rows of a file are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Phone numbers, in CSV.
    Csv,
    /// SHA-256 hashes of numbers spelled as the scheme says.
    Sha256(HashScheme),
}

impl Format {
    /// `csv` or `sha256` (the scheme is named apart).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Sha256(_) => "sha256",
        }
    }

    pub fn hash_scheme(self) -> Option<HashScheme> {
        match self {
            Format::Csv => None,
            Format::Sha256(s) => Some(s),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

words! {
    /// Whether a file is the whole registry or a change to it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Mode ("a mode") {
        /// The file is the whole registry: it replaces the current members.
        Snapshot = "snapshot",
        /// The file lists additions and removals (an `op` column).
        Delta = "delta",
    }
}

/// The text encodings Polish exports come in besides UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1250,
    Iso8859_2,
}

impl Encoding {
    /// The decoder of this encoding.
    pub fn codec(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Windows1250 => encoding_rs::WINDOWS_1250,
            Encoding::Iso8859_2 => encoding_rs::ISO_8859_2,
        }
    }

    /// The encoding's standard name (`UTF-8`, `windows-1250`, `ISO-8859-2`), as stored.
    pub fn name(self) -> &'static str {
        self.codec().name()
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(label: &str) -> Result<Self, Self::Err> {
        match label.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1250" | "cp1250" => Ok(Encoding::Windows1250),
            "iso-8859-2" | "latin2" => Ok(Encoding::Iso8859_2),
            _ => Err(format!(
                "{label:?} is not a supported encoding (use utf-8, windows-1250 or iso-8859-2)"
            )),
        }
    }
}

/// Whether a row adds or removes its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
}

impl FromStr for Op {
    type Err = String;
    /// The spellings exports use: `A`/`+`/`add`/`insert`, `D`/`-`/`del`/`remove`.
    fn from_str(op: &str) -> Result<Self, Self::Err> {
        match op.to_ascii_lowercase().as_str() {
            "a" | "+" | "add" | "i" | "insert" => Ok(Op::Add),
            "d" | "-" | "del" | "delete" | "remove" | "r" => Ok(Op::Remove),
            _ => Err(format!(
                "{op:?} is not an operation (use A/+/add or D/-/del/remove)"
            )),
        }
    }
}

words! {
    /// Where an import stands. Only `succeeded` changes a registry (or finds it unchanged).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum ImportStatus ("an import status") {
        Pending = "pending",
        /// Begun and not ended: what a new import is.
        #[default]
        Running = "running",
        Succeeded = "succeeded",
        /// Could not be done (unreadable file, fetch or write failed, process stopped).
        Failed = "failed",
        /// Broke a rule (a limit, `max_shrink`, a declared checksum): not done on purpose.
        Refused = "refused",
    }
}

words! {
    /// What a running import is doing: reading the file, comparing what it read with the
    /// live data (what it would remove), or writing the new generation.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum ImportPhase ("an import phase") {
        Reading = "reading",
        Comparing = "comparing",
        Writing = "writing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_their_text() {
        for mode in [Mode::Snapshot, Mode::Delta] {
            assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
        }
        for status in ["pending", "running", "succeeded", "failed", "refused"] {
            assert_eq!(status.parse::<ImportStatus>().unwrap().to_string(), status);
        }
        for phase in ImportPhase::ALL {
            assert_eq!(phase.to_string().parse::<ImportPhase>(), Ok(phase));
        }
        assert!("Snapshot".parse::<Mode>().is_err());
        assert!("done".parse::<ImportStatus>().is_err());
    }

    #[test]
    fn encodings_are_read_from_their_labels() {
        assert_eq!(" CP1250 ".parse::<Encoding>(), Ok(Encoding::Windows1250));
        assert_eq!(
            "latin2".parse::<Encoding>().map(Encoding::name),
            Ok("ISO-8859-2")
        );
        assert_eq!("utf8".parse::<Encoding>().map(Encoding::name), Ok("UTF-8"));
        assert!("klingon".parse::<Encoding>().is_err());
    }

    #[test]
    fn operations_take_the_spellings_of_exports() {
        for add in ["A", "+", "add", "Insert"] {
            assert_eq!(add.parse::<Op>(), Ok(Op::Add));
        }
        for remove in ["D", "-", "DEL", "remove", "r"] {
            assert_eq!(remove.parse::<Op>(), Ok(Op::Remove));
        }
        assert!("x".parse::<Op>().is_err());
    }
}
