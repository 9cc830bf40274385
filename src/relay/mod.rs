//! Live relay: while `serve` runs, every article this node stores is offered at once to
//! each neighbour with an address and `live = true`, over a connection kept open to it
//! (`link.rs`), instead of waiting for the next cron `sync`.
//!
//! There is no queue of articles: what a neighbour still needs is exactly what lies
//! after its push mark, so each link, when woken, pushes from that mark with `sync`'s
//! own push (CHECK/TAKETHIS, Path and feed filters, the mark advanced only on 239). A
//! slow or dead neighbour simply stays behind at its mark (bounded by construction) and
//! never holds up the others or the ingest path, which only bumps a counter. Cron `sync`
//! stays the repair path; it and the relay may push to the same peer at once: the peer's
//! in-flight reservations keep a body from crossing twice and the push mark only moves
//! forward (`Spool::advance_push_mark`).
//!
//! The links run on one thread of their own, each with its own spool connection, so
//! their SQLite reads never park the server's workers.

mod link;
mod state;

pub use state::{read as live_links, LinkState};

use ed25519_dalek::SigningKey;
use tokio::sync::watch;

use crate::config::{LimitsConfig, PeerConfig};
use crate::error::{Error, Result};
use crate::home::Home;

/// The relay thread and the handle that stops it.
pub struct Relay {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The peers a relay feeds live: those with an address and `live` on.
pub fn live_peers(peers: &[PeerConfig]) -> Vec<PeerConfig> {
    peers
        .iter()
        .filter(|p| p.live && p.address.is_some())
        .cloned()
        .collect()
}

impl Relay {
    /// Starts a link to every live peer of `peers`; `arrivals` changes after each commit
    /// of the server's spool. None when no peer is live.
    pub fn start(
        home: &Home,
        node_key: &SigningKey,
        peers: &[PeerConfig],
        limits: &LimitsConfig,
        arrivals: watch::Receiver<u64>,
    ) -> Result<Option<Relay>> {
        let peers = live_peers(peers);
        if peers.is_empty() {
            return Ok(None);
        }
        let (stop, stopped) = watch::channel(false);
        let links = link::Links {
            home: home.clone(),
            node_key: node_key.clone(),
            retry_max: std::time::Duration::from_secs(limits.live_retry_max_secs.max(1)),
            arrivals,
            stopped,
        };
        let thread = std::thread::Builder::new()
            .name("newsmesh-relay".into())
            .spawn(move || links.run_all(peers))
            .map_err(|e| Error::io("starting the live relay thread", e))?;
        Ok(Some(Relay {
            stop,
            thread: Some(thread),
        }))
    }

    /// Ends every link (a push under way is dropped at its next network wait: marks are
    /// saved only after the peer's 239, so nothing is lost) and waits for the thread.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
