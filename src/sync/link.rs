//! The dialling side of a live link, for `serve`'s relay (`crate::relay`): the same
//! connection, handshake and push (CHECK/TAKETHIS, the feed policy's filters, marks advanced
//! only on 239) as `sync`'s exchange, on a connection kept open between pushes. A node
//! its neighbour cannot dial (no address for it there) also receives over it: `MESH
//! IDLE` waits for the neighbour's next arrival, then `sync`'s pull fetches it.

use ed25519_dalek::SigningKey;

use std::future::Future;

use super::auth::open_streaming;
use super::conn::{command, expect, response};
use super::pull::pull_reserving;
use super::push::{push, Recipient};
use super::PeerReport;
use crate::config::PeerConfig;
use crate::error::Result;
use crate::home::Node;
use crate::inflight::Fetching;
use crate::net::Conn;
use crate::protocol::mesh::IDLE_DONE;
use crate::protocol::{Command, MeshCommand};

/// How a `MESH IDLE` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idled {
    /// The neighbour has arrivals after the mark (or the wait ran out): pull next.
    Pull,
    /// The neighbour dials us itself (503): this link only pushes.
    NotNeeded,
}

/// An authenticated streaming connection to one neighbour, kept open: it pushes, pulls
/// and idles (`MESH IDLE`), as the live relay asks.
pub struct MeshLink {
    conn: Conn,
    /// The per-answer timeout outside `MESH IDLE`.
    io_timeout: std::time::Duration,
}

/// A neighbour answers `MESH IDLE` within 30 s; we wait that much beyond our usual
/// per-answer timeout.
const IDLE_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

impl MeshLink {
    /// Dials `peer`, authenticates both ways and enters MODE STREAM, within the
    /// configured connect and per-answer timeouts.
    pub async fn open(node: &Node, node_key: &SigningKey, peer: &PeerConfig) -> Result<MeshLink> {
        let limits = &node.config.limits;
        let conn = open_streaming(node_key, peer, limits).await?;
        Ok(MeshLink {
            conn,
            io_timeout: std::time::Duration::from_secs(limits.io_timeout_secs),
        })
    }

    /// Offers `peer` everything after its push mark, as `sync` would; returns when every
    /// offer has its answer and the mark is saved.
    pub async fn push(
        &mut self,
        node: &mut Node,
        peer: &PeerConfig,
        report: &mut PeerReport,
    ) -> Result<()> {
        let target = Recipient {
            name: &peer.name,
            feed: peer.feed(),
        };
        push(node, &target, &mut self.conn, report).await
    }

    /// Fetches what arrived at `peer` after our pull mark, as `sync` does, claiming
    /// each id in `fetching` first so that a body another link or session of this
    /// process is bringing in does not cross twice.
    pub async fn pull(
        &mut self,
        node: &mut Node,
        peer: &PeerConfig,
        report: &mut PeerReport,
        fetching: &Fetching,
    ) -> Result<()> {
        pull_reserving(node, &peer.name, &mut self.conn, report, Some(fetching)).await
    }

    /// Waits (`MESH IDLE`) until the neighbour has an arrival after `seq`, or until
    /// `ours` resolves (we have something to push: `DONE` ends the wait).
    pub async fn idle(&mut self, seq: i64, ours: impl Future<Output = ()>) -> Result<Idled> {
        let seq = u64::try_from(seq).unwrap_or(0);
        Command::Mesh(MeshCommand::Idle { seq }).write(self.conn.out());
        self.conn.flush().await?;
        self.conn.set_timeout(self.io_timeout + IDLE_GRACE);
        // Reading an answer line can be dropped half-way and begun again: bytes read stay
        // in the connection's buffer.
        let r = tokio::select! {
            r = response(&mut self.conn) => r?,
            () = ours => {
                self.conn.out().extend_from_slice(IDLE_DONE);
                self.conn.out().extend_from_slice(b"\r\n");
                response(&mut self.conn).await?
            }
        };
        self.conn.set_timeout(self.io_timeout);
        match r.code {
            294 => Ok(Idled::Pull),
            503 => Ok(Idled::NotNeeded),
            _ => Err(crate::error::Error::Peer(format!(
                "MESH IDLE: peer answered {} {}",
                r.code, r.text
            ))),
        }
    }

    /// A cheap command (DATE) so that neither side's idle timeout closes a quiet link,
    /// and a dead one is noticed before an article waits on it.
    pub async fn keepalive(&mut self) -> Result<()> {
        let r = command(&mut self.conn, &Command::Date).await?;
        expect(&r, 111, "DATE")
    }

    /// Resolves when the neighbour hangs up (or speaks unasked) while the link is quiet:
    /// an error to end the link with.
    pub async fn hung_up(&mut self) -> crate::error::Error {
        match self.conn.readable().await {
            Err(e) => e.into(),
            Ok(()) => crate::error::Error::Peer("the peer spoke unasked".into()),
        }
    }

    /// Says QUIT (without waiting long for a peer that does not answer) and closes.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            command(&mut self.conn, &Command::Quit),
        )
        .await;
        self.conn.shutdown().await;
    }
}
