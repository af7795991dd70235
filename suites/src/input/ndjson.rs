//! Newline-delimited JSON, one event (or one batch) per line, read as a stream.

use std::collections::VecDeque;
use std::io::{self, BufRead};

use super::json::{decode_json_items, Decoded};
use super::model::{InputError, Item, Limits, Location};

/// Reads an NDJSON stream line by line and yields one [`Item`] per event: usually one per
/// non-blank line, several when a line holds a batch (a JSON array). Items carry 1-based line
/// numbers.
///
/// Memory stays bounded whatever the stream: a line is kept only up to
/// [`Limits::max_event_bytes`]; a longer one is skipped to its end and yields
/// [`InputError::TooLarge`], and reading goes on with the next line. A read error yields one
/// [`InputError::Io`] item and ends the stream.
pub struct NdjsonReader<R> {
    reader: R,
    location: Location,
    limits: Limits,
    line: u64,
    buf: Vec<u8>,
    pending: VecDeque<Item>,
    done: bool,
}

impl<R: BufRead> NdjsonReader<R> {
    /// A reader of `reader`, whose items are located in `location.file`.
    pub fn new(reader: R, location: Location, limits: Limits) -> Self {
        NdjsonReader {
            reader,
            location,
            limits,
            line: 0,
            buf: Vec::new(),
            pending: VecDeque::new(),
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for NdjsonReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            self.buf.clear();
            let cap = self.limits.max_event_bytes;
            let read = read_line_capped(&mut self.reader, &mut self.buf, cap);
            self.line += 1;
            let location = self.location.at_line(self.line);
            match read {
                Err(e) => {
                    self.done = true;
                    return Some(Item::new(location, Err(InputError::Io(e))));
                }
                Ok(None) => self.done = true,
                Ok(Some(true)) => {
                    let err = InputError::TooLarge {
                        what: "line",
                        limit: cap,
                    };
                    return Some(Item::new(location, Err(err)));
                }
                Ok(Some(false)) => {
                    if !self.buf.trim_ascii().is_empty() {
                        match decode_json_items(&self.buf, location, &self.limits) {
                            Decoded::One(item) => return Some(item),
                            Decoded::Many(items) => self.pending.extend(items),
                        }
                    }
                }
            }
        }
    }
}

/// Reads one line, without its `\n`, into `buf`, keeping at most `cap` bytes of it.
/// `None` at the end of the stream; `Some(true)` when the line was longer than `cap` (the
/// rest of it was read and dropped).
pub(crate) fn read_line_capped<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    let (mut any, mut truncated) = (false, false);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let newline = memchr::memchr(b'\n', chunk);
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        let room = cap.saturating_sub(buf.len());
        if part.len() > room {
            truncated = true;
        }
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let used = newline.map_or(chunk.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(truncated));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor, Read};

    use super::*;

    #[test]
    fn a_huge_line_is_never_held() {
        let huge = std::io::repeat(b'x')
            .take(20 << 20)
            .chain(Cursor::new(b"\n{}\n".to_vec()));
        let limits = Limits {
            max_event_bytes: 1 << 10,
            ..Limits::default()
        };
        let mut reader = NdjsonReader::new(BufReader::new(huge), Location::file("h"), limits);
        assert!(matches!(
            reader.next().map(|i| i.result),
            Some(Err(InputError::TooLarge { .. }))
        ));
        assert!(
            reader.buf.capacity() <= 2 << 10,
            "{}",
            reader.buf.capacity()
        );
        assert_eq!(reader.next().and_then(|i| i.location.line), Some(2));
        assert!(reader.next().is_none());
        assert!(reader.next().is_none());
    }
}
