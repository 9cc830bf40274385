//! AUTHINFO pacing across connections: per source address and per account, so password
//! guessing is slow however many connections a guesser opens. Every password check from
//! a source takes a turn at least `auth_interval_ms` after the previous one; each failure
//! doubles the wait before the next turn of its source and of its account, up to
//! `auth_max_backoff_secs`; a client whose turn would be further away than that is
//! refused outright (the caller answers 400 and closes). A success clears the backoff.
//! Failures are forgotten after a quiet spell. The tables are bounded: past
//! [`MAX_TRACKED`] sources, new ones share one entry.
//!
//! The server's sessions share it through the one [`Guards`](super::Guards) value; the
//! AUTHINFO commands that use it are in `reader/auth.rs`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LimitsConfig;

/// Most sources (and accounts) tracked; beyond, new sources share one entry.
pub const MAX_TRACKED: usize = 65_536;
/// A backoff entry idle this many times the longest backoff is forgotten.
const FORGET_AFTER: u32 = 4;
/// Most doublings of the backoff (2^16 times the interval is beyond any sane cap).
const MAX_DOUBLINGS: u32 = 16;

/// The pace `[limits]` sets.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Least time between two checks from one source; first step of the backoff.
    pub interval: Duration,
    /// Longest backoff, and longest wait for a turn.
    pub max_backoff: Duration,
}

impl Pace {
    /// The pace of these limits.
    pub fn of(limits: &LimitsConfig) -> Pace {
        Pace {
            interval: Duration::from_millis(limits.auth_interval_ms),
            max_backoff: Duration::from_secs(limits.auth_max_backoff_secs),
        }
    }

    /// The wait after `failures` failures in a row: the interval, doubled for each
    /// failure after the first, at most `max_backoff`.
    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(MAX_DOUBLINGS);
        self.interval
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// When a password check may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// After this wait (often zero).
    After(Duration),
    /// Not within the longest backoff: refuse now; the client may retry after this long.
    Refused(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    /// The earliest time of the next turn.
    next: Instant,
    /// Failures in a row.
    failures: u32,
    /// Whether a refusal was logged since the last success (one line per spell).
    refusal_logged: bool,
}

impl Backoff {
    fn fresh(now: Instant) -> Backoff {
        Backoff {
            next: now,
            failures: 0,
            refusal_logged: false,
        }
    }
}

#[derive(Debug, Default)]
struct Tables {
    sources: HashMap<IpAddr, Backoff>,
    accounts: HashMap<String, Backoff>,
    /// Users whose legacy hash this server already rewrote.
    upgraded: HashSet<String>,
}

/// AUTHINFO pacing shared by all sessions.
#[derive(Debug)]
pub struct Logins {
    tables: Mutex<Tables>,
    /// Password checks run one at a time: each Argon2 check takes 19 MiB and tens of
    /// milliseconds of a core, and many at once must not exhaust either.
    pub checks: tokio::sync::Semaphore,
}

impl Default for Logins {
    fn default() -> Self {
        Logins {
            tables: Mutex::default(),
            checks: tokio::sync::Semaphore::new(1),
        }
    }
}

/// The key of a source address: IPv4 addresses as they are, IPv6 by /64 (what one
/// customer usually gets), IPv4-mapped IPv6 as IPv4.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The entry all sources share once [`MAX_TRACKED`] are tracked.
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

impl Logins {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the next turn for a password check from `source` for `account` (use one
    /// shared name, e.g. "", for accounts that do not exist).
    pub fn turn(&self, source: IpAddr, account: &str, pace: Pace, now: Instant) -> Turn {
        let mut t = self.tables();
        let key = tracked_key(&mut t, source_key(source), pace, now);
        let src = *t.sources.entry(key).or_insert_with(|| Backoff::fresh(now));
        let acc = t.accounts.get(account).copied();
        let slot = [Some(src.next), acc.map(|a| a.next)]
            .into_iter()
            .flatten()
            .fold(now, Instant::max);
        let wait = slot - now;
        if wait > pace.max_backoff {
            if let Some(entry) = t.sources.get_mut(&key) {
                if !entry.refusal_logged {
                    entry.refusal_logged = true;
                    tracing::warn!(
                        "AUTHINFO from {source} refused without a check: its next turn is \
                         {wait:?} away after {} failure(s) in a row",
                        entry.failures
                    );
                }
            }
            return Turn::Refused(wait);
        }
        if let Some(entry) = t.sources.get_mut(&key) {
            entry.next = slot + pace.interval;
        }
        if let Some(entry) = t.accounts.get_mut(account) {
            if entry.failures > 0 {
                entry.next = entry.next.max(slot + pace.interval);
            }
        }
        Turn::After(wait)
    }

    /// Records a failed check; returns the failures in a row from this source.
    pub fn failed(&self, source: IpAddr, account: &str, pace: Pace, now: Instant) -> u32 {
        let mut t = self.tables();
        let key = tracked_key(&mut t, source_key(source), pace, now);
        let src = t.sources.entry(key).or_insert_with(|| Backoff::fresh(now));
        fail(src, pace, now);
        let failures = src.failures;
        if t.accounts.len() < MAX_TRACKED || t.accounts.contains_key(account) {
            let acc = t
                .accounts
                .entry(account.to_string())
                .or_insert_with(|| Backoff::fresh(now));
            fail(acc, pace, now);
        }
        failures
    }

    /// Records a successful check: the source's and the account's backoff end.
    pub fn succeeded(&self, source: IpAddr, account: &str, now: Instant) {
        let mut t = self.tables();
        if let Some(src) = t.sources.get_mut(&source_key(source)) {
            src.failures = 0;
            src.refusal_logged = false;
        }
        if let Some(acc) = t.accounts.get_mut(account) {
            *acc = Backoff::fresh(now);
        }
    }

    /// Whether `user`'s legacy hash still needs rewriting by this server (and notes that
    /// it is being done, so it is done once).
    pub fn take_upgrade(&self, user: &str) -> bool {
        self.tables().upgraded.insert(user.to_string())
    }
}

fn fail(b: &mut Backoff, pace: Pace, now: Instant) {
    b.failures = b.failures.saturating_add(1);
    b.next = b.next.max(now + pace.backoff(b.failures));
}

/// `key`, or [`OVERFLOW`] when the table is full even after forgetting idle entries.
fn tracked_key(t: &mut Tables, key: IpAddr, pace: Pace, now: Instant) -> IpAddr {
    forget_quiet(t, pace, now, key);
    if t.sources.contains_key(&key) || t.sources.len() < MAX_TRACKED {
        return key;
    }
    OVERFLOW
}

/// Forgets `key`'s failures after a quiet spell; when the tables are full, forgets every
/// quiet entry.
fn forget_quiet(t: &mut Tables, pace: Pace, now: Instant, key: IpAddr) {
    let quiet = pace.max_backoff.saturating_mul(FORGET_AFTER);
    let is_quiet = |b: &Backoff| now.saturating_duration_since(b.next) > quiet;
    if t.sources.get(&key).is_some_and(is_quiet) {
        t.sources.remove(&key);
    }
    if t.sources.len() >= MAX_TRACKED {
        t.sources.retain(|_, b| !is_quiet(b));
    }
    if t.accounts.len() >= MAX_TRACKED {
        t.accounts.retain(|_, b| !is_quiet(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACE: Pace = Pace {
        interval: Duration::from_millis(250),
        max_backoff: Duration::from_secs(16),
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_source_gets_one_turn_per_interval_however_many_connections_it_has() {
        let logins = Logins::default();
        let now = Instant::now();
        let turns: Vec<Turn> = (0..5)
            .map(|_| logins.turn(ip("192.0.2.1"), "ann", PACE, now))
            .collect();
        let expected: Vec<Turn> = (0..5).map(|n| Turn::After(PACE.interval * n)).collect();
        assert_eq!(turns, expected);
        // Another source is not held up.
        assert_eq!(
            logins.turn(ip("192.0.2.2"), "bob", PACE, now),
            Turn::After(Duration::ZERO)
        );
    }

    #[test]
    fn failures_double_the_wait_per_source_and_per_account_up_to_a_refusal() {
        let logins = Logins::default();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..9 {
            let Turn::After(wait) = logins.turn(ip("2001:db8::1"), "ann", PACE, now) else {
                panic!("refused one client that waits its turns: {waits:?}");
            };
            now += wait;
            waits.push(wait.as_millis());
            logins.failed(ip("2001:db8::2"), "ann", PACE, now);
        }
        // One /64 is one source; the backoff stops doubling at the cap.
        assert_eq!(waits, [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 16000]);
        // Connections in parallel queue behind one another until the wait passes the cap.
        assert_eq!(
            logins.turn(ip("2001:db8::3"), "ann", PACE, now),
            Turn::After(PACE.max_backoff)
        );
        assert!(matches!(
            logins.turn(ip("2001:db8::4"), "ann", PACE, now),
            Turn::Refused(w) if w > PACE.max_backoff
        ));
        // The account is paced from another source too, a different account is not.
        assert!(!matches!(
            logins.turn(ip("192.0.2.9"), "ann", PACE, now),
            Turn::After(w) if w < PACE.max_backoff
        ));
        assert_eq!(
            logins.turn(ip("192.0.2.10"), "bob", PACE, now),
            Turn::After(Duration::ZERO)
        );
        // A success ends the account's backoff.
        logins.succeeded(ip("192.0.2.9"), "ann", now);
        assert_eq!(
            logins.turn(ip("192.0.2.11"), "ann", PACE, now),
            Turn::After(Duration::ZERO)
        );
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_spell() {
        let logins = Logins::default();
        let now = Instant::now();
        for _ in 0..10 {
            logins.failed(ip("192.0.2.1"), "ann", PACE, now);
        }
        let later = now + PACE.max_backoff * (FORGET_AFTER + 2);
        assert_eq!(
            logins.turn(ip("192.0.2.1"), "", PACE, later),
            Turn::After(Duration::ZERO)
        );
        assert_eq!(logins.failed(ip("192.0.2.1"), "", PACE, later), 1);
    }

    #[test]
    fn upgrades_are_taken_once() {
        let logins = Logins::default();
        assert!(logins.take_upgrade("ann"));
        assert!(!logins.take_upgrade("ann"));
    }
}
