//! Line and column tracking over text visited front to back.

/// Tracks the line and column of increasing offsets in one text.
#[derive(Clone, Debug)]
pub struct LineCounter {
    position: usize,
    line: u64,
    /// Offset where the current line starts.
    line_start: usize,
}

impl Default for LineCounter {
    fn default() -> LineCounter {
        LineCounter::new()
    }
}

impl LineCounter {
    /// Starts at line 1, column 1, offset 0.
    pub fn new() -> LineCounter {
        LineCounter {
            position: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Returns the line (from 1) and byte column (from 1) of `offset`.
    ///
    /// Offsets must not decrease between calls; a smaller one restarts the
    /// count from the beginning.
    pub fn position(&mut self, text: &str, offset: usize) -> (u64, u64) {
        if offset < self.position {
            *self = LineCounter::new();
        }
        let bytes = text.as_bytes();
        let end = offset.min(bytes.len());
        for newline in memchr::memchr_iter(b'\n', &bytes[self.position..end]) {
            self.line += 1;
            self.line_start = self.position + newline + 1;
        }
        self.position = end;
        (self.line, (offset - self.line_start) as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_columns() {
        let text = "ab\ncd\n\nef";
        let mut counter = LineCounter::new();
        assert_eq!(counter.position(text, 0), (1, 1));
        assert_eq!(counter.position(text, 1), (1, 2));
        assert_eq!(counter.position(text, 3), (2, 1));
        assert_eq!(counter.position(text, 7), (4, 1));
        assert_eq!(counter.position(text, 8), (4, 2));
        assert_eq!(counter.position(text, 0), (1, 1));
    }
}
