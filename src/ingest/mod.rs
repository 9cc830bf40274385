//! The one way into the spool. Every article — posted here, pushed by a neighbour
//! (TAKETHIS/IHAVE), pulled in a sync, POSTed by a newsreader, imported from an rnews
//! batch — goes through [`ingest`]: parse within limits, check the signature and the
//! content-derived Message-ID, apply the trust policy, add this node to Path, store.
//!
//! Refusals are written to history only when the verdict depends on the content alone
//! and the content owns its Message-ID (a valid signature from an author the policy does
//! not admit). A tampered or squatting article must NOT put its claimed Message-ID into
//! history: that would let anyone block a real article by sending garbage under its id.
//! Nor does an article for groups this node does not carry (yet): groups are made
//! deliberately, and once one is, its articles must still be able to come.
//!
//! Every verdict but "duplicate" goes to the spool's article log ([`crate::newslog`]),
//! with the [`Source`] the caller names, once the transaction holding it has committed.
//!
//! Refusals are typed ([`Refusal`]); control messages are carried out in `control`;
//! further admission checks plug into `admit::admit`.

mod admit;
mod answer;
mod control;
mod refusal;
mod stream;

pub use answer::Offered;
pub use control::CANCEL_GROUP;
pub use refusal::Refusal;
pub use stream::{ingest_stream, Streamed};

use control::Control;

use crate::article::{Article, Limits};
use crate::newslog::{LogEntry, LogVerdict, NewsLog};
use crate::sign::{
    self, batch::verify_many, public_key_text, Denied, Prepared, SigStatus, TrustPolicy,
};
use crate::spool::{NewArticle, Spool, SpoolError, StoreOutcome, Storer};

/// What happened to one offered article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stored with this arrival sequence.
    Stored(i64),
    /// Already here (or refused before).
    Duplicate,
    /// Refused; its `Display` is a short sentence.
    Refused(Refusal),
    /// Not stored for now (over a quota, [`Refusal::is_temporary`]): no history row, the
    /// sender is told to try later (431/436) and its mark stays before it.
    Deferred(Refusal),
}

/// Where the articles of one ingest come from: named in the article log, and the
/// unsigned-article rule depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// Made on this node (`post`, `cancel`, `newgroup`, the testbed).
    Local,
    /// An rnews batch (`import`).
    Import,
    /// A mesh neighbour (`[[peer]]`), by name: its feed into `serve`, or our pull.
    Peer(&'a str),
    /// A plain news server (`[[nntp_peer]]`), by name: unsigned articles are accepted
    /// only from one whose `unsigned_groups` names their groups.
    NntpPeer(&'a str),
    /// A newsreader's POST: its AUTHINFO user (None: an anonymous loopback reader).
    Reader(Option<&'a str>),
}

impl<'a> Source<'a> {
    /// The neighbour (`[[peer]]` or `[[nntp_peer]]` name) that delivers these articles,
    /// recorded with each arrival so it is not offered back to it (see `feed_policy`);
    /// None when they were made here, imported or posted by a reader.
    pub fn neighbour(&self) -> Option<&'a str> {
        match *self {
            Source::Peer(name) | Source::NntpPeer(name) => Some(name),
            Source::Local | Source::Import | Source::Reader(_) => None,
        }
    }
}

impl std::fmt::Display for Source<'_> {
    /// `local`, `import`, the peer's name, `reader:USER` or `reader`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Local => f.write_str("local"),
            Source::Import => f.write_str("import"),
            Source::Peer(name) | Source::NntpPeer(name) => f.write_str(name),
            Source::Reader(Some(user)) => write!(f, "reader:{user}"),
            Source::Reader(None) => f.write_str("reader"),
        }
    }
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
    /// Where these articles come from.
    pub source: Source<'a>,
    /// The article log each verdict is written to once committed (the node's; none in
    /// unit tests).
    pub log: Option<&'a NewsLog>,
    /// The dates and quotas this node accepts (`[admission]`, checked in `admit`).
    pub admission: crate::admission::Admission,
}

impl<'a> Rules<'a> {
    /// The rules a node's configuration and trust policy give, for articles made here
    /// (name another source with [`Rules::for_source`]), their verdicts written to `log`.
    pub fn new(
        config: &'a crate::config::Config,
        trust: &'a TrustPolicy,
        log: Option<&'a NewsLog>,
    ) -> Rules<'a> {
        Rules {
            node_name: &config.node.name,
            limits: config.limits.article_limits(),
            trust,
            source: Source::Local,
            log,
            admission: crate::admission::Admission::from_config(config),
        }
    }

    /// These rules for articles from `source`.
    pub fn for_source(self, source: Source<'a>) -> Rules<'a> {
        Rules { source, ..self }
    }

    /// The `[[nntp_peer]]` these articles come from, if any.
    pub fn nntp_peer(&self) -> Option<&'a str> {
        match self.source {
            Source::NntpPeer(name) => Some(name),
            _ => None,
        }
    }
}

/// The Message-ID an article claims, when it parses (to name a refused article).
pub fn claimed_message_id(raw: &[u8], limits: &Limits) -> Option<String> {
    Article::parse(raw, limits)
        .ok()?
        .message_id()
        .map(str::to_string)
}

struct Candidate {
    article: Article,
    msgid: String,
    groups: Vec<String>,
    prepared: Option<Prepared>,
    /// The verdict on `prepared`'s signature, once verified.
    status: Option<SigStatus>,
    /// What the spool indexes, read while examining (off the storing thread).
    fields: Fields,
}

/// The header fields the spool indexes that nothing on the way to the store changes
/// (Path does: it is read when the article is stored).
struct Fields {
    subject: String,
    author: String,
    date: String,
    posted: i64,
    refs: String,
    lines: usize,
}

impl Fields {
    fn of(article: &Article) -> Fields {
        let field = |name: &str| article.header_unfolded(name).unwrap_or_default();
        let date = field("Date");
        Fields {
            subject: field("Subject"),
            author: field("From"),
            posted: chrono::DateTime::parse_from_rfc2822(&date).map_or(0, |d| d.timestamp()),
            date,
            refs: field("References"),
            lines: article.body_line_count(),
        }
    }
}

/// Checks and stores a batch of articles (wire form) in one transaction; returns a
/// verdict per input, in order. Signatures are verified in a batch.
pub fn ingest(
    spool: &mut Spool,
    rules: &Rules<'_>,
    raws: &[&[u8]],
) -> Result<Vec<Verdict>, SpoolError> {
    let items: Vec<(Option<&str>, &[u8])> = raws.iter().map(|raw| (None, *raw)).collect();
    ingest_items(spool, rules, &items)
}

/// [`ingest`] for articles offered under a Message-ID (TAKETHIS, IHAVE, ARTICLE
/// answers): an article whose own Message-ID is not the one it was offered under is
/// refused, so a peer cannot get an answer for one id by sending another article.
pub fn ingest_offered(
    spool: &mut Spool,
    rules: &Rules<'_>,
    offered: &[(&str, &[u8])],
) -> Result<Vec<Verdict>, SpoolError> {
    let items: Vec<(Option<&str>, &[u8])> =
        offered.iter().map(|(id, raw)| (Some(*id), *raw)).collect();
    ingest_items(spool, rules, &items)
}

/// Articles per step of the ingest pipeline: while one step is stored, the next is
/// parsed, hashed and its signatures verified on another thread, so SQLite and the rest
/// use the cores at once.
const STEP: usize = 256;

/// What examination (parse, checks, signature) made of one article, before the history
/// lookup that only the spool can do.
enum Examined {
    /// Settled already (unparseable, invalid, no Message-ID or not the one offered).
    Settled(Verdict),
    /// Its Message-ID: a duplicate if history has it, whatever `outcome` says (a
    /// duplicate with a bad signature is a duplicate); else `outcome`.
    Pending {
        msgid: String,
        outcome: Result<Box<Candidate>, Verdict>,
    },
}

/// One step: each article's Message-ID as far as known (for the article log), and what
/// examination made of it, in order.
type Step = Vec<(Option<String>, Examined)>;

fn ingest_items(
    spool: &mut Spool,
    rules: &Rules<'_>,
    items: &[(Option<&str>, &[u8])],
) -> Result<Vec<Verdict>, SpoolError> {
    if items.len() > STEP {
        // The verifier examines step k+1 (parse, hash, signatures) while this thread looks
        // step k up in history and stores it: a stream of one run, one transaction.
        let mut verdicts = Vec::new();
        stream::ingest_stream(spool, rules, std::iter::once(items), |_, run| {
            verdicts = run
        })?;
        return Ok(verdicts);
    }
    // One step (a single article, a small batch): nothing to overlap, no thread of ours
    // (verification may use several).
    let step = examine_step(rules, items, verify_many);
    let (mut verdicts, mut ids) = (Vec::new(), Vec::new());
    spool.store_with(|store| settle_step(store, rules, step, &mut verdicts, &mut ids))?;
    conclude(rules, &ids, &verdicts);
    Ok(verdicts)
}

/// Writes the verdicts of a committed transaction to the article log.
fn conclude(rules: &Rules<'_>, ids: &[Option<String>], verdicts: &[Verdict]) {
    if let Some(log) = rules.log {
        log_verdicts(log, &rules.source, ids, verdicts);
    }
}

/// Examines `items` without the spool: parse, checks, canonical form, and the
/// signatures, verified by `verify` in one batch.
fn examine_step(
    rules: &Rules<'_>,
    items: &[(Option<&str>, &[u8])],
    verify: fn(&[Prepared]) -> Vec<SigStatus>,
) -> Step {
    let mut step: Step = items
        .iter()
        .map(|(offered_as, raw)| {
            let (id, examined) = examine(rules, *offered_as, raw);
            (id.or_else(|| offered_as.map(str::to_string)), examined)
        })
        .collect();
    let prepared: Vec<Prepared> = step
        .iter_mut()
        .filter_map(|(_, e)| signed(e).and_then(|c| c.prepared.clone()))
        .collect();
    let mut statuses = verify(&prepared).into_iter();
    for (_, e) in step.iter_mut() {
        if let Some(c) = signed(e) {
            c.status = statuses.next();
        }
    }
    step
}

/// The candidate of `e` whose signature is to be verified, if any.
fn signed(e: &mut Examined) -> Option<&mut Candidate> {
    match e {
        Examined::Pending { outcome: Ok(c), .. } if c.prepared.is_some() => Some(c.as_mut()),
        _ => None,
    }
}

/// Settles a step in the open transaction (history lookups, then [`settle`]): a
/// verdict and a Message-ID as far as known for each article, appended in order.
fn settle_step(
    store: &mut Storer<'_>,
    rules: &Rules<'_>,
    step: Step,
    verdicts: &mut Vec<Verdict>,
    ids: &mut Vec<Option<String>>,
) -> rusqlite::Result<()> {
    for (id, examined) in step {
        ids.push(id);
        verdicts.push(match examined {
            Examined::Settled(verdict) => verdict,
            // Seen before: a duplicate. (A cancel that came first does not count: whether
            // it binds this article depends on its author, decided once the signature
            // checks.)
            Examined::Pending { msgid, .. } if store.seen(&msgid)? => Verdict::Duplicate,
            Examined::Pending {
                outcome: Err(verdict),
                ..
            } => verdict,
            Examined::Pending { outcome: Ok(c), .. } => settle(store, rules, *c)?,
        });
    }
    Ok(())
}

/// One article-log line per verdict (duplicates are not news: they are left out).
fn log_verdicts(log: &NewsLog, source: &Source<'_>, ids: &[Option<String>], verdicts: &[Verdict]) {
    let peer = source.to_string();
    let reasons: Vec<String> = verdicts
        .iter()
        .map(|v| match v {
            Verdict::Refused(why) | Verdict::Deferred(why) => why.to_string(),
            _ => String::new(),
        })
        .collect();
    let entries: Vec<LogEntry<'_>> = ids
        .iter()
        .zip(verdicts)
        .zip(&reasons)
        .filter_map(|((id, verdict), reason)| {
            let (verdict, reason) = match verdict {
                Verdict::Stored(_) => (LogVerdict::Accepted, ""),
                Verdict::Refused(_) | Verdict::Deferred(_) => {
                    (LogVerdict::Refused, reason.as_str())
                }
                Verdict::Duplicate => return None,
            };
            Some(LogEntry {
                verdict,
                id: id.as_deref(),
                peer: &peer,
                reason,
            })
        })
        .collect();
    log.append(&entries);
}

/// Decides on one examined article given its signature status, and stores it when it
/// passes.
fn settle(
    store: &mut Storer<'_>,
    rules: &Rules<'_>,
    mut c: Candidate,
) -> rusqlite::Result<Verdict> {
    let author = match (&c.prepared, c.status.take()) {
        (None, _) => None,
        (Some(_), Some(SigStatus::Valid { key })) => Some(key),
        (Some(_), Some(other)) => return Ok(Verdict::Refused(Refusal::Signature(Box::new(other)))),
        (Some(_), None) => return Ok(Verdict::Refused(Refusal::NotVerified)),
    };
    let asks = control::control_of(&c.article);
    // Groups are made deliberately (init, `groups --add`, a trusted newgroup), never by
    // posting: an ordinary article is filed in the groups this node carries, and refused
    // when it names none. Not written to history: if the group is created later, the
    // article can still be fetched.
    let mut filed_in = c.groups.clone();
    if matches!(asks, Ok(None) | Ok(Some(Control::Supersede(_)))) {
        let mut carried = Vec::with_capacity(c.groups.len());
        for group in &c.groups {
            if store.carries(group)? {
                carried.push(group.clone());
            }
        }
        if carried.is_empty() {
            return Ok(Verdict::Refused(Refusal::NotCarried {
                groups: c.groups.clone(),
            }));
        }
        filed_in = carried;
    }
    let allowed = match &author {
        Some(key) => rules
            .trust
            .allows(&c.groups, Some(key))
            .map_err(Refusal::from),
        None => unsigned_allowed(rules, &c.article, &c.groups),
    };
    if let Err(why) = allowed {
        if author.is_some() {
            store.record_refused(&c.msgid, &why.to_string())?;
        }
        return Ok(Verdict::Refused(why));
    }
    let asks = match asks {
        Ok(asks) => asks,
        Err(why) => return Ok(Verdict::Refused(why)),
    };
    let admitting = admit::Admitting {
        article: &c.article,
        msgid: &c.msgid,
        author: author.as_ref(),
        groups: &c.groups,
    };
    match admit::admit(store, rules, &admitting)? {
        Ok(()) => {}
        Err(why) if why.is_temporary() => return Ok(Verdict::Deferred(why)),
        Err(why) => return Ok(Verdict::Refused(why)),
    }
    let signer = author.map(|k| public_key_text(&k));
    let filed_in = match control::carry_out(
        store,
        rules,
        &c.article,
        asks,
        author.as_ref(),
        signer.as_deref(),
        filed_in,
    )? {
        Ok(filed_in) => filed_in,
        Err(why) => return Ok(Verdict::Refused(why)),
    };
    if c.article.path_entries().first().map(String::as_str) != Some(rules.node_name) {
        c.article.path_prepend(rules.node_name);
    }
    // Xref is the sender's local numbering (RFC 5537 §3.2.2): meaningless here.
    c.article.remove_header("Xref");
    let mut stored = new_article(c.article, c.msgid, filed_in, signer, c.fields);
    stored.delivered_by = rules.source.neighbour().map(str::to_string);
    Ok(match store.store(&stored)? {
        StoreOutcome::Stored(seq) => Verdict::Stored(seq),
        StoreOutcome::Duplicate => Verdict::Duplicate,
    })
}

/// Whether an unsigned article may be stored: it must come from a `[[nntp_peer]]` that
/// may relay unsigned articles to its groups, and that peer must be the last relay its
/// Path names (so `read` can say truthfully where it came from).
fn unsigned_allowed(
    rules: &Rules<'_>,
    article: &Article,
    groups: &[String],
) -> Result<(), Refusal> {
    rules.trust.allows_unsigned(groups, rules.nntp_peer())?;
    let relay = article.path_entries().first().cloned().unwrap_or_default();
    match rules.nntp_peer() {
        Some(peer) if relay == peer => Ok(()),
        Some(peer) => Err(Refusal::UnsignedRelayMismatch {
            peer: peer.to_string(),
            relay,
        }),
        None => Err(Refusal::UnsignedNotFromNntpPeer),
    }
}

/// Parses and pre-checks one article (everything but the history lookup): its
/// Message-ID when it has one, and what became of it.
fn examine(rules: &Rules<'_>, offered_as: Option<&str>, raw: &[u8]) -> (Option<String>, Examined) {
    let article = match Article::parse(raw, &rules.limits) {
        Ok(a) => a,
        Err(e) => return (None, Examined::Settled(Verdict::Refused(e.into()))),
    };
    let msgid = article.message_id().map(str::to_string);
    let examined = check(rules, offered_as, article, msgid.clone());
    (msgid, examined)
}

/// [`examine`] once the article has parsed.
fn check(
    rules: &Rules<'_>,
    offered_as: Option<&str>,
    article: Article,
    msgid: Option<String>,
) -> Examined {
    let refused = |why: Refusal| Examined::Settled(Verdict::Refused(why));
    if let Err(e) = article.validate(false) {
        return refused(e.into());
    }
    let Some(msgid) = msgid else {
        return refused(Refusal::NoMessageId);
    };
    if let Some(offered) = offered_as.filter(|o| *o != msgid) {
        return refused(Refusal::OfferedAs {
            offered: offered.to_string(),
            actual: msgid,
        });
    }
    // From here on, a duplicate is a duplicate (the spool decides, `settle_step`).
    let prepared = match sign::prepare(&article) {
        Ok(p) => Some(p),
        Err(SigStatus::Unsigned) if rules.trust.accepts_unsigned() => None,
        Err(SigStatus::Unsigned) => {
            return Examined::Pending {
                msgid,
                outcome: Err(Verdict::Refused(Denied::UnsignedOff.into())),
            }
        }
        Err(status) => {
            return Examined::Pending {
                msgid,
                outcome: Err(Verdict::Refused(Refusal::Signature(Box::new(status)))),
            }
        }
    };
    let groups = article.newsgroups();
    let fields = Fields::of(&article);
    Examined::Pending {
        msgid: msgid.clone(),
        outcome: Ok(Box::new(Candidate {
            article,
            msgid,
            groups,
            prepared,
            status: None,
            fields,
        })),
    }
}

fn new_article(
    article: Article,
    msgid: String,
    newsgroups: Vec<String>,
    signer: Option<String>,
    fields: Fields,
) -> NewArticle {
    NewArticle {
        msgid,
        path: article.header_unfolded("Path").unwrap_or_default(),
        newsgroups,
        subject: fields.subject,
        author: fields.author,
        posted: fields.posted,
        date: fields.date,
        refs: fields.refs,
        lines: fields.lines,
        signer,
        raw: article.to_bytes(),
        delivered_by: None,
    }
}

#[cfg(test)]
mod tests;
