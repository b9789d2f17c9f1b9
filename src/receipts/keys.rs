//! Receipt signing keys: Ed25519, kept as PKCS#8 PEM (what `openssl genpkey -algorithm
//! ed25519` writes), named by a key id derived from the public half so that two keys can
//! never share an id. The private half lives in a file or an environment variable, never
//! in the database; the public half is published (see `store::receipt_keys`).
//!
//! A key file must be a regular file (not a link) owned by root or the user tarcza runs
//! as and readable by no one else, as ssh insists for its keys.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// DER of a PKCS#8 Ed25519 private key, up to the 32-byte seed (RFC 8410).
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of an Ed25519 SubjectPublicKeyInfo, up to the 32-byte key (what openssl reads).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A signing key and its id.
pub struct ReceiptKey {
    pub signing: SigningKey,
    pub id: String,
}

impl ReceiptKey {
    pub fn from_seed(seed: &[u8; 32]) -> ReceiptKey {
        let signing = SigningKey::from_bytes(seed);
        let id = key_id(&signing.verifying_key());
        ReceiptKey { signing, id }
    }

    /// A new random key.
    pub fn generate() -> anyhow::Result<ReceiptKey> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
        Ok(ReceiptKey::from_seed(&seed))
    }

    /// Reads a PKCS#8 PEM Ed25519 private key (or the base64 of its DER on one line).
    pub fn from_pem(text: &str) -> anyhow::Result<ReceiptKey> {
        let body: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----"))
            .collect();
        if text.contains("-----BEGIN") && !text.contains("-----BEGIN PRIVATE KEY-----") {
            bail!("not a PKCS#8 private key (expected -----BEGIN PRIVATE KEY-----)");
        }
        let der = BASE64
            .decode(body.as_bytes())
            .context("the key is not valid base64 PEM")?;
        let seed = der
            .strip_prefix(&PKCS8_PREFIX[..])
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
            .context(
                "not an Ed25519 private key in PKCS#8 form (make one with `openssl genpkey \
                 -algorithm ed25519`)",
            )?;
        Ok(ReceiptKey::from_seed(&seed))
    }

    pub fn to_pem(&self) -> String {
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(self.signing.as_bytes());
        pem("PRIVATE KEY", &der)
    }

    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
}

/// The id of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public: &VerifyingKey) -> String {
    crate::domain::hash::hex(&Sha256::digest(public.as_bytes())[..8])
}

/// A public key as SubjectPublicKeyInfo PEM, as `openssl pkeyutl -pubin` reads it.
pub fn public_pem(public: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(public);
    pem("PUBLIC KEY", &der)
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        BASE64.encode(der)
    )
}

/// Reads the key in `path`, refusing a link, another user's file or one others may read.
pub fn read_file(path: &Path, euid: u32) -> anyhow::Result<ReceiptKey> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                anyhow::anyhow!(
                    "receipt key {} is a symbolic link: tarcza reads keys only from regular \
                     files; point TARCZA_RECEIPT_KEY_FILE at the file itself",
                    path.display()
                )
            } else {
                anyhow::Error::new(e).context(format!("opening receipt key {}", path.display()))
            }
        })?;
    check_private(&file, path, euid)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("reading receipt key {}", path.display()))?;
    ReceiptKey::from_pem(&text).with_context(|| format!("receipt key {}", path.display()))
}

fn check_private(file: &File, path: &Path, euid: u32) -> anyhow::Result<()> {
    let meta = file
        .metadata()
        .with_context(|| format!("inspecting {}", path.display()))?;
    if !meta.is_file() {
        bail!("receipt key {} is not a regular file", path.display());
    }
    if meta.uid() != euid && meta.uid() != 0 {
        bail!(
            "receipt key {} is owned by uid {}, not by root or the user tarcza runs as (uid \
             {euid}); fix its ownership",
            path.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        bail!(
            "receipt key {} may be read or changed by others (mode {:o}): anyone who can read \
             it can sign receipts in tarcza's name; run `chmod 600 {}`",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        );
    }
    Ok(())
}

/// Reads the key in `path`, or makes one there (mode 0600, never through a link) if no
/// file is there. Returns the key and whether it was made.
pub fn read_or_create(path: &Path, euid: u32) -> anyhow::Result<(ReceiptKey, bool)> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok((read_file(path, euid)?, false));
    }
    let key = ReceiptKey::generate()?;
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match created {
        Ok(mut file) => {
            file.write_all(key.to_pem().as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing receipt key {}", path.display()))?;
            Ok((key, true))
        }
        // Another process made it meanwhile: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_file(path, euid)?, false))
        }
        Err(e) => Err(e).with_context(|| format!("creating receipt key {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Our user: the owner of a file we make.
    fn euid() -> u32 {
        tempfile::tempfile().unwrap().metadata().unwrap().uid()
    }

    #[test]
    fn pem_round_trips_and_matches_openssl_layout() {
        let key = ReceiptKey::from_seed(&[7u8; 32]);
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"));
        let again = ReceiptKey::from_pem(&pem).unwrap();
        assert_eq!(again.id, key.id);
        assert_eq!(again.signing.to_bytes(), [7u8; 32]);
        assert_eq!(key.id.len(), 16);
        assert!(
            public_pem(&key.public()).starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA")
        );
        assert!(ReceiptKey::from_pem("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n").is_err());
        assert!(ReceiptKey::from_pem("not base64 !").is_err());
    }

    #[test]
    fn a_made_key_is_private_and_read_back_the_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipt-key.pem");
        let (made, created) = read_or_create(&path, euid()).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let (again, created) = read_or_create(&path, euid()).unwrap();
        assert!(!created);
        assert_eq!(again.id, made.id);
    }

    #[test]
    fn a_key_others_can_read_or_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        read_or_create(&path, euid()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_file(&path, euid()).err().unwrap().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = read_file(&link, euid()).err().unwrap().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // Nor is a key made through a link planted where the key should be.
        let planted = dir.path().join("planted.pem");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &planted).unwrap();
        assert!(read_or_create(&planted, euid()).is_err());
        assert!(!dir.path().join("elsewhere").exists());
    }
}
