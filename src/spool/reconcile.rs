//! The spool's side of set reconciliation (`crate::reconcile`): its articles as a
//! [`Storage`] read from the `reconcile_items` index (schema 010), which the store fills
//! in each article's own transaction, so a fingerprint is a scan of one primary key and
//! not a read (or re-hash) of the articles.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Arrival, Spool, SpoolError};
use crate::reconcile::{item_for, Bound, Item, Storage, ID_SIZE};
use crate::wildmat::Wildmat;

/// The spool's articles in reconciliation order, all of them or those a neighbour's
/// feed pattern takes.
pub struct SpoolItems<'a> {
    spool: &'a Spool,
    feed: Option<&'a Wildmat>,
    /// Only timestamps in this span (the node's age window), when set.
    window: Option<(i64, i64)>,
}

impl SpoolItems<'_> {
    /// Limits the set to timestamps from `oldest` to `newest` (inclusive): the dates the
    /// node's age window accepts (`admission::AgeLimits`), so it reconciles over what it
    /// would list, neither asking for nor offering what a neighbour's window refuses.
    pub fn within(mut self, oldest: i64, newest: i64) -> Self {
        self.window = Some((oldest, newest));
        self
    }
}

impl Spool {
    /// The spool as a reconciliation [`Storage`]. Run a whole answer inside one
    /// [`Spool::read_with`] so every scan sees the same articles.
    pub fn reconcile_items(&self) -> SpoolItems<'_> {
        SpoolItems {
            spool: self,
            feed: None,
            window: None,
        }
    }

    /// [`Spool::reconcile_items`] limited to the articles whose groups `feed` takes
    /// (as `feed_policy::feed_matches` decides), for a neighbour that does not take everything: it
    /// must not learn of articles it would never be sent. Each item costs a look at its
    /// article's Newsgroups; a feed of `*` is answered from the index alone.
    pub fn reconcile_items_for<'a>(&'a self, feed: &'a Wildmat) -> SpoolItems<'a> {
        SpoolItems {
            spool: self,
            feed: (feed.text().trim() != "*").then_some(feed),
            window: None,
        }
    }

    /// The arrivals of these Message-IDs that are stored here, in arrival order (what
    /// push needs to decide whether and how to offer each). One read transaction: the
    /// ids are located in history first, then the arrivals read in sequence order, so
    /// the article pages are visited once each, in file order, not once per id at random.
    pub fn arrivals_of(&self, msgids: &[String]) -> Result<Vec<Arrival>, SpoolError> {
        let located = self.read_with(|spool| -> rusqlite::Result<Vec<Arrival>> {
            let mut locate = spool
                .conn
                .prepare_cached("SELECT seq FROM history WHERE msgid = ?1 AND seq IS NOT NULL")?;
            let mut seqs = Vec::with_capacity(msgids.len());
            for msgid in msgids {
                if let Some(seq) = locate
                    .query_row([msgid], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    seqs.push(seq);
                }
            }
            seqs.sort_unstable();
            seqs.dedup();
            let mut read = spool.conn.prepare_cached(
                "SELECT a.seq, a.msgid, a.path, a.newsgroups, a.delivered_by, a.posted, g.control
                   FROM articles a LEFT JOIN governance g ON g.msgid = a.msgid
                  WHERE a.seq = ?1",
            )?;
            let mut out = Vec::with_capacity(seqs.len());
            for seq in seqs {
                if let Some(arrival) = read.query_row([seq], super::query::arrival).optional()? {
                    out.push(arrival);
                }
            }
            Ok(out)
        })?;
        located.map_err(|e| self.err(e))
    }
}

/// A bound as an SQL key, or None when it lies above every storable item (timestamps
/// are stored as SQLite integers, at most `i64::MAX`).
fn key(bound: &Bound) -> Option<(i64, &[u8])> {
    let ts = i64::try_from(bound.timestamp).ok()?;
    Some((ts, &bound.id[..]))
}

impl Storage for SpoolItems<'_> {
    type Error = SpoolError;

    fn scan(
        &self,
        lower: &Bound,
        upper: &Bound,
        f: &mut dyn FnMut(&Item) -> bool,
    ) -> Result<(), SpoolError> {
        let spool = self.spool;
        let Some((lo_ts, lo_id)) = key(lower) else {
            return Ok(());
        };
        // With a feed, each row brings its article's groups (by seq, its primary key).
        let (sql, upper) = match (key(upper), self.feed.is_some()) {
            (Some(upper), false) => (
                "SELECT ts, id, '' FROM reconcile_items
                  WHERE (ts, id) >= (?1, ?2) AND (ts, id) < (?3, ?4) ORDER BY ts, id",
                Some(upper),
            ),
            (None, false) => (
                "SELECT ts, id, '' FROM reconcile_items WHERE (ts, id) >= (?1, ?2) ORDER BY ts, id",
                None,
            ),
            (Some(upper), true) => (
                "SELECT r.ts, r.id, a.newsgroups FROM reconcile_items r JOIN articles a ON a.seq = r.seq
                  WHERE (r.ts, r.id) >= (?1, ?2) AND (r.ts, r.id) < (?3, ?4) ORDER BY r.ts, r.id",
                Some(upper),
            ),
            (None, true) => (
                "SELECT r.ts, r.id, a.newsgroups FROM reconcile_items r JOIN articles a ON a.seq = r.seq
                  WHERE (r.ts, r.id) >= (?1, ?2) ORDER BY r.ts, r.id",
                None,
            ),
        };
        let mut statement = spool.conn.prepare_cached(sql).map_err(|e| spool.err(e))?;
        let mut rows = match upper {
            Some((hi_ts, hi_id)) => statement.query(params![lo_ts, lo_id, hi_ts, hi_id]),
            None => statement.query(params![lo_ts, lo_id]),
        }
        .map_err(|e| spool.err(e))?;
        while let Some(row) = rows.next().map_err(|e| spool.err(e))? {
            let ts: i64 = row.get(0).map_err(|e| spool.err(e))?;
            let id = row.get_ref(1).map_err(|e| spool.err(e))?;
            // Rows are written only by `index`: a malformed one is skipped, not trusted.
            let (Ok(timestamp), Ok(id)) = (
                u64::try_from(ts),
                <[u8; ID_SIZE]>::try_from(id.as_blob().unwrap_or_default()),
            ) else {
                continue;
            };
            if self
                .window
                .is_some_and(|(oldest, newest)| ts < oldest || ts > newest)
            {
                continue;
            }
            if let Some(feed) = self.feed {
                let groups = row.get_ref(2).map_err(|e| spool.err(e))?;
                // (`feed_policy::feed_matches`, which sits above the spool.)
                if !feed.matches_any(groups.as_str().unwrap_or_default()) {
                    continue;
                }
            }
            if !f(&Item { timestamp, id }) {
                break;
            }
        }
        Ok(())
    }
}

/// Records a newly stored article in the index (in the store's transaction); articles
/// without a newsmesh Message-ID are not reconciled.
pub(super) fn index(
    conn: &Connection,
    msgid: &str,
    posted: i64,
    arrived: i64,
    seq: i64,
) -> rusqlite::Result<()> {
    let Some(item) = item_for(msgid, posted, arrived) else {
        return Ok(());
    };
    conn.prepare_cached("INSERT OR IGNORE INTO reconcile_items (ts, id, seq) VALUES (?1, ?2, ?3)")?
        .execute(params![item.timestamp as i64, &item.id[..], seq])?;
    Ok(())
}

/// Fills the index for the articles stored before it existed (schema 010's Rust step).
pub(super) fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let mut read = conn.prepare("SELECT msgid, posted, arrived, seq FROM articles")?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let msgid: String = r.get(0)?;
        index(conn, &msgid, r.get(1)?, r.get(2)?, r.get(3)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{msgid_of, Initiator, VecStorage};
    use crate::spool::test_support::{new_article, temp_spool};

    fn digest(n: u8) -> [u8; ID_SIZE] {
        [n; ID_SIZE]
    }

    fn all(spool: &Spool) -> Vec<Item> {
        let mut out = Vec::new();
        spool
            .reconcile_items()
            .scan(&Bound::MIN, &Bound::INFINITY, &mut |i| {
                out.push(*i);
                true
            })
            .unwrap();
        out
    }

    #[test]
    fn stored_articles_are_indexed_and_leave_it_when_deleted() {
        let (_dir, mut spool) = temp_spool();
        let mut a = new_article(&msgid_of(&digest(1)), "mesh.test");
        let mut b = new_article(&msgid_of(&digest(2)), "mesh.test");
        b.posted = 0;
        a.posted = 1000;
        let foreign = new_article("<x@example.com>", "mesh.test");
        spool.store_batch(&[a, b, foreign]).unwrap();
        let items = all(&spool);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(
            items[0],
            Item {
                timestamp: 1000,
                id: digest(1)
            }
        );
        assert!(
            items[1].timestamp > 1000,
            "arrival time for a dateless article"
        );
        // A range that excludes the first.
        let mut after = Vec::new();
        spool
            .reconcile_items()
            .scan(&Bound::new(1001, &[]), &Bound::INFINITY, &mut |i| {
                after.push(*i);
                true
            })
            .unwrap();
        assert_eq!(after, items[1..]);
        spool
            .conn
            .execute(
                "DELETE FROM articles WHERE msgid = ?1",
                [msgid_of(&digest(1))],
            )
            .unwrap();
        assert_eq!(all(&spool), items[1..]);
    }

    #[test]
    fn the_spool_and_memory_storages_reconcile_alike() {
        let (_dir, mut spool) = temp_spool();
        let articles: Vec<_> = (0..200u8)
            .map(|n| {
                let mut a = new_article(&msgid_of(&digest(n)), "mesh.test");
                a.posted = 1_000 + i64::from(n / 3);
                a
            })
            .collect();
        spool.store_batch(&articles).unwrap();
        let memory = VecStorage::new(all(&spool));
        assert_eq!(memory.items().len(), 200);
        let from_spool = Initiator::new().start(&spool.reconcile_items()).unwrap();
        let from_memory = Initiator::new().start(&memory).unwrap();
        assert_eq!(from_spool, from_memory);
        let answer = crate::reconcile::respond(&spool.reconcile_items(), &from_memory).unwrap();
        assert_eq!(
            answer,
            vec![crate::reconcile::VERSION],
            "equal sets: nothing to ask"
        );
    }

    #[test]
    fn the_migration_indexes_articles_stored_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        let id = msgid_of(&digest(3));
        {
            let mut spool = Spool::open(&path).unwrap();
            spool.store_batch(&[new_article(&id, "mesh.test")]).unwrap();
            // Back to the version before the index, as a spool of an older newsmesh.
            let before = super::super::migrate::MIGRATIONS
                .iter()
                .position(|m| *m == super::super::migrate::RECONCILE_INDEX)
                .unwrap();
            spool
                .conn
                .execute_batch(&format!(
                    "DROP TRIGGER reconcile_items_gone; DROP TABLE reconcile_items;
                     PRAGMA user_version = {before};"
                ))
                .unwrap();
        }
        let spool = Spool::open(&path).unwrap();
        assert_eq!(
            all(&spool).iter().map(|i| i.id).collect::<Vec<_>>(),
            [digest(3)]
        );
    }

    #[test]
    fn a_feed_pattern_hides_the_articles_it_does_not_take() {
        let (_dir, mut spool) = temp_spool();
        spool
            .store_batch(&[
                new_article(&msgid_of(&digest(1)), "mesh.test"),
                new_article(&msgid_of(&digest(2)), "mesh.private"),
            ])
            .unwrap();
        let feed = Wildmat::new("mesh.*,!mesh.private");
        let mut seen = Vec::new();
        spool
            .reconcile_items_for(&feed)
            .scan(&Bound::MIN, &Bound::INFINITY, &mut |i| {
                seen.push(i.id);
                true
            })
            .unwrap();
        assert_eq!(seen, [digest(1)]);
        let everything = Wildmat::new("*");
        let acc = spool
            .reconcile_items_for(&everything)
            .fingerprint(&Bound::MIN, &Bound::INFINITY)
            .unwrap();
        assert_eq!(acc.count(), 2);
    }

    #[test]
    fn arrivals_of_finds_stored_articles_only() {
        let (_dir, mut spool) = temp_spool();
        let id = msgid_of(&digest(9));
        spool.store_batch(&[new_article(&id, "mesh.test")]).unwrap();
        let found = spool
            .arrivals_of(&[id.clone(), "<missing@x>".to_string()])
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].msgid, id);
    }

    #[test]
    fn arrivals_of_come_in_arrival_order_once_each_whatever_order_they_are_asked_in() {
        let (_dir, mut spool) = temp_spool();
        let ids: Vec<String> = (1..=4).map(|n| msgid_of(&digest(n))).collect();
        let batch: Vec<_> = ids.iter().map(|id| new_article(id, "mesh.test")).collect();
        spool.store_batch(&batch).unwrap();
        let asked = [&ids[3], &ids[0], &ids[2], &ids[0]].map(String::clone);
        let found = spool.arrivals_of(&asked).unwrap();
        let got: Vec<&str> = found.iter().map(|a| a.msgid.as_str()).collect();
        assert_eq!(got, [&ids[0], &ids[2], &ids[3]]);
        assert!(found.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}
