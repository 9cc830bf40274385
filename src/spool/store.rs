//! Writing to the spool: storing articles (article row, group numbers and history row in
//! one transaction per batch), recording refusals, and creating groups.

use std::cell::RefCell;

use rusqlite::{params, OptionalExtension, Transaction};

use super::numbering::Numbering;

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
    /// Group numbers handed out in this transaction, written back before any other
    /// statement touches the transaction (see [`Storer::transaction`]).
    numbering: RefCell<Numbering>,
    /// The arrival sequence the next stored article gets, once read.
    next_seq: Option<i64>,
    /// Whether `early_cancels` may hold a row (read once; set when one is added).
    early_cancels: Option<bool>,
    /// Articles stored in this transaction.
    stored: usize,
}

impl<'a> Storer<'a> {
    /// The open transaction, for multi-statement changes inside the spool module. The
    /// group numbers handed out so far are written first, so whatever runs next sees
    /// `groups` as it is.
    pub(super) fn transaction(&self) -> rusqlite::Result<&Transaction<'a>> {
        self.numbering.borrow_mut().flush(&self.tx)?;
        Ok(&self.tx)
    }

    /// The open transaction for statements on tables other than `groups` and
    /// `group_articles` (they need not wait for the group numbers to be written).
    pub(super) fn other_tables(&self) -> &Transaction<'a> {
        &self.tx
    }

    /// Stores one article: its history row, its row in `articles` and a number in each
    /// of its groups (groups are created on first use).
    pub fn store(&mut self, article: &NewArticle) -> rusqlite::Result<StoreOutcome> {
        self.store_one(article)
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
        let (result, bulk) = {
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
                numbering: Default::default(),
                next_seq: None,
                early_cancels: None,
                stored: 0,
            };
            let result = f(&mut storer).map_err(wrap)?;
            storer.numbering.get_mut().flush(&storer.tx).map_err(wrap)?;
            storer.usage.flush(&storer.tx).map_err(wrap)?;
            let bulk = storer.stored >= super::checkpoint::BULK;
            storer.tx.commit().map_err(wrap)?;
            (result, bulk)
        };
        self.checkpoint_after_commit(bulk);
        if let Some(hook) = &self.on_commit {
            hook();
        }
        Ok(result)
    }

    /// Nudges the checkpointer, started by the first bulk transaction (see
    /// `spool::checkpoint`); until then SQLite checkpoints in the commit, as before.
    fn checkpoint_after_commit(&mut self, bulk: bool) {
        if self.checkpointer.is_none() && bulk {
            let Some(checkpointer) = super::checkpoint::Checkpointer::start(&self.path) else {
                return;
            };
            let safety_net = super::checkpoint::SAFETY_NET_PAGES;
            if self
                .conn
                .pragma_update(None, "wal_autocheckpoint", safety_net)
                .is_err()
            {
                return;
            }
            self.checkpointer = Some(checkpointer);
        }
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
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

impl Storer<'_> {
    /// The arrival sequence the next article gets: AUTOINCREMENT's, given explicitly so
    /// that its history row is written once, with it.
    fn next_seq(&mut self) -> rusqlite::Result<i64> {
        if let Some(seq) = self.next_seq {
            return Ok(seq);
        }
        let last: i64 = self.tx.query_row(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'articles'), 0),
                        COALESCE((SELECT MAX(seq) FROM articles), 0))",
            [],
            |r| r.get(0),
        )?;
        self.next_seq = Some(last + 1);
        Ok(last + 1)
    }

    /// Whether `early_cancels` may hold a cancel of `msgid` by `signer`: looked up only
    /// when the table has a row at all (it is empty on most nodes, most of the time).
    fn cancelled_early(&mut self, msgid: &str, signer: &str) -> rusqlite::Result<bool> {
        let any = match self.early_cancels {
            Some(any) => any,
            None => {
                let any = self
                    .tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM early_cancels)")?
                    .query_row([], |r| r.get(0))?;
                self.early_cancels = Some(any);
                any
            }
        };
        if !any {
            return Ok(false);
        }
        self.tx
            .prepare_cached("SELECT 1 FROM early_cancels WHERE msgid = ?1 AND signer = ?2")?
            .exists(params![msgid, signer])
    }

    /// Notes that `early_cancels` has a row now (see [`Storer::cancelled_early`]).
    pub(super) fn early_cancel_added(&mut self) {
        self.early_cancels = Some(true);
    }

    fn store_one(&mut self, a: &NewArticle) -> rusqlite::Result<StoreOutcome> {
        let t = now();
        if let Some(signer) = &a.signer {
            // Its own author cancelled it before it came: it is withdrawn on arrival.
            if self.cancelled_early(&a.msgid, signer)? {
                self.tx
                    .prepare_cached(
                        "INSERT INTO history (msgid, status, seen, reason, seq) VALUES (?1, 'cancelled', ?2, ?3, NULL)
                         ON CONFLICT(msgid) DO UPDATE SET status = 'cancelled', reason = ?3, seq = NULL",
                    )?
                    .execute(params![a.msgid, t, signer])?;
                return Ok(StoreOutcome::Duplicate);
            }
        }
        let seq = self.next_seq()?;
        let tx = &self.tx;
        let fresh = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO history (msgid, status, seen, seq) VALUES (?1, 'stored', ?2, ?3)",
            )?
            .execute(params![a.msgid, t, seq])?;
        if fresh == 0 {
            // A cancel withdrew this id (or, in a spool from before schema 5, came first
            // and marked it); it binds only the same author.
            let cancelled_by: Option<String> = tx
                .prepare_cached(
                    "SELECT reason FROM history WHERE msgid = ?1 AND status = 'cancelled'",
                )?
                .query_row(params![a.msgid], |r| r.get(0))
                .optional()?;
            match cancelled_by {
                Some(by) if a.signer.as_deref().is_some_and(|s| s != by) => {
                    tx.prepare_cached(
                        "UPDATE history SET status = 'stored', reason = '', seq = ?2 WHERE msgid = ?1",
                    )?
                    .execute(params![a.msgid, seq])?;
                }
                _ => return Ok(StoreOutcome::Duplicate),
            }
        }
        tx.prepare_cached(
            "INSERT INTO articles (seq, msgid, path, newsgroups, subject, author, date, posted,
                                   refs, bytes, lines, signer, arrived, raw, delivered_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(params![
            seq,
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
        self.next_seq = Some(seq + 1);
        self.stored += 1;
        super::reconcile::index(tx, &a.msgid, a.posted, t, seq)?;
        let numbering = self.numbering.get_mut();
        for group in &a.newsgroups {
            let number = numbering.next(tx, group, t)?;
            tx.prepare_cached("INSERT INTO group_articles (grp, num, seq) VALUES (?1, ?2, ?3)")?
                .execute(params![group, number, seq])?;
        }
        Ok(StoreOutcome::Stored(seq))
    }
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

    #[test]
    fn numbers_handed_out_in_a_batch_meet_a_withdrawal_in_the_same_transaction() {
        let (_dir, mut spool) = temp_spool();
        spool
            .store_with(|s| {
                s.store(&new_article("<a@x>", "mesh.test"))?;
                s.store(&new_article("<b@x>", "mesh.test"))?;
                // Recounts the group from group_articles: the numbers so far are written
                // first, and the ones after start from what it left.
                s.withdraw("<a@x>", "KEY")?;
                s.store(&new_article("<c@x>", "mesh.test"))?;
                s.store(&new_article("<d@x>", "mesh.new"))
            })
            .unwrap();
        let g = spool.group("mesh.test").unwrap().unwrap();
        assert_eq!((g.low, g.high, g.count), (2, 3, 2));
        assert_eq!(spool.number_in("mesh.test", "<c@x>").unwrap(), Some(3));
        let new = spool.group("mesh.new").unwrap().unwrap();
        assert_eq!((new.low, new.high, new.count), (1, 1, 1));
    }

    #[test]
    fn arrival_sequences_are_never_reused() {
        let (_dir, mut spool) = temp_spool();
        let first = spool
            .store_batch(&[
                new_article("<a@x>", "mesh.test"),
                new_article("<b@x>", "mesh.test"),
            ])
            .unwrap();
        assert_eq!(
            first,
            vec![StoreOutcome::Stored(1), StoreOutcome::Stored(2)]
        );
        spool.store_with(|s| s.withdraw("<b@x>", "KEY")).unwrap();
        let next = spool
            .store_batch(&[new_article("<c@x>", "mesh.test")])
            .unwrap();
        assert_eq!(next, vec![StoreOutcome::Stored(3)]);
        assert_eq!(spool.article("<c@x>").unwrap().unwrap().seq, 3);
    }
}
