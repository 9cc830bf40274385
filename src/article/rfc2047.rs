//! RFC 2047 encoded-words (`=?UTF-8?Q?caf=C3=A9?=`) in header values, decoded for
//! display. Newsreaders post non-ASCII Subjects and From names this way; `newsmesh read`
//! shows them as text instead of the raw `=?…?=` form. The stored article and what the
//! server sends are never changed (the signature covers the raw headers).
//!
//! Decoding is lenient in what it finds and strict in what it produces: a word that is
//! malformed, in an unknown charset or not decodable is left as it was, whitespace
//! between two adjacent encoded-words is dropped (§6.2), and control characters in the
//! decoded text (an escape sequence, a line break) become U+FFFD so a header cannot
//! drive the terminal.

use std::borrow::Cow;

use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char, one_of};
use nom::combinator::opt;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// Longest charset name accepted (IANA names are far shorter).
const MAX_CHARSET: usize = 40;
/// Longest encoded text of one word. RFC 2047 allows 75 octets for the whole word; real
/// posters exceed it, so this only bounds the work, it does not enforce the RFC.
const MAX_ENCODED_TEXT: usize = 1000;

/// One encoded-word, split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EncodedWord<'a> {
    charset: &'a str,
    /// `B` (base64) or `Q` (quoted-printable-like), upper-cased.
    encoding: char,
    text: &'a str,
}

/// `token` characters of RFC 2047 §2 (no space, control, or especials).
fn is_token(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\"/[]?.=*".contains(c)
}

/// `=?charset[*lang]?B|Q?text?=`.
fn encoded_word(i: &str) -> IResult<&str, EncodedWord<'_>> {
    let charset = take_while_m_n(1, MAX_CHARSET, is_token);
    // RFC 2231 §5: an optional language after the charset, ignored for display.
    let language = opt(preceded(
        char('*'),
        take_while_m_n(1, MAX_CHARSET, is_token),
    ));
    let text = take_while_m_n(0, MAX_ENCODED_TEXT, |c: char| {
        c.is_ascii_graphic() && c != '?'
    });
    delimited(
        tag("=?"),
        (
            charset,
            language,
            char('?'),
            one_of("BbQq"),
            char('?'),
            text,
        ),
        tag("?="),
    )
    .map(|(charset, _, _, encoding, _, text)| EncodedWord {
        charset,
        encoding: encoding.to_ascii_uppercase(),
        text,
    })
    .parse(i)
}

impl EncodedWord<'_> {
    /// The decoded text, or None when it cannot be decoded.
    fn decode(&self) -> Option<String> {
        let bytes = match self.encoding {
            'B' => base64(self.text)?,
            _ => q_decode(self.text)?,
        };
        to_text(self.charset, &bytes)
    }
}

/// Base64 with or without padding.
fn base64(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    data_encoding::BASE64_NOPAD.decode(unpadded.as_bytes()).ok()
}

/// The "Q" encoding: `_` is a space, `=XX` an octet, anything else itself.
fn q_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    Some(out)
}

/// Octets in `charset` as text; None for a charset not known here or invalid octets.
fn to_text(charset: &str, bytes: &[u8]) -> Option<String> {
    let charset = charset.to_ascii_lowercase();
    match charset.as_str() {
        "utf-8" | "utf8" | "us-ascii" | "ascii" => String::from_utf8(bytes.to_vec()).ok(),
        // ISO 8859-1's octets are the first 256 Unicode code points.
        "iso-8859-1" | "iso8859-1" | "latin1" | "l1" => {
            Some(bytes.iter().map(|&b| char::from(b)).collect())
        }
        _ => None,
    }
}

/// `value` with its encoded-words decoded (borrowed unchanged when it has none).
pub fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains("=?") {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut after_word = false;
    while let Some(at) = rest.find("=?") {
        let (before, candidate) = rest.split_at(at);
        let decoded = encoded_word(candidate)
            .ok()
            .and_then(|(after, word)| Some((after, word.decode()?)));
        match decoded {
            Some((after, text)) => {
                // Only whitespace between two encoded-words: it is not part of the text.
                if !(after_word && before.chars().all(char::is_whitespace)) {
                    out.push_str(before);
                }
                out.extend(text.chars().map(|c| {
                    if c.is_control() {
                        char::REPLACEMENT_CHARACTER
                    } else {
                        c
                    }
                }));
                rest = after;
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_words() {
        assert_eq!(decode("=?UTF-8?Q?caf=C3=A9?="), "café");
        assert_eq!(decode("=?utf-8?b?Y2Fmw6k=?="), "café");
        assert_eq!(decode("=?utf-8?B?Y2Fmw6k?="), "café", "padding is optional");
        assert_eq!(decode("=?ISO-8859-1?Q?caf=E9?="), "café");
        assert_eq!(decode("=?UTF-8*fr?Q?caf=C3=A9?="), "café", "a language");
        assert_eq!(decode("=?UTF-8?Q?a_b?="), "a b");
        assert_eq!(decode("=?UTF-8?Q??="), "");
    }

    #[test]
    fn whitespace_between_words_is_dropped_but_not_around_text() {
        assert_eq!(decode("=?UTF-8?Q?a?= =?UTF-8?Q?b?="), "ab");
        assert_eq!(decode("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?="), "ab", "folded");
        assert_eq!(
            decode("Re: =?UTF-8?Q?caf=C3=A9?= au lait"),
            "Re: café au lait"
        );
        assert_eq!(
            decode("Ren=?UTF-8?Q?=C3=A9?= <r@example.org>"),
            "René <r@example.org>"
        );
    }

    #[test]
    fn what_cannot_be_decoded_is_left_alone() {
        for raw in [
            "plain subject",
            "=?KOI8-R?Q?abc?=",
            "=?UTF-8?X?abc?=",
            "=?UTF-8?Q?abc",
            "=?UTF-8?Q?a=Zb?=",
            "=?UTF-8?Q?=C3?=",
            "=?UTF-8?B?!!!?=",
            "price =? unknown",
            "=?",
        ] {
            assert_eq!(decode(raw), raw);
        }
        assert_eq!(
            decode("=?KOI8-R?Q?x?= =?UTF-8?Q?y?="),
            "=?KOI8-R?Q?x?= y",
            "only adjacent decoded words join"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(decode("=?UTF-8?Q?a=1B[2Jb?="), "a\u{FFFD}[2Jb");
        assert_eq!(
            decode("=?UTF-8?Q?a=0D=0AX-Injected:_1?="),
            "a\u{FFFD}\u{FFFD}X-Injected: 1"
        );
    }

    proptest! {
        #[test]
        fn never_panics(value in "[ -~\\t\\r\\n\u{e9}]{0,200}") {
            let _ = decode(&value);
        }

        #[test]
        fn encoded_utf8_round_trips(text in "[^\\p{Cc}]{0,40}") {
            let q: String = text
                .bytes()
                .map(|b| format!("={b:02X}"))
                .collect();
            let word = format!("=?UTF-8?Q?{q}?=");
            prop_assert_eq!(decode(&word), text.clone());
            let b = format!("=?utf-8?B?{}?=", data_encoding::BASE64.encode(text.as_bytes()));
            prop_assert_eq!(decode(&b), text);
        }
    }
}
