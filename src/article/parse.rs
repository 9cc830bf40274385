//! nom 8 parser for the wire form of an article: the header section (with
//! folded continuation lines) up to the first empty line, then the body,
//! which is taken with plain slice scanning and normalised to CRLF.
//!
//! The parser is total and linear: each step consumes at least one line,
//! and line, field, header-count and article sizes are all bounded.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while1};
use nom::combinator::{consumed, opt, recognize, success};
use nom::sequence::terminated;
use nom::{IResult, Parser};

use super::write::to_crlf;
use super::{Article, ArticleError, Header, Limits, MAX_HEADER_LINE};

/// One physical line of the header section, classified.
#[derive(Debug, Clone)]
enum Line<'a> {
    /// The empty line ending the header section.
    Blank,
    /// `name`, then the value after the colon and one optional space.
    Field(&'a [u8], &'a [u8]),
    /// A continuation line, leading whitespace included.
    Fold(&'a [u8]),
}

/// Header name characters: printable ASCII except `:`.
fn is_name_byte(b: u8) -> bool {
    (33..=126).contains(&b) && b != b':'
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A line end: CRLF, or a bare LF from local files.
fn eol(i: &[u8]) -> IResult<&[u8], &[u8]> {
    alt((tag("\r\n"), tag("\n"))).parse(i)
}

/// Line text up to (not including) a CR or LF.
fn text(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|b| b == b'\r' || b == b'\n').parse(i)
}

fn fold(i: &[u8]) -> IResult<&[u8], Line<'_>> {
    recognize((take_while1(is_wsp), text))
        .map(Line::Fold)
        .parse(i)
}

fn field(i: &[u8]) -> IResult<&[u8], Line<'_>> {
    (take_while1(is_name_byte), tag(":"), opt(tag(" ")), text)
        .map(|(name, _, _, value)| Line::Field(name, value))
        .parse(i)
}

/// One header-section line: its content (without line end) and its kind.
fn line(i: &[u8]) -> IResult<&[u8], (&[u8], Line<'_>)> {
    terminated(consumed(alt((fold, field, success(Line::Blank)))), eol).parse(i)
}

/// Explains why [`line()`] rejected the input starting at `rest`.
fn diagnose(rest: &[u8], line: usize) -> ArticleError {
    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
        return ArticleError::NoBody; // input ended inside the header section
    };
    let raw = rest.get(..nl).unwrap_or(rest);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let reason = if raw.contains(&b'\r') {
        "bare CR in header line"
    } else {
        let name_len = raw.iter().take_while(|&&b| is_name_byte(b)).count();
        match raw.get(name_len) {
            None => "missing colon",
            Some(b':') => "empty header name",
            Some(_) => "invalid character in header name",
        }
    };
    ArticleError::MalformedHeader {
        line,
        reason: reason.to_string(),
    }
}

/// A field being accumulated: name and raw value bytes so far.
struct Pending {
    name: String,
    value: Vec<u8>,
}

impl Pending {
    fn size(&self) -> usize {
        self.name.len() + 1 + self.value.len()
    }
}

fn too_long(name: &str, limit: usize) -> ArticleError {
    ArticleError::HeaderTooLong {
        name: name.chars().take(80).collect(),
        limit,
    }
}

/// Moves a finished field into `headers`, checking count and UTF-8.
fn finish(
    pending: Option<Pending>,
    headers: &mut Vec<Header>,
    limits: &Limits,
) -> Result<(), ArticleError> {
    let Some(Pending { name, value }) = pending else {
        return Ok(());
    };
    if headers.len() >= limits.max_headers {
        return Err(ArticleError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    match String::from_utf8(value) {
        Ok(value) => {
            headers.push(Header { name, value });
            Ok(())
        }
        Err(_) => Err(ArticleError::NotUtf8 { name }),
    }
}

/// Parses a whole article; see [`Article::parse`].
pub(super) fn parse_article(input: &[u8], limits: &Limits) -> Result<Article, ArticleError> {
    if input.len() > limits.max_article {
        return Err(ArticleError::TooLarge {
            size: input.len(),
            limit: limits.max_article,
        });
    }
    let mut headers = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut rest = input;
    let mut lineno = 0;
    loop {
        lineno += 1;
        let Ok((next, (content, kind))) = line(rest) else {
            return Err(diagnose(rest, lineno));
        };
        rest = next;
        match kind {
            Line::Blank => {
                finish(pending.take(), &mut headers, limits)?;
                return Ok(Article {
                    headers,
                    body: to_crlf(rest),
                });
            }
            Line::Fold(cont) => {
                let Some(p) = pending.as_mut() else {
                    return Err(ArticleError::MalformedHeader {
                        line: lineno,
                        reason: "continuation line before first header".to_string(),
                    });
                };
                if content.len() > MAX_HEADER_LINE {
                    return Err(too_long(&p.name, MAX_HEADER_LINE));
                }
                if p.size() + 2 + cont.len() > limits.max_header_field {
                    return Err(too_long(&p.name, limits.max_header_field));
                }
                p.value.extend_from_slice(b"\r\n");
                p.value.extend_from_slice(cont);
            }
            Line::Field(name, value) => {
                finish(pending.take(), &mut headers, limits)?;
                // Name bytes are printable ASCII, so this is lossless.
                let name = String::from_utf8_lossy(name).into_owned();
                // Checked as received and as `to_bytes` writes it back (`Name: value`,
                // a space added after the colon when it had none), so what this node
                // stores and forwards is never over the limit at the next node.
                let written = name.len() + 1 + if value.is_empty() { 0 } else { 1 + value.len() };
                if content.len().max(written) > MAX_HEADER_LINE {
                    return Err(too_long(&name, MAX_HEADER_LINE));
                }
                let p = Pending {
                    name,
                    value: value.to_vec(),
                };
                if p.size() > limits.max_header_field {
                    return Err(too_long(&p.name, limits.max_header_field));
                }
                pending = Some(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use proptest::prelude::*;

    fn parse(b: &[u8]) -> Result<Article, ArticleError> {
        Article::parse(b, &Limits::default())
    }

    fn malformed(b: &[u8]) -> (usize, String) {
        match parse(b) {
            Err(ArticleError::MalformedHeader { line, reason }) => (line, reason),
            other => panic!("expected MalformedHeader, got {other:?}"),
        }
    }

    #[test]
    fn folded_headers_keep_folding() {
        let a = parse(b"Subject: one\r\n two\r\n\tthree\r\nX:\r\n\r\nbody\r\n").unwrap();
        assert_eq!(
            a.headers[0],
            Header::new("Subject", "one\r\n two\r\n\tthree")
        );
        assert_eq!(a.headers[1], Header::new("X", ""));
        assert_eq!(a.header_unfolded("subject").unwrap(), "one two\tthree");
        assert_eq!(a.body, b"body\r\n");
    }

    #[test]
    fn only_one_space_is_stripped_and_case_kept() {
        let a = parse(b"x-FOO:  two\r\nBar:\tt\r\nBaz:x\r\n\r\n").unwrap();
        assert_eq!(a.headers[0], Header::new("x-FOO", " two"));
        assert_eq!(a.header("bar"), Some("\tt"));
        assert_eq!(a.header("BAZ"), Some("x"));
        assert!(a.body.is_empty());
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        let a = parse(b"A: 1\r\nB: 2\r\na: 3\r\n\r\n").unwrap();
        let vals: Vec<_> = a.headers_named("A").map(|h| h.value.as_str()).collect();
        assert_eq!(vals, ["1", "3"]);
        assert_eq!(a.header("a"), Some("1"));
    }

    #[test]
    fn lf_only_input_is_normalised() {
        let a = parse(b"Subject: a\n b\nFrom: x\n\nline1\nline2\r\nlast\rcr").unwrap();
        assert_eq!(a.header("Subject"), Some("a\r\n b"));
        assert_eq!(a.body, b"line1\r\nline2\r\nlast\rcr");
        assert_eq!(
            a.to_bytes(),
            b"Subject: a\r\n b\r\nFrom: x\r\n\r\nline1\r\nline2\r\nlast\rcr"
        );
    }

    #[test]
    fn size_errors() {
        let small = Limits {
            max_article: 10,
            ..Limits::default()
        };
        let big = vec![b'x'; 11];
        assert_eq!(
            Article::parse(&big, &small),
            Err(ArticleError::TooLarge {
                size: 11,
                limit: 10
            })
        );
        let many = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert_eq!(
            Article::parse(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", &many),
            Err(ArticleError::TooManyHeaders { limit: 2 })
        );
        assert!(Article::parse(b"A: 1\r\nB: 2\r\n\r\n", &many).is_ok());
    }

    #[test]
    fn header_too_long() {
        let long = format!("Subject: {}\r\n\r\n", "x".repeat(990));
        let err = parse(long.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            ArticleError::HeaderTooLong {
                name: "Subject".into(),
                limit: 998
            }
        );
        let ok = format!("Subject: {}\r\n\r\n", "x".repeat(989));
        assert!(parse(ok.as_bytes()).is_ok());
        let mut folded = String::from("Refs: a");
        for _ in 0..20 {
            folded.push_str(&format!("\r\n {}", "y".repeat(900)));
        }
        folded.push_str("\r\n\r\n");
        let want = ArticleError::HeaderTooLong {
            name: "Refs".into(),
            limit: MAX_HEADER_FIELD,
        };
        assert_eq!(parse(folded.as_bytes()), Err(want));
    }

    /// Found with the round-trip property of fuzz/src/bin/article.rs: a
    /// 998-octet `Name:value` line was accepted, but `to_bytes` (what the spool
    /// stores and forwards) writes `Name: value`, 999 octets, which the next node
    /// refused.
    #[test]
    fn line_limit_holds_for_the_written_form() {
        let tight = format!("X:{}\r\n\r\nbody\r\n", "a".repeat(996));
        let err = parse(tight.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ArticleError::HeaderTooLong { limit: 998, .. }),
            "{err:?}"
        );
        let fits = format!("X:{}\r\n\r\nbody\r\n", "a".repeat(995));
        let a = parse(fits.as_bytes()).unwrap();
        assert_eq!(parse(&a.to_bytes()), Ok(a));
    }

    #[test]
    fn not_utf8() {
        assert_eq!(
            parse(b"Subject: caf\xe9\r\n\r\n"),
            Err(ArticleError::NotUtf8 {
                name: "Subject".into()
            })
        );
        assert!(parse(b"Subject: caf\xc3\xa9\r\n\r\n\xff").is_ok());
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(
            malformed(b"A: 1\r\nnocolon\r\n\r\n"),
            (2, "missing colon".into())
        );
        assert_eq!(malformed(b": x\r\n\r\n"), (1, "empty header name".into()));
        let bad_name = (1, "invalid character in header name".to_string());
        assert_eq!(malformed(b"Sub ject: x\r\n\r\n"), bad_name);
        assert_eq!(malformed(b"S\xc3\xa9: x\r\n\r\n"), bad_name);
        assert_eq!(
            malformed(b" x\r\nA: 1\r\n\r\n"),
            (1, "continuation line before first header".into())
        );
        assert_eq!(
            malformed(b"A: 1\r\nB: a\rb\r\n\r\n"),
            (2, "bare CR in header line".into())
        );
    }

    #[test]
    fn no_body() {
        for input in [&b""[..], b"A: 1", b"A: 1\r\n", b"A: 1\r\n b\n", b"garbage"] {
            assert_eq!(parse(input), Err(ArticleError::NoBody), "{input:?}");
        }
        let a = parse(b"\r\n").unwrap();
        assert!(a.headers.is_empty() && a.body.is_empty());
    }

    fn name() -> impl Strategy<Value = String> {
        "[!-9;-~]{1,20}"
    }

    fn value() -> impl Strategy<Value = String> {
        let first = "[ -~é€]{0,40}";
        let cont = "[ \t][ -~\tü]{0,40}";
        (first, prop::collection::vec(cont, 0..3))
            .prop_map(|(f, c)| c.iter().fold(f, |acc, l| format!("{acc}\r\n{l}")))
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        let line = prop::collection::vec(any::<u8>().prop_filter("no EOL", |b| *b != b'\n'), 0..50);
        prop::collection::vec(line, 0..8).prop_map(|lines| {
            let mut body = Vec::new();
            for l in lines {
                body.extend_from_slice(&l);
                body.extend_from_slice(b"\r\n");
            }
            body
        })
    }

    proptest! {
        #[test]
        fn roundtrip(hs in prop::collection::vec((name(), value()), 0..20), body in body()) {
            let a = Article {
                headers: hs.into_iter().map(|(n, v)| Header::new(n, v)).collect(),
                body,
            };
            prop_assert_eq!(parse(&a.to_bytes()), Ok(a));
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_header_like(bytes in prop::collection::vec(
            prop::sample::select(b"ab:  \t\r\n\n\xc3\xff".to_vec()), 0..200)) {
            let _ = parse(&bytes);
        }
    }
}
