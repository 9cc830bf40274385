//! `MESH IDLE <seq>`: a neighbour that dialled us (a node behind NAT, which we cannot
//! dial) waits on its own connection for our next arrival, so our live relay reaches
//! it too. One answer line, `294 <our last arrival seq>`, comes as soon as that is past
//! `seq`, when the client sends `DONE` (it has something to push), when the server
//! stops, or after [`MAX_WAIT`] (at most a third of the idle timeout; the client simply
//! idles again); the
//! client then fetches what is new with `MESH SINCE` + `ARTICLE`, as `sync` does. A
//! neighbour our own relay dials gets `503`: it needs no subscription. A neighbour
//! waiting here is recorded as subscribed (`relay::Subscribers`) until its connection
//! ends, so the hub's `status` shows the live link it did not dial.

use std::time::Duration;

use super::super::session::Session;
use crate::error::Error;
use crate::net::NetError;
use crate::protocol::mesh::IDLE_DONE;
use crate::protocol::MAX_COMMAND_LINE;

/// How often articles stored by other processes (`post`, `sync`) are looked for; our
/// own commits wake the wait at once.
const POLL: Duration = Duration::from_millis(250);

/// The longest wait before answering anyway: within a client's usual per-answer
/// timeout plus the grace it gives `MESH IDLE`, so a quiet link is not taken for dead.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(25);

pub(super) async fn idle(s: &mut Session, seq: u64) -> Result<(), NetError> {
    let Some(peer) = s.peer.clone() else {
        s.reply(480, "authenticate first (MESH HELLO)");
        return Ok(());
    };
    // Our sequence numbers are SQLite's i64: a larger one is none of ours (and `as`
    // would wrap it negative: every wait would end at once).
    let Ok(seq) = i64::try_from(seq) else {
        s.reply(501, "sequence number out of range");
        return Ok(());
    };
    let config = s.shared.live();
    let dialled = config
        .config
        .peer(&peer)
        .is_some_and(|p| p.live && p.address.is_some());
    if dialled {
        // (A reload may have given it an address since it subscribed.)
        s.shared.subscribers.ended(s.id);
        s.reply(503, "not needed: this node's live relay dials you");
        return Ok(());
    }
    // Its live link waits here: `status` shows it subscribed until the connection ends.
    s.shared.subscribers.subscribed(&peer, s.id);
    let wait =
        Duration::from_secs((config.config.limits.idle_timeout_secs / 3).max(1)).min(MAX_WAIT);
    let until = tokio::time::Instant::now() + wait;
    let mut arrivals = s.shared.arrivals.clone();
    arrivals.borrow_and_update();
    let mut stopping = s.shared.stopping.clone();
    let mut open = true;
    s.conn.flush().await?;
    loop {
        let last = s
            .shared
            .with_spool(|_, spool| Ok::<_, Error>(spool.last_seq()?))
            .await;
        let last = match last {
            Ok(last) => last,
            Err(e) => {
                tracing::error!("spool failure: {e}");
                s.reply(403, "internal fault, try again later");
                return Ok(());
            }
        };
        let done = |s: &mut Session| s.reply(294, &last.to_string());
        if last > seq || tokio::time::Instant::now() >= until || *stopping.borrow() {
            done(s);
            return Ok(());
        }
        tokio::select! {
            line = s.conn.read_line(MAX_COMMAND_LINE) => {
                let line = line?;
                if line.trim_ascii() != IDLE_DONE {
                    // Anything else ends the wait as well, but the line is lost: say so.
                    s.reply(501, "expected DONE during MESH IDLE");
                }
                done(s);
                return Ok(());
            }
            changed = arrivals.changed(), if open => open = changed.is_ok(),
            _ = stopping.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}
