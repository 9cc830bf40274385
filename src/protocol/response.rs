//! Responses: a status line `NNN[ text]`, optionally followed by a dot-terminated
//! multi-line block (RFC 3977 §3.2). Clients parse them; the server builds them as
//! [`Response`] values and writes every one through [`Response::write`], the one place
//! where a reply becomes bytes, so the bounds hold for all of them: a valid code, no
//! CR, LF or NUL inside the line (nothing a value carries can end it early or inject a
//! second reply), and at most [`MAX_STATUS_LINE`] bytes, CRLF included.

use nom::branch::alt;
use nom::bytes::complete::take_while_m_n;
use nom::character::complete::char;
use nom::combinator::{all_consuming, eof, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::block::{take_block, write_block};
use super::line::take_line;
use super::{put_text, ProtocolError, MAX_RESPONSE_LINE};

/// Lowest valid status code.
const MIN_CODE: u16 = 100;
/// Highest valid status code.
const MAX_CODE: u16 = 599;
/// What [`Response::write`] writes in place of an invalid code (a bug, never input):
/// "internal fault", so the line still parses.
const FAULT_CODE: u16 = 403;
/// Longest status line written, CRLF included (RFC 3977 §3.1: 512 octets).
pub const MAX_STATUS_LINE: usize = 512;
/// Longest text [`Response::write`] keeps: the line less the code, its space and CRLF.
const MAX_STATUS_TEXT: usize = MAX_STATUS_LINE - 2 - 4;

/// A response: a three-digit code, free text, and for the commands that have one (ARTICLE,
/// LIST, `MESH SINCE`...) the multi-line block that follows the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=599.
    pub code: u16,
    /// Everything after the code and one space; may be empty.
    pub text: String,
    /// The data block after the status line, unstuffed (lines end in CRLF), if any.
    pub block: Option<Vec<u8>>,
}

impl Response {
    /// A status line with the given code and text.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Response {
            code,
            text: text.into(),
            block: None,
        }
    }

    /// `code <message-id> text`: the form of the answers to CHECK, TAKETHIS and the
    /// retrievals by Message-ID, which name the article first (RFC 4644 §2.4, §2.5).
    pub fn about(code: u16, id: &str, text: &str) -> Self {
        let text = if text.is_empty() {
            id.to_string()
        } else {
            format!("{id} {text}")
        };
        Response::new(code, text)
    }

    /// A status line followed by `block` (sent dot-stuffed, with its terminator).
    pub fn with_block(code: u16, text: impl Into<String>, block: Vec<u8>) -> Self {
        Response {
            block: Some(block),
            ..Response::new(code, text)
        }
    }

    /// The first whitespace-separated word of the text, e.g. the message-id
    /// in `238 <id>`.
    pub fn first_arg(&self) -> Option<&str> {
        self.text.split_ascii_whitespace().next()
    }

    /// Appends the response in wire form: `code text` CRLF (`code` CRLF when the text is
    /// empty), then the block if there is one. CR, LF and NUL in the text are dropped and
    /// the text is cut (at a character boundary) so the line fits [`MAX_STATUS_LINE`]; a
    /// code outside 100..=599 is written as 403.
    pub fn write(&self, out: &mut Vec<u8>) {
        let code = if (MIN_CODE..=MAX_CODE).contains(&self.code) {
            self.code
        } else {
            FAULT_CODE
        };
        let start = out.len();
        out.extend_from_slice(code.to_string().as_bytes());
        if !self.text.is_empty() {
            out.push(b' ');
            let text = self.text.as_bytes();
            if text.contains(&b'\r') || text.contains(&b'\n') || text.contains(&0) {
                put_text(out, &self.text);
            } else {
                out.extend_from_slice(text);
            }
            // The line and its CRLF fit MAX_STATUS_LINE; the cut falls between characters.
            let mut end = out.len().min(start + MAX_STATUS_LINE - 2);
            while !starts_char(out, end) {
                end -= 1;
            }
            out.truncate(end);
        }
        out.extend_from_slice(b"\r\n");
        if let Some(block) = &self.block {
            write_block(out, block);
        }
    }

    /// The bytes [`Response::write`] appends.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}

/// Whether a character starts at `at` in `bytes` (UTF-8 written from a str) or `at` is
/// its end: the byte there is not a continuation byte.
fn starts_char(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_none_or(|b| !(0x80..0xC0).contains(b))
}

/// Three digits, then end of line or one space and the text.
fn status_line(i: &[u8]) -> IResult<&[u8], (u16, &[u8])> {
    let code = take_while_m_n(3, 3, |b: u8| b.is_ascii_digit())
        .map(|d: &[u8]| d.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')));
    all_consuming((code, alt((eof, preceded(char(' '), rest))))).parse(i)
}

/// Parses one status line (without its CRLF). Non-UTF-8 bytes in the text
/// are replaced (U+FFFD) rather than rejected, since servers send all sorts;
/// CR, LF and NUL are dropped, as [`Response::write`] drops them, so the text
/// a hostile server sends cannot break a line where it is logged or relayed,
/// and writing a parsed response gives back the same response.
pub fn parse_response(line: &[u8]) -> Result<Response, ProtocolError> {
    let bad = || ProtocolError::BadResponse(String::from_utf8_lossy(line).into_owned());
    let (_, (code, text)) = status_line(line).map_err(|_| bad())?;
    if !(MIN_CODE..=MAX_CODE).contains(&code) {
        return Err(bad());
    }
    // What `write` would drop (CR, LF, NUL) is dropped here too, so that a parsed
    // response written again parses the same (found by fuzzing).
    let mut text: String = String::from_utf8_lossy(text)
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect();
    // `write` cuts the text so the line fits MAX_STATUS_LINE; cut it the same way here,
    // since each invalid byte becomes a 3-byte U+FFFD and a line that fitted may no
    // longer (found by fuzzing).
    if text.len() > MAX_STATUS_TEXT {
        let mut end = MAX_STATUS_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Ok(Response::new(code, text))
}

/// Takes one whole response from the front of `buf`: its status line (at most
/// [`MAX_RESPONSE_LINE`] bytes) and, when `with_block` (the caller knows from the command
/// and the code whether one follows), a block of at most `max_block` bytes. Returns the
/// response and the bytes consumed, or `Ok(None)` while more bytes are needed.
pub fn take_response(
    buf: &[u8],
    with_block: bool,
    max_block: usize,
) -> Result<Option<(Response, usize)>, ProtocolError> {
    let Some((line, used)) = take_line(buf, MAX_RESPONSE_LINE)? else {
        return Ok(None);
    };
    let mut response = parse_response(line)?;
    if !with_block {
        return Ok(Some((response, used)));
    }
    let rest = buf.get(used..).unwrap_or_default();
    Ok(take_block(rest, max_block)?.map(|(block, more)| {
        response.block = Some(block);
        (response, used + more)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_response(b"200 hello there"),
            Ok(Response::new(200, "hello there"))
        );
        assert_eq!(parse_response(b"205"), Ok(Response::new(205, "")));
        assert_eq!(parse_response(b"205 "), Ok(Response::new(205, "")));
        assert_eq!(parse_response(b"211  x "), Ok(Response::new(211, " x ")));
        assert_eq!(
            parse_response(b"200 \xff").map(|r| r.text),
            Ok("\u{fffd}".into())
        );
        let r = parse_response(b"238 <a@b> go").unwrap();
        assert_eq!(r.first_arg(), Some("<a@b>"));
        assert_eq!(Response::new(205, "").first_arg(), None);
    }

    #[test]
    fn rejects() {
        for bad in [
            &b""[..],
            b"20",
            b"2000",
            b"200x",
            b"099 x",
            b"600 x",
            b"abc",
            b" 200",
            b"200\tx",
        ] {
            assert!(
                matches!(parse_response(bad), Err(ProtocolError::BadResponse(_))),
                "{bad:?}"
            );
        }
    }

    /// Found by fuzzing (fuzz/src/bin/response.rs): a NUL or CR in a server's
    /// text was kept by the parser but dropped by `write`, so a parsed response
    /// did not survive being written and parsed again.
    #[test]
    fn drops_what_write_drops() {
        let r = parse_response(b"300 ca\0\0\x01\0eady\r x").unwrap();
        assert_eq!(r.text, "ca\u{1}eady x");
        let mut out = Vec::new();
        r.write(&mut out);
        assert_eq!(parse_response(out.strip_suffix(b"\r\n").unwrap()), Ok(r));
    }

    /// Found by fuzzing (CI's 20 s run of fuzz/src/bin/response.rs): a status line
    /// within 512 octets whose invalid bytes each became a 3-octet U+FFFD parsed to a
    /// text longer than `write` keeps, so the written response parsed differently.
    #[test]
    fn cuts_what_write_cuts() {
        let mut line = b"255 ".to_vec();
        line.extend_from_slice(&[0xb9; 200]);
        let r = parse_response(&line).unwrap();
        assert!(r.text.len() <= MAX_STATUS_TEXT && r.text.starts_with('\u{fffd}'));
        let written = r.to_bytes();
        assert!(written.len() <= MAX_STATUS_LINE);
        assert_eq!(
            parse_response(written.strip_suffix(b"\r\n").unwrap()),
            Ok(r)
        );
    }

    #[test]
    fn writes() {
        let mut out = Vec::new();
        Response::new(205, "").write(&mut out);
        Response::new(430, "no such\r\narticle").write(&mut out);
        Response::about(238, "<a@b>", "send it").write(&mut out);
        Response::about(438, "<a@b>", "").write(&mut out);
        Response::with_block(220, "0 <a@b>", b".x\nbody".to_vec()).write(&mut out);
        Response::new(42, "bug").write(&mut out);
        assert_eq!(
            out,
            b"205\r\n430 no sucharticle\r\n238 <a@b> send it\r\n438 <a@b>\r\n\
              220 0 <a@b>\r\n..x\r\nbody\r\n.\r\n403 bug\r\n"
        );
    }

    #[test]
    fn long_text_is_cut_to_the_line_limit_at_a_character_boundary() {
        for text in ["x".repeat(2000), "é".repeat(700), "a\r\n".repeat(400)] {
            let out = Response::new(439, text).to_bytes();
            assert!(out.len() <= MAX_STATUS_LINE, "{}", out.len());
            assert!(out.ends_with(b"\r\n"));
            let line = &out[..out.len() - 2];
            assert!(std::str::from_utf8(line).is_ok());
            assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
        }
    }

    #[test]
    fn takes_whole_responses() {
        let mut buf = Response::with_block(220, "0 <a@b>", b"a\r\n".to_vec()).to_bytes();
        buf.extend_from_slice(b"430 no\r\n");
        let (first, used) = take_response(&buf, true, 100).unwrap().unwrap();
        assert_eq!(first.block.as_deref(), Some(&b"a\r\n"[..]));
        let (second, more) = take_response(&buf[used..], false, 0).unwrap().unwrap();
        assert_eq!((second.code, used + more), (430, buf.len()));
        assert_eq!(take_response(&buf[..used - 1], true, 100), Ok(None));
        assert_eq!(take_response(b"22", false, 0), Ok(None));
        assert!(take_response(&buf, true, 1).is_err());
    }

    /// What a response looks like after a trip over the wire: the text without CR, LF and
    /// NUL, cut to the line limit; the block with CRLF line ends.
    fn normalised(r: &Response) -> Response {
        let clean: String = r
            .text
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
            .collect();
        let block = r.block.as_ref().map(|b| {
            let mut out = Vec::new();
            write_block(&mut out, b);
            take_block(&out, usize::MAX).unwrap().unwrap().0
        });
        let mut end = clean.len().min(MAX_STATUS_LINE - 6);
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        Response {
            code: r.code,
            text: clean[..end].to_string(),
            block,
        }
    }

    proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_response(&line);
        }

        #[test]
        fn round_trip(code in MIN_CODE..=MAX_CODE, text in "[ -~]{0,60}") {
            let r = Response::new(code, text);
            let mut out = Vec::new();
            r.write(&mut out);
            let line = out.strip_suffix(b"\r\n").unwrap_or_default();
            prop_assert_eq!(parse_response(line), Ok(r));
        }

        /// Any text and block: what is written is one bounded line (plus the block) that
        /// parses back to the same response, up to the documented normalisation.
        #[test]
        fn bounded_round_trip(
            code in MIN_CODE..=MAX_CODE,
            text in any::<String>(),
            long in 0usize..3,
            block in proptest::option::of(proptest::collection::vec(
                prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..200)),
        ) {
            let text = text.repeat(long * 40 + 1);
            let r = Response { code, text, block };
            let out = r.to_bytes();
            let line_end = out.windows(2).position(|w| w == b"\r\n").unwrap_or(out.len());
            prop_assert!(line_end + 2 <= MAX_STATUS_LINE);
            prop_assert!(!out[..line_end].contains(&b'\n'));
            let taken = take_response(&out, r.block.is_some(), usize::MAX);
            let expected = normalised(&r);
            // A text that starts with spaces keeps them; an all-removed text is empty.
            prop_assert_eq!(taken, Ok(Some((expected, out.len()))));
        }
    }
}
