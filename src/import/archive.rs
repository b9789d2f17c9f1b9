//! Zip uploads: the archive is spooled to a temporary file (a zip is read from its end),
//! its directory checked from its end records before it is read (at most
//! [`MAX_ZIP_ENTRIES`]), and the one file inside streamed out.

use std::io;

use tokio::io::{AsyncBufRead, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio_util::io::SyncIoBridge;

use super::limits::{read_error, UploadError};

/// Most entries a zip archive may list: one data file, plus the folders and the
/// `__MACOSX/` resource forks archivers add around it.
pub const MAX_ZIP_ENTRIES: u64 = 16;

/// Copies the rest of the upload to an anonymous temporary file: a zip archive is read
/// from its end (the central directory), so it cannot be streamed.
pub(super) async fn spool(
    from: &mut (impl AsyncBufRead + Unpin),
) -> Result<std::fs::File, UploadError> {
    let temp_failed = |e: &dyn std::fmt::Display| {
        UploadError::Failed(format!("creating a temporary file failed: {e}"))
    };
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| temp_failed(&e))?
        .map_err(|e| temp_failed(&e))?;
    let mut file = tokio::fs::File::from_std(file);
    tokio::io::copy_buf(from, &mut file)
        .await
        .map_err(read_error)?;
    file.flush().await.map_err(read_error)?;
    Ok(file.into_std().await)
}

/// Opens a spooled zip archive holding one file and streams that file's contents. The
/// task's result says whether the whole file was read (the CRC is checked at its end).
pub(super) async fn unzip(
    mut file: std::fs::File,
) -> Result<(DuplexStream, JoinHandle<io::Result<u64>>), UploadError> {
    let (archive, index) = tokio::task::spawn_blocking(move || {
        check_zip_directory(&mut file)?;
        let unreadable = |e: zip::result::ZipError| {
            UploadError::Failed(format!("the zip archive could not be read: {e}"))
        };
        let mut archive = zip::ZipArchive::new(file).map_err(unreadable)?;
        let mut files = Vec::new();
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(unreadable)?;
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            if entry.is_file() && !name.starts_with("__MACOSX/") {
                files.push(i);
            }
        }
        match files[..] {
            [one] => Ok((archive, one)),
            [] => Err(UploadError::Refused(
                "the zip archive holds no file; nothing was changed".into(),
            )),
            _ => Err(UploadError::Refused(format!(
                "the zip archive holds {} files; send an archive holding one. Nothing was changed",
                files.len()
            ))),
        }
    })
    .await
    .map_err(|e| UploadError::Failed(format!("unzipping failed: {e}")))??;
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let mut out = SyncIoBridge::new(writer);
    let task = tokio::task::spawn_blocking(move || {
        let mut archive = archive;
        let mut entry = archive.by_index(index).map_err(io::Error::other)?;
        let copied = io::copy(&mut entry, &mut out)?;
        out.shutdown()?;
        Ok(copied)
    });
    Ok((reader, task))
}

/// Refuses an archive whose central directory lists more than [`MAX_ZIP_ENTRIES`]
/// entries, from the entry counts of its end records alone, before the directory is read
/// (a directory of 400 000 entries costs the zip reader 86 MB). Every end-record
/// signature in the region a reader searches (the last 64 KiB and a bit) is checked, so a
/// reader that skips one it finds inconsistent cannot fall back to an unchecked one.
fn check_zip_directory(file: &mut std::fs::File) -> Result<(), UploadError> {
    use std::io::{Read, Seek, SeekFrom};
    const EOCD: &[u8] = b"PK\x05\x06";
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const EOCD64: &[u8] = b"PK\x06\x06";
    const EOCD_LEN: usize = 22;
    const LOCATOR_LEN: usize = 20;
    /// Bytes between where a ZIP64 end record says it is and where it is (an archive
    /// behind a stub); more is not looked through.
    const MAX_SHIFT: u64 = 1 << 20;
    let io_failed =
        |e: io::Error| UploadError::Failed(format!("the zip archive could not be read: {e}"));
    let too_many = |n: u64| {
        UploadError::Refused(format!(
            "the zip archive lists {n} entries; an upload holds one file, so at most \
             {MAX_ZIP_ENTRIES} entries are read. Nothing was changed"
        ))
    };
    let u16_at = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |b: &[u8], i: usize| {
        u64::from(u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")))
    };
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));

    let len = file.seek(SeekFrom::End(0)).map_err(io_failed)?;
    let tail_start = len.saturating_sub((EOCD_LEN + 4 + (1 << 16)) as u64);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(tail_start)).map_err(io_failed)?;
    file.by_ref()
        .take(len - tail_start)
        .read_to_end(&mut tail)
        .map_err(io_failed)?;
    for at in (0..tail.len().saturating_sub(EOCD_LEN - 1)).rev() {
        if &tail[at..at + 4] != EOCD {
            continue;
        }
        let record = &tail[at..at + EOCD_LEN];
        let entries = u16_at(record, 8).max(u16_at(record, 10));
        let zip64 = entries == 0xFFFF
            || u32_at(record, 12) == 0xFFFF_FFFF
            || u32_at(record, 16) == 0xFFFF_FFFF;
        if !zip64 {
            if entries > MAX_ZIP_ENTRIES {
                return Err(too_many(entries));
            }
            continue;
        }
        // The ZIP64 locator sits right before the end record and says where the ZIP64
        // end record is (shifted, in an archive behind a stub).
        let locator_at = (tail_start + at as u64).checked_sub(LOCATOR_LEN as u64);
        let mut locator = [0u8; LOCATOR_LEN];
        let found = match locator_at {
            Some(pos) => {
                file.seek(SeekFrom::Start(pos)).map_err(io_failed)?;
                file.read_exact(&mut locator).is_ok() && &locator[..4] == LOCATOR
            }
            None => false,
        };
        let Some(locator_at) = locator_at.filter(|_| found) else {
            if entries > MAX_ZIP_ENTRIES {
                return Err(too_many(entries));
            }
            continue;
        };
        let declared = u64_at(&locator, 8);
        if declared >= locator_at || locator_at - declared > MAX_SHIFT + 56 {
            return Err(UploadError::Refused(
                "the zip archive's ZIP64 end record is not where its locator says; \
                 nothing was changed"
                    .into(),
            ));
        }
        let mut region = Vec::new();
        file.seek(SeekFrom::Start(declared)).map_err(io_failed)?;
        file.by_ref()
            .take(locator_at - declared)
            .read_to_end(&mut region)
            .map_err(io_failed)?;
        for i in 0..region.len().saturating_sub(55) {
            if &region[i..i + 4] == EOCD64 {
                let entries = u64_at(&region, i + 24).max(u64_at(&region, i + 32));
                if entries > MAX_ZIP_ENTRIES {
                    return Err(too_many(entries));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};

    use super::*;

    /// An archive end as a ZIP64 writer leaves it: the ZIP64 end record claiming
    /// `entries`, its locator, and a classic end record that defers to them.
    fn zip64_end(entries: u64) -> std::fs::File {
        let mut bytes = b"PK\x03\x04 (local headers and data)".to_vec();
        let eocd64_at = bytes.len() as u64;
        bytes.extend(b"PK\x06\x06");
        bytes.extend(44u64.to_le_bytes());
        bytes.extend([45, 0, 45, 0]);
        bytes.extend([0; 8]);
        bytes.extend(entries.to_le_bytes());
        bytes.extend(entries.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(b"PK\x06\x07");
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(eocd64_at.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(b"PK\x05\x06");
        bytes.extend([0; 4]);
        bytes.extend([0xff; 12]);
        bytes.extend([0; 2]);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.rewind().unwrap();
        file
    }

    #[test]
    fn a_zip64_end_record_claiming_many_entries_is_refused_from_its_count() {
        let err = check_zip_directory(&mut zip64_end(400_000)).unwrap_err();
        assert!(
            matches!(&err, UploadError::Refused(m) if m.contains("400000 entries")),
            "{err}"
        );
        assert!(check_zip_directory(&mut zip64_end(1)).is_ok());
    }
}
