//! Sneakernet: rnews batches, the format UUCP and INN use to move articles as files
//! (`#! rnews <bytes>` then that many bytes of article with LF line ends, repeated), so
//! articles can cross an air gap on a USB stick. `newsmesh export` writes one; `newsmesh
//! import` (or INN's `rnews`) reads one. Imported articles go through the same checks as
//! any other: signature, Message-ID, trust.

use std::io::{BufRead, Read, Write};

use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, space0, space1};
use nom::combinator::{all_consuming, map_res, opt};
use nom::sequence::{preceded, terminated};
use nom::Parser;

/// Longest batch header line we read (`#! rnews 1234567890`).
pub const MAX_HEADER_LINE: usize = 64;

/// Errors reading a batch.
#[derive(Debug, thiserror::Error)]
pub enum RnewsError {
    /// Reading failed.
    #[error("reading the batch: {0}")]
    Io(#[from] std::io::Error),
    /// A line where a `#! rnews N` header was expected.
    #[error("batch byte {offset}: expected \"#! rnews <bytes>\", found {found:?}")]
    BadHeader {
        /// Offset of the line in the batch.
        offset: u64,
        /// What was there (cut short).
        found: String,
    },
    /// The batch ends inside an article.
    #[error("batch byte {offset}: truncated article ({missing} bytes missing)")]
    Truncated {
        /// Offset of the article.
        offset: u64,
        /// Bytes that did not arrive.
        missing: u64,
    },
}

/// Parses a batch header line (without its LF): `#! rnews <decimal byte count>`.
pub fn parse_header(line: &[u8]) -> Option<u64> {
    type E<'a> = nom::error::Error<&'a [u8]>;
    let count = map_res(take_while1(|b: u8| b.is_ascii_digit()), |d: &[u8]| {
        std::str::from_utf8(d)
            .map_err(|_| ())
            .and_then(|s| s.parse::<u64>().map_err(|_| ()))
    });
    let mut header = all_consuming(terminated(
        preceded(
            (
                tag::<_, _, E>(&b"#!"[..]),
                space0,
                tag(&b"rnews"[..]),
                space1,
            ),
            count,
        ),
        (space0, opt(char('\r'))),
    ));
    header.parse(line).ok().map(|(_, n)| n)
}

/// One item of a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// An article (LF line ends, as in the batch).
    Article(Vec<u8>),
    /// An article over `max` bytes, skipped; its declared size.
    TooLarge(u64),
}

/// Reads a batch one article at a time, never holding more than one article (at most
/// `max` bytes) in memory.
pub struct BatchReader<R> {
    input: R,
    max: u64,
    offset: u64,
}

impl<R: BufRead> BatchReader<R> {
    /// A reader over `input`; articles over `max` bytes are skipped, not loaded.
    pub fn new(input: R, max: usize) -> BatchReader<R> {
        BatchReader {
            input,
            max: max as u64,
            offset: 0,
        }
    }

    /// The next item, or None at the end of the batch.
    pub fn next_item(&mut self) -> Result<Option<Item>, RnewsError> {
        let mut line = Vec::new();
        let read = (&mut self.input)
            .take(MAX_HEADER_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(None);
        }
        let at = self.offset;
        self.offset += read as u64;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let size = match parse_header(text) {
            Some(size) if line.ends_with(b"\n") => size,
            _ => {
                return Err(RnewsError::BadHeader {
                    offset: at,
                    found: String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned(),
                })
            }
        };
        let start = self.offset;
        if size > self.max {
            let skipped = std::io::copy(&mut (&mut self.input).take(size), &mut std::io::sink())?;
            self.offset += skipped;
            return match skipped == size {
                true => Ok(Some(Item::TooLarge(size))),
                false => Err(RnewsError::Truncated {
                    offset: start,
                    missing: size - skipped,
                }),
            };
        }
        let mut article = Vec::with_capacity(size as usize);
        let got = (&mut self.input).take(size).read_to_end(&mut article)? as u64;
        self.offset += got;
        if got < size {
            return Err(RnewsError::Truncated {
                offset: start,
                missing: size - got,
            });
        }
        Ok(Some(Item::Article(article)))
    }
}

/// Appends one article (wire form, CRLF) to a batch: converted to LF line ends.
pub fn write_article(out: &mut impl Write, wire: &[u8]) -> std::io::Result<()> {
    let local = crate::article::body_to_local(wire);
    writeln!(out, "#! rnews {}", local.len())?;
    out.write_all(&local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn headers() {
        assert_eq!(parse_header(b"#! rnews 1234"), Some(1234));
        assert_eq!(parse_header(b"#!rnews 7\r"), Some(7));
        assert_eq!(parse_header(b"#! cunbatch"), None);
        assert_eq!(parse_header(b"#! rnews"), None);
        assert_eq!(parse_header(b"#! rnews 12x"), None);
        assert_eq!(parse_header(b"#! rnews 99999999999999999999999"), None);
    }

    #[test]
    fn batches_round_trip_and_oversized_articles_are_skipped() {
        let mut batch = Vec::new();
        write_article(&mut batch, b"Subject: a\r\n\r\nbody\r\n").unwrap();
        write_article(&mut batch, &[b'x'; 100]).unwrap();
        write_article(&mut batch, b"Subject: c\r\n\r\n.\r\n").unwrap();
        let mut reader = BatchReader::new(&batch[..], 50);
        assert_eq!(
            reader.next_item().unwrap(),
            Some(Item::Article(b"Subject: a\n\nbody\n".to_vec()))
        );
        assert_eq!(reader.next_item().unwrap(), Some(Item::TooLarge(100)));
        assert_eq!(
            reader.next_item().unwrap(),
            Some(Item::Article(b"Subject: c\n\n.\n".to_vec()))
        );
        assert_eq!(reader.next_item().unwrap(), None);
    }

    #[test]
    fn bad_and_truncated_batches_are_clear_errors() {
        let err = BatchReader::new(&b"From someone\n"[..], 50)
            .next_item()
            .unwrap_err();
        assert!(err.to_string().contains("expected"), "{err}");
        let err = BatchReader::new(&b"#! rnews 10\nabc"[..], 50)
            .next_item()
            .unwrap_err();
        assert!(err.to_string().contains("7 bytes missing"), "{err}");
    }

    proptest! {
        #[test]
        fn any_input_gives_items_or_an_error(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut reader = BatchReader::new(&data[..], 64);
            for _ in 0..100 {
                match reader.next_item() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
