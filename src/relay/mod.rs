//! Live relay: while `serve` runs, every article this node stores is offered at once to
//! each neighbour with an address and `live = true`, over a connection kept open to it
//! (`link.rs`), instead of waiting for the next cron `sync`.
//!
//! There is no queue of articles: what a neighbour still needs is exactly what lies
//! after its push mark, so each link, when woken, pushes from that mark with `sync`'s
//! own push (CHECK/TAKETHIS, the feed policy's filters, the mark advanced only on 239). A
//! slow or dead neighbour simply stays behind at its mark (bounded by construction) and
//! never holds up the others or the ingest path, which only bumps a counter. Cron `sync`
//! stays the repair path; it and the relay may push to the same peer at once: the peer's
//! in-flight reservations keep a body from crossing twice and the push mark only moves
//! forward (`Spool::advance_push_mark`).
//!
//! The links run on one thread of their own, each with its own spool connection, so
//! their SQLite reads never park the server's workers. The thread runs whenever `serve`
//! does (idle while no peer is live) and follows the configuration in force: every
//! applied reload sends it the new `[[peer]]` list, and [`plan`] says which links to
//! close (peer removed, no longer live, or its entry changed: redialled) and to open.
//!
//! Bodies cross into the node once: a link's pull claims its ids in the server's
//! in-flight table (`inflight::Fetching`), so two links (a node behind NAT idling on two
//! hubs that both just got the article) or a link and a feed session never fetch the
//! same one together. The hub's side of such a link is in `subscribers.rs`.

mod link;
mod state;
mod subscribers;

pub use crate::records::{inbound_links, live_links, InboundLink, LinkState};
pub use subscribers::Subscribers;

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tokio::sync::watch;

use crate::config::{LimitsConfig, PeerConfig};
use crate::error::{Error, Result};
use crate::home::{Home, Snapshot};
use crate::inflight::InFlight;

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

/// What a new peer list asks of the running links.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Links to close: their peer is gone, no longer live, or its entry changed.
    pub close: Vec<String>,
    /// Links to open: new live peers, and changed ones again (redialled).
    pub open: Vec<PeerConfig>,
}

/// Compares the running links (name, the entry each was opened with) with the live
/// peers now configured. A link whose entry changed in any way (address, key, groups,
/// `tls`, `compress`) is closed and opened again: it dials, authenticates and filters
/// by the new entry.
pub fn plan<'a>(
    running: impl IntoIterator<Item = (&'a str, &'a PeerConfig)>,
    wanted: &[PeerConfig],
) -> Plan {
    let running: std::collections::BTreeMap<&str, &PeerConfig> = running.into_iter().collect();
    let mut plan = Plan::default();
    for (name, peer) in &running {
        if !wanted.iter().any(|w| w == *peer) {
            plan.close.push(name.to_string());
        }
    }
    for peer in wanted {
        if running.get(peer.name.as_str()) != Some(&peer) {
            plan.open.push(peer.clone());
        }
    }
    plan
}

impl Relay {
    /// Starts the relay thread: a link to every live peer of the configuration `config`
    /// holds, then to those of every configuration sent to it later (a reload). Links
    /// run on these snapshots (`serve`'s), never on `newsmesh.toml` read again. `arrivals` changes after
    /// each commit of the server's spool; `in_flight` is the server's table of ids being
    /// brought in.
    pub fn start(
        home: &Home,
        node_key: &SigningKey,
        config: watch::Receiver<Arc<Snapshot>>,
        limits: &LimitsConfig,
        arrivals: watch::Receiver<u64>,
        in_flight: InFlight,
    ) -> Result<Relay> {
        let (stop, stopped) = watch::channel(false);
        let links = link::Links {
            home: home.clone(),
            node_key: node_key.clone(),
            retry_max: std::time::Duration::from_secs(limits.live_retry_max_secs.max(1)),
            arrivals,
            stopped,
            in_flight,
        };
        let thread = std::thread::Builder::new()
            .name("newsmesh-relay".into())
            .spawn(move || links.run_all(config))
            .map_err(|e| Error::io("starting the live relay thread", e))?;
        Ok(Relay {
            stop,
            thread: Some(thread),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, address: Option<&str>) -> PeerConfig {
        let key = ed25519_dalek::SigningKey::from_bytes(&[name.len() as u8; 32]);
        let text = crate::sign::public_key_text(&key.verifying_key());
        PeerConfig {
            name: name.into(),
            key: crate::config::NodeKey::parse(&text).unwrap(),
            address: address.map(str::to_string),
            groups: "*".into(),
            tls: true,
            compress: true,
            live: true,
        }
    }

    fn names(peers: &[PeerConfig]) -> Vec<&str> {
        peers.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn only_peers_with_an_address_and_live_on_get_a_link() {
        let mut off = peer("off", Some("h:1"));
        off.live = false;
        let peers = [peer("b", Some("h:1")), peer("nat", None), off];
        assert_eq!(names(&live_peers(&peers)), ["b"]);
    }

    #[test]
    fn a_new_list_closes_removed_and_changed_links_and_opens_new_and_changed_ones() {
        let (b, c, d) = (
            peer("b", Some("h:1")),
            peer("c", Some("h:2")),
            peer("d", Some("h:3")),
        );
        let running = [("b", &b), ("c", &c), ("d", &d)];
        // Nothing changed: nothing to do.
        assert_eq!(
            plan(running, &[b.clone(), c.clone(), d.clone()]),
            Plan::default()
        );
        let mut moved = c.clone();
        moved.address = Some("h:9".into());
        let mut clear = d.clone();
        clear.tls = false;
        let e = peer("e", Some("h:4"));
        let wanted = [moved.clone(), clear.clone(), e.clone()];
        let plan = plan(running, &wanted);
        assert_eq!(plan.close, ["b", "c", "d"]);
        assert_eq!(names(&plan.open), ["c", "d", "e"]);
        assert_eq!(plan.open[0].address.as_deref(), Some("h:9"));
        assert!(!plan.open[1].tls);
        // From nothing: every live peer.
        assert_eq!(names(&super::plan([], &wanted).open), ["c", "d", "e"]);
    }
}
