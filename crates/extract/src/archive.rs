//! Archives: zip, gzip, bzip2 and tar. Members are expanded into memory, never
//! to disk, and handed to the sink as child items, which the caller extracts
//! in turn (a `.tar.gz` is a gzip whose member is a tar).
//!
//! Every archive is bounded by [`Limits`]: total expanded bytes, the
//! expanded-to-compressed ratio of each member, the number of members and the
//! size of one member. A limit that stops expansion makes the archive
//! `partial`, and the reason names the limit.

use crate::{Child, Flow, Format, Limits, Outcome};
use crate::{Sink, read_whole_limited};
use phiscan_core::Coverage;
use std::io::{self, Read};
use std::time::{Duration, SystemTime};

/// Counts what one container has expanded so far, against the limits.
pub struct Expansion<'l> {
    limits: &'l Limits,
    expanded: u64,
    entries: u64,
    /// Set once the container's total expanded-size limit is reached: no
    /// later member can be expanded.
    full: bool,
    /// The first limit hit, worded for the item's reason.
    pub limit_hit: Option<String>,
}

/// Reason a member was not expanded in full.
#[derive(Debug)]
pub enum MemberError {
    /// A limit stopped expansion; the text names it.
    Limit(String),
    /// The compressed data is invalid or cut short.
    Io(io::Error),
}

impl<'l> Expansion<'l> {
    /// Starts counting for one container.
    pub fn new(limits: &'l Limits) -> Expansion<'l> {
        Expansion {
            limits,
            expanded: 0,
            entries: 0,
            full: false,
            limit_hit: None,
        }
    }

    /// Counts one more member; returns false once the entry limit is reached.
    pub fn admit_entry(&mut self) -> bool {
        if self.entries >= self.limits.max_entries {
            self.limit_hit.get_or_insert_with(|| {
                format!(
                    "member limit of {} reached; later members were not examined",
                    self.limits.max_entries
                )
            });
            return false;
        }
        self.entries += 1;
        true
    }

    /// Expands one member into memory.
    ///
    /// `compressed` is the member's compressed size, used for the ratio check;
    /// pass 0 when unknown (the check is then skipped for that member).
    pub fn read_member(
        &mut self,
        reader: impl Read,
        compressed: u64,
    ) -> Result<Vec<u8>, MemberError> {
        let limits = self.limits;
        let remaining = limits.max_expanded_bytes.saturating_sub(self.expanded);
        let cap = remaining.min(limits.max_whole_bytes);
        let mut data = Vec::new();
        let mut reader = reader.take(cap.saturating_add(1));
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(MemberError::Io(err)),
            };
            data.extend_from_slice(&buffer[..read]);
            let expanded = data.len() as u64;
            if compressed > 0
                && expanded > limits.ratio_grace_bytes
                && expanded / compressed.max(1) > limits.max_ratio
            {
                return Err(self.hit(format!(
                    "compression ratio above {}:1 (a likely decompression bomb); member not examined",
                    limits.max_ratio
                )));
            }
            if expanded > cap {
                let message = if cap == limits.max_whole_bytes {
                    format!(
                        "member larger than {} MiB expanded; not examined",
                        limits.max_whole_bytes >> 20
                    )
                } else {
                    self.full = true;
                    format!(
                        "expanded-size limit of {} MiB for one container reached; later members were not examined",
                        limits.max_expanded_bytes >> 20
                    )
                };
                return Err(self.hit(message));
            }
        }
        self.expanded += data.len() as u64;
        Ok(data)
    }

    /// Returns true once the container's total expanded-size limit is reached.
    pub fn is_full(&self) -> bool {
        self.full
    }

    fn hit(&mut self, message: String) -> MemberError {
        self.limit_hit.get_or_insert_with(|| message.clone());
        MemberError::Limit(message)
    }

    /// Turns the container's result into an outcome, `partial` when a limit was hit.
    pub fn outcome(self, format: Format) -> Outcome {
        match self.limit_hit {
            Some(reason) => Outcome::with(format, Coverage::Partial, reason),
            None => Outcome::complete(format),
        }
    }
}

/// Hands a member that could not be expanded to the sink, so it gets its own
/// record with the reason.
fn unreadable_member(
    sink: &mut dyn Sink,
    name: &str,
    modified: Option<SystemTime>,
    error: MemberError,
) -> Flow {
    let (coverage, reason) = match error {
        MemberError::Limit(reason) => (Coverage::Skipped, reason),
        MemberError::Io(err) => (Coverage::Error, format!("member data is corrupt: {err}")),
    };
    sink.child(Child {
        name,
        data: &[],
        modified,
        unreadable: Some((coverage, reason)),
        damaged: None,
    })
}

/// Extracts a zip archive's members.
pub fn extract_zip(bytes: &[u8], limits: &Limits, sink: &mut dyn Sink) -> Outcome {
    let mut archive = match zip::ZipArchive::new(io::Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(err) => {
            return Outcome::with(
                Format::Zip,
                Coverage::Error,
                format!(
                    "damaged or truncated zip archive ({}); Office files (.xlsx, .docx, .pptx) and OpenDocument files are zip archives too, so open the file in the program that made it to check it, or restore it from a backup",
                    plain_zip_error(&err)
                ),
            );
        }
    };
    let mut expansion = Expansion::new(limits);
    let mut failed = 0u64;
    for index in 0..archive.len() {
        let (name, encrypted, method, modified, compressed, is_dir, is_link, central_header) =
            match archive.by_index_raw(index) {
                Ok(entry) => (
                    crate::location_name(entry.name_raw()),
                    entry.encrypted(),
                    entry.compression(),
                    entry.last_modified().and_then(zip_time),
                    entry.compressed_size(),
                    entry.is_dir(),
                    entry.is_symlink(),
                    entry.central_header_start(),
                ),
                Err(err) => {
                    failed += 1;
                    tracing::debug!(index, "zip entry unreadable: {}", describe_zip_error(&err));
                    continue;
                }
            };
        if is_dir || is_link {
            // Directories have no content; a link's content is a path to
            // another member, which is examined on its own.
            continue;
        }
        if !expansion.admit_entry() {
            break;
        }
        if encrypted {
            let reason = zip_encryption_reason(bytes, central_header);
            let flow = sink.child(Child {
                name: &name,
                data: &[],
                modified,
                unreadable: Some((Coverage::Encrypted, reason)),
                damaged: None,
            });
            if flow == Flow::Stop {
                return Outcome::stopped(Format::Zip);
            }
            continue;
        }
        let read = match archive.by_index(index) {
            Ok(entry) => expansion.read_member(entry, compressed),
            Err(zip::result::ZipError::UnsupportedArchive(_)) => {
                let reason = format!(
                    "zip compression method {method} is not supported; member not examined"
                );
                let flow = sink.child(Child {
                    name: &name,
                    data: &[],
                    modified,
                    unreadable: Some((Coverage::Unsupported, reason)),
                    damaged: None,
                });
                if flow == Flow::Stop {
                    return Outcome::stopped(Format::Zip);
                }
                continue;
            }
            Err(err) => Err(MemberError::Io(io::Error::other(describe_zip_error(&err)))),
        };
        let flow = match read {
            Ok(data) => sink.child(Child {
                name: &name,
                data: &data,
                modified,
                unreadable: None,
                damaged: None,
            }),
            Err(error) => {
                let stop_after = expansion.is_full();
                let flow = unreadable_member(sink, &name, modified, error);
                if stop_after {
                    break;
                }
                flow
            }
        };
        if flow == Flow::Stop {
            return Outcome::stopped(Format::Zip);
        }
    }
    if failed > 0 && expansion.limit_hit.is_none() {
        return Outcome::with(
            Format::Zip,
            Coverage::Partial,
            format!("{failed} zip entries have corrupt headers and were not examined"),
        );
    }
    expansion.outcome(Format::Zip)
}

/// Names the encryption of a zip entry: WinZip AES (strong) or the
/// traditional PKWARE ZipCrypto cipher (weak, breakable with known plaintext).
///
/// The method is read from the central directory record, where 99 marks
/// WinZip AES whatever the zip reader reports.
fn zip_encryption_reason(bytes: &[u8], central_header: u64) -> String {
    let header = usize::try_from(central_header)
        .ok()
        .and_then(|start| bytes.get(start..start.checked_add(12)?));
    let raw_method = header
        .filter(|header| header.starts_with(b"PK\x01\x02"))
        .map(|header| u16::from_le_bytes([header[10], header[11]]));
    if raw_method == Some(99) {
        "encrypted zip entry (WinZip AES, strong encryption); content not examined".into()
    } else {
        "encrypted zip entry (ZipCrypto, a weak legacy cipher that does not protect PHI); content not examined"
            .into()
    }
}

/// Describes why an archive could not be opened, in words for a user where
/// the zip crate's message names a structure of the format.
pub(crate) fn plain_zip_error(err: &zip::result::ZipError) -> String {
    let message = describe_zip_error(err);
    if message.contains("EOCD") {
        format!("the zip directory at the end of the file is missing; zip reader: {message}")
    } else {
        message
    }
}

fn describe_zip_error(err: &zip::result::ZipError) -> String {
    use zip::result::ZipError;
    match err {
        ZipError::Io(err) => err.to_string(),
        ZipError::InvalidArchive(message) => message.to_string(),
        ZipError::UnsupportedArchive(message) => message.to_string(),
        ZipError::FileNotFound => "member not found".into(),
        ZipError::InvalidPassword => "invalid password".into(),
        other => other.to_string(),
    }
}

/// Converts a member's DOS timestamp. Tools that record no time write the
/// earliest DOS date, 1980-01-01 00:00:00, which is read as no time.
fn zip_time(time: zip::DateTime) -> Option<SystemTime> {
    if (time.year(), time.month(), time.day()) == (1980, 1, 1)
        && (time.hour(), time.minute(), time.second()) == (0, 0, 0)
    {
        return None;
    }
    let date = time::Date::from_calendar_date(
        time.year() as i32,
        time::Month::try_from(time.month()).ok()?,
        time.day(),
    )
    .ok()?;
    let clock = time::Time::from_hms(time.hour(), time.minute(), time.second()).ok()?;
    let seconds = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp();
    u64::try_from(seconds)
        .ok()
        .map(|seconds| SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Method id of 7-Zip's AES-256 coder (7zAES) in an archive's header.
const SEVEN_ZIP_AES: [u8; 4] = [0x06, 0xF1, 0x07, 0x01];

/// Returns the outcome of a 7z archive, whose members phiscan does not read:
/// `encrypted` when its header names the AES coder, so that a password-locked
/// archive is not taken for one that merely went unread.
///
/// The header sits at the end of the file, at the offset the start header
/// gives. With encrypted names (`-mhe=on`) the header is itself encoded, and
/// the coder of that encoding is the AES one, so the search finds it in both
/// cases.
pub fn seven_zip_outcome(bytes: &[u8]) -> Outcome {
    let header = bytes
        .get(12..28)
        .and_then(|field| {
            let offset = u64::from_le_bytes(field[..8].try_into().ok()?);
            let size = u64::from_le_bytes(field[8..].try_into().ok()?);
            let start = usize::try_from(offset.checked_add(32)?).ok()?;
            let end = start.checked_add(usize::try_from(size).ok()?)?;
            bytes.get(start..end)
        })
        .unwrap_or_default();
    if header
        .windows(SEVEN_ZIP_AES.len())
        .any(|window| window == SEVEN_ZIP_AES)
    {
        return Outcome::with(
            Format::SevenZip,
            Coverage::Encrypted,
            "7z archive encrypted with AES-256 (7zAES); content not examined",
        );
    }
    crate::unsupported(Format::SevenZip)
}

/// Extracts the one member of a gzip file (all concatenated gzip members
/// form one stream, as `gunzip` reads them).
pub fn extract_gzip(
    input: crate::Input<'_>,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> io::Result<Outcome> {
    let compressed = input.size();
    let reader = crate::reader_of(input);
    let mut decoder = flate2::read::MultiGzDecoder::new(reader);
    let mut expansion = Expansion::new(limits);
    expansion.admit_entry();
    let read = expansion.read_member(&mut decoder, compressed);
    let header = decoder.header();
    let name = header
        .and_then(|header| header.filename())
        .map(crate::location_name)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "decompressed".to_string());
    let modified = header
        .map(|header| header.mtime())
        .filter(|&mtime| mtime > 0)
        .map(|mtime| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(mtime)));
    finish_single(Format::Gzip, read, &name, modified, expansion, sink)
}

/// Extracts the one member of a bzip2 file.
pub fn extract_bzip2(
    input: crate::Input<'_>,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> io::Result<Outcome> {
    let compressed = input.size();
    let reader = crate::reader_of(input);
    let decoder = bzip2::read::MultiBzDecoder::new(reader);
    let mut expansion = Expansion::new(limits);
    expansion.admit_entry();
    let read = expansion.read_member(decoder, compressed);
    finish_single(Format::Bzip2, read, "decompressed", None, expansion, sink)
}

fn finish_single(
    format: Format,
    read: Result<Vec<u8>, MemberError>,
    name: &str,
    modified: Option<SystemTime>,
    expansion: Expansion<'_>,
    sink: &mut dyn Sink,
) -> io::Result<Outcome> {
    match read {
        Ok(data) => {
            let flow = sink.child(Child {
                name,
                data: &data,
                modified,
                unreadable: None,
                damaged: None,
            });
            if flow == Flow::Stop {
                return Ok(Outcome::stopped(format));
            }
            Ok(expansion.outcome(format))
        }
        Err(MemberError::Io(err)) => Ok(Outcome::with(
            format,
            Coverage::Error,
            format!("invalid or truncated {} data: {err}", format.name()),
        )),
        Err(error) => {
            let _ = unreadable_member(sink, name, modified, error);
            Ok(expansion.outcome(format))
        }
    }
}

/// Extracts a tar archive's regular files, streaming through the archive.
pub fn extract_tar(
    input: crate::Input<'_>,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> io::Result<Outcome> {
    let reader = crate::reader_of(input);
    let mut archive = tar::Archive::new(reader);
    let mut expansion = Expansion::new(limits);
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(err) => {
            return Ok(Outcome::with(
                Format::Tar,
                Coverage::Error,
                format!("invalid tar archive: {err}"),
            ));
        }
    };
    let mut seen = 0u64;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let reason = if seen == 0 {
                    format!("invalid tar archive: {err}")
                } else {
                    format!("tar archive is corrupt or truncated after {seen} members: {err}")
                };
                let coverage = if seen == 0 {
                    Coverage::Error
                } else {
                    Coverage::Partial
                };
                return Ok(Outcome::with(Format::Tar, coverage, reason));
            }
        };
        seen += 1;
        let kind = entry.header().entry_type();
        if !(kind.is_file()
            || kind == tar::EntryType::Continuous
            || kind == tar::EntryType::GNUSparse)
        {
            // Directories, links, devices and metadata entries have no content.
            continue;
        }
        if !expansion.admit_entry() {
            break;
        }
        let name = crate::location_name(entry.path_bytes());
        let modified = entry
            .header()
            .mtime()
            .ok()
            .map(|mtime| SystemTime::UNIX_EPOCH + Duration::from_secs(mtime));
        let flow = match expansion.read_member(entry, 0) {
            Ok(data) => sink.child(Child {
                name: &name,
                data: &data,
                modified,
                unreadable: None,
                damaged: None,
            }),
            Err(MemberError::Io(err)) => {
                let _ = unreadable_member(sink, &name, modified, MemberError::Io(err));
                return Ok(Outcome::with(
                    Format::Tar,
                    Coverage::Partial,
                    format!("tar archive is truncated or corrupt after {seen} members"),
                ));
            }
            Err(error) => {
                let stop = expansion.is_full();
                let flow = unreadable_member(sink, &name, modified, error);
                if stop {
                    break;
                }
                flow
            }
        };
        if flow == Flow::Stop {
            return Ok(Outcome::stopped(Format::Tar));
        }
    }
    Ok(expansion.outcome(Format::Tar))
}

/// Reads a whole zip archive into memory, within the size limit.
pub fn extract_zip_input(
    input: crate::Input<'_>,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> io::Result<Outcome> {
    match read_whole_limited(input, limits, Format::Zip)? {
        Ok(bytes) => Ok(extract_zip(&bytes, limits, sink)),
        Err(outcome) => Ok(outcome),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a 7z file around a header taken from a real archive, with
    /// zeros for its packed streams.
    fn seven_zip(packed: usize, header_hex: &str) -> Vec<u8> {
        let header: Vec<u8> = (0..header_hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&header_hex[at..at + 2], 16).unwrap())
            .collect();
        let mut bytes = vec![0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0x00, 0x04, 0, 0, 0, 0];
        bytes.extend_from_slice(&(packed as u64).to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.resize(32 + packed, 0);
        bytes.extend_from_slice(&header);
        bytes
    }

    /// Headers written by `7z a` (7-Zip 26.02, p7zip 16.02 build) for one
    /// small text file: with a password and encrypted names (`-mhe=on`), with
    /// a password only, and without one.
    #[test]
    fn seven_zip_aes_is_encrypted() {
        let encoded_header = "17063001097000070b0100012406f1070112530fc26bc72fd7ffc116f36dcfd03b24e55e0c6a0a018978ebb20000";
        let aes_streams = "0104060001093000070b0100022406f1070112530f85301a6268c7b90d8f7631d0e00544ee2121010001000c282400080a01a05c43fe000005011901001113006e006f00740065002e0074007800740000001900140a01002fa70d9bb184dd01150601002080a4810000";
        let plain = "0104060001092800070b010001212101000c2400080a01a05c43fe00000501190c0000000000000000000000001113006e006f00740065002e0074007800740000001900140a01002fa70d9bb184dd01150601002080a4810000";
        for (packed, header) in [(160, encoded_header), (48, aes_streams)] {
            let outcome = seven_zip_outcome(&seven_zip(packed, header));
            assert_eq!(outcome.coverage, Coverage::Encrypted, "{outcome:?}");
            assert!(outcome.reason.as_deref().unwrap().contains("7zAES"));
        }
        let outcome = seven_zip_outcome(&seven_zip(40, plain));
        assert_eq!(outcome.coverage, Coverage::Unsupported, "{outcome:?}");

        // A start header pointing past the end is not an encrypted archive.
        let truncated = &seven_zip(160, encoded_header)[..100];
        assert_eq!(seven_zip_outcome(truncated).coverage, Coverage::Unsupported);
    }

    #[test]
    fn earliest_dos_date_reads_as_none() {
        let none = zip::DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(zip_time(none), None);

        let set = zip::DateTime::from_date_and_time(2024, 3, 14, 10, 30, 0).unwrap();
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_710_412_200);
        assert_eq!(zip_time(set), Some(expected));
    }
}
