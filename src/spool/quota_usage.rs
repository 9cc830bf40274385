//! Per-day usage of author keys and delivering neighbours (`quota_usage`, schema 009):
//! read and charged inside ingest's transaction for the quotas of
//! `crate::admission::quota` (through a per-transaction [`Ledger`]), summed for
//! `status`'s top authors, pruned by `expire`.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Spool, SpoolError, Storer};

/// Whose usage a row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageKind {
    /// An author key (base64 public key).
    Author,
    /// A delivering neighbour (`[[peer]]` or `[[nntp_peer]]` name).
    Peer,
}

impl UsageKind {
    fn word(self) -> &'static str {
        match self {
            UsageKind::Author => "author",
            UsageKind::Peer => "peer",
        }
    }
}

/// Articles and bytes one author or neighbour put here on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Articles stored.
    pub articles: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One transaction's view of `quota_usage`: each (kind, who, day) read from the table at
/// most once, the charges added in memory and written with one upsert per row before
/// the commit ([`Ledger::flush`]), so counting costs a hash lookup per article, not SQL.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// (usage before this transaction, added in it).
    rows: HashMap<(UsageKind, String, i64), (Usage, Usage)>,
}

impl Ledger {
    /// Writes what this transaction added.
    pub(super) fn flush(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO quota_usage (kind, who, day, articles, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, who, day)
             DO UPDATE SET articles = articles + excluded.articles, bytes = bytes + excluded.bytes",
        )?;
        for ((kind, who, day), (_, added)) in self.rows.drain() {
            if added.articles > 0 {
                upsert.execute(params![
                    kind.word(),
                    who,
                    day,
                    added.articles as i64,
                    added.bytes as i64
                ])?;
            }
        }
        Ok(())
    }
}

impl Storer<'_> {
    /// The ledger row of (kind, who, day), read from the table on first use.
    fn row(
        &mut self,
        kind: UsageKind,
        who: &str,
        day: i64,
    ) -> rusqlite::Result<&mut (Usage, Usage)> {
        let key = (kind, who.to_string(), day);
        if !self.usage.rows.contains_key(&key) {
            let stored = self
                .other_tables()
                .prepare_cached(
                    "SELECT articles, bytes FROM quota_usage WHERE kind = ?1 AND who = ?2 AND day = ?3",
                )?
                .query_row(params![kind.word(), who, day], |r| {
                    Ok(Usage {
                        articles: r.get::<_, i64>(0)?.max(0) as u64,
                        bytes: r.get::<_, i64>(1)?.max(0) as u64,
                    })
                })
                .optional()?
                .unwrap_or_default();
            self.usage
                .rows
                .insert(key.clone(), (stored, Usage::default()));
        }
        Ok(self.usage.rows.entry(key).or_default())
    }

    /// What `who` put here on `day` so far (this transaction included).
    pub fn usage(&mut self, kind: UsageKind, who: &str, day: i64) -> rusqlite::Result<Usage> {
        let (stored, added) = *self.row(kind, who, day)?;
        Ok(Usage {
            articles: stored.articles + added.articles,
            bytes: stored.bytes.saturating_add(added.bytes),
        })
    }

    /// Adds one article of `bytes` to `who`'s usage of `day` (written at the commit).
    pub fn charge(
        &mut self,
        kind: UsageKind,
        who: &str,
        day: i64,
        bytes: u64,
    ) -> rusqlite::Result<()> {
        let (_, added) = self.row(kind, who, day)?;
        added.articles += 1;
        added.bytes = added.bytes.saturating_add(bytes);
        Ok(())
    }
}

impl Spool {
    /// The `limit` author keys that stored the most bytes here on `day`, most first.
    pub fn top_authors(&self, day: i64, limit: usize) -> Result<Vec<(String, Usage)>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT who, articles, bytes FROM quota_usage WHERE kind = 'author' AND day = ?1
                 ORDER BY bytes DESC, who LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![day, limit as i64], |r| {
                    Ok((
                        r.get(0)?,
                        Usage {
                            articles: r.get::<_, i64>(1)?.max(0) as u64,
                            bytes: r.get::<_, i64>(2)?.max(0) as u64,
                        },
                    ))
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Forgets the usage of days before `day`; returns how many rows went.
    pub fn prune_usage(&mut self, day: i64) -> Result<u64, SpoolError> {
        self.conn
            .execute("DELETE FROM quota_usage WHERE day < ?1", params![day])
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::test_support::temp_spool;

    #[test]
    fn usage_adds_up_per_day_and_ranks_authors() {
        let (_dir, mut spool) = temp_spool();
        spool
            .store_with(|s| {
                s.charge(UsageKind::Author, "K1", 10, 100)?;
                s.charge(UsageKind::Author, "K1", 10, 50)?;
                s.charge(UsageKind::Author, "K2", 10, 500)?;
                s.charge(UsageKind::Author, "K1", 11, 7)?;
                s.charge(UsageKind::Peer, "K1", 10, 1)?;
                assert_eq!(
                    s.usage(UsageKind::Author, "K1", 10)?,
                    Usage {
                        articles: 2,
                        bytes: 150
                    }
                );
                assert_eq!(s.usage(UsageKind::Peer, "nobody", 10)?, Usage::default());
                Ok(())
            })
            .unwrap();
        let top = spool.top_authors(10, 5).unwrap();
        assert_eq!(top[0].0, "K2");
        assert_eq!(
            top[1],
            (
                "K1".into(),
                Usage {
                    articles: 2,
                    bytes: 150
                }
            )
        );
        assert_eq!(spool.prune_usage(11).unwrap(), 3);
        assert_eq!(spool.top_authors(11, 5).unwrap().len(), 1);
    }
}
