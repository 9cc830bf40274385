//! Dot-stuffed multi-line data blocks (RFC 3977 §3.1.1): incremental
//! scanning/unstuffing of received blocks and stuffing of outgoing ones.
//!
//! Line ends are found with `memchr` (SIMD), not byte by byte: every article a node
//! receives or sends crosses these loops once.

use super::ProtocolError;

/// Block terminator line, CRLF included.
const TERMINATOR: &[u8] = b".\r\n";

/// Incremental scanner for a dot-terminated block at the start of a buffer.
///
/// Call [`BlockScanner::scan`] with the *same* buffer each time more bytes
/// arrive (bytes appended, the prefix untouched). The scanner remembers how
/// far it got and unstuffs complete lines as it goes, so the total work is
/// O(block size) however the bytes are split. After it returns a block or an
/// error it resets itself, ready for the next block once the caller has
/// drained the consumed bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockScanner {
    /// Offset of the first line not yet unstuffed.
    line_start: usize,
    /// Offset up to which the current line is known to contain no LF.
    searched: usize,
    /// Unstuffed content of the complete lines so far.
    content: Vec<u8>,
}

impl BlockScanner {
    /// A scanner positioned at the start of a block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Content bytes accumulated so far.
    pub fn content_len(&self) -> usize {
        self.content.len()
    }

    /// Forgets all progress (e.g. after the caller discarded its buffer).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Scans `buf` further. Returns the unstuffed content (every line ending
    /// in CRLF, terminator excluded) and the bytes consumed once the
    /// terminating `.` line has arrived, `Ok(None)` while it has not and the
    /// content is still within `max`, and `Err(BlockTooLarge)` as soon as the
    /// content is certain to exceed `max`, counting the unfinished last line.
    pub fn scan(
        &mut self,
        buf: &[u8],
        max: usize,
    ) -> Result<Option<(Vec<u8>, usize)>, ProtocolError> {
        loop {
            let from = self.searched.max(self.line_start);
            let unsearched = buf.get(from..).unwrap_or_default();
            let Some(lf) = memchr::memchr(b'\n', unsearched) else {
                self.searched = from + unsearched.len();
                // An unfinished line of n bytes yields at least n content bytes
                // (a stuffed dot and a CR may go, CRLF is added), unless it is
                // the terminator (".", ".\r"); hence the conservative `- 2`.
                let pending = buf.len().saturating_sub(self.line_start);
                return self.check(pending.saturating_sub(2), max).map(|()| None);
            };
            let line_end = from + lf;
            let line = buf.get(self.line_start..line_end).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.line_start = line_end + 1;
            self.searched = self.line_start;
            if line == b"." {
                let consumed = self.line_start;
                let content = std::mem::take(&mut self.content);
                self.reset();
                return Ok(Some((content, consumed)));
            }
            let line = match line {
                [b'.', rest @ ..] if rest.first() == Some(&b'.') => rest,
                _ => line,
            };
            self.check(line.len() + 2, max)?;
            self.content.extend_from_slice(line);
            self.content.extend_from_slice(b"\r\n");
        }
    }

    /// Fails (and resets) if `extra` more content bytes would exceed `max`.
    fn check(&mut self, extra: usize, max: usize) -> Result<(), ProtocolError> {
        if self.content.len().saturating_add(extra) > max {
            self.reset();
            return Err(ProtocolError::BlockTooLarge { limit: max });
        }
        Ok(())
    }
}

/// Takes a whole dot-terminated block from the start of `buf`; see
/// [`BlockScanner::scan`]. Rescans from the start on every call: use a
/// [`BlockScanner`] when feeding a growing buffer repeatedly.
pub fn take_block(buf: &[u8], max: usize) -> Result<Option<(Vec<u8>, usize)>, ProtocolError> {
    BlockScanner::new().scan(buf, max)
}

/// Appends `data` to `out` as dot-stuffed lines without the terminator:
/// lines beginning with `.` get an extra `.`, every line ends in CRLF (bare
/// LF is converted, a missing final line end is added). Empty data adds
/// nothing.
pub fn dot_stuff(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len() + data.len() / 32 + 2);
    let mut rest = data;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(lf) => {
                let (line, tail) = rest.split_at(lf);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                (line, tail.get(1..).unwrap_or_default())
            }
            None => (rest, &[][..]),
        };
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        rest = next;
    }
}

/// Appends `data` as a complete multi-line block: [`dot_stuff`] followed by
/// the `.` CRLF terminator.
pub fn write_block(out: &mut Vec<u8>, data: &[u8]) {
    dot_stuff(out, data);
    out.extend_from_slice(TERMINATOR);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference normalisation: LF-terminated lines lose one trailing CR, and
    /// every line (including a final unterminated one) ends in CRLF.
    fn normalise(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        let last = lines.pop().unwrap_or_default();
        for l in lines {
            out.extend_from_slice(l.strip_suffix(b"\r").unwrap_or(l));
            out.extend_from_slice(b"\r\n");
        }
        if !last.is_empty() {
            out.extend_from_slice(last);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn written(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_block(&mut out, data);
        out
    }

    #[test]
    fn unstuffs() {
        let buf = b"a\r\n..b\r\n.c\nd\r\n\r\n.\r\nNEXT";
        let (content, used) = take_block(buf, 100).unwrap().unwrap();
        assert_eq!(content, b"a\r\n.b\r\n.c\r\nd\r\n\r\n");
        assert_eq!(used, buf.len() - 4);
        assert_eq!(take_block(b".\n", 0), Ok(Some((vec![], 2))));
    }

    #[test]
    fn incomplete() {
        assert_eq!(take_block(b"", 10), Ok(None));
        assert_eq!(take_block(b"a\r\n.", 10), Ok(None));
        assert_eq!(take_block(b"a\r\n.\r", 10), Ok(None));
        assert_eq!(take_block(b"a\r\n. \r\n", 10), Ok(None));
    }

    #[test]
    fn too_large_detected_early() {
        let err = Err(ProtocolError::BlockTooLarge { limit: 10 });
        assert_eq!(take_block(b"0123456789\r\n.\r\n", 10), err);
        assert_eq!(
            take_block(b"01234567\r\n.\r\n", 10),
            Ok(Some((b"01234567\r\n".to_vec(), 13)))
        );
        // No line end yet, but the pending line alone cannot fit.
        assert_eq!(take_block(&[b'x'; 13], 10), err);
        assert_eq!(take_block(&[b'x'; 12], 10), Ok(None));
    }

    #[test]
    fn scanner_resumes_and_resets() {
        let mut s = BlockScanner::new();
        let mut buf = b"ab".to_vec();
        assert_eq!(s.scan(&buf, 100), Ok(None));
        buf.extend_from_slice(b"c\r\n.");
        assert_eq!(s.scan(&buf, 100), Ok(None));
        assert_eq!(s.content_len(), 5);
        buf.extend_from_slice(b"\r\n");
        assert_eq!(s.scan(&buf, 100), Ok(Some((b"abc\r\n".to_vec(), 8))));
        assert_eq!(s, BlockScanner::new());
    }

    #[test]
    fn writes() {
        assert_eq!(written(b""), b".\r\n");
        assert_eq!(written(b"\n"), b"\r\n.\r\n");
        assert_eq!(written(b".a\n..b\r\nc"), b"..a\r\n...b\r\nc\r\n.\r\n");
        assert_eq!(written(b".\r\n"), b"..\r\n.\r\n");
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(
            prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..400)) {
            let w = written(&data);
            prop_assert_eq!(take_block(&w, usize::MAX), Ok(Some((normalise(&data), w.len()))));
        }

        #[test]
        fn never_panics(buf in proptest::collection::vec(any::<u8>(), 0..600), max in 0usize..700) {
            if let Ok(Some((content, used))) = take_block(&buf, max) {
                prop_assert!(content.len() <= max && used <= buf.len());
            }
        }

        #[test]
        fn byte_by_byte_matches_whole(
            lines in proptest::collection::vec(
                prop_oneof![Just(&b"."[..]), Just(&b".."[..]), Just(&b".x\r"[..]),
                            Just(&b"abc"[..]), Just(&b""[..]), Just(&b"\r"[..])], 0..20),
            crlf in any::<bool>(),
            max in 0usize..80,
        ) {
            let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let buf: Vec<u8> = lines.iter().flat_map(|l| [*l, end].concat()).collect();
            let whole = take_block(&buf, max);
            let mut scanner = BlockScanner::new();
            let mut fed = Ok(None);
            for n in 0..=buf.len() {
                fed = scanner.scan(buf.get(..n).unwrap_or_default(), max);
                if !matches!(fed, Ok(None)) {
                    break;
                }
            }
            prop_assert_eq!(fed, whole);
        }
    }
}
