//! `live.state` in the home: which of a running `serve`'s live links are up, for
//! `newsmesh status` (another process). Rewritten whole (atomically) when a link comes
//! up or goes down, never per article; removed when the relay stops. `status` believes it
//! only while `serve.state` says a `serve` runs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::home::Home;

/// One live link, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// Whether the link is connected and authenticated.
    pub up: bool,
    /// Unix seconds it came up or went down.
    pub since: i64,
    /// Whether it also receives (`MESH IDLE`: the neighbour cannot dial us).
    pub receives: bool,
    /// Why it went down (null while up).
    pub error: Option<String>,
}

/// The relay thread's view of its links, written to `live.state` on every change.
pub(super) struct Board {
    path: PathBuf,
    links: RefCell<BTreeMap<String, LinkState>>,
}

impl Board {
    pub(super) fn new(home: &Home) -> Board {
        Board {
            path: home.live_state_path(),
            links: RefCell::new(BTreeMap::new()),
        }
    }

    /// Records `peer`'s link state when it changed.
    pub(super) fn set(&self, peer: &str, up: bool, receives: bool, error: Option<String>) {
        let mut links = self.links.borrow_mut();
        if links
            .get(peer)
            .is_some_and(|s| s.up == up && s.receives == receives)
        {
            return;
        }
        let state = LinkState {
            up,
            since: crate::spool::now(),
            receives,
            error,
        };
        links.insert(peer.to_string(), state);
        let written = serde_json::to_vec(&*links)
            .map_err(std::io::Error::other)
            .and_then(|json| crate::home::write_atomically(&self.path, &json));
        if let Err(e) = written {
            tracing::warn!(
                "{}: {e}; `status` will not show live links",
                self.path.display()
            );
        }
    }

    /// Removes the record (the relay stopped).
    pub(super) fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The live links of the running `serve` (empty when there is none, or no record).
pub fn read(home: &Home) -> BTreeMap<String, LinkState> {
    if crate::status::running(home).is_none() {
        return BTreeMap::new();
    }
    std::fs::read(home.live_state_path())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}
