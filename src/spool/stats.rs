//! The spool at a glance, for `newsmesh status`: how many articles and groups, how big,
//! the oldest and newest arrival. Every query is a count or an index end, no scan of
//! article bodies.

use serde::Serialize;

use super::{Spool, SpoolError};

/// Sizes and ages of a spool (`status --json` shows them as-is as `spool`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpoolStats {
    /// Bytes on disk: the database and its write-ahead log.
    pub bytes: u64,
    /// Stored articles.
    pub articles: u64,
    /// Groups carried.
    pub groups: u64,
    /// Unix seconds the oldest stored article arrived (None, null in JSON: empty).
    pub oldest: Option<i64>,
    /// Unix seconds the newest stored article arrived (None, null in JSON: empty).
    pub newest: Option<i64>,
}

impl Spool {
    /// Counts and ages (see [`SpoolStats`]).
    pub fn stats(&self) -> Result<SpoolStats, SpoolError> {
        let (articles, oldest, newest): (i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT COUNT(*), MIN(arrived), MAX(arrived) FROM articles",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        let groups: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM groups", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        Ok(SpoolStats {
            bytes: size(&self.path) + size(std::path::Path::new(&wal)),
            articles: u64::try_from(articles).unwrap_or(0),
            groups: u64::try_from(groups).unwrap_or(0),
            oldest,
            newest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_article, temp_spool};

    #[test]
    fn stats_count_articles_and_groups() {
        let (_dir, mut spool) = temp_spool();
        let empty = spool.stats().unwrap();
        assert_eq!(
            (empty.articles, empty.oldest, empty.newest),
            (0, None, None)
        );
        spool.create_group("mesh.a", "").unwrap();
        spool.create_group("mesh.b", "").unwrap();
        let batch = [
            new_article("<1@x>", "mesh.a"),
            new_article("<2@x>", "mesh.b"),
        ];
        spool.store_batch(&batch).unwrap();
        let s = spool.stats().unwrap();
        assert_eq!((s.articles, s.groups), (2, 2));
        assert!(s.oldest.is_some() && s.oldest <= s.newest);
        assert!(s.bytes > 0);
    }
}
