//! Writing to the spool: storing articles (article row, group numbers and history row in
//! one transaction per batch), recording refusals, and creating groups.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{now, Spool, SpoolError};

/// An article ready to be stored: its wire form plus the fields the spool indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    /// Message-ID with brackets.
    pub msgid: String,
    /// Path header as it will be stored.
    pub path: String,
    /// Groups to file it in.
    pub newsgroups: Vec<String>,
    /// Subject, unfolded.
    pub subject: String,
    /// From, unfolded.
    pub author: String,
    /// Date as written.
    pub date: String,
    /// Date in Unix seconds (0 when unparseable).
    pub posted: i64,
    /// References, unfolded.
    pub refs: String,
    /// Body lines.
    pub lines: usize,
    /// Author key (base64) when signed.
    pub signer: Option<String>,
    /// The article, wire form.
    pub raw: Vec<u8>,
    /// The neighbour (`[[peer]]` or `[[nntp_peer]]` name) that delivered it; None when
    /// it was made here or imported. Decides whom it is not offered back to.
    pub delivered_by: Option<String>,
}

/// What became of one article of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored under this arrival sequence.
    Stored(i64),
    /// Its Message-ID is already in history (stored, refused or expired before).
    Duplicate,
}

/// An open write transaction on the spool (see [`Spool::store_with`]).
pub struct Storer<'a> {
    tx: Transaction<'a>,
    /// Quota usage read and charged in this transaction, written once before the commit.
    pub(super) usage: super::quota_usage::Ledger,
}

impl<'a> Storer<'a> {
    /// The open transaction, for multi-statement changes inside the spool module.
    pub(super) fn transaction(&self) -> &Transaction<'a> {
        &self.tx
    }

    /// Stores one article: its history row, its row in `articles` and a number in each
    /// of its groups (groups are created on first use).
    pub fn store(&mut self, article: &NewArticle) -> rusqlite::Result<StoreOutcome> {
        store_one(&self.tx, article)
    }

    /// [`Spool::seen`] inside the transaction: whether `msgid` is in history (stored,
    /// refused or expired), not counting an id only marked by a cancel that came first.
    pub fn seen(&self, msgid: &str) -> rusqlite::Result<bool> {
        self.tx
            .prepare_cached("SELECT 1 FROM history WHERE msgid = ?1 AND status != 'cancelled'")?
            .exists(params![msgid])
    }

    /// Records a refused Message-ID in history so it is not fetched again; an id already
    /// in history is left as it is.
    pub fn record_refused(&mut self, msgid: &str, reason: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO history (msgid, status, seen, reason) VALUES (?1, 'refused', ?2, ?3)",
            )?
            .execute(params![msgid, now(), reason])
            .map(|_| ())
    }
}

/// SQLite's page cache for a connection that stores, in KiB (SQLite's default is 2,000).
/// A transaction of a couple of thousand articles dirties a few MiB of article pages and
/// up to one history page per article (history is keyed by random Message-IDs); with the
/// default cache those pages are spilled to the WAL before the commit and read back from
/// the file at the next lookup. 32 MiB holds a batch's dirty pages and the history of a
/// spool of a few hundred thousand articles; it is a bound, filled only as pages are read.
const WRITE_CACHE_KIB: i64 = 32 * 1024;

impl Spool {
    /// Runs `f` in ONE write transaction and commits it: when this returns Ok, everything
    /// `f` stored is durable; when `f` fails, nothing it did is kept.
    pub fn store_with<R>(
        &mut self,
        f: impl FnOnce(&mut Storer<'_>) -> rusqlite::Result<R>,
    ) -> Result<R, SpoolError> {
        let path = self.path.clone();
        let wrap = |source| SpoolError::from_sqlite(&path, source);
        // Set here, where writes start, rather than at open: a spool only read (a
        // `read`, `status`) keeps SQLite's small default.
        self.conn
            .pragma_update(None, "cache_size", -WRITE_CACHE_KIB)
            .map_err(wrap)?;
        let mut storer = Storer {
            // IMMEDIATE: take the write lock at BEGIN (waiting up to the busy timeout).
            // A deferred transaction that reads first cannot wait for it: when another
            // connection (`sync`, a live relay link, `serve`) commits in between, SQLite
            // fails the upgrade at once with "database is locked".
            tx: self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(wrap)?,
            usage: Default::default(),
        };
        let result = f(&mut storer).map_err(wrap)?;
        storer.usage.flush(&storer.tx).map_err(wrap)?;
        storer.tx.commit().map_err(wrap)?;
        if let Some(hook) = &self.on_commit {
            hook();
        }
        Ok(result)
    }

    /// Runs `f`'s reads in ONE read transaction (one snapshot): a run of lookups, such as
    /// the history lookups answering a batch of CHECKs, takes SQLite's locks once
    /// instead of once per statement. Here beside [`Spool::store_with`], its write twin.
    pub fn read_with<R>(&self, f: impl FnOnce(&Spool) -> R) -> Result<R, SpoolError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let result = f(self);
        tx.commit().map_err(|e| self.err(e))?;
        Ok(result)
    }

    /// Stores a batch in one transaction (see [`Storer::store`]).
    pub fn store_batch(&mut self, batch: &[NewArticle]) -> Result<Vec<StoreOutcome>, SpoolError> {
        self.store_with(|s| batch.iter().map(|a| s.store(a)).collect())
    }

    /// Records refused Message-IDs (with reasons) in one transaction.
    pub fn record_refused(&mut self, refused: &[(String, String)]) -> Result<(), SpoolError> {
        if refused.is_empty() {
            return Ok(());
        }
        self.store_with(|s| {
            refused
                .iter()
                .try_for_each(|(id, why)| s.record_refused(id, why))
        })
    }

    /// Creates a group if it does not exist; returns whether it was created.
    pub fn create_group(&mut self, name: &str, description: &str) -> Result<bool, SpoolError> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO groups (name, created, description) VALUES (?1, ?2, ?3)",
                params![name, now(), description],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }
}

fn store_one(tx: &Transaction<'_>, a: &NewArticle) -> rusqlite::Result<StoreOutcome> {
    let t = now();
    if let Some(signer) = &a.signer {
        // Its own author cancelled it before it came: it is withdrawn on arrival.
        let cancelled_early = tx
            .prepare_cached("SELECT 1 FROM early_cancels WHERE msgid = ?1 AND signer = ?2")?
            .exists(params![a.msgid, signer])?;
        if cancelled_early {
            tx.prepare_cached(
                "INSERT INTO history (msgid, status, seen, reason, seq) VALUES (?1, 'cancelled', ?2, ?3, NULL)
                 ON CONFLICT(msgid) DO UPDATE SET status = 'cancelled', reason = ?3, seq = NULL",
            )?
            .execute(params![a.msgid, t, signer])?;
            return Ok(StoreOutcome::Duplicate);
        }
    }
    let fresh = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO history (msgid, status, seen) VALUES (?1, 'stored', ?2)",
        )?
        .execute(params![a.msgid, t])?;
    if fresh == 0 {
        // A cancel withdrew this id (or, in a spool from before schema 5, came first and
        // marked it); it binds only the same author.
        let cancelled_by: Option<String> = tx
            .prepare_cached("SELECT reason FROM history WHERE msgid = ?1 AND status = 'cancelled'")?
            .query_row(params![a.msgid], |r| r.get(0))
            .optional()?;
        match cancelled_by {
            Some(by) if a.signer.as_deref().is_some_and(|s| s != by) => {
                tx.prepare_cached(
                    "UPDATE history SET status = 'stored', reason = '' WHERE msgid = ?1",
                )?
                .execute(params![a.msgid])?;
            }
            _ => return Ok(StoreOutcome::Duplicate),
        }
    }
    tx.prepare_cached(
        "INSERT INTO articles (msgid, path, newsgroups, subject, author, date, posted, refs,
                               bytes, lines, signer, arrived, raw, delivered_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        a.msgid,
        a.path,
        a.newsgroups.join(","),
        a.subject,
        a.author,
        a.date,
        a.posted,
        a.refs,
        a.raw.len() as i64,
        a.lines as i64,
        a.signer,
        t,
        a.raw,
        a.delivered_by
    ])?;
    let seq = tx.last_insert_rowid();
    super::reconcile::index(tx, &a.msgid, a.posted, t, seq)?;
    tx.prepare_cached("UPDATE history SET seq = ?2 WHERE msgid = ?1")?
        .execute(params![a.msgid, seq])?;
    for group in &a.newsgroups {
        let number: Option<i64> = tx
            .prepare_cached(
                "UPDATE groups SET high = high + 1, count = count + 1 WHERE name = ?1 RETURNING high",
            )?
            .query_row(params![group], |r| r.get(0))
            .optional()?;
        let number = match number {
            Some(n) => n,
            None => {
                tx.prepare_cached(
                    "INSERT INTO groups (name, low, high, count, created) VALUES (?1, 1, 1, 1, ?2)",
                )?
                .execute(params![group, t])?;
                1
            }
        };
        tx.prepare_cached("INSERT INTO group_articles (grp, num, seq) VALUES (?1, ?2, ?3)")?
            .execute(params![group, number, seq])?;
    }
    Ok(StoreOutcome::Stored(seq))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_article, temp_spool};
    use super::*;

    #[test]
    fn duplicates_are_refused_and_numbers_grow() {
        let (_dir, mut spool) = temp_spool();
        let out = spool
            .store_batch(&[
                new_article("<a@x>", "mesh.test"),
                new_article("<b@x>", "mesh.test"),
            ])
            .unwrap();
        assert!(matches!(
            out[..],
            [StoreOutcome::Stored(_), StoreOutcome::Stored(_)]
        ));
        let again = spool
            .store_batch(&[new_article("<a@x>", "mesh.test")])
            .unwrap();
        assert_eq!(again, vec![StoreOutcome::Duplicate]);
        let g = spool.group("mesh.test").unwrap().unwrap();
        assert_eq!((g.low, g.high, g.count), (1, 2, 2));
    }

    #[test]
    fn a_refused_id_is_never_stored_later() {
        let (_dir, mut spool) = temp_spool();
        spool
            .record_refused(&[("<bad@x>".into(), "bad signature".into())])
            .unwrap();
        let out = spool
            .store_batch(&[new_article("<bad@x>", "mesh.test")])
            .unwrap();
        assert_eq!(out, vec![StoreOutcome::Duplicate]);
        assert_eq!(spool.history("<bad@x>").unwrap().unwrap().0, "refused");
    }

    #[test]
    fn a_spool_that_stores_has_the_write_cache() {
        let (_dir, mut spool) = temp_spool();
        spool
            .store_batch(&[new_article("<a@x>", "mesh.test")])
            .unwrap();
        let kib: i64 = spool
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .unwrap();
        assert_eq!(kib, -WRITE_CACHE_KIB);
    }

    #[test]
    fn reads_in_one_transaction_see_the_spool_and_leave_none_open() {
        let (_dir, mut spool) = temp_spool();
        spool
            .store_batch(&[new_article("<a@x>", "mesh.test")])
            .unwrap();
        let seen = spool
            .read_with(|s| (s.seen("<a@x>").unwrap(), s.seen("<b@x>").unwrap()))
            .unwrap();
        assert_eq!(seen, (true, false));
        assert!(
            spool.conn.is_autocommit(),
            "the read transaction was closed"
        );
        spool
            .store_batch(&[new_article("<b@x>", "mesh.test")])
            .unwrap();
    }

    #[test]
    fn duplicate_within_one_batch_is_stored_once() {
        let (_dir, mut spool) = temp_spool();
        let a = new_article("<a@x>", "mesh.test");
        let out = spool.store_batch(&[a.clone(), a]).unwrap();
        assert!(matches!(
            out[..],
            [StoreOutcome::Stored(_), StoreOutcome::Duplicate]
        ));
    }
}
