//! `newsmesh sync`: for each neighbour with an address, one connection carries both
//! directions of the IHAVE/SENDME exchange (see [`exchange`]). Runs from cron, so: a lock
//! against overlapping runs, timeouts everywhere, one key=value line per peer.

mod client;
mod lock;

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::home::Home;

pub use client::{exchange, push_raw};
pub use lock::SyncLock;

/// How long a second `sync` waits for the lock before giving up (exit code 3).
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What one peer's sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerReport {
    /// Peer name.
    pub peer: String,
    /// None when it succeeded, else why it failed.
    pub error: Option<String>,
    /// Articles whose bodies we sent and the peer stored.
    pub sent: u64,
    /// Articles whose bodies we received and stored.
    pub received: u64,
    /// Articles either side turned down.
    pub refused: u64,
    /// Bytes on the wire, both directions.
    pub bytes: u64,
    /// Duration in milliseconds.
    pub ms: u64,
}

impl PeerReport {
    /// True when the exchange completed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

impl fmt::Display for PeerReport {
    /// `peer=beta status=ok sent=12 received=3 refused=0 bytes=48213 ms=41`, with
    /// `status=failed` and a quoted `error="..."` at the end when it failed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "peer={} status={} sent={} received={} refused={} bytes={} ms={}",
            self.peer,
            if self.ok() { "ok" } else { "failed" },
            self.sent,
            self.received,
            self.refused,
            self.bytes,
            self.ms
        )?;
        if let Some(e) = &self.error {
            write!(f, " error=\"{}\"", e.replace(['"', '\n', '\r'], "'"))?;
        }
        Ok(())
    }
}

/// Syncs with every neighbour that has an address (or only `only`), one after the
/// other, holding the node's sync lock. Passive neighbours are never dialled.
pub fn sync_all(home: &Home, only: Option<&str>) -> Result<Vec<PeerReport>> {
    let _lock = SyncLock::acquire(&home.sync_lock_path(), LOCK_WAIT)?;
    let node = home.open()?;
    let peers: Vec<_> = match only {
        Some(name) => {
            let peer = node
                .config
                .peer(name)
                .ok_or_else(|| Error::NotFound(format!("no peer named {name:?} in the config")))?;
            if peer.address.is_none() {
                return Err(Error::Invalid(format!(
                    "peer {name} is passive (no address): it dials us, we never dial it"
                )));
            }
            vec![peer.clone()]
        }
        None => node
            .config
            .peers
            .iter()
            .filter(|p| p.address.is_some())
            .cloned()
            .collect(),
    };
    let node_key = home.node_key()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let mut node = node;
    let mut reports = Vec::with_capacity(peers.len());
    for peer in peers {
        let started = Instant::now();
        let mut report = PeerReport {
            peer: peer.name.clone(),
            ..PeerReport::default()
        };
        let outcome = runtime.block_on(exchange(&mut node, &node_key, &peer, &mut report));
        if let Err(e) = outcome {
            report.error = Some(e.to_string());
        }
        report.ms = started.elapsed().as_millis() as u64;
        reports.push(report);
    }
    Ok(reports)
}
