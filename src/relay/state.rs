//! `live.state` in the home: which of a running `serve`'s live links are up, and how
//! many bodies each moved, for `newsmesh status` (another process). Rewritten whole
//! (atomically) when a link comes up or goes down or is closed, and at most once a
//! [`FLUSH_EVERY`] for the counts, never per article; emptied when the relay starts
//! (a killed `serve` leaves one behind) and removed when it stops. `status` believes it
//! only while `serve.state` says a `serve` runs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::home::Home;
use crate::records::{self, LinkState};
use crate::sync::PeerReport;

/// How often counts that changed are written out.
pub(super) const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The relay thread's view of its links, written to `live.state` on every change.
pub(super) struct Board {
    path: PathBuf,
    links: RefCell<BTreeMap<String, LinkState>>,
    /// Counts changed since the last write.
    dirty: std::cell::Cell<bool>,
}

impl Board {
    /// A board with no link yet (replacing what a killed `serve` may have left).
    pub(super) fn new(home: &Home) -> Board {
        let board = Board {
            path: home.live_state_path(),
            links: RefCell::new(BTreeMap::new()),
            dirty: std::cell::Cell::new(false),
        };
        board.clear();
        board
    }

    /// Records `peer`'s link state when it changed.
    pub(super) fn set(&self, peer: &str, up: bool, receives: bool, error: Option<String>) {
        let mut links = self.links.borrow_mut();
        let before = links.get(peer);
        if before.is_some_and(|s| s.up == up && s.receives == receives) {
            return;
        }
        let state = LinkState {
            up,
            since: crate::spool::now(),
            receives,
            error,
            ..before.cloned().unwrap_or_default()
        };
        links.insert(peer.to_string(), state);
        drop(links);
        self.write();
    }

    /// Adds what one push or pull over `peer`'s link moved (written at the next flush).
    pub(super) fn count(&self, peer: &str, report: &PeerReport) {
        if report.outcome.sent + report.outcome.received + report.duplicates == 0 {
            return;
        }
        let mut links = self.links.borrow_mut();
        if let Some(state) = links.get_mut(peer) {
            state.sent += report.outcome.sent;
            state.received += report.outcome.received;
            state.duplicates += report.duplicates;
            self.dirty.set(true);
        }
    }

    /// Writes the counts out if they changed since the last write.
    pub(super) fn flush(&self) {
        if self.dirty.get() {
            self.write();
        }
    }

    /// Drops `peer`'s link (closed: the peer was removed or is no longer live).
    pub(super) fn forget(&self, peer: &str) {
        if self.links.borrow_mut().remove(peer).is_some() {
            self.write();
        }
    }

    fn write(&self) {
        self.dirty.set(false);
        records::write(&self.path, &*self.links.borrow(), "live links");
    }

    /// Removes the record (the relay starts or stopped).
    pub(super) fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
