//! Pull: `MESH SINCE <epoch> <mark>` lists what arrived at the neighbour since our mark;
//! we fetch the Message-IDs our history lacks with pipelined `ARTICLE`, verify and store
//! them as they come, and advance the mark only after the last of them is committed.
//!
//! A peer decides what it sends, so everything here is bounded by us, not by it: a
//! listing by [`MAX_SINCE`] ids of at most [`MAX_MESSAGE_ID`] octets; fetched bodies
//! by a count and `limits.sync_batch_bytes` before they are verified and stored; the
//! number of listings by progress (a "more" that does not move the mark ends the pull)
//! and the number of epoch restarts by one per exchange. Time is bounded by the
//! session's deadline (`conn.rs`).
//!
//! The live relay pulls with a [`Fetching`] (`reserve.rs`): an id another link or feed
//! session is bringing in is fetched only if it is still missing once that one is done,
//! and the pull mark does not pass it before.

use std::collections::HashSet;
use std::time::Duration;

use super::conn::{command, expect, net, response};
use super::storer::{Fetched, Storer};
use super::{we_refused, PeerReport};
use crate::article::{is_valid_message_id, MAX_MESSAGE_ID};
use crate::error::{Error, Result};
use crate::feed_policy::{FULL_LISTING, MAX_SINCE};
use crate::home::Node;
use crate::inflight::Fetching;
use crate::net::{Conn, NetError};
use crate::protocol::mesh::MAX_EPOCH;
use crate::protocol::{ArticleRef, Command, MeshCommand};

/// Articles fetched per pipelined ARTICLE round: small enough that the commands always
/// fit in the peer's socket buffer, so neither side can block the other.
const FETCH_CHUNK: usize = 500;
/// Fetched articles stored per transaction (fewer when they reach
/// `limits.sync_batch_bytes` first).
const STORE_BATCH: usize = 2000;
/// How often a pull looks whether the ids another owner holds have been released.
const HELD_POLL: Duration = Duration::from_millis(20);

/// Pulls everything new from the neighbour `peer` (after authentication).
pub(super) async fn pull(
    node: &mut Node,
    peer: &str,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    pull_reserving(node, peer, conn, report, None).await
}

/// [`pull`], claiming each id in `fetching` (when given) before fetching it, so that no
/// other claimant in this process brings the same body in meanwhile.
pub(super) async fn pull_reserving(
    node: &mut Node,
    peer: &str,
    conn: &mut Conn,
    report: &mut PeerReport,
    fetching: Option<&Fetching>,
) -> Result<()> {
    let mut marks = node.spool.marks(peer)?;
    let mut restarted = false;
    // One for the whole pull: its second spool connection is opened at most once.
    let mut storer = Storer::default();
    loop {
        let saved = marks.clone();
        let asked = marks.pull_seq.max(0);
        let epoch = if marks.pull_full {
            FULL_LISTING.to_string()
        } else {
            marks.pull_epoch.clone()
        };
        let listing = since(conn, epoch, asked as u64).await?;
        if listing.epoch != marks.pull_epoch {
            let first_contact = marks.pull_epoch.is_empty();
            marks.pull_epoch = listing.epoch.clone();
            if !first_contact {
                // A peer whose epoch changes again within one exchange is not a rebuilt
                // spool but a broken or hostile one; restarting again would never end.
                if restarted {
                    return Err(Error::Network(format!(
                        "peer changed its spool epoch twice in one exchange (now {}); \
                         giving up until the next sync",
                        listing.epoch
                    )));
                }
                restarted = true;
                // The peer's spool was rebuilt: list all of it again, and offer it all of
                // ours, even what its Path says it had.
                tracing::warn!(
                    "peer {peer} has a new spool (epoch {}); syncing everything again",
                    listing.epoch
                );
                marks.pull_seq = 0;
                marks.pull_full = true;
                marks.push_seq = 0;
                marks.resync_through = node.spool.last_seq()?;
                node.spool.set_marks(peer, &marks)?;
                if fetching.is_none() {
                    // `sync` reconciles the two sets now (`reconcile.rs`), or comes back
                    // for the full listing when the peer cannot.
                    return Ok(());
                }
                continue;
            }
        }
        if listing.more && listing.through <= asked {
            return Err(Error::Network(format!(
                "peer answered MESH SINCE {asked} with more to come but no progress \
                 (through {}); giving up until the next sync",
                listing.through
            )));
        }
        let wanted = wanted(node, &listing.ids)?;
        let deferred_before = report.deferred;
        match fetching {
            Some(fetching) => {
                fetch_reserved(node, wanted, conn, report, fetching, &mut storer).await?
            }
            None => fetch(node, &wanted, conn, report, &mut storer).await?,
        }
        if report.deferred > deferred_before {
            // Some were deferred here (a quota): keep the mark before this listing and
            // stop; the next sync lists it again and fetches only what is still missing.
            return Ok(());
        }
        marks.pull_seq = listing.through;
        if !listing.more {
            marks.pull_full = false;
        }
        if saved != marks {
            // The push mark is not ours to write: a live relay may be advancing it.
            node.spool.set_pull_marks(peer, &marks)?;
        }
        if !listing.more {
            return Ok(());
        }
    }
}

/// One `MESH SINCE` answer.
struct Listing {
    /// The peer's spool epoch.
    epoch: String,
    /// The last of its arrival sequences the listing covers.
    through: i64,
    /// Whether it has more after `through`.
    more: bool,
    /// The listed Message-IDs, as sent.
    ids: Vec<u8>,
}

/// Asks for the arrivals after `seq` and reads the answer, checking its form.
async fn since(conn: &mut Conn, epoch: String, seq: u64) -> Result<Listing> {
    let r = command(
        conn,
        &Command::Mesh(MeshCommand::Since {
            epoch,
            seq,
            limit: MAX_SINCE,
        }),
    )
    .await?;
    expect(&r, 293, "MESH SINCE")?;
    let (epoch, through, more) = parse_since_answer(&r.text)
        .ok_or_else(|| Error::Network(format!("malformed MESH SINCE answer: {}", r.text)))?;
    let ids = conn
        .read_block((MAX_MESSAGE_ID + 2) * MAX_SINCE as usize)
        .await
        .map_err(net)?;
    Ok(Listing {
        epoch,
        through,
        more,
        ids,
    })
}

/// `<epoch> <through> <more>` of a 293 answer, or None when it is not that. The epoch
/// goes back into our next `MESH SINCE`, so it must be one that command takes.
fn parse_since_answer(text: &str) -> Option<(String, i64, bool)> {
    let mut words = text.split_whitespace();
    let (epoch, through, more) = (words.next()?, words.next()?, words.next()?);
    let is_epoch = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    if epoch.is_empty() || epoch.len() > MAX_EPOCH || !epoch.chars().all(is_epoch) {
        return None;
    }
    let more = match more {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    Some((epoch.to_string(), through.parse().ok()?, more))
}

/// The listed Message-IDs our history lacks, each once; malformed ones are skipped (an
/// ARTICLE for them could only fail).
fn wanted(node: &Node, listing: &[u8]) -> Result<Vec<String>> {
    let mut wanted = Vec::new();
    let mut unique = HashSet::new();
    for id in String::from_utf8_lossy(listing).lines().map(str::trim) {
        if is_valid_message_id(id) && unique.insert(id) && !node.spool.seen(id)? {
            wanted.push(id.to_string());
        }
    }
    Ok(wanted)
}

/// Fetches the ids of `ids` that nobody else in this process is bringing in, then waits
/// for the others to be released and fetches those still missing; returns once every id
/// is stored here or was fetched (so the caller may move its mark past them). A holder
/// that keeps an id past `limits.in_flight_timeout_secs` is taken as stalled: the id is
/// fetched anyway.
async fn fetch_reserved(
    node: &mut Node,
    mut ids: Vec<String>,
    conn: &mut Conn,
    report: &mut PeerReport,
    fetching: &Fetching,
    storer: &mut Storer,
) -> Result<()> {
    let patience = Duration::from_secs(node.config.limits.in_flight_timeout_secs);
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let (mut claimed, held) = fetching.claim(ids);
        // Listed before our claim: a holder may have stored some of them since.
        let mut failed = None;
        claimed.retain(|id| match node.spool.seen(id) {
            Ok(seen) => !seen,
            Err(e) => {
                failed.get_or_insert(e);
                true
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        fetch(node, &claimed.ids, conn, report, storer).await?;
        // Stored (or refused) and committed: others may look at them now.
        drop(claimed);
        if held.is_empty() {
            return Ok(());
        }
        while fetching.any_held(&held) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(HELD_POLL).await;
        }
        let mut missing = Vec::with_capacity(held.len());
        for id in held {
            if !node.spool.seen(&id)? {
                missing.push(id);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            // The holder stalled: as the server does, let someone else bring them.
            return fetch(node, &missing, conn, report, storer).await;
        }
        ids = missing;
    }
}

/// Fetches `ids` with pipelined ARTICLE and stores them as they come. One chunk's
/// commands are always in flight while the previous chunk is read, and a full batch is
/// verified and stored beside the link ([`Storer`]) while the next one is received, so
/// the peer is serving while we are checking. Returns once every fetched article is
/// committed (or refused), even when the link failed meanwhile.
pub(super) async fn fetch(
    node: &mut Node,
    ids: &[String],
    conn: &mut Conn,
    report: &mut PeerReport,
    storer: &mut Storer,
) -> Result<()> {
    let fetched = fetch_into(node, ids, conn, report, storer).await;
    let stored = storer.finish(node, report).await;
    fetched.and(stored)
}

async fn fetch_into(
    node: &mut Node,
    ids: &[String],
    conn: &mut Conn,
    report: &mut PeerReport,
    storer: &mut Storer,
) -> Result<()> {
    let mut batch = Batch::new(node.config.limits.sync_batch_bytes);
    let chunks: Vec<&[String]> = ids.chunks(FETCH_CHUNK).collect();
    if let Some(first) = chunks.first() {
        request(first, conn);
    }
    for (i, chunk) in chunks.iter().enumerate() {
        receive(node, chunk, conn, &mut batch, report, storer).await?;
        let next = chunks.get(i + 1);
        if let Some(next) = next {
            request(next, conn);
            conn.flush().await.map_err(net)?;
        }
        // Bigger transactions write each page of the (random-key) history index
        // fewer times; the peer serves the next chunk meanwhile.
        if batch.articles.len() >= STORE_BATCH || next.is_none() {
            storer
                .store(node, batch.take(), next.is_some(), report)
                .await?;
        }
    }
    Ok(())
}

/// Queues pipelined ARTICLE commands for `ids`.
fn request(ids: &[String], conn: &mut Conn) {
    for id in ids {
        Command::Article(ArticleRef::MessageId(id.clone())).write(conn.out());
    }
}

/// Reads the answers to [`request`] into `batch`, storing it whenever it holds
/// `limits.sync_batch_bytes`: however large and many the articles, only about that much
/// is ever held unverified (twice that while one batch is being stored).
async fn receive(
    node: &mut Node,
    ids: &[String],
    conn: &mut Conn,
    batch: &mut Batch,
    report: &mut PeerReport,
    storer: &mut Storer,
) -> Result<()> {
    let max = node.config.limits.max_article_bytes;
    for id in ids {
        let r = response(conn).await?;
        match r.code {
            220 => match conn.read_block(max).await {
                Ok(raw) => {
                    if batch.add(id, raw) {
                        storer.store(node, batch.take(), true, report).await?;
                    }
                }
                Err(NetError::Protocol(e)) => {
                    // Never reached ingest (too large to read): logged here.
                    we_refused(node, report, id, &e.to_string());
                }
                Err(e) => return Err(net(e)),
            },
            430 => {}
            _ => {
                return Err(Error::Network(format!(
                    "ARTICLE {id}: peer answered {} {}",
                    r.code, r.text
                )))
            }
        }
    }
    Ok(())
}

/// Fetched articles waiting to be verified and stored in one transaction.
struct Batch {
    articles: Fetched,
    bytes: usize,
    max_bytes: usize,
}

impl Batch {
    fn new(max_bytes: usize) -> Batch {
        Batch {
            articles: Vec::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Adds one article; true when the batch should be stored now.
    fn add(&mut self, id: &str, raw: Vec<u8>) -> bool {
        self.bytes += raw.len();
        self.articles.push((id.to_string(), raw));
        self.bytes >= self.max_bytes
    }

    /// The articles, leaving the batch empty.
    fn take(&mut self) -> Fetched {
        self.bytes = 0;
        std::mem::take(&mut self.articles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_answers_are_checked_before_their_epoch_is_reused() {
        assert_eq!(
            parse_since_answer("e_1-x 42 1"),
            Some(("e_1-x".to_string(), 42, true))
        );
        assert_eq!(
            parse_since_answer("abc 0 0 trailing words"),
            Some(("abc".to_string(), 0, false))
        );
        for bad in [
            "",
            "abc 42",
            "abc x 1",
            "abc 42 yes",
            "ab/c 42 1",
            "ab\u{e9} 42 1",
            &format!("{} 42 1", "e".repeat(MAX_EPOCH + 1)),
        ] {
            assert_eq!(parse_since_answer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_batch_asks_to_be_stored_once_it_holds_its_bytes() {
        let mut batch = Batch::new(1000);
        assert!(!batch.add("<a@x>", vec![0; 600]));
        assert!(batch.add("<b@x>", vec![0; 400]));
        assert_eq!((batch.articles.len(), batch.bytes), (2, 1000));
        // An article larger than the bound is stored alone.
        let mut small = Batch::new(10);
        assert!(small.add("<c@x>", vec![0; 11]));
    }
}
