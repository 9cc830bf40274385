//! Push: offering our new arrivals to a neighbour with pipelined CHECK (ihave) and
//! sending the ones it asks for (238, sendme) with TAKETHIS, per RFC 4644. Used by the
//! mesh exchange and to feed plain news servers (`nntp.rs`). The push mark advances only
//! once every answer of a round is in: a 239 means the peer has committed the article.
//! Two offers are in flight at once, so the peer stores one while the next arrives.
//!
//! Arrivals that came from the neighbour, or whose groups its feed pattern excludes, are
//! not offered (it has them, or does not want them): `feed_policy` decides, on what this
//! node recorded, not on the names in Path.

use std::collections::VecDeque;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;

use super::auth::{authenticate, secure};
use super::conn::{command, expect, net, response};
use super::{peer_refused, PeerReport};
use crate::admission::{quota::OVER_QUOTA, AgeLimits};
use crate::config::PeerConfig;
use crate::error::{Error, Result};
use crate::feed_policy::goes_to;
use crate::home::Node;
use crate::net::Conn;
use crate::protocol::{write_block, Command, Response};
use crate::wildmat::Wildmat;

/// Arrivals offered per CHECK round: as many as a `serve` stores in one transaction
/// (one number for both, `feed_policy::MAX_OFFER`), so each of its batches is one offer.
const PUSH_CHUNK: usize = crate::feed_policy::MAX_OFFER;

/// Offers whose CHECKs are on the wire before the first of them is answered. With two,
/// the 238s of offer k+1 are in before the peer has stored offer k, so our TAKETHIS for
/// k+1 travel while it stores k: its input never runs dry between its transactions, and
/// reading our spool overlaps its work instead of adding to it.
const OFFERS_AHEAD: usize = 2;

/// What a run of the peer's answers, in the order of our commands, is about.
enum Round {
    /// CHECKs of one offer: (arrival sequence, Message-ID); the offer examined our
    /// arrivals up to `last`.
    Checks { ids: Vec<(i64, String)>, last: i64 },
    /// TAKETHIS for the (arrival sequence, Message-ID) of that offer the peer asked for;
    /// once all are answered, the push mark may pass `last` (not a deferred one).
    Takes { ids: Vec<(i64, String)>, last: i64 },
}

/// Where pushed articles go: a neighbour's name (for marks and "came from it") and its
/// feed pattern.
pub(super) struct Target<'a> {
    pub(super) name: &'a str,
    pub(super) feed: Wildmat,
}

/// Pushes our new arrivals with pipelined CHECK/TAKETHIS (after MODE STREAM).
///
/// The commands go out as CHECK 1, CHECK 2, TAKETHIS 1, CHECK 3, TAKETHIS 2, ... (see
/// [`OFFERS_AHEAD`]); the peer answers in that order, and `rounds` holds what each
/// coming run of answers is about.
pub(super) async fn push(
    node: &mut Node,
    target: &Target<'_>,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    push_from(node, target, conn, report, None).await.map(drop)
}

/// [`push`], or with `listed`, offers those arrivals (in arrival order) instead of the
/// ones after the push mark: set reconciliation found what the peer lacks (see
/// `reconcile.rs`), so the mark passes each listed offer once it is answered. Returns
/// whether the peer answered every offer (none deferred).
pub(super) async fn push_from(
    node: &mut Node,
    target: &Target<'_>,
    conn: &mut Conn,
    report: &mut PeerReport,
    listed: Option<Vec<crate::spool::Arrival>>,
) -> Result<bool> {
    let queue_bytes = node.config.limits.sync_batch_bytes;
    let mut marks = node.spool.marks(target.name)?;
    let mut offers = Offers {
        target,
        resync_through: marks.resync_through,
        offered: Some(marks.push_seq),
        rounds: VecDeque::new(),
        listed: listed.map(Vec::into_iter),
    };
    for _ in 0..OFFERS_AHEAD {
        offers.next(node, conn)?;
    }
    // The first arrival the peer asked us to offer again later (431): the mark must not
    // pass it, so the next sync offers it again.
    let mut deferred: Option<i64> = None;
    while let Some(round) = offers.rounds.pop_front() {
        match round {
            Round::Checks { ids, last } => {
                let mut send = Vec::new();
                for (seq, id) in ids {
                    let r = response(conn).await?;
                    match (r.code, r.first_arg()) {
                        (238, Some(got)) if got == id => send.push((seq, id)),
                        (438, Some(got)) if got == id => {}
                        (431, Some(got)) if got == id => {
                            deferred = Some(deferred.map_or(seq, |d| d.min(seq)));
                            report.deferred += 1;
                        }
                        _ => {
                            return Err(Error::Network(format!(
                                "CHECK {id}: peer answered {} {}",
                                r.code, r.text
                            )))
                        }
                    }
                }
                let mut sent = Vec::with_capacity(send.len());
                for (seq, id) in send {
                    if let Some(stored) = node.spool.article(&id)? {
                        Command::Takethis(id.clone()).write(conn.out());
                        write_block(conn.out(), &stored.raw);
                        sent.push((seq, id));
                        // A peer that asks for everything must not make us hold a round's
                        // worth of large articles: send them as the queue fills.
                        if conn.out().len() >= queue_bytes {
                            conn.flush().await.map_err(net)?;
                        }
                    }
                }
                offers.rounds.push_back(Round::Takes { ids: sent, last });
                offers.next(node, conn)?;
            }
            Round::Takes { ids, last } => {
                for (seq, id) in ids {
                    let r = response(conn).await?;
                    match (r.code, r.first_arg()) {
                        (239, Some(got)) if got == id => report.sent += 1,
                        // Over a quota there: offered again next time. (Any other
                        // 431, such as a full spool, fails the push as before: an
                        // operator must act.)
                        (431, Some(got)) if got == id && r.text.contains(OVER_QUOTA) => {
                            deferred = Some(deferred.map_or(seq, |d| d.min(seq)));
                            report.deferred += 1;
                            report.held_back = true;
                        }
                        (439, Some(got)) if got == id => {
                            // `439 <id> reason`: the reason is what follows the id.
                            let why = r
                                .text
                                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                                .strip_prefix(got)
                                .unwrap_or(&r.text)
                                .trim_start();
                            peer_refused(node, report, &id, why);
                        }
                        _ => {
                            return Err(Error::Network(format!(
                                "TAKETHIS {id}: peer answered {} {}",
                                r.code, r.text
                            )))
                        }
                    }
                }
                // Every earlier round is answered too (answers come in order).
                let mark = deferred.map_or(last, |d| last.min(d - 1));
                // (A listed offer's `last` may be passed too: what the mark passes and
                // the list lacks, the peer has, reconciliation says.)
                if mark > marks.push_seq {
                    marks.push_seq = mark;
                    // Never backwards: `serve`'s live relay may have acknowledged more.
                    node.spool.advance_push_mark(target.name, mark)?;
                }
            }
        }
    }
    Ok(deferred.is_none())
}

/// The offers of one push: what was offered so far and the rounds awaiting answers.
struct Offers<'t, 'a> {
    target: &'t Target<'a>,
    resync_through: i64,
    /// The last arrival offered so far; None once there is nothing more to offer.
    offered: Option<i64>,
    /// What each coming run of answers is about, in order.
    rounds: VecDeque<Round>,
    /// Arrivals to offer instead of those after the mark (then the mark stays).
    listed: Option<std::vec::IntoIter<crate::spool::Arrival>>,
}

impl Offers<'_, '_> {
    /// Offers the peer our next arrivals (CHECKs queued on `conn`, the round added to
    /// `rounds`); once there is nothing more, it offers nothing, now or later.
    fn next(&mut self, node: &Node, conn: &mut Conn) -> Result<()> {
        let Some(after) = self.offered else {
            return Ok(());
        };
        let offer = match &mut self.listed {
            // The peer lacks them (reconciliation says): offered whoever delivered them.
            Some(listed) => listed_offer(node, self.target, listed),
            None => next_offer(node, self.target, after, self.resync_through)?,
        };
        self.offered = offer.last_seq;
        let Some(last) = offer.last_seq else {
            return Ok(());
        };
        for (_, id) in &offer.ids {
            Command::Check(id.clone()).write(conn.out());
        }
        self.rounds.push_back(Round::Checks {
            ids: offer.ids,
            last,
        });
        Ok(())
    }
}

/// The next chunk of our arrivals after `after` that `peer` should be offered.
pub(super) struct Offer {
    /// (arrival sequence, Message-ID) to offer.
    pub(super) ids: Vec<(i64, String)>,
    /// Sequence of the last arrival examined (None: nothing new).
    pub(super) last_seq: Option<i64>,
}

/// Arrivals that came from the peer are skipped (it has them), except up to
/// `resync_through` (its spool was rebuilt: it may have lost them).
pub(super) fn next_offer(
    node: &Node,
    target: &Target<'_>,
    after: i64,
    resync_through: i64,
) -> Result<Offer> {
    let arrivals = node.spool.arrivals_since(after, PUSH_CHUNK)?;
    let own_name = node.config.node.name.as_str();
    // Not offered: what our own date window would refuse (`admission::age`).
    let (age, now) = (AgeLimits::from_config(&node.config), crate::clock::now());
    Ok(Offer {
        last_seq: arrivals.last().map(|a| a.seq),
        ids: arrivals
            .into_iter()
            .filter(|a| {
                goes_to(
                    a,
                    target.name,
                    &target.feed,
                    own_name,
                    a.seq <= resync_through,
                ) && age.listable(a.posted, now)
            })
            .map(|a| (a.seq, a.msgid))
            .collect(),
    })
}

/// The next chunk of `listed` that `peer`'s feed takes; `last_seq` (the chunk's last
/// arrival) is None once it is used up.
fn listed_offer(
    node: &Node,
    target: &Target<'_>,
    listed: &mut std::vec::IntoIter<crate::spool::Arrival>,
) -> Offer {
    let own_name = node.config.node.name.as_str();
    let (age, now) = (AgeLimits::from_config(&node.config), crate::clock::now());
    let chunk: Vec<_> = listed.take(PUSH_CHUNK).collect();
    Offer {
        last_seq: chunk.last().map(|a| a.seq),
        ids: chunk
            .into_iter()
            .filter(|a| {
                goes_to(a, target.name, &target.feed, own_name, true) && age.listable(a.posted, now)
            })
            .map(|a| (a.seq, a.msgid))
            .collect(),
    }
}

/// Connects to `peer` as this node, authenticates, and pushes `articles` (wire form)
/// with TAKETHIS as they are, without CHECK or any local verification; returns the
/// peer's answer to each. This is what a misbehaving or compromised neighbour could do:
/// `demo` uses it to show a tampered article being refused.
pub async fn push_raw(
    node_key: &SigningKey,
    peer: &PeerConfig,
    articles: &[(String, Vec<u8>)],
) -> Result<Vec<Response>> {
    let address = peer
        .address
        .as_deref()
        .ok_or_else(|| Error::Invalid(format!("peer {} has no address", peer.name)))?;
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| Error::Network(format!("connecting to {address}: {e}")))?;
    let mut conn = Conn::new(stream, Duration::from_secs(30));
    response(&mut conn).await?;
    secure(node_key, peer, &mut conn).await?;
    authenticate(node_key, peer, &mut conn).await?;
    expect(
        &command(&mut conn, &Command::ModeStream).await?,
        203,
        "MODE STREAM",
    )?;
    for (id, raw) in articles {
        Command::Takethis(id.clone()).write(conn.out());
        write_block(conn.out(), raw);
    }
    let mut answers = Vec::with_capacity(articles.len());
    for _ in articles {
        answers.push(response(&mut conn).await?);
    }
    let _ = command(&mut conn, &Command::Quit).await;
    conn.shutdown().await;
    Ok(answers)
}
