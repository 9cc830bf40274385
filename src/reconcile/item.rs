//! The things reconciled: items `(timestamp, id)` in their one total order, the bounds
//! that cut that order into ranges, and the fingerprint of a range.
//!
//! The fingerprint is negentropy's (protocol V1): the 32-byte ids added as little-endian
//! integers modulo 2^256, followed by the item count as a varint, hashed with SHA-256 and
//! cut to 16 bytes. Addition (unlike XOR) makes a fingerprint of a sum of ranges the sum
//! of theirs, and the count and hash keep a crafted set from matching another by accident.

use sha2::{Digest, Sha256};

/// Bytes of an item id (a SHA-256 digest).
pub const ID_SIZE: usize = 32;
/// Bytes of a range fingerprint on the wire.
pub const FINGERPRINT_SIZE: usize = 16;

/// An item id: the 32-byte content digest behind a newsmesh Message-ID.
pub type Id = [u8; ID_SIZE];
/// A range fingerprint.
pub type Fingerprint = [u8; FINGERPRINT_SIZE];

/// One element of a reconciled set, ordered by timestamp, then id bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    /// Seconds since the epoch (the article's Date, or its arrival when it has none).
    pub timestamp: u64,
    /// The content digest.
    pub id: Id,
}

/// A point in the item order: items at or above it are `(timestamp, id) >= (timestamp,
/// prefix padded with zeros)`. Lower bounds are inclusive, upper bounds exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bound {
    /// The timestamp; `u64::MAX` is infinity, above every item.
    pub timestamp: u64,
    /// The id prefix, padded with zeros to [`ID_SIZE`].
    pub id: Id,
    /// How many bytes of `id` are sent (the rest are zeros).
    pub prefix_len: u8,
}

impl Bound {
    /// The lowest bound: below every item.
    pub const MIN: Bound = Bound {
        timestamp: 0,
        id: [0; ID_SIZE],
        prefix_len: 0,
    };
    /// Infinity: above every item.
    pub const INFINITY: Bound = Bound {
        timestamp: u64::MAX,
        id: [0; ID_SIZE],
        prefix_len: 0,
    };

    /// A bound from a timestamp and a prefix of at most [`ID_SIZE`] bytes (longer ones
    /// are cut: the parser never makes one).
    pub fn new(timestamp: u64, prefix: &[u8]) -> Bound {
        let len = prefix.len().min(ID_SIZE);
        let mut id = [0; ID_SIZE];
        id[..len].copy_from_slice(&prefix[..len]);
        Bound {
            timestamp,
            id,
            prefix_len: len as u8,
        }
    }

    /// The shortest bound above `prev` and at or below `next` (`prev < next`): the
    /// timestamp alone when theirs differ, else as much of `next`'s id as tells them apart.
    pub fn between(prev: &Item, next: &Item) -> Bound {
        if prev.timestamp != next.timestamp {
            return Bound::new(next.timestamp, &[]);
        }
        let shared = prev
            .id
            .iter()
            .zip(next.id.iter())
            .take_while(|(a, b)| a == b)
            .count();
        Bound::new(next.timestamp, &next.id[..(shared + 1).min(ID_SIZE)])
    }

    /// The sent part of the id.
    pub fn prefix(&self) -> &[u8] {
        &self.id[..usize::from(self.prefix_len).min(ID_SIZE)]
    }

    /// Whether this is infinity.
    pub fn is_infinity(&self) -> bool {
        self.timestamp == u64::MAX
    }

    /// Whether `item` is at or above this bound.
    pub fn admits(&self, item: &Item) -> bool {
        (item.timestamp, item.id) >= (self.timestamp, self.id)
    }

    /// The bound's place in the order (for comparing bounds).
    pub fn key(&self) -> (u64, Id) {
        (self.timestamp, self.id)
    }
}

impl Item {
    /// Whether the item lies in `[lower, upper)`.
    pub fn within(&self, lower: &Bound, upper: &Bound) -> bool {
        lower.admits(self) && !upper.admits(self)
    }
}

/// The running fingerprint of a range: a 256-bit sum of ids and a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accumulator {
    /// Little-endian 64-bit limbs.
    sum: [u64; 4],
    count: u64,
}

impl Accumulator {
    /// Adds one id.
    pub fn add(&mut self, id: &Id) {
        let mut carry = false;
        for (limb, chunk) in self.sum.iter_mut().zip(id.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            let (s1, c1) = limb.overflowing_add(u64::from_le_bytes(bytes));
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *limb = s2;
            carry = c1 || c2;
        }
        self.count += 1;
    }

    /// How many ids were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The fingerprint: SHA-256 of the sum (32 bytes, little-endian) and the count
    /// (varint), cut to [`FINGERPRINT_SIZE`].
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hasher = Sha256::new();
        for limb in &self.sum {
            hasher.update(limb.to_le_bytes());
        }
        let mut count = Vec::with_capacity(10);
        super::message::put_varint(&mut count, self.count);
        hasher.update(&count);
        let digest = hasher.finalize();
        let mut out = [0; FINGERPRINT_SIZE];
        out.copy_from_slice(&digest[..FINGERPRINT_SIZE]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(timestamp: u64, first: u8, second: u8) -> Item {
        let mut id = [0; ID_SIZE];
        id[0] = first;
        id[1] = second;
        Item { timestamp, id }
    }

    #[test]
    fn bounds_between_items_are_as_short_as_the_order_allows() {
        let b = Bound::between(&item(5, 1, 1), &item(6, 0, 0));
        assert_eq!((b.timestamp, b.prefix()), (6, &[][..]));
        let b = Bound::between(&item(5, 1, 1), &item(5, 1, 2));
        assert_eq!(b.prefix(), &[1, 2]);
        assert!(!b.admits(&item(5, 1, 1)) && b.admits(&item(5, 1, 2)));
        assert!(Bound::MIN.admits(&item(0, 0, 0)));
        assert!(!Bound::INFINITY.admits(&item(u64::MAX - 1, 255, 255)));
    }

    #[test]
    fn fingerprints_do_not_depend_on_order_and_carry_across_limbs() {
        let (mut a, mut b) = (Accumulator::default(), Accumulator::default());
        let ones = [0xff; ID_SIZE];
        let mut one = [0; ID_SIZE];
        one[0] = 1;
        a.add(&ones);
        a.add(&one);
        b.add(&one);
        b.add(&ones);
        assert_eq!(a, b);
        // 2^256 - 1 + 1 wraps to zero: the sum is all zeros, the count two.
        assert_eq!(a.sum, [0; 4]);
        let mut c = Accumulator::default();
        c.add(&[0; ID_SIZE]);
        c.add(&[0; ID_SIZE]);
        assert_eq!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.fingerprint(), Accumulator::default().fingerprint());
    }
}
