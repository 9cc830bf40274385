//! Status (response) lines: `NNN[ text]` parsing and writing.

use nom::branch::alt;
use nom::bytes::complete::take_while_m_n;
use nom::character::complete::char;
use nom::combinator::{all_consuming, eof, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::{put_text, ProtocolError};

/// Lowest valid status code.
const MIN_CODE: u16 = 100;
/// Highest valid status code.
const MAX_CODE: u16 = 599;

/// A status line: a three-digit code and free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=599.
    pub code: u16,
    /// Everything after the code and one space; may be empty.
    pub text: String,
}

impl Response {
    /// A response with the given code and text.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Response {
            code,
            text: text.into(),
        }
    }

    /// The first whitespace-separated word of the text, e.g. the message-id
    /// in `238 <id>`.
    pub fn first_arg(&self) -> Option<&str> {
        self.text.split_ascii_whitespace().next()
    }

    /// Appends `code text` CRLF (`code` CRLF when the text is empty); CR, LF
    /// and NUL in the text are dropped.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.code.to_string().as_bytes());
        if !self.text.is_empty() {
            out.push(b' ');
            put_text(out, &self.text);
        }
        out.extend_from_slice(b"\r\n");
    }
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
    let text = String::from_utf8_lossy(text)
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect();
    Ok(Response { code, text })
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

    #[test]
    fn writes() {
        let mut out = Vec::new();
        Response::new(205, "").write(&mut out);
        Response::new(430, "no such\r\narticle").write(&mut out);
        assert_eq!(out, b"205\r\n430 no sucharticle\r\n");
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
    }
}
