//! `sync`'s side of set reconciliation (`crate::reconcile`): on first contact with a
//! neighbour, after its spool was rebuilt (a new epoch) and on `sync --reconcile` (all
//! three leave the pull marks "full"), the two spools are compared by `MESH RECONCILE`
//! instead of listing every arrival (`MESH SINCE none`) and offering every one of ours
//! with CHECK: the bytes follow the difference, not the history.
//!
//! What it finds goes the usual ways: the ids the neighbour has and we lack are fetched
//! as a pull fetches (`pull::fetch`), the ids we have and it lacks are offered as a push
//! offers (`push::push_from`). The neighbour's epoch and last arrival when the exchange
//! began become our pull mark, our last arrival then our push mark (once every offer is
//! answered), so arrival marks carry on from there. A neighbour without the capability,
//! busy, or too different ([`crate::reconcile::MAX_DIFFERENCES`]) is listed as before;
//! one that breaks the protocol fails the exchange.

use super::conn::{command, expect, response};
use super::intake::Intake;
use super::pull::{fetch, pull};
use super::push::{push_from, Recipient};
use super::PeerReport;
use crate::error::{Error, Result};
use crate::home::Node;
use crate::net::Conn;
use crate::protocol::mesh::MAX_EPOCH;
use crate::protocol::{write_block, Command, MeshCommand};
use crate::reconcile::wire::{from_block, to_block, MAX_BLOCK_BYTES};
use crate::reconcile::{msgid_of, Initiator, ReconcileError};

/// The capability line a neighbour that serves `MESH RECONCILE` lists.
pub const CAPABILITY: &str = "X-NEWSMESH-RECONCILE V1";

/// Benchmark knob: when this environment variable is set, `sync` does not reconcile (it
/// lists, as before reconciliation existed), so both can be measured by one build. Not
/// meant for operators.
pub const OFF_ENV: &str = "NEWSMESH_BENCH_NO_RECONCILE";

/// What a reconciliation leaves for the push: the Message-IDs the neighbour lacks, and
/// our last arrival when it began.
pub(super) struct Reconciled {
    have: Vec<String>,
    our_last: i64,
}

/// Whether the marks ask for the whole sets to be compared.
fn due(node: &Node, peer: &str) -> Result<bool> {
    let marks = node.spool.marks(peer)?;
    Ok(marks.pull_epoch.is_empty() || marks.pull_full)
}

/// The pull of an exchange: reconciles first when due (and again if the pull finds the
/// neighbour's spool rebuilt), then pulls from the marks.
pub(super) async fn pull_reconciling(
    node: &mut Node,
    peer: &str,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<Option<Reconciled>> {
    let mut reconciled = None;
    if due(node, peer)? {
        reconciled = reconcile(node, peer, conn, report).await?;
    }
    pull(node, peer, conn, report).await?;
    if reconciled.is_none() && due(node, peer)? {
        // The pull met a new epoch and stopped there: compare the sets now, or list all.
        reconciled = reconcile(node, peer, conn, report).await?;
        pull(node, peer, conn, report).await?;
        if due(node, peer)? {
            // It stopped at yet another epoch: not a rebuilt spool but a broken or
            // hostile peer; restarting again would never end.
            return Err(Error::Peer(
                "peer changed its spool epoch twice in one exchange; giving up until the next sync"
                    .into(),
            ));
        }
    }
    Ok(reconciled)
}

/// Offers the neighbour what it lacks (after MODE STREAM), then moves the push mark to
/// where the reconciliation began; returns whether the usual push should follow. When
/// the peer deferred an offer (431), the mark stays before it and this exchange pushes
/// no more: the next one offers from the mark again (each deferral counted once).
pub(super) async fn offer(
    node: &mut Node,
    target: &Recipient<'_>,
    conn: &mut Conn,
    report: &mut PeerReport,
    reconciled: Option<Reconciled>,
) -> Result<bool> {
    let Some(reconciled) = reconciled else {
        return Ok(true);
    };
    let arrivals = node.spool.arrivals_of(&reconciled.have)?;
    if !push_from(node, target, conn, report, Some(arrivals)).await? {
        return Ok(false);
    }
    node.spool
        .advance_push_mark(target.name, reconciled.our_last)?;
    Ok(true)
}

/// Whether the neighbour lists [`CAPABILITY`].
async fn offered(conn: &mut Conn) -> Result<bool> {
    if std::env::var_os(OFF_ENV).is_some() {
        return Ok(false);
    }
    let r = command(conn, &Command::Capabilities).await?;
    if r.code != 101 {
        // A neighbour without CAPABILITIES (RFC 977 software) has no reconciliation.
        return Ok(false);
    }
    let list = conn.read_block(64 * 1024).await?;
    Ok(String::from_utf8_lossy(&list)
        .lines()
        .any(|line| line.trim().eq_ignore_ascii_case(CAPABILITY)))
}

/// `<epoch> <last seq>` at the start of a 295/296 answer.
fn parse_answer(text: &str) -> Option<(String, i64)> {
    let mut words = text.split_whitespace();
    let (epoch, last) = (words.next()?, words.next()?);
    let is_epoch = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    if epoch.len() > MAX_EPOCH || !epoch.chars().all(is_epoch) {
        return None;
    }
    Some((
        epoch.to_string(),
        last.parse().ok().filter(|n: &i64| *n >= 0)?,
    ))
}

fn broken(why: impl std::fmt::Display) -> Error {
    Error::Peer(format!("MESH RECONCILE: {why}"))
}

/// Runs one reconciliation and fetches what it finds missing here; None when the
/// neighbour cannot reconcile now (the pull lists instead).
async fn reconcile(
    node: &mut Node,
    peer: &str,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<Option<Reconciled>> {
    if !offered(conn).await? {
        return Ok(None);
    }
    let our_last = node.spool.last_seq()?;
    // Over what our age window lists, as the neighbour answers over its own.
    let age = crate::admission::AgeLimits::from_config(&node.config);
    let now = crate::clock::now();
    let (oldest, newest) = (
        now.saturating_sub(age.max_age_secs),
        now.saturating_add(age.max_future_secs),
    );
    let mut initiator = Initiator::new();
    let first = node
        .spool
        .read_with(|spool| initiator.start(&spool.reconcile_items().within(oldest, newest)))?
        .map_err(broken)?;
    Command::Mesh(MeshCommand::Reconcile).write(conn.out());
    write_block(conn.out(), &to_block(&first));
    conn.flush().await?;
    let mut theirs: Option<(String, i64)> = None;
    let gave_up = loop {
        let r = response(conn).await?;
        if r.code != 295 {
            if theirs.is_none() && matches!(r.code, 403 | 436) {
                tracing::info!(
                    "peer {peer} cannot reconcile now ({} {}); listing",
                    r.code,
                    r.text
                );
                return Ok(None);
            }
            return Err(broken(format!("peer answered {} {}", r.code, r.text)));
        }
        let answer = parse_answer(&r.text).ok_or_else(|| broken(format!("answer {}", r.text)))?;
        if theirs.get_or_insert_with(|| answer.clone()) != &answer {
            return Err(broken(
                "the peer's epoch or sequence changed between rounds",
            ));
        }
        let block = conn.read_block(MAX_BLOCK_BYTES).await?;
        let message = from_block(&block).map_err(broken)?;
        let next = node.spool.read_with(|spool| {
            initiator.reconcile(&spool.reconcile_items().within(oldest, newest), &message)
        })?;
        match next {
            Ok(Some(next)) => {
                write_block(conn.out(), &to_block(&next));
                conn.flush().await?;
            }
            Ok(None) => break false,
            Err(e @ (ReconcileError::TooManyRounds | ReconcileError::TooManyDifferences)) => {
                tracing::info!("peer {peer}: {e}; listing instead");
                break true;
            }
            Err(e) => return Err(broken(e)),
        }
    };
    // An empty block ends the exchange either way.
    write_block(conn.out(), b"");
    let r = command_flushed(conn).await?;
    expect(&r, 296, "MESH RECONCILE")?;
    let Some((epoch, their_last)) = theirs.filter(|_| !gave_up) else {
        return Ok(None);
    };
    let rounds = initiator.rounds();
    let differences = initiator.into_differences();
    // One read transaction for the history lookups.
    let need = node.spool.read_with(|spool| -> Result<Vec<String>> {
        let mut need = Vec::with_capacity(differences.need.len());
        for id in &differences.need {
            let msgid = msgid_of(id);
            if !spool.seen(&msgid)? {
                need.push(msgid);
            }
        }
        Ok(need)
    })??;
    // (benches/sync.rs reads this line for its rounds.)
    tracing::info!(
        "reconciled with {peer} in {rounds} rounds: {} to fetch, {} to offer",
        need.len(),
        differences.have.len()
    );
    let mut intake = Intake::default();
    fetch(node, &need, conn, report, &mut intake).await?;
    let mut marks = node.spool.marks(peer)?;
    marks.pull_epoch = epoch;
    marks.pull_seq = their_last;
    marks.pull_full = false;
    node.spool.set_pull_marks(peer, &marks)?;
    Ok(Some(Reconciled {
        have: differences.have.iter().map(msgid_of).collect(),
        our_last,
    }))
}

/// Sends what is queued and reads one answer.
async fn command_flushed(conn: &mut Conn) -> Result<crate::protocol::Response> {
    conn.flush().await?;
    response(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_before_they_become_marks() {
        assert_eq!(parse_answer("e_1 42"), Some(("e_1".into(), 42)));
        assert_eq!(
            parse_answer("e 0 reconciled in 3 rounds"),
            Some(("e".into(), 0))
        );
        for bad in [
            "",
            "e",
            "e x",
            "e -1",
            "e/x 1",
            &format!("{} 1", "e".repeat(65)),
        ] {
            assert_eq!(parse_answer(bad), None, "{bad:?}");
        }
    }
}
