//! The feed side of a session: the mesh handshake, the IHAVE/SENDME exchange in its
//! RFC 4644 form (pipelined CHECK = ihave, 238 = sendme, TAKETHIS = the article) and its
//! RFC 3977 form (IHAVE), and the pull side (`MESH SINCE` then pipelined ARTICLE).
//!
//! Pipelined feed commands are taken in batches: everything the peer has already sent
//! is read, the batch's articles are verified together and stored in one transaction,
//! and only then are the answers written. An acknowledgement therefore always follows
//! the commit of what it acknowledges.

mod guards;
mod idle;
mod join;
mod logins;
mod reconcile;

use crate::inflight::reservations::{Bounds, Claim};
pub use guards::Guards;
pub use logins::{Pace, Turn};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::live::Live;
use super::session::Session;
use super::Shared;
use crate::config::LimitsConfig;
use crate::error::Error;
use crate::feed_policy::{goes_to, FULL_LISTING, MAX_SINCE};
use crate::ingest::{ingest_offered, Rules, Source, Verdict};
use crate::net::NetError;
use crate::newslog::{LogEntry, LogVerdict};
use crate::protocol::{
    parse_command, ArticleRef, Command, MeshCommand, Response, MAX_COMMAND_LINE,
};
use crate::sign::handshake::{nonce, Role, Transcript, BINDING_LABEL};
use crate::sign::{parse_public_key, public_key_text};
use crate::spool::Spool;
use crate::wildmat::Wildmat;

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
/// `first`, as one batch.
pub(super) async fn batch(s: &mut Session, first: Batched) -> Result<(), NetError> {
    // An article that will be refused unread (the client has not authenticated) is
    // skipped as it arrives: it is never held whole, whatever its size.
    let max_article = if s.may_feed() {
        s.live.config.limits.max_article_bytes
    } else {
        0
    };
    let mut items = Vec::new();
    let (mut bytes, mut articles) = (0, 0);
    let mut next = Some(first);
    while let Some(command) = next.take() {
        match command {
            Batched::Check(id) => items.push(Item::Check(id)),
            Batched::Takethis(id) => {
                let body = match s.conn.read_block(max_article).await {
                    Ok(body) => Ok(body),
                    Err(NetError::Protocol(e)) => Err(format!("{e}")),
                    Err(e) => return Err(e),
                };
                bytes += body.as_ref().map_or(0, Vec::len);
                articles += 1;
                items.push(Item::Take(id, body));
            }
            Batched::Fetch(id) => items.push(Item::Fetch(id)),
        }
        if items.len() >= MAX_BATCH || articles >= MAX_BATCH_ARTICLES || bytes >= MAX_BATCH_BYTES {
            break;
        }
        let mut line = s.conn.buffered_line(MAX_COMMAND_LINE).ok().flatten();
        while line.is_none() && s.conn.fill_ready()? {
            line = s.conn.buffered_line(MAX_COMMAND_LINE).ok().flatten();
        }
        let Some(line) = line else {
            break;
        };
        match parse_command(&line).map(|c| batchable(c, s.peer.is_some())) {
            Ok(Ok(more)) => next = Some(more),
            _ => s.leftover = Some(line),
        }
    }
    answer(s, items).await
}

/// Answers a batch in order, in parts of at most about [`MAX_ANSWER_BYTES`], each sent
/// before the next is built.
async fn answer(s: &mut Session, items: Vec<Item>) -> Result<(), NetError> {
    if !s.may_feed() {
        for item in &items {
            let text = match item {
                Item::Fetch(_) => "authenticate first",
                _ => "authenticate first (MESH HELLO)",
            };
            Response::about(480, item.id(), text).write(s.conn.out());
        }
        return send_if_large(s, false).await;
    }
    let mut rest = items;
    while !rest.is_empty() {
        let session = s.id;
        let feeder = (s.peer.clone(), s.nntp_peer.clone());
        let live = Arc::clone(&s.live);
        let part = s
            .shared
            .with_spool(move |shared, spool| {
                let from = source(&feeder.0, &feeder.1);
                Ok(answer_part(shared, &live, spool, session, from, rest))
            })
            .await
            .map_err(|e| {
                // Answers for the batch are lost with it: the connection cannot go on.
                tracing::error!("{}: spool task failed: {e}", s.addr);
                NetError::Io(std::io::Error::other(e.to_string()))
            })?;
        s.received += part.received;
        s.refused += part.refused;
        let mut out = part.out;
        if s.conn.out().is_empty() {
            std::mem::swap(s.conn.out(), &mut out);
        } else {
            s.conn.queue(&out);
        }
        rest = part.rest;
        send_if_large(s, !rest.is_empty()).await?;
    }
    Ok(())
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
type Fetched = Result<Option<Vec<u8>>, Error>;

/// Where a feeding session's articles come from (the article log names it; unsigned
/// articles are taken only from an `[[nntp_peer]]`): the mesh peer it proved, else the
/// `[[nntp_peer]]` whose host it connects from.
fn source<'a>(peer: &'a Option<String>, nntp_peer: &'a Option<String>) -> Source<'a> {
    match (peer, nntp_peer) {
        (Some(name), _) => Source::Peer(name),
        (None, Some(name)) => Source::NntpPeer(name),
        // Not reached: a session that is neither may not feed (480).
        (None, None) => Source::Peer("unauthenticated"),
    }
}

/// Writes an article refused before ingest saw it (too large to read) to the article log.
fn log_unread(spool: &Spool, from: &Source<'_>, id: &str, why: &str) {
    if let Some(log) = spool.news_log() {
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
    live: &Live,
    spool: &mut Spool,
    session: u64,
    from: Source<'_>,
    mut items: Vec<Item>,
) -> Part {
    // Which items this part answers: their answers' bytes, articles included.
    let mut fetched: Vec<Fetched> = Vec::new();
    let mut cost = 0;
    let mut take = 0;
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
        let rules = Rules::new(&live.config, &live.trust).from(from);
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
                log_unread(spool, &from, id, why);
                refused += 1;
                Response::about(439, id, why)
            }
            Item::Take(id, Ok(_)) => match verdicts.as_mut().and_then(Iterator::next) {
                Some(Verdict::Stored(_)) => {
                    received += 1;
                    Response::about(239, id, "stored")
                }
                Some(Verdict::Duplicate) => Response::about(439, id, "already have it"),
                Some(Verdict::Refused(why)) => {
                    // Logged by ingest (article log and tracing).
                    refused += 1;
                    Response::about(439, id, &why.to_string())
                }
                // Over a quota: try later, as for a full spool.
                Some(Verdict::Deferred(why)) => Response::about(431, id, &why.to_string()),
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

/// RFC 3977 IHAVE: one article per round trip.
pub(super) async fn ihave(s: &mut Session, id: String) -> Result<(), NetError> {
    if !s.may_feed() {
        // Most likely a news server (INN) that this node was not told about.
        let hint = crate::server::hints::unlisted_feeder(s.addr.ip());
        tracing::warn!("{hint}");
        s.reply(480, &format!("authenticate first (MESH HELLO); {hint}"));
        return Ok(());
    }
    if s.shared.guards.spool.refusing(Instant::now()) {
        s.reply(436, "no room in the spool, try again later");
        return Ok(());
    }
    let probe = id.clone();
    let seen = s
        .shared
        .with_spool(move |_, spool| Ok(spool.seen(&probe)?))
        .await;
    let busy = {
        let mut in_flight = s.shared.in_flight();
        s.shared
            .guards
            .reservations()
            .held_by_other(&mut in_flight, &id, s.id, Instant::now())
    };
    match seen {
        Ok(true) => {
            s.reply(435, "already have it");
            return Ok(());
        }
        Ok(false) if busy => {
            s.reply(436, "another peer is sending it, try again later");
            return Ok(());
        }
        Ok(false) => s.reply(335, "send it; end with <CR-LF>.<CR-LF>"),
        Err(e) => {
            tracing::error!("spool failure: {e}");
            s.reply(436, "transfer not possible, try again later");
            return Ok(());
        }
    }
    let body = match s
        .conn
        .read_block(s.live.config.limits.max_article_bytes)
        .await
    {
        Ok(body) => body,
        Err(NetError::Protocol(e)) => {
            s.refused += 1;
            let (why, feeder) = (e.to_string(), (s.peer.clone(), s.nntp_peer.clone()));
            s.reply(437, &why);
            let _ = s
                .shared
                .with_spool(move |_, spool| {
                    log_unread(spool, &source(&feeder.0, &feeder.1), &id, &why);
                    Ok(())
                })
                .await;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let feeder = (s.peer.clone(), s.nntp_peer.clone());
    let live = Arc::clone(&s.live);
    let verdict = s
        .shared
        .with_spool(move |_, spool| {
            let from = source(&feeder.0, &feeder.1);
            let rules = Rules::new(&live.config, &live.trust).from(from);
            Ok(ingest_offered(spool, &rules, &[(&id, &body)])?.pop())
        })
        .await;
    match verdict {
        Ok(Some(Verdict::Stored(_))) => {
            s.shared.guards.spool.room();
            s.received += 1;
            s.reply(235, "article transferred OK");
        }
        Ok(Some(Verdict::Duplicate)) => s.reply(435, "already have it"),
        Ok(Some(Verdict::Refused(why))) => {
            s.refused += 1;
            s.reply(437, &why.to_string());
        }
        Ok(Some(Verdict::Deferred(why))) => s.reply(436, &why.to_string()),
        Err(e) if e.is_spool_full() => {
            s.shared.guards.spool.full(Instant::now());
            s.reply(436, "no room in the spool, try again later");
        }
        Ok(None) | Err(_) => s.reply(436, "transfer failed, try again later"),
    }
    Ok(())
}

/// The newsmesh extension commands.
pub(super) async fn mesh(s: &mut Session, command: MeshCommand) -> Result<(), NetError> {
    match command {
        MeshCommand::Hello {
            key,
            nonce: client_nonce,
        } => {
            let Ok(client_key) = parse_public_key(&key) else {
                s.reply(501, "malformed node key");
                return Ok(());
            };
            let transcript = Transcript {
                client_key,
                server_key: s.shared.node_key.verifying_key(),
                client_nonce,
                server_nonce: nonce(),
                binding: s.conn.export_keying_material(BINDING_LABEL),
            };
            let signature = transcript.sign(Role::Server, &s.shared.node_key);
            let line = format!(
                "{} {} {}",
                public_key_text(&transcript.server_key),
                transcript.server_nonce,
                signature
            );
            s.hello = Some(transcript);
            s.reply(291, &line);
        }
        MeshCommand::Prove { signature } => {
            let Some(transcript) = s.hello.take() else {
                s.reply(482, "MESH HELLO first");
                return Ok(());
            };
            let key = public_key_text(&transcript.client_key);
            let peer = s
                .live
                .config
                .peer_with_key(&transcript.client_key)
                .map(|p| (p.name.clone(), p.tls));
            let tls_key = s
                .conn
                .peer_certificate()
                .and_then(|c| crate::tls::node_key_of(&c));
            let peer = match peer {
                Some((name, true)) if !s.conn.is_tls() => {
                    tracing::warn!("{}: peer {name} without TLS; refused", s.addr);
                    s.reply(483, "TLS required for this peer (STARTTLS first)");
                    return Ok(());
                }
                Some(_) if s.conn.is_tls() && tls_key != Some(transcript.client_key) => {
                    tracing::warn!(
                        "{}: MESH HELLO key {key} is not the TLS key; refused",
                        s.addr
                    );
                    s.reply(481, "node key differs from the TLS certificate's");
                    return Ok(());
                }
                other => other.map(|(name, _)| name),
            };
            match peer {
                Some(name) if transcript.verify(Role::Client, &signature) => {
                    tracing::info!("{}: authenticated as peer {name}", s.addr);
                    s.reply(292, &format!("{name} authenticated"));
                    s.peer = Some(name);
                }
                Some(name) => {
                    tracing::warn!("{}: bad proof for peer {name}'s key; refused", s.addr);
                    s.reply(481, "authentication failed");
                }
                None => {
                    tracing::warn!(
                        "{}: node key {key} is not a configured peer; refused",
                        s.addr
                    );
                    s.reply(481, "node key is not a configured peer");
                }
            }
        }
        MeshCommand::Since { epoch, seq, limit } => {
            let Some(peer) = s.peer.clone() else {
                s.reply(480, "authenticate first (MESH HELLO)");
                return Ok(());
            };
            let feed = s
                .live
                .config
                .peer(&peer)
                .map(|p| p.feed())
                .unwrap_or_else(|| Wildmat::new(""));
            let limit = limit.clamp(1, MAX_SINCE);
            // Our sequence numbers are SQLite's i64: a larger one is none of ours (and
            // `as` would wrap it to a negative start, listing everything).
            let Ok(seq) = i64::try_from(seq) else {
                s.reply(501, "sequence number out of range");
                return Ok(());
            };
            // Not listed: what our own date window would refuse (`admission::age`).
            let age = crate::admission::AgeLimits::from_config(&s.live.config);
            let now = crate::clock::now();
            let answer = s
                .shared
                .with_spool(move |shared, spool| {
                    // FULL_LISTING ("none") asks for a full listing from `seq` (first
                    // contact, or the client's spool was rebuilt): no "came from it"
                    // filter, it may have lost what it once sent us. A stale epoch means
                    // OUR spool was rebuilt: the client notices the new epoch.
                    let full = epoch == FULL_LISTING;
                    if !full && epoch != shared.epoch {
                        // The client restarts its marks on seeing the new epoch and never
                        // reads this answer's ids: send none (it reconciles or lists next).
                        return Ok::<_, Error>((shared.epoch.clone(), 0, true, Vec::new()));
                    }
                    let start = seq;
                    let arrivals = spool.arrivals_since(start, limit as usize)?;
                    let through = arrivals.last().map_or(start, |a| a.seq);
                    let more = arrivals.len() == limit as usize;
                    let mut block = Vec::new();
                    for a in arrivals
                        .iter()
                        .filter(|a| goes_to(a, &peer, &feed, &shared.name, full))
                        .filter(|a| age.listable(a.posted, now))
                    {
                        block.extend_from_slice(a.msgid.as_bytes());
                        block.extend_from_slice(b"\r\n");
                    }
                    Ok::<_, Error>((shared.epoch.clone(), through, more, block))
                })
                .await;
            match answer {
                Ok((epoch, through, more, block)) => {
                    let text = format!("{epoch} {through} {}", u8::from(more));
                    Response::with_block(293, text, block).write(s.conn.out());
                }
                Err(e) => {
                    tracing::error!("spool failure: {e}");
                    s.reply(403, "internal fault, try again later");
                }
            }
        }
        MeshCommand::Idle { seq } => idle::idle(s, seq).await?,
        MeshCommand::Join {
            secret,
            name,
            author,
        } => join::join(s, &secret, &name, &author).await,
        MeshCommand::Reconcile => reconcile::reconcile(s).await?,
    }
    Ok(())
}
