//! Extracts input forced to the Pdf format, recursing into members.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use phiscan_extract::Format;

fuzz_target!(|data: &[u8]| common::run(data, Some(Format::Pdf)));
