//! What the server's sessions share to keep the node up against peers and clients that
//! misbehave: the deadlines and caps of in-flight reservations, whether the spool has
//! room, and the pacing of AUTHINFO. One value, [`Guards`], in `Shared::guards`, used by
//! the feed (`feed.rs`) and the reader (`reader/auth.rs`) alike: server-wide, so it
//! belongs to neither.

mod logins;

pub use logins::{Pace, Turn};

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::inflight::reservations::Reservations;
use logins::Logins;

/// How long after the spool refused to grow feeds are told "try later" without another
/// attempt to store; then the next batch tries again, so the node recovers by itself
/// once there is room.
pub const FULL_RETRY: Duration = Duration::from_secs(1);

/// State shared by all sessions of one server for its defences.
#[derive(Debug, Default)]
pub struct Guards {
    /// Deadlines and counts of the reservations in `Shared::in_flight` (lock that first).
    pub reservations: Mutex<Reservations>,
    /// Whether the spool has room.
    pub spool: SpoolRoom,
    /// AUTHINFO pacing per source and per account.
    pub logins: Logins,
}

impl Guards {
    /// The reservation bookkeeping (see [`Reservations`]).
    pub fn reservations(&self) -> std::sync::MutexGuard<'_, Reservations> {
        self.reservations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether the spool recently refused to grow (disk full or size limit reached).
#[derive(Debug, Default)]
pub struct SpoolRoom {
    full_until: Mutex<Option<Instant>>,
}

impl SpoolRoom {
    fn state(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.full_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether feeds should be told "try later" without an attempt to store.
    pub fn refusing(&self, now: Instant) -> bool {
        self.state().is_some_and(|until| now < until)
    }

    /// The spool refused to grow: refuse feeds for [`FULL_RETRY`].
    pub fn full(&self, now: Instant) {
        let mut state = self.state();
        if state.is_none() {
            tracing::error!(
                "the spool is full: feeds are told to try later and POST fails until \
                 there is room (free disk space or run `newsmesh expire`)"
            );
        }
        *state = Some(now + FULL_RETRY);
    }

    /// A write succeeded: the spool has room (again).
    pub fn room(&self) {
        let mut state = self.state();
        if state.take().is_some() {
            tracing::warn!("the spool has room again; feeds resume");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spool_refuses_for_a_while_then_tries_again() {
        let room = SpoolRoom::default();
        let now = Instant::now();
        assert!(!room.refusing(now));
        room.full(now);
        assert!(room.refusing(now));
        assert!(!room.refusing(now + FULL_RETRY));
        room.room();
        assert!(!room.refusing(now));
    }
}
