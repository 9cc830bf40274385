//! Message-IDs this process is bringing in right now, so that a body crosses into the
//! node once even when several connections could bring it at the same moment: the live
//! relay's links pulling from two hubs that both just got the same article, and the
//! server's feed sessions answering CHECK ([`super::reservations`]).
//!
//! The table is the server's in-flight table (`Shared::in_flight`: Message-ID → owner),
//! shared with the relay; a pull claims its ids under an owner number of its own (from
//! [`super::RELAY_OWNERS`] up, never a server session's). An id another owner holds is not
//! fetched now but not given up either: the pull waits until that owner has released
//! it (stored, refused or gone), looks at its history again and fetches it itself if it
//! is still missing, so its pull mark never passes an article that is not here. A
//! holder that neither stores nor releases (a stalled feed session) delays the pull by
//! at most `limits.in_flight_timeout_secs`, the same bound the server gives a CHECK.

use std::collections::HashMap;
use std::sync::MutexGuard;

use super::InFlight;

/// One puller's claims on an [`InFlight`] table.
#[derive(Debug, Clone)]
pub struct Fetching {
    table: InFlight,
    owner: u64,
}

impl Fetching {
    /// Claims in `table` made as `owner`.
    pub fn new(table: InFlight, owner: u64) -> Fetching {
        Fetching { table, owner }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims every id of `ids` nobody else holds; returns the claimed ones (released
    /// when the guard drops: after their bodies are stored, or when the pull fails) and
    /// the ones another owner holds.
    pub fn claim(&self, ids: Vec<String>) -> (Claimed<'_>, Vec<String>) {
        let mut table = self.table();
        let (mut mine, mut held) = (Vec::new(), Vec::new());
        for id in ids {
            match table.get(&id) {
                Some(owner) if *owner != self.owner => held.push(id),
                _ => {
                    table.insert(id.clone(), self.owner);
                    mine.push(id);
                }
            }
        }
        let claimed = Claimed {
            fetching: self,
            ids: mine,
        };
        (claimed, held)
    }

    /// Whether another owner still holds any of `ids`.
    pub fn any_held(&self, ids: &[String]) -> bool {
        let table = self.table();
        ids.iter()
            .any(|id| table.get(id).is_some_and(|owner| *owner != self.owner))
    }
}

/// Ids claimed by one [`Fetching`], released on drop (only those it still owns: the
/// server releases an id whoever holds it when its article arrives by another way).
#[derive(Debug)]
pub struct Claimed<'a> {
    fetching: &'a Fetching,
    pub ids: Vec<String>,
}

impl Claimed<'_> {
    /// Gives back the claims on the ids `keep` refuses (found stored meanwhile).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut table = self.fetching.table();
        let owner = self.fetching.owner;
        self.ids.retain(|id| {
            let kept = keep(id);
            if !kept && table.get(id) == Some(&owner) {
                table.remove(id);
            }
            kept
        });
    }
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        let mut table = self.fetching.table();
        for id in &self.ids {
            if table.get(id) == Some(&self.fetching.owner) {
                table.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inflight::RELAY_OWNERS;
    use std::sync::Arc;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| format!("<{n}@x>")).collect()
    }

    #[test]
    fn an_id_is_fetched_by_one_owner_at_a_time_and_free_again_after() {
        let table = InFlight::default();
        let one = Fetching::new(Arc::clone(&table), RELAY_OWNERS);
        let two = Fetching::new(Arc::clone(&table), RELAY_OWNERS + 1);
        let (claimed, held) = one.claim(ids(&["a", "b"]));
        assert_eq!(claimed.ids, ids(&["a", "b"]));
        assert!(held.is_empty());
        let (mine, held) = two.claim(ids(&["b", "c"]));
        assert_eq!(mine.ids, ids(&["c"]));
        assert_eq!(held, ids(&["b"]));
        assert!(two.any_held(&held));
        drop(claimed);
        assert!(!two.any_held(&held));
        drop(mine);
        assert!(table.lock().unwrap().is_empty());
    }

    #[test]
    fn a_claim_taken_over_by_the_server_is_not_released_by_the_old_owner() {
        let table = InFlight::default();
        let pull = Fetching::new(Arc::clone(&table), RELAY_OWNERS);
        let (mut claimed, _) = pull.claim(ids(&["a", "b"]));
        // The article came in by a feed session, which released it; another session
        // now holds it.
        table.lock().unwrap().insert(ids(&["a"])[0].clone(), 7);
        claimed.retain(|id| id != "<b@x>");
        assert_eq!(claimed.ids, ids(&["a"]));
        drop(claimed);
        let table = table.lock().unwrap();
        assert_eq!(table.get("<a@x>"), Some(&7));
        assert_eq!(table.len(), 1);
    }
}
