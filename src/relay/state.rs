//! `live.state` in the home: which of a running `serve`'s live links are up, and how
//! many bodies each moved, for `newsmesh status` (another process). Rewritten whole
//! (atomically) when a link comes up or goes down or is closed, and at most once a
//! [`FLUSH_EVERY`] for the counts, never per article; emptied when the relay starts
//! (a killed `serve` leaves one behind) and removed when it stops. `status` believes it
//! only while `serve.state` says a `serve` runs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::home::Home;
use crate::sync::PeerReport;

/// How often counts that changed are written out.
pub(super) const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// One live link, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// Whether the link is connected and authenticated.
    pub up: bool,
    /// Unix seconds it came up or went down.
    pub since: i64,
    /// Whether it also receives (`MESH IDLE`: the neighbour cannot dial us).
    pub receives: bool,
    /// Why it went down (null while up).
    pub error: Option<String>,
    /// Articles it sent the neighbour (the neighbour took them) since `serve` started or
    /// a reload changed the peer's entry; the same for the two counts below.
    #[serde(default)]
    pub sent: u64,
    /// Articles it brought in from the neighbour and stored.
    #[serde(default)]
    pub received: u64,
    /// Bodies it brought in that were here already (another link or session was
    /// first): each one a body that crossed into this node twice.
    #[serde(default)]
    pub duplicates: u64,
}

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
        if report.sent + report.received + report.duplicates == 0 {
            return;
        }
        let mut links = self.links.borrow_mut();
        if let Some(state) = links.get_mut(peer) {
            state.sent += report.sent;
            state.received += report.received;
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
        write_record(&self.path, &*self.links.borrow(), "live links");
    }

    /// Removes the record (the relay starts or stopped).
    pub(super) fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The live links of the running `serve` (empty when there is none, or no record).
pub fn read(home: &Home) -> BTreeMap<String, LinkState> {
    read_record(home, &home.live_state_path())
}

/// Writes `record` whole (atomically) as JSON to `path`, a state file `status` reads; a
/// failure is only a warning (`status` then misses `what`).
pub(super) fn write_record<T: Serialize>(path: &Path, record: &T, what: &str) {
    let written = serde_json::to_vec(record)
        .map_err(std::io::Error::other)
        .and_then(|json| crate::home::write_atomically(path, &json));
    if let Err(e) = written {
        tracing::warn!("{}: {e}; `status` will not show {what}", path.display());
    }
}

/// The record at `path` of the running `serve`: empty when none runs (a killed one may
/// have left its files) or there is no readable record.
pub(super) fn read_record<T: DeserializeOwned + Default>(home: &Home, path: &Path) -> T {
    if crate::status::running(home).is_none() {
        return T::default();
    }
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}
