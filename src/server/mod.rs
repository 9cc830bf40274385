//! `newsmesh serve`: the tokio daemon. One listener serves both the mesh feed
//! (neighbours' syncs: MESH auth, CHECK/TAKETHIS, IHAVE, MESH SINCE + ARTICLE) and
//! newsreaders (RFC 3977 reader commands). Bounded: connection slots shared fairly
//! (`admission`: per-address and unauthenticated limits, eviction of the oldest
//! unauthenticated connection of the busiest address so configured peers always get
//! in), a deadline to authenticate, an idle and per-line deadline, line and article size
//! limits, and per-connection buffers (a client that pipelines without reading is not
//! read while its unsent answers exceed `max_pending_output_bytes`, see `session`).
//! Stops cleanly on SIGTERM/SIGINT: no new connections, sessions told `400`, and every
//! article acknowledged has been committed before its acknowledgement was written.
//! Follows `newsmesh.toml` while it runs (`live`: on SIGHUP and when the file changes).

mod admission;
mod feed;
mod guards;
mod hints;
pub mod inherited;
pub mod live;
mod reader;
mod session;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::error::{Error, Result};
use crate::home::Snapshot;
use crate::home::{Home, DEFAULT_AUTHOR};
use crate::spool::Spool;
use live::Current;

/// What every session of one server shares.
pub struct Shared {
    /// The configuration and trust policy in force (reloaded while serving): a session
    /// takes one snapshot per command.
    pub current: Arc<Current>,
    /// This node's Path identity (`[node] name` when serve started; a change needs a
    /// restart).
    pub name: String,
    /// Connection slots (their bounds follow reloads).
    pub admission: Arc<admission::Admission>,
    /// Node identity (mesh authentication).
    pub node_key: SigningKey,
    /// The home (for per-user author keys).
    pub home: Home,
    /// Default author key, signs loopback readers' posts.
    pub author_key: SigningKey,
    /// Spool epoch.
    pub epoch: String,
    /// The spool; SQLite calls run on the blocking pool while holding it.
    pub spool: Mutex<Spool>,
    /// The article log the spool writes to (a clone sharing its bounds, which follow
    /// reloads).
    pub news_log: Option<crate::newslog::NewsLog>,
    /// Message-IDs some session answered 238 (send it) and whose TAKETHIS has not been
    /// processed yet, with the session that will send it: another peer's CHECK for one of
    /// them gets 431 (try later), so a body crosses the link into this node once.
    /// Shared with the live relay, whose pulls claim their ids here too.
    pub in_flight: crate::inflight::InFlight,
    /// Source of session ids.
    pub next_session: std::sync::atomic::AtomicU64,
    /// Bounds the blocking tasks waiting for the spool.
    pub spool_slots: Semaphore,
    /// Defences the sessions share: in-flight reservation deadlines and caps, whether the
    /// spool has room, AUTHINFO pacing per source and per account.
    pub guards: guards::Guards,
    /// The node's TLS certificate (its node key), for mesh links.
    pub node_tls: crate::tls::Identity,
    /// TLS for newsreaders (STARTTLS, NNTPS).
    pub reader_tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// Changes after every commit of the spool (`MESH IDLE` waits on it).
    pub arrivals: watch::Receiver<u64>,
    /// Becomes true when the server stops (ends a `MESH IDLE` wait).
    pub stopping: watch::Receiver<bool>,
    /// Neighbours (behind NAT) whose own live link waits here with `MESH IDLE`, for
    /// `status`.
    pub subscribers: Arc<crate::relay::Subscribers>,
}

impl Shared {
    /// This node's Path identity.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes what was built from `[limits]` at start follow a reload: the connection
    /// slots, and the article log's size (on the log the spool shares: the spool, which
    /// a transaction may hold for a while, is not waited for).
    async fn apply_limits(
        self: &Arc<Self>,
        admission: &admission::Admission,
        limits: &crate::config::LimitsConfig,
    ) {
        admission.set_limits(limits);
        if let Some(log) = &self.news_log {
            log.set_limits(limits.news_log_bytes, limits.news_log_files);
        }
    }

    /// The configuration in force now (see [`Shared::current`]).
    pub fn live(&self) -> Arc<Snapshot> {
        self.current.get()
    }

    /// The in-flight table (see [`Shared::in_flight`]).
    pub fn in_flight(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u64>> {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the spool on tokio's blocking pool.
    pub async fn with_spool<R, F>(self: &Arc<Self>, f: F) -> Result<R>
    where
        F: FnOnce(&Shared, &mut Spool) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        // One SQLite connection serves the whole server: more than a couple of blocking
        // tasks would only park threads (and their stacks) on its lock.
        let _slot = self
            .spool_slots
            .acquire()
            .await
            .map_err(|e| Error::Internal(format!("spool closed: {e}")))?;
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut spool = shared
                .spool
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&shared, &mut spool)
        })
        .await
        .map_err(|e| Error::Internal(format!("spool task failed: {e}")))?
    }
}

/// A running server: its address and the handles that reload and stop it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    reload: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
    /// The bound NNTPS (implicit TLS) address, when `[tls] nntps_listen` asks for one.
    pub nntps_addr: Option<SocketAddr>,
    /// Live links to the neighbours (`crate::relay`).
    relay: crate::relay::Relay,
}

impl Running {
    /// Asks the server to read `newsmesh.toml` again now (what SIGHUP does).
    pub fn reload(&self) {
        self.reload.notify_one();
    }

    /// Asks the server and its live relay to stop and waits for both.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.relay.stop().await;
        let _ = self.task.await;
    }
}

/// Opens the node and binds its listen address (or `listen` when given).
pub async fn start(home: &Home, listen: Option<SocketAddr>) -> Result<Running> {
    let node = home.open()?;
    let addr = match listen {
        Some(a) => a,
        None => node.config.node.listen.parse().map_err(|_| {
            Error::Invalid(format!(
                "[node] listen {:?} is not HOST:PORT",
                node.config.node.listen
            ))
        })?,
    };
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                " (another program listens there: choose another port in [node] listen in {})",
                home.config_path().display()
            )
        } else {
            String::new()
        };
        Error::Listen {
            address: addr.to_string(),
            source: e,
            hint,
        }
    })?;
    serve_on(home, node, listener)
}

/// Serves `home` on a listener bound already (tests and the testbed bind their ports
/// first, so no other process can take one between choosing and binding it).
pub async fn start_on(home: &Home, listener: std::net::TcpListener) -> Result<Running> {
    let node = home.open()?;
    let inherited = |source| Error::Listen {
        address: "the listener handed over".into(),
        source,
        hint: String::new(),
    };
    listener.set_nonblocking(true).map_err(inherited)?;
    let listener = TcpListener::from_std(listener).map_err(inherited)?;
    serve_on(home, node, listener)
}

fn serve_on(home: &Home, mut node: crate::home::Node, listener: TcpListener) -> Result<Running> {
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        address: "the listener handed over".into(),
        source,
        hint: String::new(),
    })?;
    let node_key = home.node_key()?;
    let node_tls = crate::tls::node_identity(&node_key)?;
    let reader_tls = crate::tls::reader_config(&home.reader_identity(&node.config)?)?;
    let nntps = match &node.config.tls.nntps_listen {
        Some(listen) => {
            let at: SocketAddr = listen.parse().map_err(|_| {
                Error::Invalid(format!("[tls] nntps_listen {listen:?} is not HOST:PORT"))
            })?;
            let std = std::net::TcpListener::bind(at)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| Error::Listen {
                    address: at.to_string(),
                    source,
                    hint: String::new(),
                })?;
            Some(TcpListener::from_std(std).map_err(|source| Error::Listen {
                address: at.to_string(),
                source,
                hint: String::new(),
            })?)
        }
        None => None,
    };
    let nntps_addr = nntps.as_ref().and_then(|l| l.local_addr().ok());
    // Every commit (an article posted here or received from any neighbour) wakes the
    // live relay; it reads what is new from the spool itself.
    let (arrived, arrivals) = watch::channel(0u64);
    node.spool
        .on_commit(move || arrived.send_modify(|n| *n = n.wrapping_add(1)));
    // The relay runs whatever the config says now and follows each reload's peers.
    let in_flight = crate::inflight::InFlight::default();
    let current = Arc::new(Current::new(Snapshot::new(node.config, node.trust)));
    let (relay_config, config) = watch::channel(current.get());
    let limits = config.borrow().config.limits.clone();
    let relay = crate::relay::Relay::start(
        home,
        &node_key,
        config,
        &limits,
        arrivals.clone(),
        Arc::clone(&in_flight),
    )?;
    let admission = admission::Admission::new(&limits);
    let (stop, stopped) = watch::channel(false);
    let shared = Arc::new(Shared {
        epoch: node.spool.epoch()?,
        node_key,
        author_key: home.author_key(DEFAULT_AUTHOR)?,
        home: home.clone(),
        name: current.get().config.node.name.clone(),
        current,
        admission: Arc::clone(&admission),
        news_log: Some(node.log.clone()),
        spool: Mutex::new(node.spool),
        in_flight,
        next_session: std::sync::atomic::AtomicU64::new(crate::inflight::SESSION_OWNERS),
        spool_slots: Semaphore::new(2),
        guards: guards::Guards::default(),
        node_tls,
        reader_tls: Some(reader_tls),
        arrivals,
        stopping: stopped.clone(),
        subscribers: Arc::new(crate::relay::Subscribers::new(home)),
    });
    let reload = Arc::new(tokio::sync::Notify::new());
    let reloaded = Arc::clone(&shared);
    tokio::spawn(live::follow(
        Arc::clone(&shared.current),
        home.config_path(),
        Arc::clone(&reload),
        stopped.clone(),
        move |live: Arc<Snapshot>| {
            relay_config.send_replace(Arc::clone(&live));
            let (shared, admission) = (Arc::clone(&reloaded), Arc::clone(&admission));
            async move { shared.apply_limits(&admission, &live.config.limits).await }
        },
    ));
    let task = tokio::spawn(accept_loop(listener, nntps, shared, stopped));
    Ok(Running {
        addr,
        stop,
        reload,
        task,
        nntps_addr,
        relay,
    })
}

/// Accepts on `listener` when there is one; never otherwise.
async fn accept_on(
    listener: &Option<TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

async fn accept_loop(
    listener: TcpListener,
    nntps: Option<TcpListener>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = async {
                tokio::select! {
                    a = listener.accept() => a.map(|a| (a, false)),
                    a = accept_on(&nntps) => a.map(|a| (a, true)),
                }
            } => {
                let ((stream, addr), implicit_tls) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let live = shared.live();
                let idle = Duration::from_secs(live.config.limits.idle_timeout_secs);
                // An [[nntp_peer]] host is known by its address: authenticated at once.
                let known = live.config.nntp_peer_at(addr.ip()).is_some();
                let ticket = shared.admission.admit(addr.ip(), known);
                let shared = Arc::clone(&shared);
                let stopped = stopped.clone();
                sessions.spawn(async move {
                    let mut conn = crate::net::Conn::new(stream, idle);
                    if implicit_tls {
                        // NNTPS: TLS before the greeting, within the time to authenticate.
                        let deadline = Duration::from_secs(live.config.limits.auth_timeout_secs);
                        conn.set_timeout(idle.min(deadline));
                        if let Err(e) = conn.accept_tls(|hello| session::choose_tls(&shared, hello)).await {
                            tracing::info!("{addr}: NNTPS handshake failed: {e}");
                            return;
                        }
                        conn.set_timeout(idle);
                    }
                    match ticket {
                        Ok(ticket) => session::Session::new(shared, conn, addr).run(stopped, ticket).await,
                        Err(refusal) => {
                            // Only a status line to send: a client that does not read it
                            // must not hold the task for the idle timeout.
                            conn.set_timeout(session::GOODBYE_TIMEOUT);
                            conn.queue(format!("400 {}\r\n", refusal.text()).as_bytes());
                            conn.shutdown().await;
                        }
                    }
                });
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    drop(nntps);
    tracing::info!("stopping: waiting for {} session(s)", sessions.len());
    let drain = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("sessions still busy after 10 s; stopping anyway");
    }
    shared.subscribers.clear();
}

/// `newsmesh serve`: runs in the foreground until SIGTERM or SIGINT; SIGHUP reloads the
/// configuration.
pub fn serve_forever(home: &Home) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    runtime.block_on(async {
        // One serve per node: claimed before binding, so a second one (whatever its
        // `listen`) is refused naming the first. For `newsmesh status` too; removed when
        // this block ends (after a clean stop).
        if !home.config_path().exists() {
            return Err(Error::NoHome(home.dir().to_path_buf()));
        }
        let mut record = crate::records::ServeRecord::claim(home)?;
        let running = match inherited::listener()? {
            Some(listener) => start_on(home, listener).await?,
            None => start(home, None).await?,
        };
        tracing::info!("newsmesh serving on {}", running.addr);
        record.publish(&[running.addr], running.nntps_addr);
        if let Some(nntps) = running.nntps_addr {
            tracing::info!("newsmesh serving NNTPS on {nntps}");
        }
        wait_for_signal(&running).await?;
        tracing::info!("signal received, shutting down");
        running.stop().await;
        Ok(())
    })
}

/// Waits for SIGTERM or SIGINT, passing each SIGHUP on as a reload.
async fn wait_for_signal(running: &Running) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("SIGTERM handler", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("SIGINT handler", e))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| Error::io("SIGHUP handler", e))?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => running.reload(),
        }
    }
}
