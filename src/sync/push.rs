//! Push: offering our new arrivals to a neighbour with pipelined CHECK (ihave) and
//! sending the ones it asks for (238, sendme) with TAKETHIS, per RFC 4644. Used by the
//! mesh exchange and to feed plain news servers (`nntp.rs`). The push mark advances only
//! once every answer of a round is in: a 239 means the peer has committed the article.
//! Three offers are in flight at once, so the peer stores one while the next arrives.
//!
//! Arrivals that came from the neighbour, or whose groups its feed pattern excludes, are
//! not offered (it has them, or does not want them): `feed_policy` decides, on what this
//! node recorded, not on the names in Path.

use std::collections::VecDeque;

use ed25519_dalek::SigningKey;

use super::auth::open_streaming;
use super::conn::{command, response};
use super::{peer_refused, PeerReport};
use crate::admission::{quota::OVER_QUOTA, AgeLimits};
use crate::config::{LimitsConfig, PeerConfig};
use crate::error::{Error, Result};
use crate::feed_policy::goes_to;
use crate::home::Node;
use crate::net::Conn;
use crate::protocol::{write_block, Command, Response};
use crate::spool::{Spool, SpoolError};
use crate::wildmat::Wildmat;

/// Arrivals offered per CHECK round: as many as a `serve` stores in one transaction
/// (one number for both, `feed_policy::MAX_OFFER`), so each of its batches is one offer.
const PUSH_CHUNK: usize = crate::feed_policy::MAX_OFFER;

/// Offers whose CHECKs are on the wire before the first of them is answered. A peer
/// answers in order, so the 238s of offer k+2 come after the 239s of offer k's TAKETHIS
/// run (its commit). With three, our TAKETHIS for offers k+1 and k+2 are already sent
/// when the peer starts storing k: it reads the run of k+1 while it stores k (a `serve`
/// reads one batch ahead), and its input never runs dry between its transactions. (With
/// two, the run of k+1 followed only the answers of k's commit.) The reservations this
/// holds, 3 × `PUSH_CHUNK`, stay under a `serve`'s default cap per session (10,000).
const OFFERS_AHEAD: usize = 3;

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
pub(super) struct Recipient<'a> {
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
    target: &Recipient<'_>,
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
    target: &Recipient<'_>,
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
                            return Err(Error::Peer(format!(
                                "CHECK {id}: peer answered {} {}",
                                r.code, r.text
                            )))
                        }
                    }
                }
                let mut sent = Vec::with_capacity(send.len());
                let mut rest = &send[..];
                while !rest.is_empty() {
                    let queued = node.spool.read_with(|spool| {
                        queue_takethis(spool, rest, conn.out(), queue_bytes)
                    })??;
                    rest = &rest[queued.went_through..];
                    sent.extend(queued.sent);
                    // A peer that asks for everything must not make us hold a round's
                    // worth of large articles: send them as the queue fills.
                    if conn.out().len() >= queue_bytes {
                        conn.flush().await?;
                    }
                }
                offers.rounds.push_back(Round::Takes { ids: sent, last });
                offers.next(node, conn)?;
            }
            Round::Takes { ids, last } => {
                for (seq, id) in ids {
                    let r = response(conn).await?;
                    match (r.code, r.first_arg()) {
                        (239, Some(got)) if got == id => report.outcome.sent += 1,
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
                            return Err(Error::Peer(format!(
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

/// What [`queue_takethis`] queued.
struct Queued {
    /// How many of the articles asked for it went through (queued or found expired).
    went_through: usize,
    /// The (arrival sequence, Message-ID) of those queued.
    sent: Vec<(i64, String)>,
}

/// Queues TAKETHIS and the article for each of `asked` (the peer's 238s, in order)
/// until the queue holds `queue_bytes`, reading them in the caller's one read
/// transaction, each lent straight from its row into the queue. An article expired
/// since it was offered is left out (the peer is never sent an empty one).
fn queue_takethis(
    spool: &Spool,
    asked: &[(i64, String)],
    out: &mut Vec<u8>,
    queue_bytes: usize,
) -> std::result::Result<Queued, SpoolError> {
    let mut queued = Queued {
        went_through: 0,
        sent: Vec::new(),
    };
    for (seq, id) in asked {
        queued.went_through += 1;
        let found = spool.lend_arrival(*seq, |article| {
            // (An arrival sequence is never reused; the id check costs nothing.)
            if article.msgid == id {
                Command::Takethis(id.clone()).write(out);
                write_block(out, article.raw);
            }
            article.msgid == id
        })?;
        if found == Some(true) {
            queued.sent.push((*seq, id.clone()));
        }
        if out.len() >= queue_bytes {
            break;
        }
    }
    Ok(queued)
}

/// The offers of one push: what was offered so far and the rounds awaiting answers.
struct Offers<'t, 'a> {
    target: &'t Recipient<'a>,
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
    target: &Recipient<'_>,
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
    target: &Recipient<'_>,
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
    let mut conn = open_streaming(node_key, peer, &LimitsConfig::default()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::test_support::{new_article, temp_spool};
    use crate::spool::StoreOutcome;

    fn stored(spool: &mut Spool, ids: &[&str]) -> Vec<(i64, String)> {
        spool.create_group("a.b", "").unwrap();
        let batch: Vec<_> = ids.iter().map(|id| new_article(id, "a.b")).collect();
        let outcomes = spool.store_batch(&batch).unwrap();
        ids.iter()
            .zip(outcomes)
            .map(|(id, outcome)| match outcome {
                StoreOutcome::Stored(seq) => (seq, id.to_string()),
                StoreOutcome::Duplicate => panic!("{id} stored twice"),
            })
            .collect()
    }

    #[test]
    fn takethis_goes_out_for_each_stored_article_and_none_for_a_withdrawn_one() {
        let (_dir, mut spool) = temp_spool();
        let asked = stored(&mut spool, &["<1@x>", "<2@x>", "<3@x>"]);
        spool.store_with(|s| s.withdraw("<2@x>", "test")).unwrap();
        let mut out = Vec::new();
        let queued = spool
            .read_with(|spool| queue_takethis(spool, &asked, &mut out, usize::MAX))
            .unwrap()
            .unwrap();
        assert_eq!(queued.went_through, 3);
        assert_eq!(queued.sent, vec![asked[0].clone(), asked[2].clone()]);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "TAKETHIS <1@x>\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n.\r\n\
             TAKETHIS <3@x>\r\nMessage-ID: <3@x>\r\n\r\nbody\r\n.\r\n"
        );
    }

    #[test]
    fn the_queue_stops_filling_at_its_bound_and_the_rest_follows() {
        let (_dir, mut spool) = temp_spool();
        let asked = stored(&mut spool, &["<1@x>", "<2@x>", "<3@x>"]);
        let mut out = Vec::new();
        let queued = spool
            .read_with(|spool| queue_takethis(spool, &asked, &mut out, 1))
            .unwrap()
            .unwrap();
        assert_eq!(
            queued.went_through, 1,
            "stops once the queue holds its bound"
        );
        assert_eq!(queued.sent, vec![asked[0].clone()]);
        out.clear();
        let queued = spool
            .read_with(|spool| queue_takethis(spool, &asked[1..], &mut out, usize::MAX))
            .unwrap()
            .unwrap();
        assert_eq!(queued.sent, asked[1..].to_vec());
    }
}
