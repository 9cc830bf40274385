//! `post --supersedes ID`: checked before posting, because every node ignores a
//! Supersedes that another author key signed (or whose target it has not got), and the
//! new article would then stand beside the old one without a word.

use ed25519_dalek::SigningKey;

use crate::article::Article;
use crate::error::{Error, Result};
use crate::home::Node;
use crate::sign::{check, public_key_text, SigStatus};

/// Refuses a Supersedes that no node would honour: an id this node has not got, or an
/// article signed by another author key than `key`.
pub fn check_target(node: &Node, target: &str, key: &SigningKey) -> Result<()> {
    let Some(stored) = node.spool.article(target)? else {
        return Err(Error::NotFound(format!(
            "no article {target} on this node: nothing to supersede (sync first if it is \
             on its way; nothing posted)"
        )));
    };
    let old = Article::parse(&stored.raw, &node.config.limits.article_limits())?;
    match check(&old) {
        SigStatus::Valid { key: author } if author == key.verifying_key() => Ok(()),
        SigStatus::Valid { key: author } => Err(Error::Refused(format!(
            "{target} was signed by author key {}, not this one: only its author can \
             supersede it (use --author with that identity); nothing posted",
            public_key_text(&author)
        ))),
        _ => Err(Error::Refused(format!(
            "{target} carries no valid author signature: no node would honour a Supersedes \
             of it; nothing posted"
        ))),
    }
}
