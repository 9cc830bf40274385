//! The dialling side of a live link, for `serve`'s relay (`crate::relay`): the same
//! connection, handshake and push (CHECK/TAKETHIS, Path and feed filters, marks advanced
//! only on 239) as `sync`'s exchange, on a connection kept open between pushes.

use ed25519_dalek::SigningKey;

use super::auth::authenticate;
use super::conn::{command, dial, expect, greeting};
use super::push::{push, Target};
use super::PeerReport;
use crate::config::PeerConfig;
use crate::error::Result;
use crate::home::Node;
use crate::net::Conn;
use crate::protocol::Command;

/// An authenticated streaming connection to one neighbour.
pub struct PushLink {
    conn: Conn,
}

impl PushLink {
    /// Dials `peer`, authenticates both ways and enters MODE STREAM, within the
    /// configured connect and per-answer timeouts.
    pub async fn open(node: &Node, node_key: &SigningKey, peer: &PeerConfig) -> Result<PushLink> {
        let limits = &node.config.limits;
        let mut conn = dial(&peer.name, peer.address.as_deref(), limits).await?;
        greeting(&mut conn).await?;
        authenticate(node_key, peer, &mut conn).await?;
        let r = command(&mut conn, &Command::ModeStream).await?;
        expect(&r, 203, "MODE STREAM")?;
        Ok(PushLink { conn })
    }

    /// Offers `peer` everything after its push mark, as `sync` would; returns when every
    /// offer has its answer and the mark is saved.
    pub async fn push(
        &mut self,
        node: &mut Node,
        peer: &PeerConfig,
        report: &mut PeerReport,
    ) -> Result<()> {
        let target = Target {
            name: &peer.name,
            feed: peer.feed(),
        };
        push(node, &target, &mut self.conn, report).await
    }

    /// A cheap command (DATE) so that neither side's idle timeout closes a quiet link,
    /// and a dead one is noticed before an article waits on it.
    pub async fn keepalive(&mut self) -> Result<()> {
        let r = command(&mut self.conn, &Command::Date).await?;
        expect(&r, 111, "DATE")
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
