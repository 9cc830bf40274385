//! One sync with one mesh neighbour, over one connection, all of it within the
//! session's deadline (`limits.sync_deadline_secs`):
//!
//! 1. authenticate both ways (`auth.rs`);
//! 2. pull what arrived there since our mark (`pull.rs`), reconciling the two sets
//!    first on first contact or after its spool was rebuilt (`reconcile.rs`);
//! 3. push our arrivals since its mark (`push.rs`).
//!
//! Pull runs first so that a rebuilt peer (new epoch) is noticed before we push, and
//! everything is offered to it again; duplicate suppression makes re-offers harmless.

use ed25519_dalek::SigningKey;

use super::auth::{authenticate, compress, secure};
use super::conn::{command, dial, expect, greeting, hang_up, Deadline};
use super::push::{push, Target};
use super::reconcile;
use super::PeerReport;
use crate::config::PeerConfig;
use crate::error::Result;
use crate::home::Node;
use crate::net::Conn;
use crate::protocol::Command;

/// Runs the whole exchange with `peer`, filling `report`.
pub async fn exchange(
    node: &mut Node,
    node_key: &SigningKey,
    peer: &PeerConfig,
    report: &mut PeerReport,
) -> Result<()> {
    // `tls=yes` only once the link runs over TLS (a sync refused at connect did not).
    report.tls = false;
    let deadline = Deadline::start(&node.config.limits);
    let limits = node.config.limits.clone();
    let mut conn = deadline
        .bound(dial(&peer.name, peer.address.as_deref(), &limits))
        .await?;
    let result = deadline
        .bound(run(node, node_key, peer, &mut conn, report))
        .await;
    hang_up(conn, result, report).await
}

async fn run(
    node: &mut Node,
    node_key: &SigningKey,
    peer: &PeerConfig,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    let greeted_as = greeting(conn).await?;
    super::greeted::warn_if_named_otherwise(&peer.name, greeted_as.as_deref());
    secure(node_key, peer, conn).await?;
    report.tls = peer.tls;
    authenticate(node_key, peer, conn).await?;
    if peer.compress {
        compress(conn).await?;
    }
    // First contact, a rebuilt peer or `--reconcile`: set reconciliation, then the pull.
    let reconciled = reconcile::pull_reconciling(node, &peer.name, conn, report).await?;
    let r = command(conn, &Command::ModeStream).await?;
    expect(&r, 203, "MODE STREAM")?;
    let target = Target {
        name: &peer.name,
        feed: peer.feed(),
    };
    // (After a reconciliation whose offers were deferred, the next sync offers again.)
    if reconcile::offer(node, &target, conn, report, reconciled).await? {
        push(node, &target, conn, report).await?;
    }
    Ok(())
}
