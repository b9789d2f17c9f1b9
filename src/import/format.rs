//! What the rows of an uploaded file are, and which text encodings are read.

use encoding_rs::Encoding;

use crate::domain::HashScheme;

/// What the rows of a file are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Phone numbers, in CSV (see `csv`).
    Csv,
    /// SHA-256 hashes of numbers spelled as the scheme says (see `hashed`).
    Sha256(HashScheme),
}

impl Format {
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

/// The text encodings Polish exports come in besides UTF-8.
pub fn encoding(label: &str) -> Result<&'static Encoding, String> {
    match label.trim().to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Ok(encoding_rs::UTF_8),
        "windows-1250" | "cp1250" => Ok(encoding_rs::WINDOWS_1250),
        "iso-8859-2" | "latin2" => Ok(encoding_rs::ISO_8859_2),
        _ => Err(format!(
            "{label:?} is not a supported encoding (use utf-8, windows-1250 or iso-8859-2)"
        )),
    }
}
