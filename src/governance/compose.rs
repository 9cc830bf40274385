//! The governance articles this node's admin sends (`policy`, `member`, `revoke`): an
//! ordinary signed article whose Control header carries the action, posted in the groups
//! of its scope this node carries, so it floods to every neighbour fed those groups.

use ed25519_dalek::SigningKey;

use super::control::Action;
use crate::article::Article;
use crate::compose::{compose_with, Draft};

/// Builds the signed governance article for `action`, in `groups`.
pub fn article(
    action: &Action,
    groups: &[String],
    from: &str,
    node_name: &str,
    key: &SigningKey,
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
    compose_with(&draft, &[("Control", &control)], node_name, key)
}
