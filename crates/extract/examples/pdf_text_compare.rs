//! Compares lopdf's and pdf-extract's page text on PDF files: pages each
//! extractor fails on, words found (more words means word boundaries were
//! kept), and SSN-shaped tokens found. Prints counts only, never text.
//!
//!     cargo run -p phiscan-extract --example pdf_text_compare -- FILE.pdf...

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Counts found in one extractor's text.
#[derive(Default)]
struct Tally {
    failed_pages: usize,
    words: usize,
    ssn_shaped: usize,
}

impl Tally {
    fn add(&mut self, text: Option<String>) {
        let Some(text) = text else {
            self.failed_pages += 1;
            return;
        };
        self.words += text.split_whitespace().count();
        self.ssn_shaped += text
            .as_bytes()
            .windows(11)
            .filter(|window| {
                window.iter().enumerate().all(|(index, byte)| match index {
                    3 | 6 => *byte == b'-',
                    _ => byte.is_ascii_digit(),
                })
            })
            .count();
    }
}

fn lopdf_text(document: &lopdf::Document, page: u32) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| document.extract_text(&[page])))
        .ok()
        .and_then(Result::ok)
}

fn pdf_extract_text(document: &lopdf::Document, page: u32) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        pdf_extract::output_doc_page(document, &mut output, page).map(|()| text)
    }))
    .ok()
    .and_then(Result::ok)
}

fn main() {
    println!("file\tpages\tlopdf failed/words/ssn\tpdf-extract failed/words/ssn");
    for path in std::env::args().skip(1) {
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let document = match std::fs::read(&path).map(|bytes| lopdf::Document::load_mem(&bytes)) {
            Ok(Ok(document)) => document,
            _ => {
                println!("{name}\tcannot be loaded");
                continue;
            }
        };
        let pages: Vec<u32> = document.get_pages().keys().copied().collect();
        let (mut lopdf, mut extract) = (Tally::default(), Tally::default());
        for &page in &pages {
            lopdf.add(lopdf_text(&document, page));
            extract.add(pdf_extract_text(&document, page));
        }
        println!(
            "{name}\t{}\t{}/{}/{}\t{}/{}/{}",
            pages.len(),
            lopdf.failed_pages,
            lopdf.words,
            lopdf.ssn_shaped,
            extract.failed_pages,
            extract.words,
            extract.ssn_shaped
        );
    }
}
