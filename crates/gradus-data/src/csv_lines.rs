//! Line numbers for CSV records, counted from the bytes read.
//!
//! The `csv` crate reports a record's line as the count of line feeds consumed before it, but
//! with CRLF line ends it ends a record at the `\r` and consumes the `\n` only when it starts the
//! next record, so every line after the header is reported one too low. [`LineCounter`] wraps the
//! input and notes where each line end byte (`\r`, `\n`) is; a record's byte position (which
//! may point at the line ends and blank lines before it) then maps to the line its first byte is
//! on: one plus the line feeds before that byte.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// The line ends read so far and not yet passed by a looked-up position.
#[derive(Default)]
struct Feeds {
    /// Offsets of line end bytes at or after the last looked-up position, in order, each with
    /// whether it is a line feed.
    ahead: VecDeque<(u64, bool)>,
    /// Line feeds before the last looked-up position.
    passed: u64,
    /// Bytes read so far.
    read: u64,
}

/// A reader that notes the offset of every line end byte it passes on.
pub(crate) struct LineCounter<R> {
    inner: R,
    feeds: Rc<RefCell<Feeds>>,
}

/// Maps byte positions of records read through a [`LineCounter`] to 1-based lines.
#[derive(Clone)]
pub(crate) struct Lines(Rc<RefCell<Feeds>>);

impl<R: Read> LineCounter<R> {
    /// Wraps `inner`; the [`Lines`] answers for positions in what it reads.
    pub(crate) fn new(inner: R) -> (Self, Lines) {
        let feeds = Rc::new(RefCell::new(Feeds::default()));
        let lines = Lines(feeds.clone());
        (LineCounter { inner, feeds }, lines)
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut f = self.feeds.borrow_mut();
        let start = f.read;
        let ends = buf[..n]
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n' || b == b'\r');
        f.ahead
            .extend(ends.map(|(i, &b)| (start + i as u64, b == b'\n')));
        f.read += n as u64;
        Ok(n)
    }
}

impl Lines {
    /// The 1-based line of the record whose position is byte `byte` (positions must not go
    /// backwards): line ends and blank lines at the position belong before the record.
    pub(crate) fn line_at(&self, byte: u64) -> u64 {
        let mut f = self.0.borrow_mut();
        let mut first = byte;
        while let Some(&(at, feed)) = f.ahead.front() {
            if at > first {
                break;
            }
            if at == first {
                first += 1; // a line end where the record was said to start: it starts later
            }
            f.passed += u64::from(feed);
            f.ahead.pop_front();
        }
        f.passed + 1
    }
}

#[cfg(test)]
mod tests {
    use super::LineCounter;
    use std::io::Read;

    #[test]
    fn crlf_and_lf_records_get_the_same_lines() {
        for text in ["a,b\n1,2\n3,x\n", "a,b\r\n1,2\r\n3,x\r\n"] {
            let (counter, lines) = LineCounter::new(text.as_bytes());
            let mut rdr = csv::Reader::from_reader(counter);
            let got: Vec<u64> = rdr
                .records()
                .map(|r| lines.line_at(r.unwrap().position().unwrap().byte()))
                .collect();
            assert_eq!(got, [2, 3], "{text:?}");
        }
    }

    #[test]
    fn small_reads_still_count_every_feed() {
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((&b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = b;
                self.0 = rest;
                Ok(1)
            }
        }
        let (counter, lines) = LineCounter::new(OneByte(b"h\r\n\r\n1\r\n2\r\n"));
        let mut rdr = csv::Reader::from_reader(counter);
        let got: Vec<u64> = rdr
            .records()
            .map(|r| lines.line_at(r.unwrap().position().unwrap().byte()))
            .collect();
        // the blank line 2 is skipped; records on lines 3 and 4
        assert_eq!(got, [3, 4]);
    }
}
