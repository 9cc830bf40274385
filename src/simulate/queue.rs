//! The simulator's virtual time: an event queue ordered by (time, order of scheduling),
//! so that two runs with the same seed pop the same events in the same order, and the
//! node clock ([`crate::clock`]) set from it, so that every date ingest writes or
//! checks is virtual too.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Virtual milliseconds since the start of a simulation.
pub type Millis = u64;

/// One scheduled event.
struct Entry<E> {
    at: Millis,
    order: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed: the heap's top is the earliest event, ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// Events waiting for their virtual time.
pub struct Queue<E> {
    heap: BinaryHeap<Entry<E>>,
    scheduled: u64,
    now: Millis,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            heap: BinaryHeap::new(),
            scheduled: 0,
            now: 0,
        }
    }
}

impl<E> Queue<E> {
    /// The virtual time of the event popped last.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Schedules `event` `after` milliseconds from now.
    pub fn after(&mut self, after: Millis, event: E) {
        self.at(self.now.saturating_add(after), event);
    }

    /// Schedules `event` at virtual time `at` (now, if that has passed).
    pub fn at(&mut self, at: Millis, event: E) {
        self.scheduled += 1;
        self.heap.push(Entry {
            at: at.max(self.now),
            order: self.scheduled,
            event,
        });
    }

    /// The next event, moving the virtual time to it.
    pub fn pop(&mut self) -> Option<E> {
        let entry = self.heap.pop()?;
        self.now = entry.at;
        Some(entry.event)
    }

    /// Whether nothing waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Sets the node clock to virtual time `now` after `base` (Unix seconds): `simulate`
/// owns its process, and every node in it lives at the same virtual instant.
pub fn set_node_clock(base: i64, now: Millis) {
    let secs = base.saturating_add(i64::try_from(now / 1000).unwrap_or(i64::MAX / 2));
    std::env::set_var(crate::clock::NOW_VAR, secs.to_string());
}

/// A duration as operators write it: `250ms`, `2s`, `15m`, `6h`, `7d`, `1w`, or `0`.
pub fn parse_millis(text: &str) -> Option<Millis> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let scale: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// A small deterministic generator (xorshift64*): the same seed gives the same mesh,
/// posts and churn on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_order_and_ties_in_scheduling_order() {
        let mut q = Queue::default();
        q.at(30, "c");
        q.at(10, "a");
        q.at(10, "b");
        assert_eq!(q.pop(), Some("a"));
        assert_eq!(q.now(), 10);
        q.after(5, "a2");
        assert_eq!(q.pop(), Some("b"));
        assert_eq!(q.pop(), Some("a2"));
        assert_eq!(q.now(), 15);
        // The past is now.
        q.at(1, "late");
        assert_eq!(q.pop(), Some("late"));
        assert_eq!(q.now(), 15);
        assert_eq!(q.pop(), Some("c"));
        assert!(q.is_empty());
    }

    #[test]
    fn durations_take_the_units_operators_write() {
        assert_eq!(parse_millis("250ms"), Some(250));
        assert_eq!(parse_millis("2"), Some(2000));
        assert_eq!(parse_millis("15m"), Some(900_000));
        assert_eq!(parse_millis("6h"), Some(21_600_000));
        assert_eq!(parse_millis("1w"), Some(604_800_000));
        assert_eq!(parse_millis("0"), Some(0));
        assert_eq!(parse_millis("h"), None);
        assert_eq!(parse_millis("5y"), None);
        assert_eq!(parse_millis("-1s"), None);
    }

    #[test]
    fn the_generator_is_the_same_for_a_seed() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..5).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert!((0..100).all(|_| a.below(3) < 3));
    }
}
