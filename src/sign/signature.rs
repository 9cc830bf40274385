//! Article signatures and content-derived Message-IDs (documented in `man/newsmesh-article.5`).
//!
//! An author signs a canonical form of the headers that must not change in transit and of
//! the body, DKIM-like. The result travels in one header:
//!
//! ```text
//! Newsmesh-Signature: v=1; k=<author key, base64>; h=from:newsgroups:subject:date; s=<signature, base64>
//! ```
//!
//! The canonical form is, byte for byte:
//!
//! ```text
//! "newsmesh-article-v1" CRLF
//! "k=" <k value> CRLF
//! "h=" <h value> CRLF
//! for each name in h, in order: <name, lower case> ":" <relaxed value> CRLF
//! CRLF
//! <body, CRLF line ends, trailing empty lines removed>
//! ```
//!
//! where the relaxed value is the field unfolded, runs of spaces and tabs folded to one space,
//! trimmed (empty when the header is absent). The digest is SHA-256 of that canonical form;
//! the Message-ID is `<` + lower-case unpadded base32 of the digest + `@newsmesh>`; the
//! signature is Ed25519 (RFC 8032) over `"newsmesh-sig-v1:"` followed by the 32-byte digest.
//! Path, Xref, Lines, Injection-Info and other transit headers are not covered, so relays
//! (INN included) may rewrite them freely.

use data_encoding::{BASE32_NOPAD, BASE64};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::keys::{parse_public_key_cached, public_key_text};
use crate::article::Article;

/// Name of the signature header.
pub const SIGNATURE_HEADER: &str = "Newsmesh-Signature";
/// Right-hand side of every content-derived Message-ID.
pub const ID_DOMAIN: &str = "newsmesh";
/// Headers every signature must cover.
pub const REQUIRED_SIGNED: [&str; 4] = ["from", "newsgroups", "subject", "date"];
/// Headers that, when present, must be covered: they change what the article means or
/// what it does (a Control or Supersedes added by a relay would cancel someone's article).
pub const CRITICAL_HEADERS: [&str; 8] = [
    "references",
    "followup-to",
    "control",
    "supersedes",
    "distribution",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
];
/// Headers the signer covers when present, beyond the required and critical ones.
const OPTIONAL_SIGNED: [&str; 6] = [
    "reply-to",
    "organization",
    "keywords",
    "summary",
    "expires",
    "user-agent",
];
const SIG_CONTEXT: &[u8] = b"newsmesh-sig-v1:";

/// The verdict on one article's signature and Message-ID (trust is decided separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigStatus {
    /// Signed by `key`, the signature verifies and the Message-ID matches the content.
    Valid {
        /// The author key.
        key: VerifyingKey,
    },
    /// No signature header.
    Unsigned,
    /// The header is malformed, does not cover what it must, or the signature is wrong.
    BadSignature(String),
    /// The signature may be fine but the Message-ID is not the one derived from the content.
    IdMismatch {
        /// The Message-ID the content derives.
        expected: String,
    },
}

impl SigStatus {
    /// One short human line, as `newsmesh read` prints it.
    pub fn describe(&self) -> String {
        match self {
            SigStatus::Valid { key } => {
                format!("signature valid (author key {})", public_key_text(key))
            }
            SigStatus::Unsigned => "unsigned".into(),
            SigStatus::BadSignature(why) => format!("BAD signature: {why}"),
            SigStatus::IdMismatch { expected } => {
                format!("Message-ID does not match the content (expected {expected})")
            }
        }
    }
}

/// A parsed signature header plus the digest of the article's canonical form: everything
/// needed to verify, so that many articles can be verified in one batch.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Author key from `k=`.
    pub key: VerifyingKey,
    /// Signature from `s=`.
    pub signature: Signature,
    /// SHA-256 of the canonical form.
    pub digest: [u8; 32],
}

impl Prepared {
    /// The message the signature is over.
    pub fn signed_message(&self) -> [u8; 48] {
        signed_message(&self.digest)
    }
}

fn signed_message(digest: &[u8; 32]) -> [u8; 48] {
    let mut msg = [0u8; 48];
    msg[..16].copy_from_slice(SIG_CONTEXT);
    msg[16..].copy_from_slice(digest);
    msg
}

/// The Message-ID derived from a canonical-form digest.
pub fn message_id_for(digest: &[u8; 32]) -> String {
    format!(
        "<{}@{ID_DOMAIN}>",
        BASE32_NOPAD.encode(digest).to_ascii_lowercase()
    )
}

/// Signs `article` with `key`: adds the signature header and sets the Message-ID derived
/// from the content. The article must already carry From, Newsgroups, Subject and Date.
pub fn sign_article(article: &mut Article, key: &SigningKey) -> String {
    article.remove_header(SIGNATURE_HEADER);
    let names: Vec<&str> = REQUIRED_SIGNED
        .iter()
        .chain(CRITICAL_HEADERS.iter())
        .chain(OPTIONAL_SIGNED.iter())
        .copied()
        .filter(|n| REQUIRED_SIGNED.contains(n) || article.header(n).is_some())
        .collect();
    let k = public_key_text(&key.verifying_key());
    let h = names.join(":");
    let digest = Sha256::digest(canonical_form(article, &k, &h));
    let digest: [u8; 32] = digest.into();
    let signature = key.sign(&signed_message(&digest));
    let value = format!(
        "v=1; k={k}; h={h}; s={}",
        BASE64.encode(&signature.to_bytes())
    );
    article.set_header(SIGNATURE_HEADER, &value);
    let id = message_id_for(&digest);
    article.set_header("Message-ID", &id);
    id
}

/// Parses the signature header and computes the digest; checks coverage and the
/// Message-ID, but not the signature itself (see [`verify_prepared`] and
/// [`super::batch::verify_many`]).
// The error is the verdict itself, consumed at once by the caller, never propagated with `?`.
#[allow(clippy::result_large_err)]
pub fn prepare(article: &Article) -> Result<Prepared, SigStatus> {
    let raw = match article.header_unfolded(SIGNATURE_HEADER) {
        Some(v) => v,
        None => return Err(SigStatus::Unsigned),
    };
    let bad = |why: &str| SigStatus::BadSignature(why.to_string());
    if article.headers_named(SIGNATURE_HEADER).count() > 1 {
        return Err(bad("more than one signature header"));
    }
    let (mut v, mut k, mut h, mut s) = (None, None, None, None);
    for tag in raw.split(';') {
        let (name, value) = tag.split_once('=').ok_or_else(|| bad("malformed tag"))?;
        let slot = match name.trim() {
            "v" => &mut v,
            "k" => &mut k,
            "h" => &mut h,
            "s" => &mut s,
            _ => continue,
        };
        *slot = Some(value.trim().to_string());
    }
    if v.as_deref() != Some("1") {
        return Err(bad("unknown signature version"));
    }
    let (k, h, s) = match (k, h, s) {
        (Some(k), Some(h), Some(s)) => (k, h, s),
        _ => return Err(bad("missing k=, h= or s=")),
    };
    let key = parse_public_key_cached(&k).map_err(|_| bad("malformed author key"))?;
    let signature = BASE64
        .decode(s.as_bytes())
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| bad("malformed signature value"))?;
    let covered: Vec<String> = h
        .split(':')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    for must in REQUIRED_SIGNED {
        if !covered.iter().any(|c| c == must) {
            return Err(SigStatus::BadSignature(format!(
                "signature does not cover {must}"
            )));
        }
    }
    for critical in CRITICAL_HEADERS {
        if article.header(critical).is_some() && !covered.iter().any(|c| c == critical) {
            return Err(SigStatus::BadSignature(format!(
                "header {critical} is not covered by the signature"
            )));
        }
    }
    for name in &covered {
        if article.headers_named(name).count() > 1 {
            return Err(SigStatus::BadSignature(format!(
                "signed header {name} appears twice"
            )));
        }
    }
    let digest: [u8; 32] = Sha256::digest(canonical_form(article, &k, &h)).into();
    let expected = message_id_for(&digest);
    if article.message_id() != Some(expected.as_str()) {
        return Err(SigStatus::IdMismatch { expected });
    }
    Ok(Prepared {
        key,
        signature,
        digest,
    })
}

/// Verifies one prepared signature.
pub fn verify_prepared(p: &Prepared) -> SigStatus {
    match p.key.verify(&p.signed_message(), &p.signature) {
        Ok(()) => SigStatus::Valid { key: p.key },
        Err(_) => SigStatus::BadSignature("signature does not verify".into()),
    }
}

/// Full check of one article: signature header, coverage, Message-ID, signature.
pub fn check(article: &Article) -> SigStatus {
    match prepare(article) {
        Ok(p) => verify_prepared(&p),
        Err(status) => status,
    }
}

/// Builds the canonical form described in the module documentation.
fn canonical_form(article: &Article, k: &str, h: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(article.body.len() + 512);
    out.extend_from_slice(b"newsmesh-article-v1\r\nk=");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\r\nh=");
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(b"\r\n");
    for name in h.split(':') {
        let name = name.trim().to_ascii_lowercase();
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        if let Some(value) = article.header(&name) {
            relaxed_value(value, &mut out);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let mut body: &[u8] = &article.body;
    while body.ends_with(b"\r\n\r\n") {
        body = &body[..body.len() - 2];
    }
    if body == b"\r\n" {
        body = b"";
    }
    out.extend_from_slice(body);
    out
}

/// Unfolds, folds whitespace runs to one space and trims.
fn relaxed_value(value: &str, out: &mut Vec<u8>) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value.as_bytes() {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Header, Limits};

    fn sample() -> Article {
        let h = |n: &str, v: &str| Header {
            name: n.into(),
            value: v.into(),
        };
        Article {
            headers: vec![
                h("Path", "alpha!not-for-mail"),
                h("From", "Ann <ann@example.org>"),
                h("Newsgroups", "mesh.test"),
                h("Subject", "Hello"),
                h("Date", "Fri, 27 Nov 2026 14:00:00 +0000"),
            ],
            body: b"Line one\r\n.dot line\r\n".to_vec(),
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[42; 32])
    }

    #[test]
    fn signed_article_verifies_and_owns_its_id() {
        let mut a = sample();
        let id = sign_article(&mut a, &key());
        assert!(id.ends_with("@newsmesh>"));
        assert_eq!(a.message_id(), Some(id.as_str()));
        assert_eq!(
            check(&a),
            SigStatus::Valid {
                key: key().verifying_key()
            }
        );
        // Survives a trip through bytes.
        let again = Article::parse(&a.to_bytes(), &Limits::default()).unwrap();
        assert!(matches!(check(&again), SigStatus::Valid { .. }));
    }

    #[test]
    fn transit_headers_and_refolding_do_not_matter() {
        let mut a = sample();
        sign_article(&mut a, &key());
        a.path_prepend("inn.example");
        a.set_header("Xref", "inn.example mesh.test:17");
        a.set_header("Lines", "2");
        a.set_header("Subject", "Hello");
        a.body.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(check(&a), SigStatus::Valid { .. }));
    }

    #[test]
    fn tampering_is_detected() {
        let mut a = sample();
        sign_article(&mut a, &key());
        let mut body = a.clone();
        body.body[0] = b'l';
        assert!(matches!(check(&body), SigStatus::IdMismatch { .. }));
        let mut subject = a.clone();
        subject.set_header("Subject", "Changed");
        assert!(matches!(check(&subject), SigStatus::IdMismatch { .. }));
        let mut control = a.clone();
        control.set_header("Control", "cancel <x@y>");
        assert!(matches!(check(&control), SigStatus::BadSignature(_)));
        let mut unsigned = a.clone();
        unsigned.remove_header(SIGNATURE_HEADER);
        assert_eq!(check(&unsigned), SigStatus::Unsigned);
    }

    #[test]
    fn forged_signature_with_matching_id_is_bad() {
        let mut a = sample();
        sign_article(&mut a, &key());
        // Replace the signature bytes but keep k/h: the id still matches the content.
        let v = a.header_unfolded(SIGNATURE_HEADER).unwrap();
        let (front, _) = v.rsplit_once("s=").unwrap();
        let forged = format!("{front}s={}", BASE64.encode(&[1u8; 64]));
        a.set_header(SIGNATURE_HEADER, &forged);
        assert!(matches!(check(&a), SigStatus::BadSignature(_)));
    }
}
