//! Line framing: splitting a byte buffer into CRLF (or bare LF) terminated
//! lines with a hard length limit.

use super::ProtocolError;

/// Takes one line from the front of `buf`.
///
/// Returns the line without its terminator and the number of bytes consumed
/// (terminator included). The terminator is CRLF; a bare LF is accepted too.
/// `max` bounds the whole line *including* its terminator (use
/// [`super::MAX_COMMAND_LINE`] or [`super::MAX_RESPONSE_LINE`]).
///
/// `Ok(None)` means more bytes are needed; once `buf` holds `max` bytes or
/// more without a terminator among the first `max`, the line can no longer
/// fit and `Err(LineTooLong)` is returned.
pub fn take_line(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let window = buf.get(..max).unwrap_or(buf);
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = window.get(..lf).unwrap_or_default();
            Ok(Some((line.strip_suffix(b"\r").unwrap_or(line), lf + 1)))
        }
        None if buf.len() < max => Ok(None),
        None => Err(ProtocolError::LineTooLong { limit: max }),
    }
}

/// One framed line borrowed from a read buffer: a struct form of
/// [`take_line`]'s result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The line without its terminator.
    pub line: &'a [u8],
    /// Bytes to drain from the buffer (terminator included).
    pub consumed: usize,
}

impl<'a> Frame<'a> {
    /// Like [`take_line`], returning a [`Frame`].
    pub fn take(buf: &'a [u8], max: usize) -> Result<Option<Self>, ProtocolError> {
        Ok(take_line(buf, max)?.map(|(line, consumed)| Frame { line, consumed }))
    }

    /// The line as UTF-8 text.
    pub fn text(&self) -> Result<&'a str, ProtocolError> {
        std::str::from_utf8(self.line).map_err(|_| ProtocolError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminators() {
        assert_eq!(take_line(b"AB\r\nC", 10), Ok(Some((&b"AB"[..], 4))));
        assert_eq!(take_line(b"AB\nC", 10), Ok(Some((&b"AB"[..], 3))));
        assert_eq!(take_line(b"\r\n", 10), Ok(Some((&b""[..], 2))));
        assert_eq!(take_line(b"A\rB\n", 10), Ok(Some((&b"A\rB"[..], 4))));
    }

    #[test]
    fn incomplete_and_too_long() {
        assert_eq!(take_line(b"", 4), Ok(None));
        assert_eq!(take_line(b"ABC", 4), Ok(None));
        assert_eq!(take_line(b"AB\r\n", 4), Ok(Some((&b"AB"[..], 4))));
        let too_long = Err(ProtocolError::LineTooLong { limit: 4 });
        assert_eq!(take_line(b"ABCD", 4), too_long);
        assert_eq!(take_line(b"ABC\r\n", 4), too_long);
    }

    #[test]
    fn frame() {
        let f = Frame::take(b"QUIT\r\n", 512).unwrap().unwrap();
        assert_eq!((f.text(), f.consumed), (Ok("QUIT"), 6));
        let f = Frame::take(b"\xff\n", 512).unwrap().unwrap();
        assert_eq!(f.text(), Err(ProtocolError::NotUtf8));
    }

    proptest! {
        #[test]
        fn never_panics(buf in proptest::collection::vec(any::<u8>(), 0..600), max in 0usize..700) {
            if let Ok(Some((line, used))) = take_line(&buf, max) {
                prop_assert!(used <= max && used <= buf.len() && line.len() < used);
            }
        }
    }
}
