//! In-flight reservations that expire. When a session answers a CHECK with 238 (send
//! it), the Message-ID is reserved for that session in [`Shared::in_flight`] (id →
//! session), so other neighbours offering it meanwhile get 431 and a body crosses into
//! this node once. A peer that CHECKs and never sends must not hold ids forever nor grow
//! the table without bound, so each reservation here has:
//! - a deadline: past it the session is taken as stalled and the id is free again;
//! - a cap per session and one in total: further CHECKs get 431 (try later);
//! - an end with its session: `Session::run` drops the session's entries from
//!   `in_flight` when it ends, which makes them stale here.
//!
//! `in_flight` stays the one truth for "who holds this id"; this side keeps, per session,
//! its reservations in the order made (so the oldest, first to expire, is in front) and
//! how many of them are live. Entries whose id was released (its article arrived, or the
//! session ended) are dropped lazily; the queues are compacted so they stay within twice
//! the live count. Lock order: `in_flight`, then this (see the module above).
//!
//! [`Shared::in_flight`]: crate::server::Shared::in_flight

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Slack before a queue with stale entries is compacted.
const COMPACT_SLACK: usize = 64;
/// How often every session's queue is looked at, to expire and to forget ended sessions.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The bounds a reservation lives within (from `[limits]`).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Live reservations one session may hold.
    pub per_session: usize,
    /// Live reservations all sessions may hold together.
    pub total: usize,
    /// How long a reservation waits for its article.
    pub timeout: Duration,
}

/// The answer to a claim for a Message-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Reserved for the claiming session (or it held it already): answer 238.
    Granted,
    /// Another session holds it and has not stalled: answer 431.
    Busy,
    /// The session or the node holds as many reservations as allowed: answer 431.
    Full,
}

/// One session's reservations.
#[derive(Debug, Default)]
struct Held {
    /// (deadline, id), oldest first; includes stale entries not yet dropped.
    queue: VecDeque<(Instant, String)>,
    /// Entries of `queue` still live in `in_flight` (an upper bound once the session ended).
    live: usize,
}

/// Deadlines and counts of the reservations in `in_flight`.
#[derive(Debug)]
pub struct Reservations {
    sessions: HashMap<u64, Held>,
    next_sweep: Instant,
}

impl Default for Reservations {
    fn default() -> Self {
        Reservations {
            sessions: HashMap::new(),
            next_sweep: Instant::now(),
        }
    }
}

impl Reservations {
    /// Reserves `id` for `session`, unless another session holds it (and has not stalled)
    /// or a cap is reached.
    pub fn claim(
        &mut self,
        in_flight: &mut HashMap<String, u64>,
        id: &str,
        session: u64,
        bounds: Bounds,
        now: Instant,
    ) -> Claim {
        if now >= self.next_sweep {
            self.sweep(in_flight, now);
        }
        match in_flight.get(id).copied() {
            Some(owner) if owner == session => return Claim::Granted,
            Some(owner) => {
                self.expire(in_flight, owner, now);
                if in_flight.contains_key(id) {
                    return Claim::Busy;
                }
            }
            None => {}
        }
        if self.live(in_flight, session, now) >= bounds.per_session {
            return Claim::Full;
        }
        if in_flight.len() >= bounds.total {
            self.sweep(in_flight, now);
            if in_flight.len() >= bounds.total {
                return Claim::Full;
            }
        }
        in_flight.insert(id.to_string(), session);
        let held = self.sessions.entry(session).or_default();
        held.queue.push_back((now + bounds.timeout, id.to_string()));
        held.live += 1;
        Claim::Granted
    }

    /// Whether `session` holds as many live reservations as it may: its CHECKs can be
    /// answered 431 without looking further.
    pub fn at_cap(
        &mut self,
        in_flight: &mut HashMap<String, u64>,
        session: u64,
        bounds: Bounds,
        now: Instant,
    ) -> bool {
        self.live(in_flight, session, now) >= bounds.per_session
    }

    /// Whether a session other than `session` holds `id` and has not stalled (IHAVE).
    pub fn held_by_other(
        &mut self,
        in_flight: &mut HashMap<String, u64>,
        id: &str,
        session: u64,
        now: Instant,
    ) -> bool {
        match in_flight.get(id).copied() {
            Some(owner) if owner != session => {
                self.expire(in_flight, owner, now);
                in_flight.contains_key(id)
            }
            _ => false,
        }
    }

    /// Ends the reservation of `id`, whoever holds it: its article has arrived (stored or
    /// refused), so nobody needs to send it any more.
    pub fn release(&mut self, in_flight: &mut HashMap<String, u64>, id: &str) {
        if let Some(owner) = in_flight.remove(id) {
            if let Some(held) = self.sessions.get_mut(&owner) {
                held.live = held.live.saturating_sub(1);
                compact_if_sparse(held, in_flight, owner);
            }
        }
    }

    /// Live reservations of `session` after its expired ones are dropped.
    fn live(&mut self, in_flight: &mut HashMap<String, u64>, session: u64, now: Instant) -> usize {
        self.expire(in_flight, session, now);
        self.sessions.get(&session).map_or(0, |h| h.live)
    }

    /// Drops the front of `session`'s queue while it is stale or past its deadline; an
    /// expired live entry frees its id in `in_flight`.
    fn expire(&mut self, in_flight: &mut HashMap<String, u64>, session: u64, now: Instant) {
        let Some(held) = self.sessions.get_mut(&session) else {
            return;
        };
        let mut expired = 0;
        while let Some((deadline, id)) = held.queue.front() {
            let live = in_flight.get(id) == Some(&session);
            if live && *deadline > now {
                break;
            }
            if live {
                in_flight.remove(id);
                held.live = held.live.saturating_sub(1);
                expired += 1;
            }
            held.queue.pop_front();
        }
        if expired > 0 {
            tracing::info!(
                "session {session} did not send {expired} article(s) it was asked for in \
                 time; other peers may send them"
            );
        }
        if held.queue.is_empty() {
            self.sessions.remove(&session);
        }
    }

    /// Expires and compacts every session's queue; forgets sessions with nothing live
    /// (those that ended have no entry in `in_flight` any more).
    fn sweep(&mut self, in_flight: &mut HashMap<String, u64>, now: Instant) {
        let sessions: Vec<u64> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.expire(in_flight, session, now);
            if let Some(held) = self.sessions.get_mut(&session) {
                held.live = held
                    .queue
                    .iter()
                    .filter(|(_, id)| in_flight.get(id) == Some(&session))
                    .count();
                compact_if_sparse(held, in_flight, session);
            }
        }
        self.sessions.retain(|_, held| !held.queue.is_empty());
        self.next_sweep = now + SWEEP_EVERY;
    }
}

/// Drops the stale entries of a queue that holds many more of them than live ones, so a
/// queue stays within twice its live count (amortised constant work per release).
fn compact_if_sparse(held: &mut Held, in_flight: &HashMap<String, u64>, session: u64) {
    if held.queue.len() > 2 * held.live + COMPACT_SLACK {
        held.queue
            .retain(|(_, id)| in_flight.get(id) == Some(&session));
        held.live = held.queue.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        per_session: 3,
        total: 5,
        timeout: Duration::from_secs(30),
    };

    fn id(n: usize) -> String {
        format!("<{n}@x>")
    }

    #[test]
    fn a_reserved_id_is_busy_for_others_until_released() {
        let (mut r, mut table, now) = (Reservations::default(), HashMap::new(), Instant::now());
        assert_eq!(r.claim(&mut table, &id(1), 1, BOUNDS, now), Claim::Granted);
        assert_eq!(r.claim(&mut table, &id(1), 1, BOUNDS, now), Claim::Granted);
        assert_eq!(r.claim(&mut table, &id(1), 2, BOUNDS, now), Claim::Busy);
        assert!(r.held_by_other(&mut table, &id(1), 2, now));
        assert!(!r.held_by_other(&mut table, &id(1), 1, now));
        r.release(&mut table, &id(1));
        assert!(table.is_empty());
        assert_eq!(r.claim(&mut table, &id(1), 2, BOUNDS, now), Claim::Granted);
    }

    #[test]
    fn a_stalled_session_loses_its_reservations_at_the_deadline() {
        let (mut r, mut table, now) = (Reservations::default(), HashMap::new(), Instant::now());
        assert_eq!(r.claim(&mut table, &id(1), 1, BOUNDS, now), Claim::Granted);
        let later = now + BOUNDS.timeout - Duration::from_millis(1);
        assert_eq!(r.claim(&mut table, &id(1), 2, BOUNDS, later), Claim::Busy);
        let past = now + BOUNDS.timeout;
        assert!(!r.held_by_other(&mut table, &id(1), 2, past));
        assert_eq!(r.claim(&mut table, &id(1), 2, BOUNDS, past), Claim::Granted);
        assert_eq!(table.get(&id(1)), Some(&2));
    }

    #[test]
    fn caps_per_session_and_in_total() {
        let (mut r, mut table, now) = (Reservations::default(), HashMap::new(), Instant::now());
        for n in 0..3 {
            assert_eq!(r.claim(&mut table, &id(n), 1, BOUNDS, now), Claim::Granted);
        }
        assert_eq!(r.claim(&mut table, &id(3), 1, BOUNDS, now), Claim::Full);
        // Releasing one makes room again.
        r.release(&mut table, &id(0));
        assert_eq!(r.claim(&mut table, &id(3), 1, BOUNDS, now), Claim::Granted);
        for n in 10..12 {
            assert_eq!(r.claim(&mut table, &id(n), 2, BOUNDS, now), Claim::Granted);
        }
        assert_eq!(table.len(), 5);
        assert_eq!(r.claim(&mut table, &id(20), 3, BOUNDS, now), Claim::Full);
        // Expired reservations make room in total.
        let past = now + BOUNDS.timeout;
        assert_eq!(
            r.claim(&mut table, &id(20), 3, BOUNDS, past),
            Claim::Granted
        );
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn an_ended_session_is_forgotten_and_queues_stay_compact() {
        let (mut r, mut table, now) = (Reservations::default(), HashMap::new(), Instant::now());
        let wide = Bounds {
            per_session: 1_000_000,
            total: 1_000_000,
            ..BOUNDS
        };
        assert_eq!(r.claim(&mut table, &id(0), 1, wide, now), Claim::Granted);
        // The first id is never sent; ten thousand others are, in order.
        for n in 1..10_000 {
            assert_eq!(r.claim(&mut table, &id(n), 1, wide, now), Claim::Granted);
            r.release(&mut table, &id(n));
        }
        let held = &r.sessions[&1];
        assert_eq!(held.live, 1);
        assert!(
            held.queue.len() <= 2 + COMPACT_SLACK,
            "{}",
            held.queue.len()
        );
        // The session ends (Session::run drops its entries); a sweep forgets it.
        table.retain(|_, owner| *owner != 1);
        r.claim(&mut table, &id(1), 2, wide, now + SWEEP_EVERY);
        assert!(!r.sessions.contains_key(&1));
    }
}
