//! The governance articles this node's admin sends (`policy`, `member`, `revoke`): an
//! ordinary signed article whose Control header carries the action, posted in the groups
//! of its scope this node carries, so it floods to every neighbour fed those groups.

use ed25519_dalek::SigningKey;

use super::control::Action;
use crate::article::Article;
use crate::compose::{compose_with, Draft};
use crate::sign::sign_article;

/// Builds the signed governance article for `action`, in `groups`. `after`: the latest
/// governance Date this node holds; the new article is dated after it (a second later
/// when the clock has not moved on), so an admin's quick `member add` then `member
/// remove` are ordered as they were given, not by the Message-ID tie-break.
pub fn article(
    action: &Action,
    groups: &[String],
    from: &str,
    node_name: &str,
    key: &SigningKey,
    after: Option<i64>,
) -> Article {
    let control = action.control();
    let subject = format!("cmsg {control}");
    let body = format!("Governance: {control}\n");
    let newsgroups = groups.join(",");
    let draft = Draft {
        groups: &newsgroups,
        subject: &subject,
        from,
        references: None,
        body: body.as_bytes(),
    };
    let mut article = compose_with(&draft, &[("Control", &control)], node_name, key);
    let written = super::date_of(&article);
    if let (Some(after), Some(written)) = (after, written) {
        if written <= after {
            if let Some(date) = chrono::DateTime::from_timestamp(after + 1, 0) {
                article.set_header(
                    "Date",
                    &date.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
                );
                sign_article(&mut article, key);
            }
        }
    }
    article
}
