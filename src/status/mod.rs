//! `newsmesh status`: how a node and each of its neighbours are doing, for an operator
//! (text) and for monitoring (`--json`, a stable shape documented in the man page).
//!
//! Everything comes from what the node already keeps: `serve.state` for the running
//! `serve` ([`serving`]), the spool for its size, the per-peer marks and the results
//! `sync` recorded ([`crate::spool::PeerSyncs`]), and the article log for the recent
//! refusals. Nothing is asked of the neighbours, so `status` is instant and works with
//! them down.

mod text;

pub use crate::records::{running, ServeRecord, ServeState};

use serde::Serialize;

use crate::error::Result;
use crate::feed_policy::goes_to;
use crate::home::{Home, Node};
use crate::newslog::LogVerdict;
use crate::spool::{PeerInbound, SpoolStats, SyncOutcome, SyncTotals};
use crate::wildmat::Wildmat;

/// Recent refusals listed.
const RECENT_REFUSALS: usize = 20;
/// How much of the end of the article log (and of its last rotation) is read for them.
const LOG_TAIL_BYTES: u64 = 256 * 1024;
/// Arrivals read per step while counting a backlog.
const BACKLOG_CHUNK: usize = 10_000;

/// Everything `status` reports; serialised as-is by `--json`. Some parts are the spool's
/// own records ([`SpoolStats`], [`SyncOutcome`], [`SyncTotals`], [`PeerInbound`]), so
/// their field names are part of the JSON shape the man page documents.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// The node's Path identity.
    pub node: String,
    /// Its home directory.
    pub home: String,
    /// Unix seconds when this status was taken (the reference for the ages below).
    pub now: i64,
    /// The node's `serve`.
    pub serve: ServeStatus,
    /// The spool.
    pub spool: SpoolStats,
    /// Every configured neighbour, mesh peers first, in config order.
    pub peers: Vec<PeerStatus>,
    /// The latest refusals from the article log, oldest first.
    pub refusals: Vec<RefusalStatus>,
    /// The effective membership, as `member list` prints it (governance).
    pub membership: Vec<String>,
    /// The author keys that stored the most bytes here today (UTC), most first: who
    /// is nearest their quota (`[[admission.quota]]`).
    pub top_authors: Vec<AuthorUsage>,
}

/// One author key's usage today.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorUsage {
    /// The author public key (base64).
    pub key: String,
    /// Articles stored today.
    pub articles: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// How many authors `status` lists.
const TOP_AUTHORS: usize = 5;

/// Whether `serve` runs, and since when.
#[derive(Debug, Clone, Serialize)]
pub struct ServeStatus {
    /// True while a `serve` holds `serve.state`.
    pub running: bool,
    /// Its process id.
    pub pid: Option<u32>,
    /// Unix seconds it started.
    pub started: Option<i64>,
    /// Seconds since it started.
    pub uptime_secs: Option<i64>,
    /// Where it listens (empty when not running).
    pub listen: Vec<String>,
    /// Where it listens for NNTPS (null when not running or not configured).
    pub nntps: Option<String>,
}

/// One neighbour.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// Its name.
    pub name: String,
    /// `mesh` (`[[peer]]`) or `nntp` (`[[nntp_peer]]`).
    pub kind: &'static str,
    /// Where `sync` dials it (null: passive, it dials us).
    pub address: Option<String>,
    /// The groups it gets from us (wildmat).
    pub groups: String,
    /// Our arrivals `sync` has yet to offer it (the feed policy applied:
    /// its groups, not back to the neighbour that delivered it);
    /// null for a passive peer, which fetches with its own marks.
    pub backlog: Option<u64>,
    /// The sync marks.
    pub marks: MarksStatus,
    /// The last sync with it (null: never synced).
    pub last_sync: Option<SyncStatus>,
    /// Unix seconds of the last sync that succeeded (null: none has).
    pub last_ok: Option<i64>,
    /// Totals over every sync with it.
    pub totals: SyncTotals,
    /// The sessions it opened to our `serve` (its own syncs; null: none yet).
    pub inbound: Option<PeerInbound>,
    /// The running `serve`'s live link to it (null: none, as for a passive peer, a peer
    /// with `live = false`, or when `serve` is not running).
    pub live: Option<crate::records::LinkState>,
    /// Its own live link into the running `serve`, waiting with `MESH IDLE` (it is behind
    /// NAT: we cannot dial it): up since when, or down since its connection ended (null:
    /// it has not subscribed since `serve` started, or `serve` is not running).
    pub live_inbound: Option<crate::records::InboundLink>,
}

/// A peer's sync marks.
#[derive(Debug, Clone, Serialize)]
pub struct MarksStatus {
    /// The neighbour's spool epoch the pull mark belongs to ("" before the first pull).
    pub pull_epoch: String,
    /// Its last arrival sequence we pulled.
    pub pull_seq: i64,
    /// Our arrival sequence up to which we offered it everything.
    pub push_seq: i64,
}

/// One sync's result, as the `sync` line printed it: the recorded outcome (`at`,
/// `error`, the counts, `ms`) with its `status` word beside them.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// `ok` or `failed`.
    pub status: &'static str,
    /// When it ended, why it failed (null when it succeeded), the counts and the time.
    #[serde(flatten)]
    pub outcome: SyncOutcome,
}

/// One refusal from the article log.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalStatus {
    /// When, as the log has it (`2026-11-28T14:11:16.123Z`).
    pub time: String,
    /// `refused` (here) or `peer-refused` (by the neighbour we sent it to).
    pub verdict: &'static str,
    /// The Message-ID (`?` when the article did not parse).
    pub id: String,
    /// Where it came from, or the neighbour that refused it.
    pub peer: String,
    /// Why.
    pub reason: String,
}

/// Takes the status of the node at `home`.
pub fn gather(home: &Home) -> Result<NodeStatus> {
    let node = home.open()?;
    let now = crate::spool::now();
    let serve = match running(home) {
        Some(s) => ServeStatus {
            running: true,
            pid: Some(s.pid),
            started: Some(s.started),
            uptime_secs: Some(now - s.started),
            listen: s.listen,
            nntps: s.nntps,
        },
        None => ServeStatus {
            running: false,
            pid: None,
            started: None,
            uptime_secs: None,
            listen: Vec::new(),
            nntps: None,
        },
    };
    let spool = node.spool.stats()?;
    let mut peers = Vec::new();
    let mut live = crate::records::live_links(home);
    let mut inbound = crate::records::inbound_links(home);
    for p in &node.config.peers {
        let mut status = peer(&node, &p.name, "mesh", &p.address, &p.groups)?;
        status.live = live.remove(&p.name);
        status.live_inbound = inbound.remove(&p.name);
        peers.push(status);
    }
    for p in &node.config.nntp_peers {
        peers.push(peer(&node, &p.name, "nntp", &p.address, &p.groups)?);
    }
    let refusals = node
        .spool
        .news_log()
        .map(|log| {
            log.recent(
                &[LogVerdict::Refused, LogVerdict::PeerRefused],
                RECENT_REFUSALS,
                LOG_TAIL_BYTES,
            )
        })
        .unwrap_or_default()
        .into_iter()
        .map(|l| RefusalStatus {
            time: l.time,
            verdict: l.verdict.word(),
            id: l.id,
            peer: l.peer,
            reason: l.reason,
        })
        .collect();
    let membership = crate::governance::listing::lines(
        &crate::governance::load(&node.spool, &node.trust)?,
        &node.config.trust,
        |_| true,
    );
    Ok(NodeStatus {
        node: node.name().to_string(),
        home: std::fs::canonicalize(home.dir())
            .unwrap_or_else(|_| home.dir().to_path_buf())
            .display()
            .to_string(),
        now,
        serve,
        spool,
        peers,
        refusals,
        membership,
        top_authors: node
            .spool
            .top_authors(crate::admission::quota::day_of(now), TOP_AUTHORS)?
            .into_iter()
            .map(|(key, u)| AuthorUsage {
                key,
                articles: u.articles,
                bytes: u.bytes,
            })
            .collect(),
    })
}

fn peer(
    node: &Node,
    name: &str,
    kind: &'static str,
    address: &Option<String>,
    groups: &str,
) -> Result<PeerStatus> {
    let marks = node.spool.marks(name)?;
    let syncs = node.spool.peer_syncs(name)?;
    let backlog = match address {
        Some(_) => Some(backlog(node, name, &Wildmat::new(groups), &marks)?),
        None => None,
    };
    let (last_sync, last_ok, totals) = match syncs {
        None => (None, None, SyncTotals::default()),
        Some(s) => (
            Some(SyncStatus {
                status: s.last.status(),
                outcome: s.last,
            }),
            s.last_ok_at,
            s.totals,
        ),
    };
    Ok(PeerStatus {
        name: name.to_string(),
        kind,
        address: address.clone(),
        groups: groups.to_string(),
        backlog,
        marks: MarksStatus {
            pull_epoch: marks.pull_epoch,
            pull_seq: marks.pull_seq,
            push_seq: marks.push_seq,
        },
        last_sync,
        last_ok,
        totals,
        inbound: node.spool.peer_inbound(name)?,
        live: None,
        live_inbound: None,
    })
}

/// Our arrivals after the peer's push mark that the next sync would offer it: in its
/// feed, and not delivered by it unless its spool was rebuilt. The same rule
/// as the push itself, so the number is what the next sync will offer.
fn backlog(
    node: &Node,
    peer: &str,
    feed: &Wildmat,
    marks: &crate::spool::PeerMarks,
) -> Result<u64> {
    let mut count = 0u64;
    let mut after = marks.push_seq;
    loop {
        let arrivals = node.spool.arrivals_since(after, BACKLOG_CHUNK)?;
        let Some(last) = arrivals.last().map(|a| a.seq) else {
            return Ok(count);
        };
        count += arrivals
            .iter()
            .filter(|a| {
                let resend = a.seq <= marks.resync_through;
                goes_to(a, peer, feed, &node.config.node.name, resend)
            })
            .count() as u64;
        after = last;
    }
}

impl NodeStatus {
    /// The status as one JSON object (the shape the man page documents).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| crate::Error::Invalid(format!("status as JSON: {e}")))
    }
}
