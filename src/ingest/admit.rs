//! The admission seam: checks an article must pass beyond its signature and the trust
//! policy (membership and revocation, age limits, quotas). [`admit`] is called once per
//! article, in the transaction that stores it, after its signature was verified and the
//! trust policy admitted its author, and before anything is written for it (a control
//! message carried out, the article stored). A check plugs in as one line in `admit`
//! (its logic in its own module) and refuses with its own [`Refusal`] variant.

use ed25519_dalek::VerifyingKey;

use super::{Refusal, Rules, Source};
use crate::admission::Deliverer;
use crate::article::Article;
use crate::spool::Storer;

/// What an admission check sees of one article.
// `msgid` is for the checks still to plug in.
#[allow(dead_code)]
pub(super) struct Admitting<'a> {
    /// The article as offered (Path not yet prepended, Xref not yet removed).
    pub article: &'a Article,
    /// Its Message-ID.
    pub msgid: &'a str,
    /// Its verified author key; None for an unsigned article (which the trust policy
    /// admitted from an `[[nntp_peer]]`).
    pub author: Option<&'a VerifyingKey>,
    /// The groups it names (Newsgroups).
    pub groups: &'a [String],
}

/// Further admission checks, in order; the first refusal wins. `store` is the open
/// transaction (read what a check needs; write nothing for a refused article).
pub(super) fn admit(
    store: &mut Storer<'_>,
    rules: &Rules<'_>,
    admitting: &Admitting<'_>,
) -> rusqlite::Result<Result<(), Refusal>> {
    // Governance: the admins' members-only policies and revocations (src/governance/).
    if let Some(key) = admitting.author {
        let author = crate::sign::public_key_text(key);
        let checked = crate::governance::check(
            store,
            rules.trust,
            admitting.article,
            admitting.groups,
            &author,
        )?;
        if let Err(refusal) = checked {
            return Ok(Err(refusal.into()));
        }
    }
    // Dated outside the window: refused, no history row (it depends on the clock).
    if let Some(why) = rules.admission.refuse_date(admitting.article) {
        return Ok(Err(Refusal::Age(why)));
    }
    // Over a quota: temporary (`Verdict::Deferred`), charged to the day otherwise.
    let author = admitting.author.map(crate::sign::public_key_text);
    let article = (author.as_deref(), admitting.groups, admitting.article);
    if let Some(why) = rules
        .admission
        .defer(store, deliverer(rules.source), article)?
    {
        return Ok(Err(Refusal::OverQuota(why)));
    }
    Ok(Ok(()))
}

/// Who delivers the articles of `source`, as the quotas see it.
fn deliverer(source: Source<'_>) -> Deliverer<'_> {
    match source {
        Source::Local | Source::Import => Deliverer::Operator,
        Source::Peer(name) | Source::NntpPeer(name) => Deliverer::Neighbour(name),
        Source::Reader(_) => Deliverer::Other,
    }
}
