//! The reader's retrievals (`ARTICLE`, `HEAD`, `BODY`, `STAT`): one article by number
//! in a group or by Message-ID, lent to the caller straight from SQLite's row, so the
//! server writes it into its socket buffer without an intermediate copy.
//!
//! Meant to run many to one [`Spool::read_with`] (one read transaction per pipelined
//! batch); the statements are prepared once per connection (`prepare_cached`). Kept
//! apart from `query.rs`, whose owned-value lookups serve everything else.

use rusqlite::{params, Row};

use super::{Spool, SpoolError};

/// An article found for a reader: borrowed from the row being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lent<'a> {
    /// Its number in the group asked about (by id: in the selected group, 0 when it is
    /// not filed there or no group is selected).
    pub number: i64,
    /// Its Message-ID.
    pub msgid: &'a str,
    /// Its wire form.
    pub raw: &'a [u8],
}

/// `Lent` from a row of `number, msgid, raw` (a NULL number is 0).
fn lend<'r>(row: &'r Row<'_>) -> rusqlite::Result<Lent<'r>> {
    Ok(Lent {
        number: row.get::<_, Option<i64>>(0)?.unwrap_or(0),
        msgid: row.get_ref(1)?.as_str()?,
        raw: row.get_ref(2)?.as_blob()?,
    })
}

/// How much of the spool file a node's connection reads through a memory map
/// (`PRAGMA mmap_size`). Without it every lookup copies a whole 16 KiB page from the
/// kernel's cache into SQLite's small one (a `pread`) to read a 1 KB article: a third
/// of `serve`'s CPU under a pipelining reader, and 15% of a pushing `sync`'s, measured
/// (BENCHMARKS.md "Pipelined readers", "Issue 21's regression"). Address space only: the pages are the kernel's file cache, shared and
/// reclaimable, though they show in the process's RSS as the file is read. Beyond
/// this size SQLite reads as before. SQLite writes through the WAL with `write()`
/// either way, so durability is unchanged; a VFS without `xFetch` (the tests'
/// power-cut VFS) simply never maps.
pub const READER_MAP_BYTES: i64 = 256 << 20;

impl Spool {
    /// Lets this connection read the spool file through a memory map of up to
    /// [`READER_MAP_BYTES`] (every node's connection does, `Home::open_with`).
    pub fn map_for_readers(&self) -> Result<(), SpoolError> {
        self.conn
            .pragma_update(None, "mmap_size", READER_MAP_BYTES)
            .map_err(|e| self.err(e))
    }

    /// Calls `f` with the article numbered `number` in `group`, if there is one.
    pub fn lend_article_at<R>(
        &self,
        group: &str,
        number: i64,
        f: impl FnOnce(Lent<'_>) -> R,
    ) -> Result<Option<R>, SpoolError> {
        self.lend(
            "SELECT g.num, a.msgid, a.raw FROM group_articles g JOIN articles a ON a.seq = g.seq
             WHERE g.grp = ?1 AND g.num = ?2",
            params![group, number],
            f,
        )
    }

    /// Calls `f` with the article `msgid`, if it is stored, and its number in `group`
    /// (0 when not filed there, or no group).
    pub fn lend_article<R>(
        &self,
        msgid: &str,
        group: Option<&str>,
        f: impl FnOnce(Lent<'_>) -> R,
    ) -> Result<Option<R>, SpoolError> {
        self.lend(
            "SELECT (SELECT g.num FROM group_articles g WHERE g.seq = a.seq AND g.grp = ?2),
                    a.msgid, a.raw
             FROM history h JOIN articles a ON a.seq = h.seq WHERE h.msgid = ?1",
            params![msgid, group],
            f,
        )
    }

    /// Calls `f` with the article of arrival `seq` (its number 0), if it is still
    /// stored: what a push sends, many to one read transaction.
    pub fn lend_arrival<R>(
        &self,
        seq: i64,
        f: impl FnOnce(Lent<'_>) -> R,
    ) -> Result<Option<R>, SpoolError> {
        self.lend(
            "SELECT 0, msgid, raw FROM articles WHERE seq = ?1",
            params![seq],
            f,
        )
    }

    fn lend<R>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(Lent<'_>) -> R,
    ) -> Result<Option<R>, SpoolError> {
        let run = || -> rusqlite::Result<Option<R>> {
            let mut statement = self.conn.prepare_cached(sql)?;
            let mut rows = statement.query(params)?;
            match rows.next()? {
                Some(row) => Ok(Some(f(lend(row)?))),
                None => Ok(None),
            }
        };
        run().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use crate::spool::test_support::{new_article, temp_spool};

    #[test]
    fn readers_read_through_a_map() {
        let (_dir, spool) = temp_spool();
        spool.map_for_readers().unwrap();
        let size: i64 = spool
            .conn
            .pragma_query_value(None, "mmap_size", |r| r.get(0))
            .unwrap();
        assert_eq!(size, super::READER_MAP_BYTES);
    }

    #[test]
    fn lends_by_number_and_by_id() {
        let (_dir, mut spool) = temp_spool();
        spool.create_group("a.b", "").unwrap();
        spool.create_group("c.d", "").unwrap();
        let mut cross = new_article("<x@y>", "a.b");
        cross.newsgroups = vec!["a.b".into(), "c.d".into()];
        spool
            .store_batch(&[new_article("<w@y>", "c.d"), cross])
            .unwrap();
        let owned = |l: super::Lent<'_>| (l.number, l.msgid.to_string(), l.raw.to_vec());
        let raw = b"Message-ID: <x@y>\r\n\r\nbody\r\n".to_vec();
        assert_eq!(
            spool.lend_article_at("c.d", 2, owned).unwrap(),
            Some((2, "<x@y>".into(), raw.clone()))
        );
        assert_eq!(spool.lend_article_at("c.d", 3, owned).unwrap(), None);
        assert_eq!(spool.lend_article_at("x.y", 1, owned).unwrap(), None);
        let by_id = |id: &str, group: Option<&str>| spool.lend_article(id, group, owned).unwrap();
        assert_eq!(
            by_id("<x@y>", Some("a.b")),
            Some((1, "<x@y>".into(), raw.clone()))
        );
        assert_eq!(
            by_id("<x@y>", Some("c.d")),
            Some((2, "<x@y>".into(), raw.clone()))
        );
        // Stored, but not in the selected group (or none selected): number 0.
        assert_eq!(by_id("<w@y>", Some("a.b")).map(|f| f.0), Some(0));
        assert_eq!(by_id("<x@y>", None).map(|f| f.0), Some(0));
        assert_eq!(by_id("<nope@y>", Some("a.b")), None);
    }
}
