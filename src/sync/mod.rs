//! `newsmesh sync`: for each neighbour with an address, one connection carries both
//! directions of the IHAVE/SENDME exchange (see [`exchange`]). Runs from cron, so: a lock
//! against overlapping runs, timeouts and a deadline per peer, memory bounded whatever a
//! peer sends, one key=value line per peer.
//!
//! `exchange.rs` runs one mesh session: `conn.rs` (dialling, answers, deadline, hang-up),
//! `auth.rs` (the handshake), `pull.rs` (MESH SINCE + ARTICLE), `push.rs` (CHECK/TAKETHIS,
//! shared with `nntp.rs`, which feeds plain news servers). `link.rs` keeps such a
//! connection open for `serve`'s live relay (`crate::relay`).

mod auth;
mod conn;
mod exchange;
mod greeted;
mod link;
mod lock;
mod nntp;
mod pull;
mod push;
mod reconcile;
mod storer;

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::home::{Home, Node};
use crate::newslog::{clean_field, LogEntry, LogVerdict, MAX_ID, MAX_REASON};
use crate::spool::SyncOutcome;

pub use crate::inflight::{Fetching, InFlight, RELAY_OWNERS};
pub use exchange::exchange;
pub use link::{Idled, PushLink};
pub use lock::SyncLock;
pub use push::push_raw;
pub use reconcile::{CAPABILITY as RECONCILE_CAPABILITY, OFF_ENV as NO_RECONCILE_ENV};

/// How long a second `sync` waits for the lock before giving up (exit code 3).
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What one peer's sync did: the outcome the spool records and `status` shows (counts,
/// error, when, how long), with the peer's name and the refusals `sync -v` lists. It
/// dereferences to that outcome, so the exchange counts into it as `report.sent += 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerReport {
    /// Peer name.
    pub peer: String,
    /// The counts, the error (None when it succeeded), when it ended and how long it took.
    pub outcome: SyncOutcome,
    /// The refused articles, for `sync -v`: at most `[limits] sync_listed_refusals` of
    /// them (`refused` counts them all).
    pub refusals: Vec<Refusal>,
    /// Whether the link runs over TLS (`tls=yes`); a peer with `tls = false` and an
    /// `[[nntp_peer]]` say `tls=no`.
    pub tls: bool,
    /// Bodies fetched from the neighbour that were here already when they were stored
    /// (another link or session brought them first): not in `received`; the live relay
    /// shows them, as a body that crossed twice.
    pub duplicates: u64,
    /// Articles left for a later sync: offered but the neighbour said "try later" (its
    /// `serve` has them in flight from our live relay, or a quota), or fetched and
    /// deferred here (a quota). The marks stay before them. `deferred=` on the line.
    pub deferred: u64,
    /// Whether a body crossed and was deferred (a quota: TAKETHIS answered 431, or a
    /// pulled article deferred here): the live relay pauses before trying again, rather
    /// than sending the same bodies every poll.
    pub held_back: bool,
}

impl Deref for PeerReport {
    type Target = SyncOutcome;

    fn deref(&self) -> &SyncOutcome {
        &self.outcome
    }
}

impl DerefMut for PeerReport {
    fn deref_mut(&mut self) -> &mut SyncOutcome {
        &mut self.outcome
    }
}

/// Which side turned an article down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedBy {
    /// This node refused what the neighbour sent.
    Us,
    /// The neighbour refused what we sent.
    Peer,
}

/// One refused article of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its Message-ID, when known.
    pub id: Option<String>,
    /// Who refused it.
    pub by: RefusedBy,
    /// Why (the neighbour's answer when it refused).
    pub reason: String,
}

impl PeerReport {
    /// Counts one refused article, and keeps it for `sync -v` while fewer than `listed`
    /// are kept.
    pub fn refuse(&mut self, id: Option<&str>, by: RefusedBy, reason: &str, listed: usize) {
        self.refused += 1;
        if self.refusals.len() < listed {
            self.refusals.push(Refusal {
                id: id.map(str::to_string),
                by,
                reason: reason.to_string(),
            });
        }
    }

    /// The `sync -v` lines: `refused id=<id> peer=beta by=us reason="..."` per refusal.
    pub fn refusal_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.refusals.iter().map(|r| {
            format!(
                "refused id={} peer={} by={} reason=\"{}\"",
                clean_field(r.id.as_deref().unwrap_or("?"), MAX_ID, '?'),
                self.peer,
                match r.by {
                    RefusedBy::Us => "us",
                    RefusedBy::Peer => "peer",
                },
                clean_field(&r.reason, MAX_REASON, ' ')
            )
        })
    }
}

/// We refused an article the neighbour sent before it reached `ingest` (which logs its
/// own verdicts).
fn we_refused(node: &Node, report: &mut PeerReport, id: &str, reason: &str) {
    refused(node, report, RefusedBy::Us, id, reason);
}

/// A neighbour refused an article we sent (the neighbour's own log has its side).
fn peer_refused(node: &Node, report: &mut PeerReport, id: &str, reason: &str) {
    refused(node, report, RefusedBy::Peer, id, reason);
}

/// One refusal, by either side: counted in `report` (listed up to
/// `sync_listed_refusals`) and written to the article log.
fn refused(node: &Node, report: &mut PeerReport, by: RefusedBy, id: &str, reason: &str) {
    if let Some(log) = node.spool.news_log() {
        log.append(&[LogEntry {
            verdict: match by {
                RefusedBy::Us => LogVerdict::Refused,
                RefusedBy::Peer => LogVerdict::PeerRefused,
            },
            id: Some(id),
            peer: &report.peer,
            reason,
        }]);
    }
    let listed = node.config.limits.sync_listed_refusals;
    report.refuse(Some(id), by, reason, listed);
}

impl fmt::Display for PeerReport {
    /// `peer=beta status=ok sent=12 received=3 refused=0 bytes=48213 ms=41 tls=yes`, then
    /// `deferred=N` when some articles were left for later, with `status=failed` and a quoted `error="..."` at the end when it failed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "peer={} status={} sent={} received={} refused={} bytes={} ms={}",
            self.peer,
            self.status(),
            self.sent,
            self.received,
            self.refused,
            self.bytes,
            self.ms
        )?;
        write!(f, " tls={}", if self.tls { "yes" } else { "no" })?;
        // Appended to the BRIEF's line (whose keys stay as they are), when not 0: "the
        // rest is on its way" rather than "all delivered".
        if self.deferred > 0 {
            write!(f, " deferred={}", self.deferred)?;
        }
        if let Some(e) = &self.error {
            write!(f, " error=\"{}\"", e.replace(['"', '\n', '\r'], "'"))?;
        }
        Ok(())
    }
}

/// Syncs with every neighbour that has an address (or only `only`), one after the
/// other, holding the node's sync lock: mesh peers both ways, then plain NNTP servers
/// (feed only). Passive neighbours are never dialled.
pub fn sync_all(home: &Home, only: Option<&str>) -> Result<Vec<PeerReport>> {
    sync_all_telling(home, only, &mut |_, _, _| {})
}

/// [`sync_all`], calling `starting(i, n, peer)` before the i-th of n neighbours (from 1),
/// for a progress line.
pub fn sync_all_telling(
    home: &Home,
    only: Option<&str>,
    starting: &mut dyn FnMut(usize, usize, &str),
) -> Result<Vec<PeerReport>> {
    sync_all_reconciling(home, only, false, starting)
}

/// [`sync_all_telling`]; with `reconcile` (`sync --reconcile`), every dialled
/// neighbour's whole set is compared with ours again (set reconciliation, or a full
/// listing when it cannot), not only on first contact or after its spool was rebuilt.
pub fn sync_all_reconciling(
    home: &Home,
    only: Option<&str>,
    reconcile: bool,
    starting: &mut dyn FnMut(usize, usize, &str),
) -> Result<Vec<PeerReport>> {
    let _lock = SyncLock::acquire(&home.sync_lock_path(), LOCK_WAIT)?;
    let mut node = home.open()?;
    let config = node.config.clone();
    let dialled = |address: &Option<String>| address.is_some();
    let mut peers: Vec<&crate::config::PeerConfig> = config
        .peers
        .iter()
        .filter(|p| dialled(&p.address))
        .collect();
    let mut servers: Vec<&crate::config::NntpPeerConfig> = config
        .nntp_peers
        .iter()
        .filter(|p| dialled(&p.address))
        .collect();
    if let Some(name) = only {
        peers.retain(|p| p.name == name);
        servers.retain(|p| p.name == name);
        if peers.is_empty() && servers.is_empty() {
            let known = config.peers.iter().any(|p| p.name == name)
                || config.nntp_peers.iter().any(|p| p.name == name);
            return Err(if known {
                Error::Invalid(format!(
                    "peer {name} is passive (no address): it dials us, we never dial it"
                ))
            } else {
                Error::NotFound(format!("no peer named {name:?} in the config"))
            });
        }
    }
    let node_key = home.node_key()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let mut reports = Vec::with_capacity(peers.len() + servers.len());
    let names = peers
        .iter()
        .map(|p| p.name.as_str())
        .chain(servers.iter().map(|s| s.name.as_str()));
    let total = peers.len() + servers.len();
    for (i, name) in names.enumerate() {
        starting(i + 1, total, name);
        let started = Instant::now();
        let mut report = PeerReport {
            peer: name.to_string(),
            ..PeerReport::default()
        };
        if reconcile && peers.get(i).is_some() {
            let mut marks = node.spool.marks(name)?;
            marks.pull_full = true;
            node.spool.set_pull_marks(name, &marks)?;
        }
        let outcome = match peers.get(i) {
            Some(peer) => runtime.block_on(exchange(&mut node, &node_key, peer, &mut report)),
            None => runtime.block_on(nntp::feed(&mut node, servers[i - peers.len()], &mut report)),
        };
        if let Err(e) = outcome {
            report.error = Some(e.to_string());
        }
        report.ms = started.elapsed().as_millis() as u64;
        report.at = crate::spool::now();
        record(&mut node, &report);
        reports.push(report);
    }
    Ok(reports)
}

/// Keeps the result for `newsmesh status`. The sync itself is over and its line must
/// still be printed, so a spool that cannot take the record is a warning only.
fn record(node: &mut crate::home::Node, report: &PeerReport) {
    if let Err(e) = node.spool.record_sync(&report.peer, &report.outcome) {
        tracing::warn!("cannot record the sync with {}: {e}", report.peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_all_but_listed_up_to_the_limit_one_line_each() {
        let mut report = PeerReport {
            peer: "beta".into(),
            ..PeerReport::default()
        };
        report.refuse(
            Some("<a@x>"),
            RefusedBy::Us,
            "bad \"sig\"\r\nrefused id=<z@x>",
            2,
        );
        report.refuse(None, RefusedBy::Peer, "439 no", 2);
        report.refuse(Some("<c@x>"), RefusedBy::Us, "third", 2);
        assert_eq!(report.refused, 3);
        let lines: Vec<String> = report.refusal_lines().collect();
        assert_eq!(
            lines,
            [
                "refused id=<a@x> peer=beta by=us reason=\"bad 'sig'??refused id=<z@x>\"",
                "refused id=? peer=beta by=peer reason=\"439 no\"",
            ]
        );
        // The peer's line is the contract and does not change (but for `tls=`, added
        // at its end with TLS links).
        assert_eq!(
            report.to_string(),
            "peer=beta status=ok sent=0 received=0 refused=3 bytes=0 ms=0 tls=no"
        );
    }
}
