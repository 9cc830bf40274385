//! The feed side of a session: the mesh handshake (`mesh.rs`), the IHAVE/SENDME
//! exchange in its RFC 4644 form (pipelined CHECK = ihave, 238 = sendme, TAKETHIS = the
//! article; this file) and its RFC 3977 form (IHAVE, `ihave.rs`), and the pull side
//! (`MESH SINCE`, `since.rs`, then pipelined ARTICLE, here; `MESH IDLE`, `idle.rs`).
//!
//! Pipelined feed commands are taken in batches: everything the peer has already sent
//! is read, the batch's articles are verified together and stored in one transaction,
//! and only then are the answers written. An acknowledgement therefore always follows
//! the commit of what it acknowledges. While a peer's feed batch is stored, the commands
//! after it are read (at most one more batch), so its next TAKETHIS run is in hand when
//! the commit lets the answers go; they are answered after it, in order.

mod idle;
mod ihave;
mod join;
mod mesh;
mod reconcile;
mod since;

pub(super) use ihave::ihave;
pub(super) use mesh::mesh;

use crate::inflight::reservations::{Bounds, Claim};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::session::Session;
use super::Shared;
use crate::config::LimitsConfig;
use crate::error::Error;
use crate::home::Snapshot;
use crate::ingest::{ingest_offered, Offered, Rules, Source, Verdict};
use crate::net::NetError;
use crate::newslog::{LogEntry, LogVerdict, NewsLog};
use crate::protocol::{parse_command, ArticleRef, Command, Response, MAX_COMMAND_LINE};
use crate::spool::Spool;

/// Most commands taken into one batch (CHECK and ARTICLE cost an id each).
const MAX_BATCH: usize = 8000;
/// Most articles (TAKETHIS) taken into one batch, and so stored in one transaction: the
/// size of a push client's offer (`feed_policy::MAX_OFFER`), so that while one offer is
/// stored the next is already on its way. Bigger transactions write each history page
/// to the WAL less often (history is keyed by random Message-IDs, so a transaction of
/// n articles dirties up to n of its pages); 239s wait for the whole transaction.
const MAX_BATCH_ARTICLES: usize = crate::feed_policy::MAX_OFFER;
/// Most article bytes taken into one batch.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Most bytes of answers built before they are sent: a run of ARTICLE requests for big
/// articles is answered in parts of about this size, each sent before the next is read
/// from the spool.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Queued answers are sent once they reach this size, even while the peer keeps
/// pipelining (the session would otherwise send only when its input pauses).
const FLUSH_ANSWERS_AT: usize = 1024 * 1024;
/// What one answer line costs beyond its Message-ID, for the byte count.
const LINE_COST: usize = 64;

/// One command of a batch, with what it carried.
enum Item {
    Check(String),
    /// TAKETHIS: the article, or why it could not be read (too large...).
    Take(String, Result<Vec<u8>, String>),
    Fetch(String),
}

impl Item {
    fn id(&self) -> &str {
        match self {
            Item::Check(id) | Item::Take(id, _) | Item::Fetch(id) => id,
        }
    }
}

/// A command that joins a batch.
pub(super) enum Batched {
    /// CHECK <id>.
    Check(String),
    /// TAKETHIS <id> (its article follows on the wire).
    Takethis(String),
    /// ARTICLE <id> from an authenticated peer (the pull side of a sync).
    Fetch(String),
}

/// Whether `command` joins a batch: CHECK, TAKETHIS, and ARTICLE <id> from a peer.
pub(super) fn batchable(command: Command, from_peer: bool) -> Result<Batched, Command> {
    match command {
        Command::Check(id) => Ok(Batched::Check(id)),
        Command::Takethis(id) => Ok(Batched::Takethis(id)),
        Command::Article(ArticleRef::MessageId(id)) if from_peer => Ok(Batched::Fetch(id)),
        other => Err(other),
    }
}

/// Serves a run of pipelined CHECK / TAKETHIS / ARTICLE <id> commands starting with
/// `first`, as one batch; a feed batch (CHECK and TAKETHIS from a peer) is stored while
/// the commands after it are read ([`read_ahead`]), and those are the next batch.
pub(super) async fn batch(s: &mut Session, first: Batched) -> Result<(), NetError> {
    let mut batch = Batch::default();
    let mut next = Some(first);
    while let Some(command) = next.take() {
        batch.add(s, command).await?;
        if batch.is_full() {
            break;
        }
        next = next_buffered(s)?;
    }
    loop {
        let Some(feeder) = s.feeder().filter(|_| batch.is_feed()) else {
            return answer(s, batch.items).await;
        };
        // Stored beside the link: the commands after the batch are read meanwhile.
        let work = tokio::spawn(answering(s, feeder, std::mem::take(&mut batch.items)));
        let (ahead, part) = read_ahead(s, work).await?;
        let rest = write_part(s, part);
        // (A feed batch's answers are lines, one part; should they not be, the rest
        // is answered before anything read after it.)
        answer(s, rest).await?;
        send_if_large(s, true).await?;
        if ahead.items.is_empty() {
            return Ok(());
        }
        batch = ahead;
    }
}

/// The next batchable command when one is already buffered or readable without
/// waiting; any other command is left for the session.
fn next_buffered(s: &mut Session) -> Result<Option<Batched>, NetError> {
    let mut line = s.conn.buffered_line(MAX_COMMAND_LINE).ok().flatten();
    while line.is_none() && s.conn.fill_ready()? {
        line = s.conn.buffered_line(MAX_COMMAND_LINE).ok().flatten();
    }
    let Some(line) = line else {
        return Ok(None);
    };
    Ok(
        match parse_command(&line).map(|c| batchable(c, s.peer.is_some())) {
            Ok(Ok(more)) => Some(more),
            _ => {
                s.leftover = Some(line);
                None
            }
        },
    )
}

/// What a spool task answering a batch gives back.
type Answered = Result<Result<Part, Error>, tokio::task::JoinError>;

/// Reads the commands that follow a batch while `work` stores it, up to a batch's
/// bounds: what is buffered or arrives meanwhile, waiting for the network only while
/// the store runs (and never in the middle of a line: then it waits for the store).
/// The peer's next TAKETHIS run is so already read when the commit lets its answers go.
async fn read_ahead(
    s: &mut Session,
    mut work: tokio::task::JoinHandle<Result<Part, Error>>,
) -> Result<(Batch, Part), NetError> {
    let mut ahead = Batch::default();
    let mut done: Option<Answered> = None;
    while !ahead.is_full() && s.leftover.is_none() {
        if let Some(command) = next_buffered(s)? {
            ahead.add(s, command).await?;
            continue;
        }
        if done.is_some() || s.leftover.is_some() || s.conn.has_buffered() {
            break;
        }
        tokio::select! {
            biased;
            answered = &mut work => done = Some(answered),
            readable = s.conn.readable() => readable?,
        }
    }
    let answered = match done {
        Some(answered) => answered,
        None => work.await,
    };
    let part = answered
        .map_err(|e| Error::Internal(format!("spool task failed: {e}")))
        .and_then(|part| part)
        .map_err(|e| answers_lost(s, e))?;
    Ok((ahead, part))
}

/// The commands of one batch, as read.
#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    bytes: usize,
    articles: usize,
}

impl Batch {
    /// Adds `command`, reading the article a TAKETHIS carries.
    async fn add(&mut self, s: &mut Session, command: Batched) -> Result<(), NetError> {
        // An article that will be refused unread (the client has not authenticated) is
        // skipped as it arrives: it is never held whole, whatever its size.
        let max_article = if s.may_feed() {
            s.live.config.limits.max_article_bytes
        } else {
            0
        };
        match command {
            Batched::Check(id) => self.items.push(Item::Check(id)),
            Batched::Takethis(id) => {
                let body = match s.conn.read_block(max_article).await {
                    Ok(body) => Ok(body),
                    Err(NetError::Protocol(e)) => Err(format!("{e}")),
                    Err(e) => return Err(e),
                };
                self.bytes += body.as_ref().map_or(0, Vec::len);
                self.articles += 1;
                self.items.push(Item::Take(id, body));
            }
            Batched::Fetch(id) => self.items.push(Item::Fetch(id)),
        }
        Ok(())
    }

    fn is_full(&self) -> bool {
        self.items.len() >= MAX_BATCH
            || self.articles >= MAX_BATCH_ARTICLES
            || self.bytes >= MAX_BATCH_BYTES
    }

    /// A peer's feed (CHECK and TAKETHIS, no ARTICLE): answered in one part, so it can
    /// be stored while the next is read.
    fn is_feed(&self) -> bool {
        self.articles > 0 && !self.items.iter().any(|i| matches!(i, Item::Fetch(_)))
    }
}

/// Answers a batch in order, in parts of at most about [`MAX_ANSWER_BYTES`], each sent
/// before the next is built.
async fn answer(s: &mut Session, items: Vec<Item>) -> Result<(), NetError> {
    let Some(feeder) = s.feeder() else {
        for item in &items {
            let text = match item {
                Item::Fetch(_) => "authenticate first",
                _ => "authenticate first (MESH HELLO)",
            };
            Response::about(480, item.id(), text).write(s.conn.out());
        }
        return send_if_large(s, false).await;
    };
    let mut rest = items;
    while !rest.is_empty() {
        let part = answering(s, feeder.clone(), rest)
            .await
            .map_err(|e| answers_lost(s, e))?;
        let more = !part.rest.is_empty();
        rest = write_part(s, part);
        send_if_large(s, more).await?;
    }
    Ok(())
}

/// The answers to the first part of `items` (see [`answer_part`]), made on a spool task.
fn answering(
    s: &Session,
    feeder: Feeder,
    items: Vec<Item>,
) -> impl std::future::Future<Output = Result<Part, Error>> + Send + 'static {
    let (session, live, shared) = (s.id, Arc::clone(&s.live), Arc::clone(&s.shared));
    async move {
        shared
            .with_spool(move |shared, spool| {
                Ok(answer_part(
                    shared,
                    &live,
                    spool,
                    session,
                    feeder.source(),
                    items,
                ))
            })
            .await
    }
}

/// A batch whose answers could not be made: they are lost with it, and the connection
/// cannot go on.
fn answers_lost(s: &Session, e: Error) -> NetError {
    tracing::error!("{}: spool task failed: {e}", s.addr);
    NetError::Io(std::io::Error::other(e.to_string()))
}

/// Queues a part's answers and counts its articles; the items it left.
fn write_part(s: &mut Session, part: Part) -> Vec<Item> {
    s.received += part.received;
    s.refused += part.refused;
    let mut out = part.out;
    if s.conn.out().is_empty() {
        std::mem::swap(s.conn.out(), &mut out);
    } else {
        s.conn.queue(&out);
    }
    part.rest
}

/// Sends the queued answers when `now` or once they reach [`FLUSH_ANSWERS_AT`]: a peer
/// that keeps pipelining would otherwise have every batch's answers queued until it
/// paused.
async fn send_if_large(s: &mut Session, now: bool) -> Result<(), NetError> {
    if now || s.conn.out().len() >= FLUSH_ANSWERS_AT {
        // fill_ready first drops the input already consumed from the read buffer, so what
        // flush reads ahead while it waits replaces it instead of piling on.
        s.conn.fill_ready()?;
        s.conn.flush().await?;
    }
    Ok(())
}

/// The answers to the first items of a batch, and the items left for the next part.
struct Part {
    out: Vec<u8>,
    rest: Vec<Item>,
    received: u64,
    refused: u64,
}

/// What a batch's ARTICLE found in the spool.
type Found = Result<Option<Vec<u8>>, Error>;

/// Who feeds a session, and so where its articles come from (the article log names it;
/// unsigned articles are taken only from an `[[nntp_peer]]`): the mesh peer it proved,
/// else the `[[nntp_peer]]` whose host it connects from. A session with neither may not
/// feed ([`Session::feeder`] is None: 480).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Feeder {
    /// A mesh peer, proved by its node key.
    Peer(String),
    /// A plain news server, known by the host it connects from.
    NntpPeer(String),
}

impl Feeder {
    /// The source `ingest` and the article log name.
    fn source(&self) -> Source<'_> {
        match self {
            Feeder::Peer(name) => Source::Peer(name),
            Feeder::NntpPeer(name) => Source::NntpPeer(name),
        }
    }
}

/// The mesh peer a session proved, with its feed pattern (what it may be told of);
/// None, once 480 is answered, when the session proved none.
fn proved_peer(s: &mut Session) -> Option<(String, crate::wildmat::Wildmat)> {
    let Some(peer) = s.peer.clone() else {
        s.reply(480, "authenticate first (MESH HELLO)");
        return None;
    };
    let feed = s
        .live
        .config
        .peer(&peer)
        .map(|p| p.feed())
        .unwrap_or_else(|| crate::wildmat::Wildmat::new(""));
    Some((peer, feed))
}

/// Writes an article refused before ingest saw it (too large to read) to the article log.
fn log_unread(log: Option<&NewsLog>, from: &Source<'_>, id: &str, why: &str) {
    if let Some(log) = log {
        log.append(&[LogEntry {
            verdict: LogVerdict::Refused,
            id: Some(id),
            peer: &from.to_string(),
            reason: why,
        }]);
    }
}

/// Answers the items of `items` that fit [`MAX_ANSWER_BYTES`] (at least one); a spool
/// failure is answered per item ("try later"), so the answers stay in step with the
/// commands.
fn answer_part(
    shared: &Shared,
    live: &Snapshot,
    spool: &mut Spool,
    session: u64,
    from: Source<'_>,
    mut items: Vec<Item>,
) -> Part {
    // Which items this part answers: their answers' bytes, articles included.
    let mut fetched: Vec<Found> = Vec::new();
    let mut cost = 0;
    let mut take = 0;
    // One read transaction for the articles the part fetches.
    let read = spool.read_with(|spool| {
        for item in &items {
            if take > 0 && cost >= MAX_ANSWER_BYTES {
                break;
            }
            take += 1;
            cost += LINE_COST + 2 * item.id().len();
            if let Item::Fetch(id) = item {
                let found = spool
                    .article(id)
                    .map(|a| a.map(|a| a.raw))
                    .map_err(Error::from);
                cost += found.as_ref().map_or(0, |a| a.as_ref().map_or(0, Vec::len));
                fetched.push(found);
            }
        }
    });
    if let Err(e) = read {
        tracing::error!("spool failure reading a batch's articles: {e}");
        if take == 0 {
            // The transaction did not even begin: this part answers every item, each
            // fetch with "try later" (nothing fetched), so the batch still ends.
            take = items.len();
        }
    }
    let rest = items.split_off(take);
    let now = Instant::now();
    let full = shared.guards.spool.refusing(now);
    let limits = &live.config.limits;
    // One read transaction for the batch's history lookups.
    let checks = spool
        .read_with(|spool| check_answers(shared, limits, spool, session, &items, full, now))
        .unwrap_or_else(|e| {
            tracing::error!("spool failure answering CHECKs: {e}");
            Vec::new()
        });
    let takes: Vec<(&str, &[u8])> = items
        .iter()
        .filter_map(|i| match i {
            Item::Take(id, Ok(raw)) => Some((id.as_str(), raw.as_slice())),
            _ => None,
        })
        .collect();
    let verdicts = if full || takes.is_empty() {
        None
    } else {
        let rules =
            Rules::new(&live.config, &live.trust, shared.news_log.as_ref()).for_source(from);
        match ingest_offered(spool, &rules, &takes) {
            Ok(verdicts) => {
                shared.guards.spool.room();
                Some(verdicts)
            }
            Err(e) if e.is_full() => {
                shared.guards.spool.full(now);
                None
            }
            Err(e) => {
                tracing::error!("spool failure storing a batch: {e}");
                None
            }
        }
    };
    // Arrived, stored or not (refused, unreadable, no room): the reservation has served;
    // whoever offers the article next may send it.
    {
        let mut in_flight = shared.in_flight();
        let mut reservations = shared.guards.reservations();
        for item in &items {
            if let Item::Take(id, _) = item {
                reservations.release(&mut in_flight, id);
            }
        }
    }
    let mut verdicts = verdicts.map(Vec::into_iter);
    let mut checks = checks.into_iter();
    let mut fetched = fetched.into_iter();
    let (mut out, mut received, mut refused) = (Vec::with_capacity(cost), 0, 0);
    for item in &items {
        let response = match item {
            Item::Check(id) => {
                let (code, text) = checks.next().unwrap_or((431, "try again later"));
                Response::about(code, id, text)
            }
            Item::Take(id, Err(why)) => {
                // Refused unread (too large): ingest never saw it, so it is logged here.
                log_unread(shared.news_log.as_ref(), &from, id, why);
                refused += 1;
                Response::about(439, id, why)
            }
            Item::Take(id, Ok(_)) => match verdicts.as_mut().and_then(Iterator::next) {
                Some(verdict) => {
                    // A refusal is logged by ingest (article log and tracing).
                    match verdict {
                        Verdict::Stored(_) => received += 1,
                        Verdict::Refused(_) => refused += 1,
                        Verdict::Duplicate | Verdict::Deferred(_) => {}
                    }
                    verdict.answer(Offered::Takethis, id)
                }
                // Over a quota: try later, as for a full spool.
                None if full || shared.guards.spool.refusing(now) => {
                    Response::about(431, id, "no room in the spool, try again later")
                }
                None => Response::about(431, id, "not stored, try again later"),
            },
            Item::Fetch(id) => match fetched.next() {
                Some(Ok(Some(raw))) => Response::with_block(220, format!("0 {id}"), raw),
                Some(Ok(None)) => Response::about(430, id, "no such article"),
                Some(Err(e)) => {
                    tracing::error!("spool failure reading {id}: {e}");
                    Response::new(403, "internal fault, try again later")
                }
                None => Response::new(403, "internal fault, try again later"),
            },
        };
        response.write(&mut out);
    }
    Part {
        out,
        rest,
        received,
        refused,
    }
}

/// The code and text answering each CHECK of `items`, in order: 438 when the id is in
/// history or sent earlier in this batch; 431 when the spool is full, another session
/// holds it, or a reservation cap is reached; else 238 and the id is reserved for
/// `session`.
fn check_answers(
    shared: &Shared,
    limits: &LimitsConfig,
    spool: &Spool,
    session: u64,
    items: &[Item],
    full: bool,
    now: Instant,
) -> Vec<(u16, &'static str)> {
    let bounds = Bounds {
        per_session: limits.max_in_flight_per_session,
        total: limits.max_in_flight,
        timeout: Duration::from_secs(limits.in_flight_timeout_secs),
    };
    let mut offered: HashSet<&str> = HashSet::new();
    let mut answers = Vec::new();
    for item in items {
        match item {
            Item::Check(id) => {
                let at_cap = || {
                    let mut in_flight = shared.in_flight();
                    shared
                        .guards
                        .reservations()
                        .at_cap(&mut in_flight, session, bounds, now)
                };
                let answer = if full {
                    (431, "no room in the spool, try again later")
                } else if offered.contains(id.as_str()) {
                    (438, "already have it")
                } else if at_cap() {
                    // Answered without a look at the spool: a flood of CHECKs past the
                    // cap costs little.
                    (431, "too many articles in flight, try later")
                } else {
                    match spool.seen(id) {
                        Ok(true) => (438, "already have it"),
                        Ok(false) => {
                            let mut in_flight = shared.in_flight();
                            let claim = shared.guards.reservations().claim(
                                &mut in_flight,
                                id,
                                session,
                                bounds,
                                now,
                            );
                            match claim {
                                Claim::Granted => (238, "send it"),
                                Claim::Busy => (431, "another peer is sending it, try later"),
                                Claim::Full => (431, "too many articles in flight, try later"),
                            }
                        }
                        Err(e) => {
                            tracing::error!("spool failure answering CHECK {id}: {e}");
                            (431, "try again later")
                        }
                    }
                };
                answers.push(answer);
            }
            Item::Take(id, _) => {
                offered.insert(id);
            }
            Item::Fetch(_) => {}
        }
    }
    answers
}
