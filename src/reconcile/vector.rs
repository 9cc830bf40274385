//! A [`Storage`] held in memory: a sorted vector of items. For tests, the fuzz target and
//! the benchmark; nodes reconcile from their spool's index instead (`spool/reconcile.rs`).

use std::convert::Infallible;

use super::engine::Storage;
use super::item::{Bound, Item};

/// Items sorted by (timestamp, id), without duplicates.
#[derive(Debug, Clone, Default)]
pub struct VecStorage {
    items: Vec<Item>,
}

impl VecStorage {
    /// Sorts and de-duplicates `items`.
    pub fn new(mut items: Vec<Item>) -> VecStorage {
        items.sort_unstable();
        items.dedup();
        VecStorage { items }
    }

    /// The items, sorted.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    fn position(&self, bound: &Bound) -> usize {
        self.items.partition_point(|item| !bound.admits(item))
    }
}

impl Storage for VecStorage {
    type Error = Infallible;

    fn scan(
        &self,
        lower: &Bound,
        upper: &Bound,
        f: &mut dyn FnMut(&Item) -> bool,
    ) -> Result<(), Infallible> {
        let (from, to) = (self.position(lower), self.position(upper));
        for item in self.items.get(from..to.max(from)).unwrap_or_default() {
            if !f(item) {
                break;
            }
        }
        Ok(())
    }
}
