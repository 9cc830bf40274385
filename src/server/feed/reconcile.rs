//! `MESH RECONCILE`: the responder's side of set reconciliation (`crate::reconcile`) for
//! an authenticated neighbour. The command is followed by the client's first message as
//! a block (`reconcile::wire`); each message gets `295 <epoch> <last arrival seq>` and our
//! answer as a block, then the client sends its next block, an empty one once it has
//! learnt what it needed (`296`). The client then fetches what we have (ARTICLE), offers
//! what we lack (CHECK/TAKETHIS) and takes our epoch and sequence as its pull mark.
//!
//! The set answered is what the neighbour's feed pattern takes (the articles a listing
//! would show it, whoever delivered them). The responder keeps no state between rounds
//! beyond their count. Each reconciliation
//! reads the spool on a connection of its own (the server's one connection is not held
//! while a million-article range is scanned), [`AT_ONCE`] at a time across the server;
//! a message that does not decode, is larger than its frame, or comes after
//! [`MAX_ROUNDS`] rounds ends the connection.

use tokio::sync::Semaphore;

use super::super::session::Session;
use crate::net::NetError;
use crate::protocol::Response;
use crate::reconcile::wire::{from_block, to_block, MAX_BLOCK_BYTES};
use crate::reconcile::{respond, ReconcileError, MAX_ROUNDS};
use crate::spool::Spool;
use crate::wildmat::Wildmat;

/// Reconciliations served at once; another neighbour gets `436` and lists instead.
pub(crate) const AT_ONCE: usize = 2;
static SLOTS: Semaphore = Semaphore::const_new(AT_ONCE);

/// The span of Dates the node's age window (`admission::AgeLimits`) lists now.
pub(crate) fn window(config: &crate::config::Config) -> (i64, i64) {
    let age = crate::admission::AgeLimits::from_config(config);
    let now = crate::clock::now();
    (
        now.saturating_sub(age.max_age_secs),
        now.saturating_add(age.max_future_secs),
    )
}

/// Ends the connection of a peer that broke the exchange's rules, after telling it why.
async fn cut_off(s: &mut Session, why: &str) -> Result<(), NetError> {
    tracing::warn!("{}: reconciliation: {why}; closing", s.addr);
    s.reply(501, &format!("reconciliation refused: {why}"));
    s.conn.flush().await?;
    Err(NetError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("reconciliation peer cut off: {why}"),
    )))
}

/// Reads the client's next message block; None when it was cut off for its size.
async fn next_block(s: &mut Session) -> Result<Option<Vec<u8>>, NetError> {
    match s.conn.read_block(MAX_BLOCK_BYTES).await {
        Ok(block) => Ok(Some(block)),
        Err(NetError::Protocol(e)) => {
            cut_off(s, &format!("message block too large ({e})")).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn reconcile(s: &mut Session) -> Result<(), NetError> {
    // The first block follows the command whatever we answer: read it first, so the
    // connection stays in step when we refuse.
    let Some(mut block) = next_block(s).await? else {
        return Ok(());
    };
    let Some(peer) = s.peer.clone() else {
        s.reply(480, "authenticate first (MESH HELLO)");
        return Ok(());
    };
    // Only what its feed pattern takes: it must not learn of (and fetch) the rest.
    let feed = s
        .live
        .config
        .peer(&peer)
        .map(|p| p.feed())
        .unwrap_or_else(|| Wildmat::new(""));
    // And only what our age window would list (as `MESH SINCE` does).
    let (oldest, newest) = window(&s.live.config);
    let Ok(_slot) = SLOTS.try_acquire() else {
        s.reply(
            436,
            "busy reconciling with others; list instead (MESH SINCE)",
        );
        return Ok(());
    };
    let path = s.shared.home.spool_path();
    let opened = tokio::task::spawn_blocking(move || {
        let spool = Spool::open(&path)?;
        let (epoch, last) = (spool.epoch()?, spool.last_seq()?);
        Ok::<_, crate::spool::SpoolError>((spool, epoch, last))
    })
    .await;
    let (mut spool, epoch, last) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => {
            tracing::error!("reconciliation: {e}");
            s.reply(403, "internal fault, try again later");
            return Ok(());
        }
        Err(e) => {
            tracing::error!("reconciliation task: {e}");
            s.reply(403, "internal fault, try again later");
            return Ok(());
        }
    };
    let mut rounds = 0;
    loop {
        let message = match from_block(&block) {
            Ok(message) => message,
            Err(e) => return cut_off(s, &e.to_string()).await,
        };
        if message.is_empty() {
            s.reply(
                296,
                &format!("{epoch} {last} reconciled in {rounds} rounds"),
            );
            return Ok(());
        }
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return cut_off(s, &format!("more than {MAX_ROUNDS} rounds")).await;
        }
        let feed = feed.clone();
        let answered = tokio::task::spawn_blocking(move || {
            let answer = spool.read_with(|spool| {
                let items = spool.reconcile_items_for(&feed).within(oldest, newest);
                respond(&items, &message)
            });
            (spool, answer)
        })
        .await;
        let answer = match answered {
            Ok((back, answer)) => {
                spool = back;
                answer
            }
            Err(e) => {
                tracing::error!("reconciliation task: {e}");
                s.reply(403, "internal fault, try again later");
                return Ok(());
            }
        };
        match answer {
            Ok(Ok(answer)) => {
                Response::with_block(295, format!("{epoch} {last}"), to_block(&answer))
                    .write(s.conn.out());
                s.conn.flush().await?;
            }
            Ok(Err(ReconcileError::Message(e))) => return cut_off(s, &e.to_string()).await,
            Ok(Err(e)) => {
                tracing::error!("reconciliation: {e}");
                s.reply(403, "internal fault, try again later");
                return Ok(());
            }
            Err(e) => {
                tracing::error!("reconciliation: {e}");
                s.reply(403, "internal fault, try again later");
                return Ok(());
            }
        }
        let Some(next) = next_block(s).await? else {
            return Ok(());
        };
        block = next;
    }
}
