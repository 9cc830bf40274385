//! The hub's side of a live link it did not dial: a neighbour behind NAT keeps its own
//! link to us and waits on it with `MESH IDLE` (`server/feed/idle.rs`), so our relay
//! reaches it though we cannot dial it. Those neighbours are recorded here (subscribed:
//! up since when; down since when once the last such session ended) and written to
//! `live-in.state` in the home for `newsmesh status`, like `live.state` for the links we
//! dial: rewritten whole when a neighbour's state changes (its first `MESH IDLE` on a
//! connection, the end of that connection), never per article; emptied when `serve`
//! starts and removed when it stops, and believed only while `serve.state` says a
//! `serve` runs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::home::Home;
use crate::records::{self, InboundLink};

#[derive(Debug, Default)]
struct Table {
    /// Subscribed session → its neighbour.
    sessions: HashMap<u64, String>,
    /// Per neighbour, what `status` shows.
    links: BTreeMap<String, InboundLink>,
}

/// The neighbours subscribed to this `serve`, shared by its sessions.
#[derive(Debug)]
pub struct Subscribers {
    path: PathBuf,
    table: Mutex<Table>,
    /// Held while the file is written, so writes land in the order of the changes
    /// (each writes the table as it is when its turn comes).
    writing: Mutex<()>,
}

impl Subscribers {
    /// No subscriber yet (replacing what a killed `serve` may have left).
    pub fn new(home: &Home) -> Subscribers {
        let subscribers = Subscribers {
            path: home.live_in_state_path(),
            table: Mutex::new(Table::default()),
            writing: Mutex::new(()),
        };
        subscribers.clear();
        subscribers
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Session `session` of neighbour `peer` waits with `MESH IDLE` (again: the first
    /// time counts).
    pub fn subscribed(self: &Arc<Self>, peer: &str, session: u64) {
        {
            let mut table = self.table();
            if table.sessions.contains_key(&session) {
                return;
            }
            table.sessions.insert(session, peer.to_string());
            let up = table.links.get(peer).is_some_and(|l| l.up);
            if up {
                return;
            }
            let link = InboundLink {
                up: true,
                since: crate::spool::now(),
            };
            table.links.insert(peer.to_string(), link);
        }
        self.write();
    }

    /// Session `session` ended; its neighbour is down unless another of its sessions is
    /// still subscribed.
    pub fn ended(self: &Arc<Self>, session: u64) {
        {
            let mut table = self.table();
            let Some(peer) = table.sessions.remove(&session) else {
                return;
            };
            if table.sessions.values().any(|p| *p == peer) {
                return;
            }
            let link = InboundLink {
                up: false,
                since: crate::spool::now(),
            };
            table.links.insert(peer, link);
        }
        self.write();
    }

    /// Writes the table on the blocking pool when there is a runtime (a file write
    /// and its fsync must not hold a server thread), here otherwise.
    fn write(self: &Arc<Self>) {
        let this = Arc::clone(self);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || this.write_now());
            }
            Err(_) => this.write_now(),
        }
    }

    fn write_now(&self) {
        let _turn = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        // A copy: sessions must not wait on the table while the file is written.
        let links = self.table().links.clone();
        records::write(&self.path, &links, "neighbours' live links");
    }

    /// Removes the record (`serve` starts or stops).
    pub fn clear(&self) {
        let _turn = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(home: &Home) -> BTreeMap<String, InboundLink> {
        serde_json::from_slice(&std::fs::read(home.live_in_state_path()).unwrap()).unwrap()
    }

    #[test]
    fn a_neighbour_is_up_while_any_of_its_sessions_is_subscribed() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        std::fs::write(home.live_in_state_path(), b"left by a killed serve").unwrap();
        let subs = Arc::new(Subscribers::new(&home));
        assert!(!home.live_in_state_path().exists());
        subs.subscribed("nat", 1);
        subs.subscribed("nat", 1);
        subs.subscribed("nat", 2);
        assert!(links(&home)["nat"].up);
        subs.ended(1);
        assert!(links(&home)["nat"].up, "session 2 still idles");
        subs.ended(7);
        subs.ended(2);
        assert!(!links(&home)["nat"].up);
        subs.clear();
        assert!(!home.live_in_state_path().exists());
    }
}
