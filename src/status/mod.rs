//! `newsmesh status`: how a node and each of its neighbours are doing, for an operator
//! (text) and for monitoring (`--json`, a stable shape documented in the man page).
//!
//! Everything comes from what the node already keeps: `serve.state` for the running
//! `serve` ([`serving`]), the spool for its size, the per-peer marks and the results
//! `sync` recorded ([`crate::spool::PeerSyncs`]), and the article log for the recent
//! refusals. Nothing is asked of the neighbours, so `status` is instant and works with
//! them down.

mod serving;
mod text;

pub use serving::{running, ServeRecord, ServeState};

use serde::Serialize;

use crate::error::Result;
use crate::feed_policy::goes_to;
use crate::home::{Home, Node};
use crate::newslog::LogVerdict;
use crate::wildmat::Wildmat;

/// Recent refusals listed.
const RECENT_REFUSALS: usize = 20;
/// How much of the end of the article log (and of its last rotation) is read for them.
const LOG_TAIL_BYTES: u64 = 256 * 1024;
/// Arrivals read per step while counting a backlog.
const BACKLOG_CHUNK: usize = 10_000;

/// Everything `status` reports; serialised as-is by `--json`.
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
    pub spool: SpoolStatus,
    /// Every configured neighbour, mesh peers first, in config order.
    pub peers: Vec<PeerStatus>,
    /// The latest refusals from the article log, oldest first.
    pub refusals: Vec<RefusalStatus>,
}

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
}

/// The spool's size and ages.
#[derive(Debug, Clone, Serialize)]
pub struct SpoolStatus {
    /// Bytes on disk (database and write-ahead log).
    pub bytes: u64,
    /// Stored articles.
    pub articles: u64,
    /// Groups carried.
    pub groups: u64,
    /// Unix seconds the oldest stored article arrived (null: empty).
    pub oldest: Option<i64>,
    /// Unix seconds the newest stored article arrived (null: empty).
    pub newest: Option<i64>,
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
    /// Our arrivals `sync` has yet to offer it (its feed and Path filters applied);
    /// null for a passive peer, which fetches with its own marks.
    pub backlog: Option<u64>,
    /// The sync marks.
    pub marks: MarksStatus,
    /// The last sync with it (null: never synced).
    pub last_sync: Option<SyncStatus>,
    /// Unix seconds of the last sync that succeeded (null: none has).
    pub last_ok: Option<i64>,
    /// Totals over every sync with it.
    pub totals: TotalsStatus,
    /// The sessions it opened to our `serve` (its own syncs; null: none yet).
    pub inbound: Option<InboundStatus>,
}

/// The sessions a neighbour opened to our `serve`.
#[derive(Debug, Clone, Serialize)]
pub struct InboundStatus {
    /// Unix seconds its last session ended.
    pub at: i64,
    /// Sessions in total.
    pub sessions: u64,
    /// Articles it fed us that we stored, in total.
    pub received: u64,
    /// Articles it fed us that we refused, in total.
    pub refused: u64,
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

/// One sync's result, as the `sync` line printed it.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// Unix seconds it ended.
    pub at: i64,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// Why it failed (null when it succeeded).
    pub error: Option<String>,
    /// Articles sent.
    pub sent: u64,
    /// Articles received.
    pub received: u64,
    /// Articles refused (either side).
    pub refused: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// Milliseconds it took.
    pub ms: u64,
}

/// Totals over a peer's syncs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TotalsStatus {
    /// Syncs.
    pub syncs: u64,
    /// Of which failed.
    pub failures: u64,
    /// Articles sent.
    pub sent: u64,
    /// Articles received.
    pub received: u64,
    /// Articles refused (either side).
    pub refused: u64,
    /// Bytes on the wire.
    pub bytes: u64,
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
        },
        None => ServeStatus {
            running: false,
            pid: None,
            started: None,
            uptime_secs: None,
            listen: Vec::new(),
        },
    };
    let stats = node.spool.stats()?;
    let spool = SpoolStatus {
        bytes: stats.bytes,
        articles: stats.articles,
        groups: stats.groups,
        oldest: stats.oldest,
        newest: stats.newest,
    };
    let mut peers = Vec::new();
    for p in &node.config.peers {
        peers.push(peer(&node, &p.name, "mesh", &p.address, &p.groups)?);
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
        None => (None, None, TotalsStatus::default()),
        Some(s) => (
            Some(SyncStatus {
                at: s.last.at,
                status: if s.last.error.is_none() {
                    "ok"
                } else {
                    "failed"
                },
                error: s.last.error,
                sent: s.last.sent,
                received: s.last.received,
                refused: s.last.refused,
                bytes: s.last.bytes,
                ms: s.last.ms,
            }),
            s.last_ok_at,
            TotalsStatus {
                syncs: s.syncs,
                failures: s.failures,
                sent: s.sent,
                received: s.received,
                refused: s.refused,
                bytes: s.bytes,
            },
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
        inbound: node.spool.peer_inbound(name)?.map(|i| InboundStatus {
            at: i.last_at,
            sessions: i.sessions,
            received: i.received,
            refused: i.refused,
        }),
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
