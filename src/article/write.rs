//! Serialising articles to wire form, and converting bodies between wire
//! form (CRLF) and local Unix text (LF).

use super::Article;

/// Serialises an article; see [`Article::to_bytes`].
pub(super) fn article_to_bytes(article: &Article) -> Vec<u8> {
    let size = article
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 4)
        .sum::<usize>()
        + 2
        + article.body.len();
    let mut out = Vec::with_capacity(size);
    for h in &article.headers {
        out.extend_from_slice(h.name.as_bytes());
        out.push(b':');
        if !h.value.is_empty() {
            out.push(b' ');
            out.extend_from_slice(h.value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&article.body);
    out
}

/// Number of LF bytes not preceded by CR.
fn bare_lf_count(text: &[u8]) -> usize {
    let mut prev = 0u8;
    text.iter()
        .filter(|&&b| {
            let bare = b == b'\n' && prev != b'\r';
            prev = b;
            bare
        })
        .count()
}

/// Turns every bare LF into CRLF; existing CRLFs and lone CRs stay. When
/// there is no bare LF this is a single copy.
pub(super) fn to_crlf(text: &[u8]) -> Vec<u8> {
    let bare = bare_lf_count(text);
    if bare == 0 {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len() + bare);
    let mut lines = text.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        out.extend_from_slice(line);
        if lines.peek().is_some() {
            if line.last() != Some(&b'\r') {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
    }
    out
}

/// Normalises a body from local text: bare LF becomes CRLF (an existing CRLF
/// stays), and a final CRLF is added to a non-empty body lacking one.
pub fn body_from_local(text: &[u8]) -> Vec<u8> {
    let mut out = to_crlf(text);
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Converts a wire-form body for display on a Unix terminal: CRLF becomes
/// LF; lone CRs are kept.
pub fn body_to_local(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if lines.peek().is_some() {
            out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
            out.push(b'\n');
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Article, Header};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn serialises_headers_and_body() {
        let a = Article {
            headers: vec![
                Header::new("Subject", "a\r\n b"),
                Header::new("X-Empty", ""),
            ],
            body: b"hi\r\n".to_vec(),
        };
        assert_eq!(a.to_bytes(), b"Subject: a\r\n b\r\nX-Empty:\r\n\r\nhi\r\n");
    }

    #[test]
    fn local_conversions() {
        assert_eq!(body_from_local(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(body_from_local(b""), b"");
        assert_eq!(body_from_local(b"\n\n"), b"\r\n\r\n");
        assert_eq!(body_to_local(b"a\r\nb\rc\r\n\r\n"), b"a\nb\rc\n\n");
        assert_eq!(to_crlf(b"x\r\r\ny\n"), b"x\r\r\ny\r\n");
    }

    proptest! {
        #[test]
        fn local_roundtrip(lines in prop::collection::vec("[^\r\n]{0,30}", 0..10)) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let wire = body_from_local(text.as_bytes());
            prop_assert_eq!(bare_lf_count(&wire), 0);
            prop_assert_eq!(body_to_local(&wire), text.as_bytes());
        }
    }
}
