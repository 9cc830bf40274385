//! One live link per neighbour: dial and authenticate (`sync::PushLink`), push what is
//! after its mark, then wait for the next arrival (or a short poll, for articles stored
//! by other processes: `post`, `sync`, `import`), with a keepalive so idle timeouts do
//! not close a quiet link. A failed link is dialled again with exponential backoff.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::config::PeerConfig;
use crate::error::Result;
use crate::home::Snapshot;
use crate::home::{Home, Node};
use crate::inflight::{Fetching, InFlight, RELAY_OWNERS};
use crate::sync::{Idled, PeerReport, PushLink};

/// First wait before dialling a lost neighbour again; it doubles up to the limit.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// How often a link looks for articles other processes stored (the server's own
/// commits wake it at once).
const POLL: Duration = Duration::from_millis(250);
/// The pause after a body was deferred ("try later": a quota), so the same bodies do
/// not cross again every poll; cron `sync` and the next day do the rest.
const HELD_BACK_PAUSE: Duration = Duration::from_secs(30);

/// What every link of one relay shares.
pub(super) struct Links {
    pub(super) home: Home,
    pub(super) node_key: SigningKey,
    pub(super) retry_max: Duration,
    pub(super) arrivals: watch::Receiver<u64>,
    pub(super) stopped: watch::Receiver<bool>,
    /// The server's in-flight table: a pull claims its ids there (`sync::Fetching`).
    pub(super) in_flight: InFlight,
}

impl Links {
    /// Runs one link per live peer of `config` on a single-threaded runtime until the
    /// relay stops, following every new configuration `config` receives (a reload).
    pub(super) fn run_all(self, mut config: watch::Receiver<Arc<Snapshot>>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::warn!("live relay not started: tokio runtime: {e}");
                return;
            }
        };
        // Links hold `&Node` across awaits (a SQLite connection is not `Sync`): local tasks.
        let board = Rc::new(super::state::Board::new(&self.home));
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async {
            let mut tasks = tokio::task::JoinSet::new();
            let mut running: BTreeMap<String, (PeerConfig, AbortHandle)> = BTreeMap::new();
            let mut stopped = self.stopped.clone();
            let mut next_owner = RELAY_OWNERS;
            let mut flush = tokio::time::interval(super::state::FLUSH_EVERY);
            let mut following = true;
            loop {
                if *stopped.borrow() {
                    break;
                }
                let wanted = super::live_peers(&config.borrow_and_update().config.peers);
                let plan = super::plan(
                    running
                        .iter()
                        .map(|(name, (peer, _))| (name.as_str(), peer)),
                    &wanted,
                );
                for name in &plan.close {
                    if let Some((_, handle)) = running.remove(name) {
                        // Dropped at its next wait: marks are saved only after the peer's
                        // answer, so nothing is lost.
                        handle.abort();
                        board.forget(name);
                        tracing::info!("live link to {name} closed (configuration changed)");
                    }
                }
                for peer in plan.open {
                    let link = Link {
                        home: self.home.clone(),
                        node_key: self.node_key.clone(),
                        retry_max: self.retry_max,
                        arrivals: self.arrivals.clone(),
                        stopped: self.stopped.clone(),
                        board: Rc::clone(&board),
                        config: config.clone(),
                        fetching: Fetching::new(Arc::clone(&self.in_flight), next_owner),
                        peer: peer.clone(),
                    };
                    next_owner += 1;
                    let handle = tasks.spawn_local(link.run());
                    running.insert(peer.name.clone(), (peer, handle));
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    changed = config.changed(), if following => following = changed.is_ok(),
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    _ = flush.tick() => board.flush(),
                }
            }
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        });
        board.clear();
    }
}

struct Link {
    home: Home,
    node_key: SigningKey,
    retry_max: Duration,
    arrivals: watch::Receiver<u64>,
    stopped: watch::Receiver<bool>,
    board: Rc<super::state::Board>,
    /// `serve`'s configuration: each session opens its node on the snapshot in force.
    config: watch::Receiver<Arc<Snapshot>>,
    /// This link's claims on the ids it pulls.
    fetching: Fetching,
    peer: PeerConfig,
}

impl Link {
    async fn run(mut self) {
        let mut retry = FIRST_RETRY;
        let mut stopped = self.stopped.clone();
        loop {
            if *stopped.borrow() {
                return;
            }
            let outcome = tokio::select! {
                _ = stopped.changed() => return,
                outcome = self.session(&mut retry) => outcome,
            };
            if let Err(e) = outcome {
                self.board
                    .set(&self.peer.name, false, false, Some(e.to_string()));
                tracing::warn!(
                    "live link to {}: {e}; dialling again in {}s",
                    self.peer.name,
                    retry.as_secs()
                );
            }
            tokio::select! {
                _ = stopped.changed() => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(self.retry_max);
        }
    }

    /// One connection's life: open, then push on every wake until something fails.
    /// Over the same connection it also receives, for a neighbour that cannot dial us:
    /// `MESH IDLE` waits for its next arrival and a pull fetches it; a neighbour that
    /// dials us itself answers 503, and the link then only pushes.
    async fn session(&mut self, retry: &mut Duration) -> Result<()> {
        // Its own spool connection: SQLite reads here never wait on the server's lock.
        // The configuration is serve's snapshot: a newsmesh.toml that serve refused
        // (it keeps the last good one) must not stop the link or judge what it pulls.
        let snapshot = Arc::clone(&self.config.borrow_and_update());
        let mut node: Node = self
            .home
            .open_with(snapshot.config.clone(), snapshot.trust.clone())?;
        let mut link = PushLink::open(&node, &self.node_key, &self.peer).await?;
        *retry = FIRST_RETRY;
        tracing::info!("live link to {} is up", self.peer.name);
        self.board.set(&self.peer.name, true, false, None);
        let keepalive = Duration::from_secs((node.config.limits.idle_timeout_secs / 3).max(1));
        let mut spoke = Instant::now();
        let mut woken = true;
        let mut subscribed = true;
        loop {
            let mut report = PeerReport {
                peer: self.peer.name.clone(),
                ..PeerReport::default()
            };
            let pushed = link.push(&mut node, &self.peer, &mut report).await;
            self.board.count(&self.peer.name, &report);
            pushed?;
            if report.held_back {
                tokio::time::sleep(HELD_BACK_PAUSE).await;
            }
            if subscribed {
                let seq = node.spool.marks(&self.peer.name)?.pull_seq;
                let ours = ours_to_push(&node, &self.peer.name, &mut self.arrivals);
                match link.idle(seq, ours).await? {
                    Idled::Pull => {
                        self.board.set(&self.peer.name, true, true, None);
                        // Its `peer` names the source of what is stored (`delivered_by`).
                        let mut pulled = PeerReport {
                            peer: self.peer.name.clone(),
                            ..PeerReport::default()
                        };
                        let outcome = link
                            .pull(&mut node, &self.peer, &mut pulled, &self.fetching)
                            .await;
                        self.board.count(&self.peer.name, &pulled);
                        outcome?;
                        if pulled.held_back {
                            tokio::time::sleep(HELD_BACK_PAUSE).await;
                        }
                    }
                    Idled::NotNeeded => subscribed = false,
                }
                continue;
            }
            if report.sent + report.refused > 0 {
                spoke = Instant::now();
            }
            if spoke.elapsed() >= keepalive {
                link.keepalive().await?;
                spoke = Instant::now();
            }
            // A closed sender (the server is going away) must not spin the loop. A
            // neighbour that hangs up (killed, restarted) ends the link now, so `status`
            // says it is down within a moment rather than at the next keepalive.
            tokio::select! {
                changed = self.arrivals.changed(), if woken => woken = changed.is_ok(),
                _ = tokio::time::sleep(POLL) => {}
                gone = link.hung_up() => return Err(gone),
            }
        }
    }
}

/// Resolves once this node holds an arrival after `peer`'s push mark (something to
/// offer it), looking on each commit of the server's spool and every [`POLL`].
async fn ours_to_push(node: &Node, peer: &str, arrivals: &mut watch::Receiver<u64>) {
    let mut open = true;
    loop {
        let pending = node
            .spool
            .last_seq()
            .and_then(|last| Ok(last > node.spool.marks(peer)?.push_seq));
        // A spool that cannot be read now is tried again at the next wake.
        if pending.unwrap_or(false) {
            return;
        }
        tokio::select! {
            changed = arrivals.changed(), if open => open = changed.is_ok(),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}
