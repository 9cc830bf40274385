//! Expiry (`newsmesh expire`): per-group retention of articles, and pruning of old
//! history. An expired article leaves its group numbering (and the spool, once no group
//! holds it) but its history row stays, marked `expired`, so neighbours' re-offers are
//! refused as duplicates; history itself is pruned much later.

use rusqlite::params;

use super::{Spool, SpoolError};

/// What one expiry run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// (group, article numbers removed from it).
    pub groups: Vec<(String, u64)>,
    /// Articles removed from the spool (held by no group any more).
    pub articles: u64,
    /// History rows pruned.
    pub history: u64,
}

/// Recomputes a group's count and low mark after articles left it: low is the lowest
/// number left, or high + 1 for an empty group (RFC 3977 §6.1.1).
pub(super) fn recount(tx: &rusqlite::Transaction<'_>, group: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE groups SET
            count = (SELECT COUNT(*) FROM group_articles WHERE grp = ?1),
            low = COALESCE((SELECT MIN(num) FROM group_articles WHERE grp = ?1), high + 1)
         WHERE name = ?1",
    )?
    .execute(params![group])
    .map(|_| ())
}

/// Deletes the articles no group holds any more; their history rows stay, `expired`,
/// so they are not taken back. Returns how many.
pub(super) fn drop_orphans(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<u64> {
    tx.execute(
        "UPDATE history SET status = 'expired', seq = NULL
         WHERE seq IN (SELECT a.seq FROM articles a
                       WHERE NOT EXISTS (SELECT 1 FROM group_articles g WHERE g.seq = a.seq))",
        [],
    )?;
    Ok(tx.execute(
        "DELETE FROM articles
         WHERE NOT EXISTS (SELECT 1 FROM group_articles g WHERE g.seq = articles.seq)",
        [],
    )? as u64)
}

impl Spool {
    /// Removes from each group the articles that arrived before its cutoff (Unix seconds;
    /// `cutoff(group)` = None keeps the group's articles), deletes articles no group holds
    /// any more, marks them `expired` in history, and prunes history rows of articles not
    /// stored here that were first seen before `history_before`. One transaction.
    pub fn expire(
        &mut self,
        cutoff: impl Fn(&str) -> Option<i64>,
        history_before: i64,
    ) -> Result<ExpireReport, SpoolError> {
        let groups: Vec<String> = self.groups()?.into_iter().map(|g| g.name).collect();
        self.store_with(|s| {
            let tx = s.transaction()?;
            let mut report = ExpireReport::default();
            for group in groups {
                let Some(before) = cutoff(&group) else {
                    continue;
                };
                let removed = tx
                    .prepare_cached(
                        "DELETE FROM group_articles WHERE grp = ?1
                           AND seq IN (SELECT seq FROM articles WHERE arrived < ?2)",
                    )?
                    .execute(params![group, before])?;
                if removed > 0 {
                    recount(tx, &group)?;
                    report.groups.push((group, removed as u64));
                }
            }
            report.articles = drop_orphans(tx)?;
            report.history = tx.execute(
                "DELETE FROM history WHERE status <> 'stored' AND seen < ?1",
                params![history_before],
            )? as u64;
            // Early cancels whose target never came age out with history.
            tx.prepare_cached("DELETE FROM early_cancels WHERE seen < ?1")?
                .execute(params![history_before])?;
            Ok(report)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::now;
    use super::super::test_support::{new_article, temp_spool};

    #[test]
    fn expired_articles_leave_their_groups_but_stay_in_history() {
        let (_dir, mut spool) = temp_spool();
        let mut cross = new_article("<both@x>", "mesh.keep");
        cross.newsgroups.push("mesh.short".into());
        spool
            .store_batch(&[
                new_article("<a@x>", "mesh.short"),
                new_article("<b@x>", "mesh.short"),
                cross,
            ])
            .unwrap();
        let future = now() + 10;
        let report = spool
            .expire(|g| (g == "mesh.short").then_some(future), 0)
            .unwrap();
        assert_eq!(report.groups, vec![("mesh.short".to_string(), 3)]);
        // The crosspost is still in mesh.keep; the other two are gone from the spool.
        assert_eq!(report.articles, 2);
        assert!(spool.article("<a@x>").unwrap().is_none());
        assert_eq!(spool.history("<a@x>").unwrap().unwrap().0, "expired");
        assert!(spool.article("<both@x>").unwrap().is_some());
        let short = spool.group("mesh.short").unwrap().unwrap();
        assert_eq!((short.count, short.low, short.high), (0, 4, 3));
        // Re-offered, an expired article is a duplicate, not taken back.
        let again = spool
            .store_batch(&[new_article("<a@x>", "mesh.short")])
            .unwrap();
        assert_eq!(again, vec![crate::spool::StoreOutcome::Duplicate]);
        // Much later, history forgets it.
        let report = spool.expire(|_| None, now() + 10).unwrap();
        assert_eq!(report.history, 2);
        assert!(spool.history("<a@x>").unwrap().is_none());
        assert_eq!(spool.history("<both@x>").unwrap().unwrap().0, "stored");
    }
}
