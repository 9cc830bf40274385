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

use crate::article::{Article, Limits};
use crate::newslog::{LogEntry, LogVerdict, NewsLog};
use crate::sign::{
    self,
    batch::{verify_chunk, verify_many},
    public_key_text, Prepared, SigStatus, TrustPolicy,
};
use crate::spool::{NewArticle, Spool, SpoolError, StoreOutcome, Storer, Target};

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
}

impl<'a> Rules<'a> {
    /// The rules a node's configuration and trust policy give, for articles made here
    /// (name another source with [`Rules::from`]).
    pub fn new(config: &'a crate::config::Config, trust: &'a TrustPolicy) -> Rules<'a> {
        Rules {
            node_name: &config.node.name,
            limits: config.limits.article_limits(),
            trust,
            source: Source::Local,
        }
    }

    /// These rules for articles from `source`.
    pub fn from(self, source: Source<'a>) -> Rules<'a> {
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

/// Steps examined ahead of the one being stored.
const STEPS_AHEAD: usize = 2;

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

/// One step: each article's index in the batch, its Message-ID as far as known (for the
/// article log), and what examination made of it.
type Step = Vec<(usize, Option<String>, Examined)>;

fn ingest_items(
    spool: &mut Spool,
    rules: &Rules<'_>,
    items: &[(Option<&str>, &[u8])],
) -> Result<Vec<Verdict>, SpoolError> {
    let mut verdicts: Vec<Option<Verdict>> = vec![None; items.len()];
    // Each article's Message-ID as far as it is known, for the article log.
    let mut ids: Vec<Option<String>> = vec![None; items.len()];
    if items.len() <= STEP {
        // One step (a single article, a small batch): nothing to overlap, no thread of
        // ours (verification may use several).
        let step = examine_step(rules, items, 0, verify_many);
        spool.store_with(|store| settle_step(store, rules, step, &mut verdicts, &mut ids))?;
    } else {
        // The verifier examines step k+1 (parse, hash, signatures) while this thread looks
        // step k up in history and stores it, all of the batch in one transaction.
        std::thread::scope(|scope| {
            let (examined, steps) = std::sync::mpsc::sync_channel::<Step>(STEPS_AHEAD);
            scope.spawn(move || {
                for (n, chunk) in items.chunks(STEP).enumerate() {
                    let step = examine_step(rules, chunk, n * STEP, verify_chunk);
                    if examined.send(step).is_err() {
                        return;
                    }
                }
            });
            spool.store_with(|store| {
                for step in steps {
                    settle_step(store, rules, step, &mut verdicts, &mut ids)?;
                }
                Ok(())
            })
        })?;
    }
    let verdicts: Vec<Verdict> = verdicts
        .into_iter()
        .map(|v| v.unwrap_or_else(|| Verdict::Refused("internal: no verdict".into())))
        .collect();
    // Committed: now the log may say so.
    if let Some(log) = spool.news_log() {
        log_verdicts(log, &rules.source, &ids, &verdicts);
    }
    Ok(verdicts)
}

/// Examines `items` (the batch's items from index `first` on) without the spool: parse,
/// checks, canonical form, and the signatures, verified by `verify` in one batch.
fn examine_step(
    rules: &Rules<'_>,
    items: &[(Option<&str>, &[u8])],
    first: usize,
    verify: fn(&[Prepared]) -> Vec<SigStatus>,
) -> Step {
    let mut step: Step = items
        .iter()
        .enumerate()
        .map(|(i, (offered_as, raw))| {
            let (id, examined) = examine(rules, *offered_as, raw);
            (
                first + i,
                id.or_else(|| offered_as.map(str::to_string)),
                examined,
            )
        })
        .collect();
    let prepared: Vec<Prepared> = step
        .iter_mut()
        .filter_map(|(_, _, e)| signed(e).and_then(|c| c.prepared.clone()))
        .collect();
    let mut statuses = verify(&prepared).into_iter();
    for (_, _, e) in step.iter_mut() {
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

/// Settles a step in the open transaction: history lookups, then [`settle`].
fn settle_step(
    store: &mut Storer<'_>,
    rules: &Rules<'_>,
    step: Step,
    verdicts: &mut [Option<Verdict>],
    ids: &mut [Option<String>],
) -> rusqlite::Result<()> {
    for (i, id, examined) in step {
        ids[i] = id;
        verdicts[i] = Some(match examined {
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
    let entries: Vec<LogEntry<'_>> = ids
        .iter()
        .zip(verdicts)
        .filter_map(|(id, verdict)| {
            let (verdict, reason) = match verdict {
                Verdict::Stored(_) => (LogVerdict::Accepted, ""),
                Verdict::Refused(why) => (LogVerdict::Refused, why.as_str()),
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
        (Some(_), Some(other)) => return Ok(Verdict::Refused(other.describe())),
        (Some(_), None) => {
            return Ok(Verdict::Refused(
                "signature not verified (internal error)".into(),
            ))
        }
    };
    let mut withdraws = withdrawal(&c.article);
    // Groups are made deliberately (init, `groups --add`, a trusted newgroup), never by
    // posting: an ordinary article is filed in the groups this node carries, and refused
    // when it names none. Not written to history: if the group is created later, the
    // article can still be fetched.
    let mut filed_in = c.groups.clone();
    if matches!(withdraws, Ok(None) | Ok(Some(Withdraw::Supersede(_)))) {
        let mut carried = Vec::with_capacity(c.groups.len());
        for group in &c.groups {
            if store.carries(group)? {
                carried.push(group.clone());
            }
        }
        if carried.is_empty() {
            return Ok(Verdict::Refused(format!(
                "this node does not carry {} (groups are created with `newsmesh groups --add` \
                 or a newgroup from a key [[control]] trusts)",
                c.groups.join(",")
            )));
        }
        filed_in = carried;
    }
    let allowed = match &author {
        Some(key) => rules.trust.allows(&c.groups, Some(key)),
        None => unsigned_allowed(rules, &c.article, &c.groups),
    };
    if let Err(why) = allowed {
        if author.is_some() {
            store.record_refused(&c.msgid, &why)?;
        }
        return Ok(Verdict::Refused(why));
    }
    let signer = author.map(|k| public_key_text(&k));
    // Governance (src/governance/): the admins' members-only policies and revocations;
    // a governance article is recorded there and filed where it says. Its refusals
    // write no history: the grant that admits an article may still be on its way.
    if let Some(by) = &signer {
        use crate::governance::{admit, Admission};
        match admit(store, rules.trust, &c.article, &c.msgid, &c.groups, by)? {
            Admission::Article => {}
            Admission::Control(groups) => (filed_in, withdraws) = (groups, Ok(None)),
            Admission::Refused(why) => return Ok(Verdict::Refused(why.to_string())),
        }
    }
    match withdraws {
        Ok(None) => {}
        Ok(Some(Withdraw::Cancel(target))) => {
            let Some(by) = &signer else {
                return Ok(Verdict::Refused(
                    "an unsigned cancel cannot be checked".into(),
                ));
            };
            if let Err(why) = withdraw(store, &target, by)? {
                // Not its author: a moderator the admins named may still (governance).
                if !crate::governance::moderator_cancel(store, rules.trust, &target, by)? {
                    return Ok(Verdict::Refused(why));
                }
            }
            // Like INN, cancels are filed in control.cancel, not in the groups they name.
            filed_in = vec![CANCEL_GROUP.to_string()];
        }
        Ok(Some(Withdraw::Supersede(target))) => {
            if let Some(by) = &signer {
                // A Supersedes by another author is ignored; the new article stays.
                let _ = withdraw(store, &target, by)?;
            }
        }
        Ok(Some(Withdraw::NewGroup(group))) | Ok(Some(Withdraw::RmGroup(group))) => {
            let Some(key) = &author else {
                return Ok(Verdict::Refused(
                    "an unsigned group control cannot be checked".into(),
                ));
            };
            if let Err(why) = rules.trust.allows_control(&group, key) {
                return Ok(Verdict::Refused(why));
            }
            let newgroup = c
                .article
                .header_unfolded("Control")
                .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("newgroup"));
            if newgroup {
                store.create_group(&group, &group_description(&c.article, &group))?;
                filed_in = vec!["control.newgroup".to_string()];
            } else {
                store.remove_group(&group)?;
                filed_in = vec!["control.rmgroup".to_string()];
            }
        }
        Err(why) => return Ok(Verdict::Refused(why)),
    }
    if c.article.path_entries().first().map(String::as_str) != Some(rules.node_name) {
        c.article.path_prepend(rules.node_name);
    }
    // Xref is the sender's local numbering (RFC 5537 §3.2.2): meaningless here.
    c.article.remove_header("Xref");
    let mut stored = new_article(c.article, c.msgid, filed_in, signer);
    stored.delivered_by = rules.source.neighbour().map(str::to_string);
    Ok(match store.store(&stored)? {
        StoreOutcome::Stored(seq) => Verdict::Stored(seq),
        StoreOutcome::Duplicate => Verdict::Duplicate,
    })
}

/// Whether an unsigned article may be stored: it must come from a `[[nntp_peer]]` that
/// may relay unsigned articles to its groups, and that peer must be the last relay its
/// Path names (so `read` can say truthfully where it came from).
fn unsigned_allowed(rules: &Rules<'_>, article: &Article, groups: &[String]) -> Result<(), String> {
    rules.trust.allows_unsigned(groups, rules.nntp_peer())?;
    let relay = article.path_entries().first().cloned().unwrap_or_default();
    match rules.nntp_peer() {
        Some(peer) if relay == peer => Ok(()),
        Some(peer) => Err(format!(
            "unsigned article from {peer} whose Path starts with {relay:?}, not {peer}"
        )),
        None => Err("unsigned articles are accepted only from an [[nntp_peer]]".into()),
    }
}

/// The pseudo-group cancel control messages are filed in.
pub const CANCEL_GROUP: &str = "control.cancel";

/// What a control message or Supersedes asks for.
enum Withdraw {
    /// `Control: cancel <id>`.
    Cancel(String),
    /// `Supersedes: <id>`.
    Supersede(String),
    /// `Control: newgroup <group> [moderated]`.
    NewGroup(String),
    /// `Control: rmgroup <group>`.
    RmGroup(String),
}

/// Reads Control and Supersedes (RFC 5537 §5); checkgroups and the rest are refused.
fn withdrawal(article: &Article) -> Result<Option<Withdraw>, String> {
    if let Some(control) = article.header_unfolded("Control") {
        let mut words = control.split_whitespace();
        let verb = words.next().map(str::to_ascii_lowercase);
        let arg = words.next();
        let group = arg
            .filter(|g| crate::article::is_valid_group_name(g))
            .map(str::to_string);
        return match (verb.as_deref(), arg, group) {
            (Some("cancel"), Some(id), _) if crate::article::is_valid_message_id(id) => {
                Ok(Some(Withdraw::Cancel(id.to_string())))
            }
            (Some("newgroup"), _, Some(group)) => Ok(Some(Withdraw::NewGroup(group))),
            (Some("rmgroup"), _, Some(group)) => Ok(Some(Withdraw::RmGroup(group))),
            _ => Err(format!("unsupported control message: {control}")),
        };
    }
    Ok(article
        .header_unfolded("Supersedes")
        .map(|id| id.trim().to_string())
        .filter(|id| crate::article::is_valid_message_id(id))
        .map(Withdraw::Supersede))
}

/// The description a newgroup carries: the body line `<group> <description>` (the
/// "For your newsgroups file:" convention), or nothing.
fn group_description(article: &Article, group: &str) -> String {
    String::from_utf8_lossy(&article.body)
        .lines()
        .find_map(|line| {
            line.strip_prefix(group)
                .filter(|rest| rest.starts_with([' ', '\t']))
        })
        .map(|rest| rest.trim().to_string())
        .unwrap_or_default()
}

/// Withdraws `target` on behalf of author key `by`: only its own author may. An article
/// not here yet is marked in advance. `Ok(Err(reason))` when refused.
fn withdraw(
    store: &mut Storer<'_>,
    target: &str,
    by: &str,
) -> rusqlite::Result<Result<(), String>> {
    match store.target(target)? {
        Target::Stored(Some(signer)) if signer == by => store.withdraw(target, by)?,
        Target::Stored(_) => {
            return Ok(Err(format!("{target} is not by the author of this cancel")))
        }
        Target::Unknown => store.mark_cancelled_early(target, by)?,
        Target::Gone => {}
    }
    Ok(Ok(()))
}

/// Parses and pre-checks one article (everything but the history lookup): its
/// Message-ID when it has one, and what became of it.
fn examine(rules: &Rules<'_>, offered_as: Option<&str>, raw: &[u8]) -> (Option<String>, Examined) {
    let article = match Article::parse(raw, &rules.limits) {
        Ok(a) => a,
        Err(e) => return (None, Examined::Settled(Verdict::Refused(e.to_string()))),
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
    let refused = |why: String| Examined::Settled(Verdict::Refused(why));
    if let Err(e) = article.validate(false) {
        return refused(e.to_string());
    }
    let Some(msgid) = msgid else {
        return refused("no Message-ID".into());
    };
    if let Some(offered) = offered_as.filter(|o| *o != msgid) {
        return refused(format!(
            "offered as {offered} but its Message-ID is {msgid}"
        ));
    }
    // From here on, a duplicate is a duplicate (the spool decides, `settle_step`).
    let prepared = match sign::prepare(&article) {
        Ok(p) => Some(p),
        Err(SigStatus::Unsigned) if rules.trust.accepts_unsigned() => None,
        Err(SigStatus::Unsigned) => {
            return Examined::Pending {
                msgid,
                outcome: Err(Verdict::Refused(
                    "unsigned articles are not accepted (policy.accept_unsigned = false)".into(),
                )),
            }
        }
        Err(status) => {
            return Examined::Pending {
                msgid,
                outcome: Err(Verdict::Refused(status.describe())),
            }
        }
    };
    let groups = article.newsgroups();
    Examined::Pending {
        msgid: msgid.clone(),
        outcome: Ok(Box::new(Candidate {
            article,
            msgid,
            groups,
            prepared,
            status: None,
        })),
    }
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
        delivered_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{compose, Draft};
    use crate::config::{Authors, TrustRuleConfig};
    use crate::spool::test_support::temp_spool;

    /// A spool carrying the groups these tests post to.
    fn spool_carrying() -> (tempfile::TempDir, Spool) {
        let (dir, mut spool) = temp_spool();
        for group in ["mesh.test", "mesh.announce"] {
            spool.create_group(group, "").unwrap();
        }
        (dir, spool)
    }
    use ed25519_dalek::SigningKey;

    fn article(subject: &str, group: &str, key: u8) -> Vec<u8> {
        let draft = Draft {
            groups: group,
            subject,
            from: "ann@example.org",
            references: None,
            body: b"hello\n",
        };
        compose(&draft, "alpha", &SigningKey::from_bytes(&[key; 32])).to_bytes()
    }

    fn policy() -> TrustPolicy {
        let boss = public_key_text(&SigningKey::from_bytes(&[9; 32]).verifying_key());
        let rules = [
            TrustRuleConfig {
                groups: "mesh.*".into(),
                authors: Authors::Word("any".into()),
            },
            TrustRuleConfig {
                groups: "mesh.announce".into(),
                authors: Authors::Keys(vec![boss]),
            },
        ];
        let control = [TrustRuleConfig {
            groups: "mesh.*".into(),
            authors: Authors::Keys(vec![public_key_text(
                &SigningKey::from_bytes(&[9; 32]).verifying_key(),
            )]),
        }];
        TrustPolicy::from_config(&rules, &control, false).unwrap()
    }

    /// The rules of a node named beta.
    fn beta(trust: &TrustPolicy) -> Rules<'_> {
        Rules {
            node_name: "beta",
            limits: Limits::default(),
            trust,
            source: Source::Local,
        }
    }

    fn id_of(raw: &[u8]) -> String {
        Article::parse(raw, &Limits::default())
            .unwrap()
            .message_id()
            .unwrap()
            .to_string()
    }

    #[test]
    fn verdicts_are_logged_with_their_id_and_source_after_commit() {
        let (dir, mut spool) = spool_carrying();
        let log = crate::newslog::NewsLog::new(dir.path().join("news.log"), 1 << 20, 1);
        spool.set_news_log(log.clone());
        let trust = policy();
        let rules = beta(&trust).from(Source::Peer("gamma"));
        let good = article("fine", "mesh.test", 1);
        let untrusted = article("news", "mesh.announce", 1);
        let garbage = b"not an article".to_vec();
        let v = ingest(&mut spool, &rules, &[&good, &untrusted, &good, &garbage]).unwrap();
        assert!(matches!(v[2], Verdict::Duplicate), "{v:?}");
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<_> = text
            .lines()
            .map(|l| crate::newslog::LogLine::parse(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "duplicates are not logged: {text}");
        assert_eq!(lines[0].verdict, LogVerdict::Accepted);
        assert_eq!(lines[0].id, id_of(&good));
        assert_eq!(lines[1].verdict, LogVerdict::Refused);
        assert_eq!(lines[1].id, id_of(&untrusted));
        assert!(lines[1].reason.contains("may not post to mesh.announce"));
        assert_eq!(lines[2].id, "?");
        assert!(lines.iter().all(|l| l.peer == "gamma"));
        // A reader's post names the reader.
        let reader = beta(&trust).from(Source::Reader(Some("ann")));
        ingest(&mut spool, &reader, &[&article("mine", "mesh.test", 2)]).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(
            text.lines().last().unwrap().contains(" peer=reader:ann"),
            "{text}"
        );
    }

    #[test]
    fn a_batch_of_many_steps_settles_each_article_as_it_did_alone() {
        // More than one pipeline step: examined on the verifier's thread, looked up and
        // stored on this one. Stored, duplicate (of an earlier one and within the
        // batch), a tampered copy of a stored article (a duplicate: history decides
        // before the signature), and a squatter (refused, its id stays free).
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let earlier = article("earlier", "mesh.test", 1);
        ingest(&mut spool, &rules, &[&earlier]).unwrap();
        let tampered = String::from_utf8(earlier.clone())
            .unwrap()
            .replace("hello", "HELLO")
            .into_bytes();
        let fresh: Vec<Vec<u8>> = (0..2 * STEP + 10)
            .map(|i| article(&format!("fresh {i}"), "mesh.test", 2))
            .collect();
        let squat = String::from_utf8(article("squat", "mesh.test", 3))
            .unwrap()
            .replace(
                &id_of(&article("squat", "mesh.test", 3)),
                &id_of(&article("squatted", "mesh.test", 3)),
            )
            .into_bytes();
        let mut batch: Vec<&[u8]> = fresh.iter().map(Vec::as_slice).collect();
        batch.extend([
            earlier.as_slice(),
            tampered.as_slice(),
            fresh[0].as_slice(),
            squat.as_slice(),
        ]);
        let v = ingest(&mut spool, &rules, &batch).unwrap();
        assert_eq!(v.len(), batch.len());
        assert!(v[..fresh.len()]
            .iter()
            .all(|v| matches!(v, Verdict::Stored(_))));
        let tail = &v[fresh.len()..];
        assert_eq!(tail[0], Verdict::Duplicate);
        assert_eq!(tail[1], Verdict::Duplicate, "tampered copy of a stored id");
        assert_eq!(tail[2], Verdict::Duplicate, "twice in one batch");
        assert!(matches!(&tail[3], Verdict::Refused(_)), "{:?}", tail[3]);
        assert!(!spool
            .seen(&id_of(&article("squatted", "mesh.test", 3)))
            .unwrap());
    }

    #[test]
    fn a_squatter_cannot_block_the_real_article() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let real = article("real", "mesh.test", 1);
        let id = id_of(&real);
        // Another article, its Message-ID replaced by the real one's.
        let squat = String::from_utf8(article("squat", "mesh.test", 2))
            .unwrap()
            .replace(&id_of(&article("squat", "mesh.test", 2)), &id);
        let v = ingest(&mut spool, &rules, &[squat.as_bytes()]).unwrap();
        assert!(
            matches!(&v[0], Verdict::Refused(why) if why.contains("does not match")),
            "{v:?}"
        );
        assert!(!spool.seen(&id).unwrap());
        let v = ingest(&mut spool, &rules, &[&real]).unwrap();
        assert!(matches!(v[0], Verdict::Stored(_)), "{v:?}");
        let stored = spool.article(&id).unwrap().unwrap();
        assert!(stored.raw.starts_with(b"Path: beta!alpha!not-for-mail\r\n"));
    }

    #[test]
    fn each_arrival_records_the_neighbour_that_delivered_it() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let from_gamma = beta(&trust).from(Source::Peer("gamma"));
        let relayed = article("relayed", "mesh.test", 1);
        let posted = article("posted", "mesh.test", 2);
        ingest(&mut spool, &from_gamma, &[&relayed]).unwrap();
        ingest(&mut spool, &beta(&trust), &[&posted]).unwrap();
        let arrivals = spool.arrivals_since(0, 10).unwrap();
        let recorded: Vec<(String, Option<&str>)> = arrivals
            .iter()
            .map(|a| (a.msgid.clone(), a.delivered_by.as_deref()))
            .collect();
        assert_eq!(
            recorded,
            vec![(id_of(&relayed), Some("gamma")), (id_of(&posted), None)]
        );
    }

    #[test]
    fn untrusted_author_is_refused_and_remembered() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let raw = article("news", "mesh.announce", 1);
        let v = ingest(&mut spool, &rules, &[&raw]).unwrap();
        assert!(
            matches!(&v[0], Verdict::Refused(why) if why.contains("may not post to mesh.announce"))
        );
        assert_eq!(spool.history(&id_of(&raw)).unwrap().unwrap().0, "refused");
        let boss = article("news", "mesh.announce", 9);
        assert!(matches!(
            ingest(&mut spool, &rules, &[&boss]).unwrap()[0],
            Verdict::Stored(_)
        ));
    }

    #[test]
    fn an_article_offered_under_another_id_is_refused() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let raw = article("x", "mesh.test", 1);
        let v = ingest_offered(&mut spool, &rules, &[("<other@newsmesh>", &raw)]).unwrap();
        assert!(matches!(&v[0], Verdict::Refused(why) if why.contains("offered as")));
        let v = ingest_offered(
            &mut spool,
            &rules,
            &[(&id_of(&raw), &raw), (&id_of(&raw), &raw)],
        )
        .unwrap();
        assert!(
            matches!(v[..], [Verdict::Stored(_), Verdict::Duplicate]),
            "{v:?}"
        );
    }

    fn signed(extra: &[(&str, &str)], subject: &str, key: u8) -> Vec<u8> {
        let draft = Draft {
            groups: "mesh.test",
            subject,
            from: "ann@example.org",
            references: None,
            body: b"text\n",
        };
        crate::compose::compose_with(&draft, extra, "alpha", &SigningKey::from_bytes(&[key; 32]))
            .to_bytes()
    }

    fn cancel_of(target: &str, key: u8) -> Vec<u8> {
        crate::compose::compose_cancel(
            target,
            "mesh.test",
            "ann@example.org",
            "alpha",
            &SigningKey::from_bytes(&[key; 32]),
        )
        .to_bytes()
    }

    #[test]
    fn only_the_author_may_cancel_and_a_cancel_may_come_first() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let x = signed(&[], "x", 1);
        let x_id = id_of(&x);
        assert!(matches!(
            ingest(&mut spool, &rules, &[&x]).unwrap()[0],
            Verdict::Stored(_)
        ));
        // Someone else's cancel is refused and changes nothing.
        let forged = cancel_of(&x_id, 2);
        let v = ingest(&mut spool, &rules, &[&forged]).unwrap();
        assert!(
            matches!(&v[0], Verdict::Refused(why) if why.contains("not by the author")),
            "{v:?}"
        );
        assert!(spool.article(&x_id).unwrap().is_some());
        // The author's cancel withdraws it and is filed in control.cancel.
        let cancel = cancel_of(&x_id, 1);
        assert!(matches!(
            ingest(&mut spool, &rules, &[&cancel]).unwrap()[0],
            Verdict::Stored(_)
        ));
        assert!(spool.article(&x_id).unwrap().is_none());
        assert_eq!(spool.history(&x_id).unwrap().unwrap().0, "cancelled");
        assert_eq!(spool.group("mesh.test").unwrap().unwrap().count, 0);
        assert_eq!(spool.group(CANCEL_GROUP).unwrap().unwrap().count, 1);
        // A cancel that arrives before its article: the article is then not taken...
        let y = signed(&[], "y", 1);
        ingest(&mut spool, &rules, &[&cancel_of(&id_of(&y), 1)]).unwrap();
        assert_eq!(
            ingest(&mut spool, &rules, &[&y]).unwrap(),
            vec![Verdict::Duplicate]
        );
        assert_eq!(spool.history(&id_of(&y)).unwrap().unwrap().0, "cancelled");
        // ...unless the early cancel was not by its author.
        let z = signed(&[], "z", 1);
        ingest(&mut spool, &rules, &[&cancel_of(&id_of(&z), 3)]).unwrap();
        assert!(matches!(
            ingest(&mut spool, &rules, &[&z]).unwrap()[0],
            Verdict::Stored(_)
        ));
    }

    #[test]
    fn a_foreign_early_cancel_does_not_shadow_the_authors() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let x = signed(&[], "x", 1);
        let x_id = id_of(&x);
        // A stranger's cancel comes first, then the author's, then the article.
        for key in [3, 1] {
            assert!(matches!(
                ingest(&mut spool, &rules, &[&cancel_of(&x_id, key)]).unwrap()[0],
                Verdict::Stored(_)
            ));
        }
        assert!(
            !spool.seen(&x_id).unwrap(),
            "the target may still be fetched"
        );
        assert_eq!(
            ingest(&mut spool, &rules, &[&x]).unwrap(),
            vec![Verdict::Duplicate]
        );
        assert!(spool.article(&x_id).unwrap().is_none());
        assert_eq!(spool.history(&x_id).unwrap().unwrap().0, "cancelled");
    }

    /// An unsigned article as a plain news server relays it.
    fn unsigned(id: &str, group: &str, relay: &str) -> Vec<u8> {
        format!(
            "Path: {relay}!not-for-mail\r\nFrom: a@example.org\r\nNewsgroups: {group}\r\n\
             Subject: plain\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: {id}\r\n\r\nhi\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn unsigned_articles_only_from_the_named_peer_into_open_groups() {
        let (_dir, mut spool) = spool_carrying();
        let trust = TrustPolicy::from_config(
            &[
                TrustRuleConfig {
                    groups: "mesh.*".into(),
                    authors: Authors::Word("any".into()),
                },
                TrustRuleConfig {
                    groups: "mesh.announce".into(),
                    authors: Authors::Keys(vec![public_key_text(
                        &SigningKey::from_bytes(&[9; 32]).verifying_key(),
                    )]),
                },
            ],
            &[],
            true,
        )
        .unwrap()
        .with_unsigned_from("inn", "mesh.*");
        let from_inn = beta(&trust).from(Source::NntpPeer("inn"));
        let ok = unsigned("<u1@x>", "mesh.test", "inn");
        assert!(matches!(
            ingest(&mut spool, &from_inn, &[&ok]).unwrap()[0],
            Verdict::Stored(_)
        ));
        let refused = |v: Vec<Verdict>, what: &str| {
            assert!(
                matches!(&v[0], Verdict::Refused(why) if why.contains(what)),
                "{v:?}"
            )
        };
        // Key-restricted group: refused whatever accept_unsigned says.
        let announce = unsigned("<u2@x>", "mesh.announce", "inn");
        refused(
            ingest(&mut spool, &from_inn, &[&announce]).unwrap(),
            "restricted to listed author keys",
        );
        // Not from the named peer (a mesh neighbour, an import): refused.
        let elsewhere = unsigned("<u3@x>", "mesh.test", "inn");
        refused(
            ingest(&mut spool, &beta(&trust), &[&elsewhere]).unwrap(),
            "[[nntp_peer]]",
        );
        // From the peer but claiming another relay in Path: refused.
        let spoofed = unsigned("<u4@x>", "mesh.test", "other");
        refused(
            ingest(&mut spool, &from_inn, &[&spoofed]).unwrap(),
            "Path starts with",
        );
        for id in ["<u2@x>", "<u3@x>", "<u4@x>"] {
            assert!(spool.history(id).unwrap().is_none(), "{id}");
        }
    }

    #[test]
    fn an_article_for_a_group_not_carried_is_refused_but_not_remembered() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let raw = article("early", "mesh.later", 1);
        let v = ingest(&mut spool, &rules, &[&raw]).unwrap();
        assert!(
            matches!(&v[0], Verdict::Refused(why) if why.contains("does not carry mesh.later")),
            "{v:?}"
        );
        assert!(spool.group("mesh.later").unwrap().is_none());
        assert!(spool.history(&id_of(&raw)).unwrap().is_none());
        // Once the group is created, the same article is taken.
        spool.create_group("mesh.later", "").unwrap();
        assert!(matches!(
            ingest(&mut spool, &rules, &[&raw]).unwrap()[0],
            Verdict::Stored(_)
        ));
        // A crosspost is filed only in the groups carried here.
        let cross = article("both", "mesh.test,mesh.nowhere", 1);
        assert!(matches!(
            ingest(&mut spool, &rules, &[&cross]).unwrap()[0],
            Verdict::Stored(_)
        ));
        assert!(spool.group("mesh.nowhere").unwrap().is_none());
    }

    #[test]
    fn supersedes_replaces_only_the_same_authors_article() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let old = signed(&[], "v1", 1);
        let old_id = id_of(&old);
        ingest(&mut spool, &rules, &[&old]).unwrap();
        let hijack = signed(&[("Supersedes", &old_id)], "mine now", 2);
        assert!(matches!(
            ingest(&mut spool, &rules, &[&hijack]).unwrap()[0],
            Verdict::Stored(_)
        ));
        assert!(
            spool.article(&old_id).unwrap().is_some(),
            "another author cannot supersede"
        );
        let v2 = signed(&[("Supersedes", &old_id)], "v2", 1);
        assert!(matches!(
            ingest(&mut spool, &rules, &[&v2]).unwrap()[0],
            Verdict::Stored(_)
        ));
        assert!(spool.article(&old_id).unwrap().is_none());
        assert!(spool.article(&id_of(&v2)).unwrap().is_some());
        let other = signed(&[("Control", "checkgroups")], "cmsg", 1);
        let v = ingest(&mut spool, &rules, &[&other]).unwrap();
        assert!(matches!(&v[0], Verdict::Refused(why) if why.contains("unsupported control")));
    }

    #[test]
    fn groups_are_created_and_removed_only_by_keys_control_trusts() {
        let (_dir, mut spool) = spool_carrying();
        let trust = policy();
        let rules = beta(&trust);
        let body = "For your newsgroups file:\nmesh.new\tA new group\n";
        let newgroup = |key: u8| {
            let draft = Draft {
                groups: "mesh.new",
                subject: "cmsg newgroup mesh.new",
                from: "admin@example.org",
                references: None,
                body: body.as_bytes(),
            };
            let extra = [("Control", "newgroup mesh.new")];
            crate::compose::compose_with(
                &draft,
                &extra,
                "alpha",
                &SigningKey::from_bytes(&[key; 32]),
            )
            .to_bytes()
        };
        let v = ingest(&mut spool, &rules, &[&newgroup(1)]).unwrap();
        assert!(
            matches!(&v[0], Verdict::Refused(why) if why.contains("may not create")),
            "{v:?}"
        );
        assert!(spool.group("mesh.new").unwrap().is_none());
        assert!(matches!(
            ingest(&mut spool, &rules, &[&newgroup(9)]).unwrap()[0],
            Verdict::Stored(_)
        ));
        let g = spool.group("mesh.new").unwrap().unwrap();
        assert_eq!((g.count, g.description.as_str()), (0, "A new group"));
        assert_eq!(spool.group("control.newgroup").unwrap().unwrap().count, 1);
        let post = {
            let draft = Draft {
                groups: "mesh.new",
                subject: "first",
                from: "ann@example.org",
                references: None,
                body: b"hi\n",
            };
            crate::compose::compose(&draft, "alpha", &SigningKey::from_bytes(&[1; 32])).to_bytes()
        };
        ingest(&mut spool, &rules, &[&post]).unwrap();
        let rmgroup = signed(
            &[("Control", "rmgroup mesh.new")],
            "cmsg rmgroup mesh.new",
            9,
        );
        assert!(matches!(
            ingest(&mut spool, &rules, &[&rmgroup]).unwrap()[0],
            Verdict::Stored(_)
        ));
        assert!(spool.group("mesh.new").unwrap().is_none());
        assert!(spool.article(&id_of(&post)).unwrap().is_none());
        assert_eq!(spool.history(&id_of(&post)).unwrap().unwrap().0, "expired");
    }
}
