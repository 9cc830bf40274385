//! Control messages' effects on the spool. Withdrawing articles: cancels and supersedes
//! (honoured by `ingest` only when signed by the same author key as their target) remove
//! the target from its groups and the spool, and mark it `cancelled` in history, with the
//! key that cancelled it. A cancel that arrives before its target is kept in
//! `early_cancels` with its key, one row per (target, key): whoever sent one first, the
//! target is withdrawn on arrival when its own author's key is among them (see
//! `store_one`), so a stranger's early cancel cannot pre-empt the author's. Creating and
//! removing groups: newgroup and rmgroup, honoured by `ingest` for the keys `[[control]]`
//! trusts.

use rusqlite::{params, OptionalExtension};

use super::store::Storer;

/// Where a cancel's target stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Stored here, signed by this key (None: unsigned).
    Stored(Option<String>),
    /// Not stored, and no history row says why.
    Unknown,
    /// Seen before and not stored (refused, expired, cancelled).
    Gone,
}

impl Storer<'_> {
    /// Where `msgid` stands.
    pub fn target(&self, msgid: &str) -> rusqlite::Result<Target> {
        let tx = self.other_tables();
        let row: Option<(String, Option<String>)> = tx
            .prepare_cached(
                "SELECT h.status, a.signer FROM history h LEFT JOIN articles a ON a.seq = h.seq
                 WHERE h.msgid = ?1",
            )?
            .query_row(params![msgid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match row {
            Some((status, signer)) if status == "stored" => Target::Stored(signer),
            Some(_) => Target::Gone,
            None => Target::Unknown,
        })
    }

    /// Removes a stored article from its groups and the spool; history says `cancelled`
    /// by `by` (an author key).
    pub fn withdraw(&mut self, msgid: &str, by: &str) -> rusqlite::Result<()> {
        let tx = self.transaction()?;
        let seq: Option<i64> = tx
            .prepare_cached("SELECT seq FROM history WHERE msgid = ?1")?
            .query_row(params![msgid], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(seq) = seq {
            let groups: Vec<String> = tx
                .prepare_cached("SELECT grp FROM group_articles WHERE seq = ?1")?
                .query_map(params![seq], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            tx.prepare_cached("DELETE FROM group_articles WHERE seq = ?1")?
                .execute(params![seq])?;
            tx.prepare_cached("DELETE FROM articles WHERE seq = ?1")?
                .execute(params![seq])?;
            for group in groups {
                super::expire::recount(tx, &group)?;
            }
        }
        self.mark_cancelled(msgid, by)
    }

    /// Whether this node carries `group` (created by `init`, `groups --add` or a trusted
    /// newgroup). Articles are filed only in groups it carries.
    pub fn carries(&self, group: &str) -> rusqlite::Result<bool> {
        self.other_tables()
            .prepare_cached("SELECT 1 FROM groups WHERE name = ?1")?
            .exists(params![group])
    }

    /// Creates a group (newgroup); an existing one gets the new description.
    pub fn create_group(&mut self, name: &str, description: &str) -> rusqlite::Result<()> {
        self.transaction()?
            .prepare_cached(
                "INSERT INTO groups (name, created, description) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET description = ?3",
            )?
            .execute(params![name, super::now(), description])
            .map(|_| ())
    }

    /// Removes a group (rmgroup) and the articles only it held (their ids stay in history).
    pub fn remove_group(&mut self, name: &str) -> rusqlite::Result<()> {
        let tx = self.transaction()?;
        tx.prepare_cached("DELETE FROM group_articles WHERE grp = ?1")?
            .execute(params![name])?;
        tx.prepare_cached("DELETE FROM groups WHERE name = ?1")?
            .execute(params![name])?;
        super::expire::drop_orphans(tx).map(|_| ())
    }

    /// Keeps a cancel of `msgid` (not here yet) signed by `by`; every key's cancel is
    /// kept, so the first one cannot shadow the author's.
    pub fn mark_cancelled_early(&mut self, msgid: &str, by: &str) -> rusqlite::Result<()> {
        self.early_cancel_added();
        self.other_tables()
            .prepare_cached(
                "INSERT OR IGNORE INTO early_cancels (msgid, signer, seen) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![msgid, by, super::now()])
            .map(|_| ())
    }

    /// The keys whose cancels of `msgid` came before it, with when each came (Unix
    /// seconds): governance honours a moderator's among them when the target arrives.
    pub fn early_cancellers(&self, msgid: &str) -> rusqlite::Result<Vec<(String, i64)>> {
        self.other_tables()
            .prepare_cached("SELECT signer, seen FROM early_cancels WHERE msgid = ?1")?
            .query_map(params![msgid], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// Marks `msgid` cancelled by `by` in history.
    pub fn mark_cancelled(&mut self, msgid: &str, by: &str) -> rusqlite::Result<()> {
        self.other_tables()
            .prepare_cached(
                "INSERT INTO history (msgid, status, seen, reason, seq) VALUES (?1, 'cancelled', ?2, ?3, NULL)
                 ON CONFLICT(msgid) DO UPDATE SET status = 'cancelled', reason = ?3, seq = NULL",
            )?
            .execute(params![msgid, super::now(), by])
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_spool;
    use super::super::{now, StoreOutcome};

    #[test]
    fn early_cancels_are_kept_per_key_and_age_out_with_history() {
        let (_dir, mut spool) = temp_spool();
        spool
            .store_with(|s| {
                s.mark_cancelled_early("<t@x>", "STRANGER")?;
                s.mark_cancelled_early("<t@x>", "AUTHOR")?;
                s.mark_cancelled_early("<t@x>", "AUTHOR")
            })
            .unwrap();
        let count = |spool: &super::super::Spool| -> i64 {
            spool
                .conn
                .query_row("SELECT COUNT(*) FROM early_cancels", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&spool), 2);
        // The target by its author arrives: withdrawn on arrival.
        let mut target = super::super::test_support::new_article("<t@x>", "mesh.test");
        target.signer = Some("AUTHOR".into());
        assert_eq!(
            spool.store_batch(&[target]).unwrap(),
            vec![StoreOutcome::Duplicate]
        );
        assert_eq!(spool.history("<t@x>").unwrap().unwrap().0, "cancelled");
        spool.expire(|_| None, now() + 10).unwrap();
        assert_eq!(count(&spool), 0);
    }
}
