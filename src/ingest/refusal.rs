//! Why ingest refuses an article. Each variant's text (its `Display`) is the sentence
//! the article log, the peer (438/439/437 answers), the newsreader (441) and the CLI
//! show, unchanged from when refusals were strings; callers and tests match variants.

use crate::article::ArticleError;
use crate::sign::{Denied, SigStatus};

/// One refused article.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// It does not parse within the limits, or fails validation.
    #[error("{0}")]
    Malformed(#[from] ArticleError),
    /// It has no Message-ID.
    #[error("no Message-ID")]
    NoMessageId,
    /// It was offered (TAKETHIS, IHAVE, an ARTICLE answer) under another Message-ID.
    #[error("offered as {offered} but its Message-ID is {actual}")]
    OfferedAs {
        /// The id it was offered under.
        offered: String,
        /// Its own Message-ID.
        actual: String,
    },
    /// Its signature is missing where required, malformed, or does not verify (boxed:
    /// a status is large, a refusal is passed around by value).
    #[error("{}", .0.describe())]
    Signature(Box<SigStatus>),
    /// The batch verifier gave no status for its signature.
    #[error("signature not verified (internal error)")]
    NotVerified,
    /// This node carries none of its groups.
    #[error(
        "this node does not carry {} (groups are created with `newsmesh groups --add` \
         or a newgroup from a key [[control]] trusts)",
        .groups.join(",")
    )]
    NotCarried {
        /// The groups it names.
        groups: Vec<String>,
    },
    /// The trust policy does not admit it.
    #[error(transparent)]
    Trust(#[from] Denied),
    /// An unsigned article whose Path does not start with the `[[nntp_peer]]` that
    /// delivered it.
    #[error("unsigned article from {peer} whose Path starts with {relay:?}, not {peer}")]
    UnsignedRelayMismatch {
        /// The `[[nntp_peer]]` that delivered it.
        peer: String,
        /// The first Path entry.
        relay: String,
    },
    /// An unsigned article that did not come from an `[[nntp_peer]]`.
    #[error("unsigned articles are accepted only from an [[nntp_peer]]")]
    UnsignedNotFromNntpPeer,
    /// An unsigned cancel: its author cannot be checked.
    #[error("an unsigned cancel cannot be checked")]
    UnsignedCancel,
    /// An unsigned newgroup or rmgroup: its author cannot be checked.
    #[error("an unsigned group control cannot be checked")]
    UnsignedGroupControl,
    /// A cancel of an article by another author.
    #[error("{target} is not by the author of this cancel")]
    NotTheAuthor {
        /// The article it would cancel.
        target: String,
    },
    /// A control message other than cancel, newgroup, rmgroup.
    #[error("unsupported control message: {0}")]
    UnsupportedControl(String),
    /// The admins' governance refuses it (members-only group, revoked key, a bad
    /// governance control article): never written to history, it may come again.
    #[error(transparent)]
    Governance(#[from] crate::governance::Refusal),
    /// The pipeline reached no verdict (a bug).
    #[error("internal: no verdict")]
    NoVerdict,
    /// Dated outside this node's window (`admission::age`: too old, too far ahead, or
    /// no readable Date); not written to history.
    #[error("{0}")]
    Age(crate::admission::AgeRefusal),
    /// Over a daily quota (`admission::quota`): temporary, the sender tries later.
    #[error("{0}")]
    OverQuota(String),
}

impl Refusal {
    /// Whether the article may be taken later as it is (a quota): ingest answers
    /// [`super::Verdict::Deferred`], no history row, the marks stay before it.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Refusal::OverQuota(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentences are what the article log and the wire said when refusals were
    /// strings: they must not change.
    #[test]
    fn refusals_read_as_they_always_did() {
        let cases = [
            (Refusal::NoMessageId, "no Message-ID"),
            (
                Refusal::OfferedAs {
                    offered: "<a@x>".into(),
                    actual: "<b@x>".into(),
                },
                "offered as <a@x> but its Message-ID is <b@x>",
            ),
            (
                Refusal::NotCarried {
                    groups: vec!["a.b".into(), "c.d".into()],
                },
                "this node does not carry a.b,c.d (groups are created with `newsmesh groups \
                 --add` or a newgroup from a key [[control]] trusts)",
            ),
            (
                Denied::UnsignedOff.into(),
                "unsigned articles are not accepted (policy.accept_unsigned = false)",
            ),
            (
                Refusal::UnsignedRelayMismatch {
                    peer: "inn".into(),
                    relay: "x".into(),
                },
                "unsigned article from inn whose Path starts with \"x\", not inn",
            ),
            (
                Refusal::Signature(Box::new(SigStatus::BadSignature(
                    "signature does not verify".into(),
                ))),
                "BAD signature: signature does not verify",
            ),
            (Refusal::NoVerdict, "internal: no verdict"),
        ];
        for (refusal, text) in cases {
            assert_eq!(refusal.to_string(), text);
        }
    }
}
