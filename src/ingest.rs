//! The one way into the spool. Every article — posted here, pushed by a neighbour
//! (TAKETHIS/IHAVE), pulled in a sync, POSTed by a newsreader, imported from an rnews
//! batch — goes through [`ingest`]: parse within limits, check the signature and the
//! content-derived Message-ID, apply the trust policy, add this node to Path, store.
//!
//! Refusals are written to history only when the verdict depends on the content alone
//! and the content owns its Message-ID (a valid signature from an author the policy does
//! not admit). A tampered or squatting article must NOT put its claimed Message-ID into
//! history: that would let anyone block a real article by sending garbage under its id.

use crate::article::{Article, Limits};
use crate::sign::{self, batch::verify_many, public_key_text, Prepared, SigStatus, TrustPolicy};
use crate::spool::{NewArticle, Spool, SpoolError, StoreOutcome};

/// What happened to one offered article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stored with this arrival sequence.
    Stored(i64),
    /// Already here (or refused before).
    Duplicate,
    /// Refused; the reason is a short sentence.
    Refused(String),
}

/// What ingest needs to know about the node.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// This node's Path identity.
    pub node_name: &'a str,
    /// Parser limits (article size).
    pub limits: Limits,
    /// Who may post where.
    pub trust: &'a TrustPolicy,
}

struct Candidate {
    article: Article,
    msgid: String,
    groups: Vec<String>,
    prepared: Option<Prepared>,
}

/// Checks and stores a batch of articles (wire form) in one transaction; returns a
/// verdict per input, in order. Signatures are verified in a batch.
pub fn ingest(
    spool: &mut Spool,
    rules: &Rules<'_>,
    raws: &[&[u8]],
) -> Result<Vec<Verdict>, SpoolError> {
    let offers: Vec<(Option<&str>, &[u8])> = raws.iter().map(|raw| (None, *raw)).collect();
    ingest_offered(spool, rules, &offers)
}

/// [`ingest`] for articles a peer offered under a Message-ID (TAKETHIS, IHAVE): one whose
/// own Message-ID is not the offered one is refused, so an acknowledgement of an id
/// always means that very article was stored.
pub fn ingest_offered(
    spool: &mut Spool,
    rules: &Rules<'_>,
    offers: &[(Option<&str>, &[u8])],
) -> Result<Vec<Verdict>, SpoolError> {
    let mut verdicts: Vec<Option<Verdict>> = vec![None; offers.len()];
    let mut candidates: Vec<(usize, Candidate)> = Vec::with_capacity(offers.len());
    for (i, (offered, raw)) in offers.iter().enumerate() {
        match examine(spool, rules, *offered, raw)? {
            Ok(c) => candidates.push((i, c)),
            Err(v) => verdicts[i] = Some(v),
        }
    }
    let prepared: Vec<Prepared> = candidates
        .iter()
        .filter_map(|(_, c)| c.prepared.clone())
        .collect();
    let mut statuses = verify_many(&prepared).into_iter();
    let mut to_store: Vec<(usize, NewArticle)> = Vec::with_capacity(candidates.len());
    let mut policy_refusals = Vec::new();
    for (i, mut c) in candidates {
        let author = match &c.prepared {
            None => None,
            Some(_) => match statuses.next() {
                Some(SigStatus::Valid { key }) => Some(key),
                Some(other) => {
                    verdicts[i] = Some(Verdict::Refused(other.describe()));
                    continue;
                }
                None => None,
            },
        };
        if let Err(why) = rules.trust.allows(&c.groups, author.as_ref()) {
            if author.is_some() {
                policy_refusals.push((c.msgid.clone(), why.clone()));
            }
            verdicts[i] = Some(Verdict::Refused(why));
            continue;
        }
        if c.article.path_entries().first().map(String::as_str) != Some(rules.node_name) {
            c.article.path_prepend(rules.node_name);
        }
        to_store.push((
            i,
            new_article(
                c.article,
                c.msgid,
                c.groups,
                author.map(|k| public_key_text(&k)),
            ),
        ));
    }
    let batch: Vec<NewArticle> = to_store.iter().map(|(_, a)| a.clone()).collect();
    let outcomes = spool.store_batch(&batch)?;
    for ((i, _), outcome) in to_store.iter().zip(outcomes) {
        verdicts[*i] = Some(match outcome {
            StoreOutcome::Stored(seq) => Verdict::Stored(seq),
            StoreOutcome::Duplicate => Verdict::Duplicate,
        });
    }
    spool.record_refused(&policy_refusals)?;
    Ok(verdicts
        .into_iter()
        .map(|v| v.unwrap_or_else(|| Verdict::Refused("internal: no verdict".into())))
        .collect())
}

/// Parses and pre-checks one article; `Err(verdict)` when it is settled already.
fn examine(
    spool: &Spool,
    rules: &Rules<'_>,
    offered: Option<&str>,
    raw: &[u8],
) -> Result<Result<Candidate, Verdict>, SpoolError> {
    let article = match Article::parse(raw, &rules.limits) {
        Ok(a) => a,
        Err(e) => return Ok(Err(Verdict::Refused(e.to_string()))),
    };
    if let Err(e) = article.validate(false) {
        return Ok(Err(Verdict::Refused(e.to_string())));
    }
    let msgid = match article.message_id() {
        Some(id) => id.to_string(),
        None => return Ok(Err(Verdict::Refused("no Message-ID".into()))),
    };
    if let Some(offered) = offered.filter(|o| *o != msgid) {
        return Ok(Err(Verdict::Refused(format!(
            "offered as {offered} but its Message-ID is {msgid}"
        ))));
    }
    if spool.seen(&msgid)? {
        return Ok(Err(Verdict::Duplicate));
    }
    let prepared = match sign::prepare(&article) {
        Ok(p) => Some(p),
        Err(SigStatus::Unsigned) if rules.trust.accepts_unsigned() => None,
        Err(SigStatus::Unsigned) => {
            return Ok(Err(Verdict::Refused(
                "unsigned articles are not accepted (policy.accept_unsigned = false)".into(),
            )))
        }
        Err(status) => return Ok(Err(Verdict::Refused(status.describe()))),
    };
    let groups = article.newsgroups();
    Ok(Ok(Candidate {
        article,
        msgid,
        groups,
        prepared,
    }))
}

fn new_article(
    article: Article,
    msgid: String,
    newsgroups: Vec<String>,
    signer: Option<String>,
) -> NewArticle {
    let field = |name: &str| article.header_unfolded(name).unwrap_or_default();
    let date = field("Date");
    let posted = chrono::DateTime::parse_from_rfc2822(&date).map_or(0, |d| d.timestamp());
    NewArticle {
        msgid,
        path: field("Path"),
        newsgroups,
        subject: field("Subject"),
        author: field("From"),
        posted,
        date,
        refs: field("References"),
        lines: article.body_line_count(),
        signer,
        raw: article.to_bytes(),
    }
}
