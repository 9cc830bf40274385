//! Group numbers handed out once per transaction (issue 17): each group's row is read
//! once, the numbers of the articles stored in the transaction are counted in memory,
//! and the row is written once before anything else reads or changes `groups` (the
//! commit, or any other statement of the transaction: see `Storer::transaction`), so
//! storing an article costs a hash lookup for each of its groups instead of an
//! `UPDATE ... RETURNING`.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

/// The groups numbered in one transaction and not yet written back.
#[derive(Debug, Default)]
pub(super) struct Numbering {
    /// group -> (its high mark as written, numbers handed out since).
    groups: HashMap<String, (i64, i64)>,
}

impl Numbering {
    /// The next number in `group` (created on first use, as `store_one` always did).
    pub(super) fn next(
        &mut self,
        tx: &Transaction<'_>,
        group: &str,
        now: i64,
    ) -> rusqlite::Result<i64> {
        if let Some((high, added)) = self.groups.get_mut(group) {
            *added += 1;
            return Ok(*high + *added);
        }
        let high: Option<i64> = tx
            .prepare_cached("SELECT high FROM groups WHERE name = ?1")?
            .query_row(params![group], |r| r.get(0))
            .optional()?;
        let high = match high {
            Some(high) => high,
            None => {
                // Created empty here; the count and high mark come with the flush.
                tx.prepare_cached(
                    "INSERT INTO groups (name, low, high, count, created) VALUES (?1, 1, 0, 0, ?2)",
                )?
                .execute(params![group, now])?;
                0
            }
        };
        self.groups.insert(group.to_string(), (high, 1));
        Ok(high + 1)
    }

    /// Writes the high marks and counts and forgets them (the next use reads again).
    pub(super) fn flush(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        if self.groups.is_empty() {
            return Ok(());
        }
        let mut update = tx.prepare_cached(
            "UPDATE groups SET high = high + ?2, count = count + ?2 WHERE name = ?1",
        )?;
        for (group, (_, added)) in self.groups.drain() {
            update.execute(params![group, added])?;
        }
        Ok(())
    }
}
