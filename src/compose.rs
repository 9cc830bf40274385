//! Composing a new article for posting: from `newsmesh post` (subject, group, body text)
//! or from a newsreader's NNTP POST (a whole article whose Message-ID, Path and
//! signature this node supplies). Either way the author key signs it here and the
//! result goes through [`crate::ingest`] like any article from the mesh.

use ed25519_dalek::SigningKey;

use crate::article::{body_from_local, Article, Header, Limits};
use crate::sign::sign_article;

/// Headers a poster may not supply: the node sets them (or relays add them).
const NODE_SUPPLIED: [&str; 5] = [
    "Message-ID",
    "Path",
    "Newsmesh-Signature",
    "Xref",
    "Injection-Info",
];

/// Headers that act on other articles or on groups: a cancel or newgroup/rmgroup
/// (Control), a replacement (Supersedes), a moderator's approval (Approved). A newsreader
/// may send them only as an AUTHINFO user; an anonymous loopback reader would otherwise
/// wield the node's default author key (and, through `[[control]]`, its group rights).
pub const PRIVILEGED_HEADERS: [&str; 3] = ["Control", "Supersedes", "Approved"];

/// Whether the poster of an NNTP POST has proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poster {
    /// An AUTHINFO user, signing with their own author key.
    Authenticated,
    /// A loopback reader without AUTHINFO, signing with the node's default author key.
    AnonymousLoopback,
}

/// What `newsmesh post` asks for.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// Newsgroups (comma-separated allowed).
    pub groups: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// From (a mailbox).
    pub from: &'a str,
    /// References of a follow-up, if any.
    pub references: Option<&'a str>,
    /// Body as local text (LF line ends allowed).
    pub body: &'a [u8],
}

/// The current date (the node's clock, [`crate::clock`]) in RFC 5322 form.
pub fn date_now() -> String {
    chrono::DateTime::from_timestamp(crate::clock::now(), 0)
        .unwrap_or_else(chrono::Utc::now)
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Builds and signs an article from a draft; returns it with its Message-ID set.
pub fn compose(draft: &Draft<'_>, node_name: &str, key: &SigningKey) -> Article {
    compose_with(draft, &[], node_name, key)
}

/// [`compose`] with extra headers (Control, Supersedes...), signed with the rest.
pub fn compose_with(
    draft: &Draft<'_>,
    extra: &[(&str, &str)],
    node_name: &str,
    key: &SigningKey,
) -> Article {
    let header = |name: &str, value: &str| Header {
        name: name.to_string(),
        value: value.to_string(),
    };
    let mut headers = vec![
        header("Path", &format!("{node_name}!not-for-mail")),
        header("From", draft.from),
        header("Newsgroups", draft.groups),
        header("Subject", draft.subject),
        header("Date", &date_now()),
    ];
    if let Some(refs) = draft.references {
        headers.push(header("References", refs));
    }
    headers.extend(extra.iter().map(|(name, value)| header(name, value)));
    headers.push(header(
        "User-Agent",
        concat!("newsmesh/", env!("CARGO_PKG_VERSION")),
    ));
    let mut article = Article {
        headers,
        body: body_from_local(draft.body),
    };
    sign_article(&mut article, key);
    article
}

/// A cancel control message (RFC 5537 §5.3) for `target`, which was posted to `groups`.
pub fn compose_cancel(
    target: &str,
    groups: &str,
    from: &str,
    node_name: &str,
    key: &SigningKey,
) -> Article {
    let subject = format!("cmsg cancel {target}");
    let control = format!("cancel {target}");
    let draft = Draft {
        groups,
        subject: &subject,
        from,
        references: None,
        body: b"Cancelled by its author.\n",
    };
    compose_with(&draft, &[("Control", &control)], node_name, key)
}

/// Takes an article from a newsreader's POST (wire form), fills Date and Path when
/// missing, drops headers only the node may set, and signs it. An anonymous loopback
/// poster may not send [`PRIVILEGED_HEADERS`].
pub fn sign_posted(
    raw: &[u8],
    node_name: &str,
    key: &SigningKey,
    limits: &Limits,
    poster: Poster,
) -> Result<Article, String> {
    let mut article = Article::parse(raw, limits).map_err(|e| e.to_string())?;
    if poster == Poster::AnonymousLoopback {
        if let Some(name) = PRIVILEGED_HEADERS
            .iter()
            .find(|name| article.header(name).is_some())
        {
            return Err(format!(
                "a {name} header needs AUTHINFO (a [[user]] whose key the rules allow); \
                 without it a loopback reader may not cancel, supersede or control \
                 (on the node itself use `newsmesh cancel`, `newgroup`, `post --supersedes`)"
            ));
        }
    }
    for name in NODE_SUPPLIED {
        article.remove_header(name);
    }
    for required in ["From", "Newsgroups", "Subject"] {
        // One rule on every path (`post`, NNTP POST): a blank header is a missing one.
        if article.header(required).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("missing {required} header"));
        }
    }
    if article.header("Date").is_none() {
        article.set_header("Date", &date_now());
    }
    article.set_header("Path", &format!("{node_name}!not-for-mail"));
    sign_article(&mut article, key);
    Ok(article)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anonymous_loopback_post_may_not_cancel_supersede_or_approve() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let limits = Limits::default();
        let base = "From: a@b.c\r\nNewsgroups: mesh.test\r\nSubject: s\r\n";
        for extra in [
            "Control: cancel <x@y>\r\n",
            "Supersedes: <x@y>\r\n",
            "Approved: me\r\n",
        ] {
            let raw = format!("{base}{extra}\r\nbody\r\n");
            let err = sign_posted(
                raw.as_bytes(),
                "alpha",
                &key,
                &limits,
                Poster::AnonymousLoopback,
            )
            .unwrap_err();
            assert!(err.contains("needs AUTHINFO"), "{err}");
            assert!(sign_posted(
                raw.as_bytes(),
                "alpha",
                &key,
                &limits,
                Poster::Authenticated
            )
            .is_ok());
        }
        let plain = format!("{base}\r\nbody\r\n");
        assert!(sign_posted(
            plain.as_bytes(),
            "alpha",
            &key,
            &limits,
            Poster::AnonymousLoopback
        )
        .is_ok());
    }

    #[test]
    fn a_blank_subject_is_refused_as_a_missing_one() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let raw = b"From: a@b.c\r\nNewsgroups: mesh.test\r\nSubject:  \r\n\r\nbody\r\n";
        let err = sign_posted(
            raw,
            "alpha",
            &key,
            &Limits::default(),
            Poster::Authenticated,
        )
        .unwrap_err();
        assert_eq!(err, "missing Subject header");
    }
}
