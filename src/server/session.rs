//! One client connection: greeting, the command loop, and the state a connection
//! carries (authenticated neighbour, AUTHINFO user, selected group and article).
//!
//! The loop keeps a connection's memory bounded whatever the client sends: before it
//! takes the next command it sends the answers queued so far if they pass the bound
//! (`[limits] max_pending_output_bytes`, or `unauthenticated_buffer_bytes` before the
//! connection authenticated), so a client that pipelines commands without reading its
//! answers stops being read until it reads. Until it authenticates a connection also
//! has a deadline (`auth_timeout_secs`), small buffers (`unauthenticated_buffer_bytes`
//! of read-ahead and of read chunk), may be evicted by a newcomer (see `admission`),
//! and its CHECK/TAKETHIS never join a feed batch: a stranger's article is skipped as it
//! arrives and answered `480`, never held.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::rustls;

use super::admission::Ticket;
use super::{feed, reader, Shared};
use crate::home::Snapshot;
use crate::net::{Conn, NetError, MAX_READ_AHEAD};
use crate::protocol::{parse_command, Command, CommandError, MAX_COMMAND_LINE};
use crate::sign::handshake::Transcript;

/// Per-connection state.
pub struct Session {
    pub(super) shared: Arc<Shared>,
    /// The configuration this command runs under: taken afresh before each command, so
    /// a reload applies from the next command and never half-way through one.
    pub(super) live: Arc<Snapshot>,
    pub(super) conn: Conn,
    pub(super) addr: SocketAddr,
    /// The configured neighbour this connection proved to be (MESH HELLO/PROVE).
    pub(super) peer: Option<String>,
    /// The `[[nntp_peer]]` (plain news server) this connection comes from, by address.
    pub(super) nntp_peer: Option<String>,
    /// A MESH HELLO awaiting its PROVE.
    pub(super) hello: Option<Transcript>,
    /// The AUTHINFO user, once authenticated.
    pub(super) user: Option<String>,
    /// An AUTHINFO USER awaiting its AUTHINFO PASS.
    pub(super) pending_user: Option<String>,
    /// Failed AUTHINFO PASS attempts on this connection.
    pub(super) auth_failures: u32,
    /// The selected newsgroup (GROUP, LISTGROUP).
    pub(super) group: Option<String>,
    /// The current article number in the selected group, if there is one.
    pub(super) current: Option<i64>,
    /// A command line read ahead by a batch that belongs to the next command.
    pub(super) leftover: Option<Vec<u8>>,
    /// Articles this connection delivered to us / we refused (for the log line).
    pub(super) received: u64,
    pub(super) refused: u64,
    /// This session's id in [`Shared::in_flight`].
    pub(super) id: u64,
}

/// How long a connection being turned away (refused or evicted) has to take its `400`.
pub(super) const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `command` is a reader command: one that reads or posts articles. A trusted
/// loopback reader counts as authenticated from its first one (HELP, DATE and the like
/// do not count: they are what a slot squatter would send).
fn is_reader_command(command: &Command) -> bool {
    matches!(
        command,
        Command::List(_)
            | Command::NewGroups { .. }
            | Command::NewNews { .. }
            | Command::Group(_)
            | Command::ListGroup { .. }
            | Command::Article(_)
            | Command::Head(_)
            | Command::Body(_)
            | Command::Stat(_)
            | Command::Next
            | Command::Last
            | Command::Over(_)
            | Command::Hdr { .. }
            | Command::Post
    )
}

/// The TLS configuration for a client hello: a mesh node gets the node certificate and
/// must present one of the configured neighbours' keys; a newsreader gets the reader
/// certificate.
pub(super) fn choose_tls(
    shared: &Shared,
    hello: &rustls::server::ClientHello<'_>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    if crate::tls::wants_invite(hello) {
        return crate::tls::invite_server_config(&shared.node_tls).map_err(|e| e.to_string());
    }
    if crate::tls::wants_mesh(hello) {
        // The neighbours configured now (a reload that adds or removes one applies to
        // the next handshake).
        let allowed = shared
            .live()
            .config
            .peers
            .iter()
            .map(|p| *p.key.key())
            .collect();
        crate::tls::mesh_server_config(&shared.node_tls, allowed).map_err(|e| e.to_string())
    } else {
        shared
            .reader_tls
            .clone()
            .ok_or_else(|| "no reader certificate".to_string())
    }
}

/// What the command loop does next.
pub(super) enum Flow {
    Continue,
    Quit,
}

impl Session {
    /// A session on an accepted connection.
    pub fn new(shared: Arc<Shared>, conn: Conn, addr: SocketAddr) -> Session {
        let id = shared
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let live = shared.live();
        let nntp_peer = live.config.nntp_peer_at(addr.ip()).map(|p| p.name.clone());
        Session {
            id,
            live,
            nntp_peer,
            shared,
            conn,
            addr,
            peer: None,
            hello: None,
            user: None,
            pending_user: None,
            auth_failures: 0,
            group: None,
            current: None,
            leftover: None,
            received: 0,
            refused: 0,
        }
    }

    /// Queues one status line, written by the protocol codec (bounded, one line).
    pub(super) fn reply(&mut self, code: u16, text: &str) {
        crate::protocol::Response::new(code, text).write(self.conn.out());
    }

    /// Whether this client may read and post without AUTHINFO (loopback, when allowed).
    pub(super) fn trusted_reader(&self) -> bool {
        self.live.config.reader.loopback_without_auth && self.addr.ip().is_loopback()
    }

    /// Whether this client may read articles.
    pub(super) fn may_read(&self) -> bool {
        self.trusted_reader() || self.user.is_some() || self.peer.is_some()
    }

    /// Whether this client may POST: posting is enabled and it is an AUTHINFO user or a
    /// trusted (loopback) reader.
    pub(super) fn may_post(&self) -> bool {
        self.live.config.reader.posting && (self.user.is_some() || self.trusted_reader())
    }

    /// Whether a password may cross this connection: it is encrypted (STARTTLS, NNTPS),
    /// or it comes from this machine (from the very address it connected to, so it
    /// never left the host), or the operator allows AUTHINFO in clear.
    pub(super) fn may_send_password(&self) -> bool {
        let same_host = self.conn.local_addr().map(|a| a.ip()) == Some(self.addr.ip());
        self.conn.is_tls() || same_host || self.live.config.tls.allow_plaintext_auth
    }

    /// Whether STARTTLS is on offer: not yet on TLS, nobody authenticated yet.
    pub(super) fn offers_starttls(&self) -> bool {
        !self.conn.is_tls() && !self.proved_who_it_is() && self.shared.reader_tls.is_some()
    }

    /// Whether this client may feed articles (CHECK, TAKETHIS, IHAVE).
    pub(super) fn may_feed(&self) -> bool {
        self.feeder().is_some()
    }

    /// Who feeds this session (None: nobody may, 480).
    pub(super) fn feeder(&self) -> Option<super::feed::Feeder> {
        use super::feed::Feeder;
        match (&self.peer, &self.nntp_peer) {
            (Some(name), _) => Some(Feeder::Peer(name.clone())),
            (None, Some(name)) => Some(Feeder::NntpPeer(name.clone())),
            (None, None) => None,
        }
    }

    /// Serves the connection until QUIT, error, idle or authentication timeout, eviction
    /// (`ticket`) or server shutdown.
    pub async fn run(mut self, mut stopped: watch::Receiver<bool>, ticket: Ticket) {
        let greeting = if self.may_post() {
            format!(
                "200 newsmesh {} ready (posting allowed)",
                self.shared.name()
            )
        } else if self.trusted_reader() {
            format!(
                "201 newsmesh {} ready (posting prohibited)",
                self.shared.name()
            )
        } else {
            format!(
                "201 newsmesh {} ready (authentication required to read or post)",
                self.shared.name()
            )
        };
        self.conn.queue(format!("{greeting}\r\n").as_bytes());
        let auth_timeout = self.live.config.limits.auth_timeout_secs;
        let auth_deadline = Instant::now() + Duration::from_secs(auth_timeout);
        let mut authenticated = false;
        let outcome = loop {
            self.live = self.shared.live();
            let limits = &self.live.config.limits;
            let idle = Duration::from_secs(limits.idle_timeout_secs);
            let unauthenticated_buffer = limits.unauthenticated_buffer_bytes;
            let bound = limits.max_pending_output_bytes;
            if !authenticated && self.proved_who_it_is() {
                authenticated = true;
                self.mark_authenticated(&ticket, idle);
            }
            let bound = if authenticated {
                self.conn.set_timeout(idle);
                bound
            } else {
                let left = auth_deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(NetError::Timeout(left));
                }
                self.conn.set_timeout(idle.min(left));
                self.conn.set_read_ahead(unauthenticated_buffer);
                unauthenticated_buffer
            };
            let line = tokio::select! {
                line = self.next_line(bound) => line,
                _ = stopped.changed() => {
                    self.reply(400, "server shutting down");
                    break Ok(());
                }
                _ = ticket.evicted() => {
                    tracing::info!("{}: evicted (not authenticated) to admit a newcomer", self.addr);
                    self.conn.set_timeout(GOODBYE_TIMEOUT);
                    self.reply(400, "too many connections, closing this unauthenticated one");
                    break Ok(());
                }
            };
            let line = match line {
                Ok(line) => line,
                Err(NetError::Protocol(e)) => {
                    // Too long a line: skip the rest of it and carry on.
                    if let Err(e) = self.conn.discard_line().await {
                        break Err(e);
                    }
                    self.reply(501, &format!("command line too long ({e})"));
                    continue;
                }
                Err(e) => break Err(e),
            };
            // The command runs under the configuration in force when it arrived.
            self.live = self.shared.live();
            if let Some(why) = self.revoked() {
                tracing::info!("{}: {why}; closing", self.addr);
                self.reply(400, &format!("{why}, closing connection"));
                break Ok(());
            }
            let command = parse_command(&line);
            if let Ok(command) = &command {
                if !authenticated && self.trusted_reader() && is_reader_command(command) {
                    authenticated = true;
                    let idle = Duration::from_secs(self.live.config.limits.idle_timeout_secs);
                    self.mark_authenticated(&ticket, idle);
                }
            }
            match self.dispatch(command).await {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Ok(()) | Err(NetError::Closed) => {}
            Err(NetError::Timeout(_)) if !authenticated && Instant::now() >= auth_deadline => {
                tracing::info!(
                    "{}: did not authenticate within {} s, closing",
                    self.addr,
                    auth_timeout
                );
                // What it has not taken in all this time it will not take now.
                self.conn.set_timeout(GOODBYE_TIMEOUT);
                self.reply(400, "authentication deadline passed, closing connection");
            }
            Err(NetError::Timeout(t)) => {
                tracing::info!("{}: idle for {t:?}, closing", self.addr);
                self.conn.set_timeout(GOODBYE_TIMEOUT);
                self.reply(400, "idle timeout, closing connection");
            }
            Err(e) => tracing::info!("{}: {e}", self.addr),
        }
        if self.received + self.refused > 0 {
            tracing::info!(
                "{} ({}): received {} refused {}",
                self.addr,
                self.peer
                    .as_deref()
                    .or(self.nntp_peer.as_deref())
                    .unwrap_or("reader"),
                self.received,
                self.refused
            );
        }
        self.record_neighbour().await;
        self.shared.subscribers.ended(self.id);
        // Bodies this peer promised and never sent may now come from another peer.
        self.shared.in_flight().retain(|_, owner| *owner != self.id);
        self.conn.shutdown().await;
    }

    /// For `newsmesh status`: a neighbour's session (its own sync, an INN feed) is the
    /// only news we get of a passive peer. A spool that cannot take it is a warning.
    async fn record_neighbour(&self) {
        let Some(peer) = self.peer.clone().or_else(|| self.nntp_peer.clone()) else {
            return;
        };
        let (received, refused) = (self.received, self.refused);
        let recorded = self
            .shared
            .with_spool(move |_, spool| {
                Ok(spool.record_inbound(&peer, crate::spool::now(), received, refused)?)
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!("{}: cannot record the session for status: {e}", self.addr);
        }
    }

    /// Why this connection may not go on under the configuration just taken: the peer,
    /// user or nntp peer it authenticated as has been removed from it.
    fn revoked(&self) -> Option<String> {
        let config = &self.live.config;
        if let Some(peer) = self.peer.as_deref().filter(|p| config.peer(p).is_none()) {
            return Some(format!("peer {peer} is no longer configured"));
        }
        if let Some(user) = self.user.as_deref().filter(|u| config.user(u).is_none()) {
            return Some(format!("user {user} is no longer configured"));
        }
        let nntp_peer_here = |name: &str| {
            config
                .nntp_peer_at(self.addr.ip())
                .is_some_and(|p| p.name == name)
        };
        match self.nntp_peer.as_deref() {
            Some(name) if !nntp_peer_here(name) => {
                Some(format!("nntp peer {name} is no longer configured here"))
            }
            _ => None,
        }
    }

    /// Whether the connection proved who it is: a configured peer (MESH PROVE), an
    /// AUTHINFO user, or an `[[nntp_peer]]` host.
    fn proved_who_it_is(&self) -> bool {
        self.peer.is_some() || self.user.is_some() || self.nntp_peer.is_some()
    }

    /// From now on the connection is a known one: it keeps its slot, has no deadline
    /// but the idle one, and gets the full buffers pipelining needs.
    fn mark_authenticated(&mut self, ticket: &Ticket, idle: Duration) {
        ticket.authenticated();
        self.conn.set_timeout(idle);
        self.conn.set_read_ahead(MAX_READ_AHEAD);
    }

    /// The next command line: first sends the queued answers if they pass `bound`, so
    /// a client that does not read them is not read either.
    async fn next_line(&mut self, bound: usize) -> Result<Vec<u8>, NetError> {
        self.conn.flush_if_over(bound).await?;
        match self.leftover.take() {
            Some(line) => Ok(line),
            None => self.conn.read_line(MAX_COMMAND_LINE).await,
        }
    }

    /// STARTTLS (RFC 4642): `382`, then the TLS handshake on this connection. A client
    /// naming the mesh ALPN gets the node certificate and must present a configured
    /// neighbour's (see `tls`); a newsreader gets the reader certificate. Whatever the
    /// client said before is forgotten, as the RFC asks.
    async fn start_tls(&mut self) -> Result<(), NetError> {
        if self.conn.is_tls() {
            self.reply(502, "already using TLS");
            return Ok(());
        }
        if self.proved_who_it_is() {
            self.reply(502, "STARTTLS is not allowed after authentication");
            return Ok(());
        }
        if self.shared.reader_tls.is_none() {
            self.reply(580, "TLS is not available");
            return Ok(());
        }
        self.reply(382, "continue with TLS negotiation");
        let shared = Arc::clone(&self.shared);
        self.conn
            .accept_tls(|hello| choose_tls(&shared, hello))
            .await?;
        self.hello = None;
        self.pending_user = None;
        self.group = None;
        self.current = None;
        self.leftover = None;
        self.peer_from_tls();
        Ok(())
    }

    /// A mesh link whose TLS handshake is its authentication ([`crate::tls::MESH_ALPN`])
    /// belongs, from now on, to the configured neighbour whose node key signed it.
    fn peer_from_tls(&mut self) {
        if !crate::tls::tls_authenticates(self.conn.alpn_protocol().as_deref()) {
            return;
        }
        let Some(key) = self
            .conn
            .peer_certificate()
            .and_then(|c| crate::tls::node_key_of(&c))
        else {
            return;
        };
        // The config in force now (the handshake was checked against it).
        self.live = self.shared.live();
        match self.live.config.peer_with_key(&key) {
            Some(peer) => {
                tracing::info!("{}: authenticated as peer {} (TLS)", self.addr, peer.name);
                self.peer = Some(peer.name.clone());
            }
            None => tracing::warn!(
                "{}: TLS node key {} is no longer a configured peer",
                self.addr,
                crate::sign::public_key_text(&key)
            ),
        }
    }

    /// COMPRESS DEFLATE (RFC 8054): `206`, then both directions compressed.
    async fn compress(&mut self, algorithm: &str) -> Result<(), NetError> {
        if self.conn.is_compressed() {
            self.reply(502, "compression already active");
        } else if !algorithm.eq_ignore_ascii_case("DEFLATE") {
            self.reply(503, "only DEFLATE compression is supported");
        } else {
            self.reply(206, "compression active");
            self.conn.start_compression().await?;
        }
        Ok(())
    }

    async fn dispatch(&mut self, command: Result<Command, CommandError>) -> Result<Flow, NetError> {
        let command = match command {
            Ok(c) => c,
            Err(e) => {
                let text = match &e {
                    CommandError::Unknown(verb) => format!("unknown command {verb}"),
                    other => other.to_string(),
                };
                self.reply(e.status(), &text);
                return Ok(Flow::Continue);
            }
        };
        let command = match feed::batchable(command, self.peer.is_some()) {
            Ok(first) if self.may_feed() => {
                feed::batch(self, first).await?;
                return Ok(Flow::Continue);
            }
            Ok(refused) => {
                // A stranger's feed commands never join a batch: its articles would be
                // held (many MiB of them) only to be refused.
                let (feed::Batched::Check(id)
                | feed::Batched::Takethis(id)
                | feed::Batched::Fetch(id)) = &refused;
                if matches!(refused, feed::Batched::Takethis(_)) {
                    self.conn.skip_block().await?;
                }
                self.reply(480, &format!("{id} authenticate first (MESH HELLO)"));
                return Ok(Flow::Continue);
            }
            Err(other) => other,
        };
        match command {
            Command::Quit => {
                self.reply(205, "closing connection, goodbye");
                return Ok(Flow::Quit);
            }
            Command::ModeStream => self.reply(203, "streaming permitted"),
            Command::StartTls => self.start_tls().await?,
            Command::Compress(algorithm) => self.compress(&algorithm).await?,
            Command::Ihave(id) => feed::ihave(self, id).await?,
            Command::Mesh(m) => feed::mesh(self, m).await?,
            other => return reader::handle(self, other).await,
        }
        Ok(Flow::Continue)
    }
}
