//! One client connection: greeting, the command loop, and the state a connection
//! carries (authenticated neighbour, AUTHINFO user, selected group and article).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use super::{feed, reader, Shared};
use crate::net::{Conn, NetError};
use crate::protocol::{parse_command, Command, CommandError, MAX_COMMAND_LINE};
use crate::sign::handshake::Transcript;

/// Per-connection state.
pub struct Session {
    pub(super) shared: Arc<Shared>,
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
        let nntp_peer = shared
            .config
            .nntp_peer_at(addr.ip())
            .map(|p| p.name.clone());
        Session {
            id,
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
        self.shared.config.reader.loopback_without_auth && self.addr.ip().is_loopback()
    }

    /// Whether this client may read articles.
    pub(super) fn may_read(&self) -> bool {
        self.trusted_reader() || self.user.is_some() || self.peer.is_some()
    }

    /// Whether this client may POST: posting is enabled and it is an AUTHINFO user or a
    /// trusted (loopback) reader.
    pub(super) fn may_post(&self) -> bool {
        self.shared.config.reader.posting && (self.user.is_some() || self.trusted_reader())
    }

    /// Whether this client may feed articles (CHECK, TAKETHIS, IHAVE).
    pub(super) fn may_feed(&self) -> bool {
        self.peer.is_some() || self.nntp_peer.is_some()
    }

    /// Serves the connection until QUIT, error, idle timeout or server shutdown.
    pub async fn run(mut self, mut stopped: watch::Receiver<bool>) {
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
        let outcome = loop {
            let line = match self.leftover.take() {
                Some(line) => Ok(line),
                None => tokio::select! {
                    line = self.conn.read_line(MAX_COMMAND_LINE) => line,
                    _ = stopped.changed() => {
                        self.reply(400, "server shutting down");
                        break Ok(());
                    }
                },
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
            match self.dispatch(&line).await {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Ok(()) | Err(NetError::Closed) => {}
            Err(NetError::Timeout(t)) => {
                tracing::info!("{}: idle for {t:?}, closing", self.addr);
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
        // Bodies this peer promised and never sent may now come from another peer.
        self.shared.in_flight().retain(|_, owner| *owner != self.id);
        self.conn.shutdown().await;
    }

    async fn dispatch(&mut self, line: &[u8]) -> Result<Flow, NetError> {
        let command = match parse_command(line) {
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
            Ok(first) => {
                feed::batch(self, first).await?;
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
            Command::Ihave(id) => feed::ihave(self, id).await?,
            Command::Mesh(m) => feed::mesh(self, m).await?,
            other => return reader::handle(self, other).await,
        }
        Ok(Flow::Continue)
    }
}
