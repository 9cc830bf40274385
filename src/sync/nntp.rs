//! Feeding a plain news server (`[[nntp_peer]]`, e.g. INN) that cannot prove a node key:
//! no MESH handshake and no pull (such a server feeds us itself, from its own newsfeeds);
//! our new arrivals go out with MODE STREAM (CHECK/TAKETHIS, `push.rs`) when the server
//! streams, else one IHAVE per article (RFC 3977 §6.3.2). Like a mesh exchange, the
//! whole session has a deadline.

use super::conn::{command, dial, expect, greeting, hang_up, response, Deadline};
use super::push::{next_offer, push, Recipient};
use super::{peer_refused, PeerReport};
use crate::config::NntpPeerConfig;
use crate::error::{Error, Result};
use crate::home::Node;
use crate::net::Conn;
use crate::protocol::{write_block, Command};

/// Feeds `server` everything new since its mark.
pub async fn feed(node: &mut Node, server: &NntpPeerConfig, report: &mut PeerReport) -> Result<()> {
    let deadline = Deadline::start(&node.config.limits);
    let limits = node.config.limits.clone();
    let mut conn = deadline
        .bound(dial(&server.name, server.address.as_deref(), &limits))
        .await?;
    let target = Recipient {
        name: &server.name,
        feed: server.feed(),
    };
    let result = deadline
        .bound(async {
            greeting(&mut conn).await?;
            let mode = command(&mut conn, &Command::ModeStream).await?;
            if mode.code == 203 {
                push(node, &target, &mut conn, report).await
            } else {
                push_ihave(node, &target, &mut conn, report).await
            }
        })
        .await;
    hang_up(conn, result, report).await
}

/// One IHAVE round trip per article: 335 send it, 435 not wanted, 436 later.
async fn push_ihave(
    node: &mut Node,
    target: &Recipient<'_>,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    let mut marks = node.spool.marks(target.name)?;
    loop {
        let offer = next_offer(node, target, marks.push_seq, marks.resync_through)?;
        let Some(last) = offer.last_seq else {
            return Ok(());
        };
        for (seq, id) in &offer.ids {
            // Read before offering: once the server answers 335 it must get the
            // article, so one expired since it was listed is skipped here (as `push`
            // skips it), never sent empty.
            let Some(stored) = node.spool.article(id)? else {
                continue;
            };
            let r = command(conn, &Command::Ihave(id.clone())).await?;
            match r.code {
                335 => {}
                435 => continue,
                436 => {
                    // Try again next time: keep the mark before this article.
                    marks.push_seq = seq - 1;
                    node.spool.set_marks(target.name, &marks)?;
                    return Ok(());
                }
                _ => {
                    return Err(Error::Peer(format!(
                        "IHAVE {id}: server answered {} {}",
                        r.code, r.text
                    )))
                }
            }
            write_block(conn.out(), &stored.raw);
            conn.flush().await?;
            let r = response(conn).await?;
            match r.code {
                235 => report.outcome.sent += 1,
                437 => peer_refused(node, report, id, &r.text),
                _ => expect(&r, 235, &format!("IHAVE {id} transfer"))?,
            }
        }
        marks.push_seq = last;
        node.spool.set_marks(target.name, &marks)?;
    }
}
