//! Line numbers of CSV records. The `csv` crate's `Position::line` is one short
//! after a CRLF terminator and after blank lines (BurntSushi/rust-csv#395,
//! #208); its byte offsets are right, except that they may point at the
//! terminators before the record. So the line breaks are noted as the bytes
//! are read, and a record's byte offset is turned into its line here.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

#[derive(Default)]
struct Marks {
    /// Offsets of the `\r` and `\n` bytes read but not yet behind a record.
    pending: VecDeque<(u64, u8)>,
    read: u64,
    /// Line breaks behind the last record asked about (`\r\n` counts once).
    breaks: u64,
}

/// Shared between the reader it wraps and the code asking for lines.
#[derive(Clone, Default)]
pub(crate) struct LineIndex(Rc<RefCell<Marks>>);

impl LineIndex {
    /// `inner`, noting every line break it yields.
    pub(crate) fn wrap<R: Read>(&self, inner: R) -> Noting<R> {
        Noting {
            inner,
            index: self.clone(),
        }
    }

    /// The 1-based line of the record the `csv` reader placed at byte `offset`
    /// (terminators and blank lines at the offset are skipped). Offsets must
    /// not go backwards.
    pub(crate) fn line_at(&self, offset: u64) -> u64 {
        let mut m = self.0.borrow_mut();
        let mut start = offset;
        while let Some(&(at, byte)) = m.pending.front() {
            if at > start {
                break;
            }
            m.pending.pop_front();
            if at == start {
                // A record never starts with a terminator: it is the one before.
                start += 1;
            }
            let cr_of_crlf = byte == b'\r' && m.pending.front() == Some(&(at + 1, b'\n'));
            if !cr_of_crlf {
                m.breaks += 1;
            }
        }
        m.breaks + 1
    }
}

pub(crate) struct Noting<R> {
    inner: R,
    index: LineIndex,
}

impl<R: Read> Read for Noting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut m = self.index.0.borrow_mut();
        let base = m.read;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\r' || b == b'\n' {
                m.pending.push_back((base + i as u64, b));
            }
        }
        m.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of every record after the header, as the ingest reads them.
    fn lines(data: &[u8]) -> Vec<u64> {
        let index = LineIndex::default();
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(index.wrap(data));
        csv.headers().unwrap();
        let mut record = csv::StringRecord::new();
        let mut out = Vec::new();
        while csv.read_record(&mut record).unwrap() {
            out.push(index.line_at(record.position().unwrap().byte()));
        }
        out
    }

    #[test]
    fn every_terminator_and_blank_line_counts_once() {
        assert_eq!(lines(b"a,b\nx,1\ny,2\n"), [2, 3]);
        // csv's own Position::line says [1, 2] here.
        assert_eq!(lines(b"a,b\r\nx,1\r\ny,2\r\n"), [2, 3]);
        assert_eq!(lines(b"a,b\rx,1\ry,2"), [2, 3]);
        assert_eq!(lines(b"a,b\n\nx,1\n\n\ny,2\n"), [3, 6]);
        assert_eq!(lines(b"a,b\r\n\r\nx,1\r\n\r\ny,2\r\n"), [3, 5]);
        assert_eq!(lines(b"\xef\xbb\xbfa,b\r\nx,1\r\n"), [2]);
        // A quoted cell spanning lines: the record's first line; the next follows it.
        assert_eq!(lines(b"a,b\r\n\"x\r\ny\n\nz\",1\r\nw,2\r\n"), [2, 6]);
    }
}
