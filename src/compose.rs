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

/// The current date in RFC 5322 form.
pub fn date_now() -> String {
    chrono::Utc::now()
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
/// missing, drops headers only the node may set, and signs it.
pub fn sign_posted(
    raw: &[u8],
    node_name: &str,
    key: &SigningKey,
    limits: &Limits,
) -> Result<Article, String> {
    let mut article = Article::parse(raw, limits).map_err(|e| e.to_string())?;
    for name in NODE_SUPPLIED {
        article.remove_header(name);
    }
    for required in ["From", "Newsgroups", "Subject"] {
        if article.header(required).is_none() {
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
