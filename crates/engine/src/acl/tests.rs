//! Tests over security descriptors that Samba packed from SDDL
//! (`fixtures/gen/acl.py`), and over damaged copies of them.

use super::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// One line of `fixtures/labels/acl.jsonl`.
struct Label {
    file: String,
    sddl: String,
    exposure: Vec<String>,
}

fn labels() -> Vec<Label> {
    let text = std::fs::read_to_string(fixtures().join("labels/acl.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            Label {
                file: value["file"].as_str().unwrap().to_string(),
                sddl: value["sddl"].as_str().unwrap().to_string(),
                exposure: value["exposure"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|reader| reader.as_str().unwrap().to_string())
                    .collect(),
            }
        })
        .collect()
}

fn descriptor(file: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("acl").join(file)).unwrap()
}

fn read_u32(data: &[u8], offset: usize) -> usize {
    u32::from_le_bytes(data[offset..offset + 4].try_into().unwrap()) as usize
}

/// Returns the byte offset of a descriptor's DACL.
fn dacl_offset(data: &[u8]) -> usize {
    let offset = read_u32(data, 16);
    assert_ne!(offset, 0, "the fixture has no DACL");
    offset
}

#[test]
fn fixtures_give_labelled_readers() {
    let labels = labels();
    assert!(
        labels.len() >= 18,
        "only {} labelled descriptors",
        labels.len()
    );
    for label in &labels {
        let readers = readers(&descriptor(&label.file))
            .unwrap_or_else(|error| panic!("{} ({}): {error}", label.file, label.sddl));
        assert_eq!(
            exposure(&readers),
            label.exposure,
            "{} ({})",
            label.file,
            label.sddl
        );
    }
}

#[test]
fn every_fixture_is_labelled() {
    let labelled: Vec<String> = labels().into_iter().map(|label| label.file).collect();
    for entry in std::fs::read_dir(fixtures().join("acl")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(labelled.contains(&name), "{name} has no label");
    }
}

#[test]
fn truncated_fixtures_are_rejected() {
    for label in labels() {
        let data = descriptor(&label.file);
        for length in 0..data.len() {
            assert!(
                readers(&data[..length]).is_err(),
                "{} cut to {length} of {} bytes was accepted",
                label.file,
                data.len()
            );
        }
    }
}

#[test]
fn damaged_bytes_never_panic() {
    // Each byte of each fixture is set to values that push sizes, counts and
    // flags to their extremes. Any result is fine, but no call may panic.
    for label in labels() {
        let original = descriptor(&label.file);
        for index in 0..original.len() {
            for value in [0x00, 0x01, 0x04, 0x0f, 0x10, 0x7f, 0x80, 0xfe, 0xff] {
                let mut data = original.clone();
                data[index] = value;
                let _ = readers(&data);
            }
        }
    }
}

#[test]
fn empty_input_is_truncated() {
    assert!(matches!(
        readers(&[]),
        Err(DescriptorError::Truncated {
            part: "descriptor header",
            ..
        })
    ));
}

#[test]
fn descriptor_revision_is_checked() {
    let mut data = descriptor("everyone-read.bin");
    data[0] = 2;
    assert_eq!(readers(&data), Err(DescriptorError::Revision(2)));
}

#[test]
fn absolute_form_is_rejected() {
    let mut data = descriptor("everyone-read.bin");
    data[3] &= 0x7f;
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::NotSelfRelative(_))
    ));
}

#[test]
fn dacl_offset_out_of_range() {
    let mut data = descriptor("everyone-read.bin");
    data[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::Truncated {
            part: "DACL header",
            ..
        })
    ));
}

#[test]
fn dacl_offset_inside_header() {
    let mut data = descriptor("everyone-read.bin");
    data[16..20].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(readers(&data), Err(DescriptorError::DaclOffset(4)));
}

#[test]
fn owner_offset_out_of_range() {
    let mut data = descriptor("everyone-read.bin");
    let past_end = u32::try_from(data.len()).unwrap();
    data[4..8].copy_from_slice(&past_end.to_le_bytes());
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::Truncated {
            part: "owner SID",
            ..
        })
    ));
}

#[test]
fn acl_revision_is_checked() {
    let mut data = descriptor("everyone-read.bin");
    let dacl = dacl_offset(&data);
    data[dacl] = 3;
    assert_eq!(readers(&data), Err(DescriptorError::AclRevision(3)));
}

#[test]
fn acl_size_below_header() {
    let mut data = descriptor("everyone-read.bin");
    let dacl = dacl_offset(&data);
    data[dacl + 2..dacl + 4].copy_from_slice(&4u16.to_le_bytes());
    assert_eq!(readers(&data), Err(DescriptorError::AclSize(4)));
}

#[test]
fn acl_size_past_end() {
    let mut data = descriptor("everyone-read.bin");
    let dacl = dacl_offset(&data);
    data[dacl + 2..dacl + 4].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::Truncated { part: "DACL", .. })
    ));
}

#[test]
fn ace_count_too_large() {
    let mut data = descriptor("everyone-read.bin");
    let dacl = dacl_offset(&data);
    data[dacl + 4..dacl + 6].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::Truncated {
            part: "ACE header",
            ..
        })
    ));
}

#[test]
fn ace_size_zero() {
    let mut data = descriptor("everyone-read.bin");
    let first_ace = dacl_offset(&data) + 8;
    data[first_ace + 2..first_ace + 4].copy_from_slice(&0u16.to_le_bytes());
    assert_eq!(
        readers(&data),
        Err(DescriptorError::AceSize {
            index: 0,
            size: 0,
            minimum: 16,
        })
    );
}

#[test]
fn skipped_ace_size_zero() {
    // The callback ACE comes first; a size of 0 would read it forever.
    let mut data = descriptor("callback-ace.bin");
    let first_ace = dacl_offset(&data) + 8;
    assert_eq!(data[first_ace], 0x09);
    data[first_ace + 2..first_ace + 4].copy_from_slice(&0u16.to_le_bytes());
    assert_eq!(
        readers(&data),
        Err(DescriptorError::AceSize {
            index: 0,
            size: 0,
            minimum: 4,
        })
    );
}

#[test]
fn sid_sub_authority_count_too_large() {
    let mut data = descriptor("everyone-read.bin");
    let first_sid = dacl_offset(&data) + 8 + 8;
    data[first_sid + 1] = 16;
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::SubAuthorityCount { count: 16, .. })
    ));
}

#[test]
fn sid_longer_than_ace() {
    let mut data = descriptor("everyone-read.bin");
    let first_sid = dacl_offset(&data) + 8 + 8;
    data[first_sid + 1] = 15;
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::Truncated {
            part: "ACE SID",
            ..
        })
    ));
}

#[test]
fn sid_revision_is_checked() {
    let mut data = descriptor("everyone-read.bin");
    let first_sid = dacl_offset(&data) + 8 + 8;
    data[first_sid] = 0;
    assert!(matches!(
        readers(&data),
        Err(DescriptorError::SidRevision { revision: 0, .. })
    ));
}

#[test]
fn trailing_bytes_are_ignored() {
    // GetFileSecurityW may return a buffer longer than the descriptor.
    let mut data = descriptor("users-read.bin");
    data.extend_from_slice(&[0; 64]);
    assert_eq!(readers(&data), Ok(vec![Reader::Users]));
}

#[test]
fn reader_names_are_distinct() {
    let names: Vec<&str> = Reader::ALL.iter().map(|reader| reader.name()).collect();
    for (index, name) in names.iter().enumerate() {
        assert!(!names[index + 1..].contains(name), "{name} repeats");
    }
}
