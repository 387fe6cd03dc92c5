//! The harness shared by every fuzz target: extract the input as the engine
//! would, recursing into container members, with small limits.
//!
//! `extract` turns parser panics into `error` outcomes, which is the product's
//! contract for third-party parsers. A panic raised in phiscan's own code is a
//! bug all the same, so the panic hook aborts the process for those, and
//! libFuzzer reports a crash.

use phiscan_extract::{
    Child, Flow, Format, Input, Limits, SNIFF_LEN, Segment, Sink, extract, sniff,
};
use std::sync::Once;
use std::time::Duration;

/// Deepest member nesting followed.
const MAX_DEPTH: u32 = 3;

fn limits() -> Limits {
    Limits {
        max_whole_bytes: 16 << 20,
        max_expanded_bytes: 64 << 20,
        max_entries: 256,
        max_cells: 100_000,
        parse_timeout: Duration::from_secs(10),
        ..Limits::default()
    }
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let own_code = info.location().is_some_and(|location| {
                location.file().contains("crates/extract/")
                    || location.file().contains("crates/core/")
            });
            if own_code {
                eprintln!("panic in phiscan code at {:?}", info.location());
                std::process::abort();
            }
        }));
    });
}

struct Recursing {
    depth: u32,
}

impl Sink for Recursing {
    fn segment(&mut self, segment: &Segment<'_>) -> Flow {
        // Build every locator a finding could ask for.
        let _ = (segment.locate)(0);
        let _ = (segment.locate)(segment.text.len());
        let _ = segment.item_offset(segment.text.len());
        Flow::Continue
    }

    fn child(&mut self, child: Child<'_>) -> Flow {
        if child.unreadable.is_none() && self.depth < MAX_DEPTH {
            let mut nested = Recursing {
                depth: self.depth + 1,
            };
            extract_one(child.data, None, &mut nested);
        }
        Flow::Continue
    }
}

fn extract_one(data: &[u8], format: Option<Format>, sink: &mut Recursing) {
    let mut sniffed = sniff(&data[..data.len().min(SNIFF_LEN)], data.len() as u64);
    if let Some(format) = format {
        sniffed.format = format;
    }
    let _ = extract(Input::Bytes(data), sniffed, &limits(), sink);
}

/// Extracts `data`, as sniffed or forced to `format`.
pub fn run(data: &[u8], format: Option<Format>) {
    install_hook();
    extract_one(data, format, &mut Recursing { depth: 0 });
}
