//! The spool's record of governance control articles (schema 8): written by `ingest`
//! (through [`crate::governance`]) in the transaction that stores the article, read back
//! whole to derive the membership state. Also the two queries a `revoke --cancel` needs.

use rusqlite::params;

use super::{now, Spool, SpoolError, Storer};

/// One accepted governance control article, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceRow {
    /// Its Message-ID.
    pub msgid: String,
    /// Its Date, Unix seconds.
    pub date: i64,
    /// Its author key (base64).
    pub signer: String,
    /// Its Control header value.
    pub control: String,
}

const SELECT_ALL: &str = "SELECT msgid, date, signer, control FROM governance";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GovernanceRow> {
    Ok(GovernanceRow {
        msgid: r.get(0)?,
        date: r.get(1)?,
        signer: r.get(2)?,
        control: r.get(3)?,
    })
}

impl Storer<'_> {
    /// Every governance row, in no particular order (the state is derived from the set).
    /// Empty without a query of the rows when there are none (the common case: ingest
    /// asks once per article).
    pub fn governance_rows(&self) -> rusqlite::Result<Vec<GovernanceRow>> {
        let tx = self.other_tables();
        if !tx
            .prepare_cached("SELECT 1 FROM governance LIMIT 1")?
            .exists([])?
        {
            return Ok(Vec::new());
        }
        let mut stmt = tx.prepare_cached(SELECT_ALL)?;
        let rows = stmt.query_map([], row)?;
        rows.collect()
    }

    /// What identifies the set of governance rows this spool holds, cheaply (rows are
    /// only ever added): its file, how many rows, and the last row's Message-ID (a
    /// rowid alone could be reused after a rolled-back transaction). None when there are
    /// none.
    pub fn governance_version(&self) -> rusqlite::Result<Option<(String, i64, String)>> {
        let tx = self.other_tables();
        let (count, last): (i64, Option<String>) = tx
            .prepare_cached(
                "SELECT COUNT(*), (SELECT msgid FROM governance ORDER BY rowid DESC LIMIT 1)
                 FROM governance",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(last
            .filter(|_| count > 0)
            .map(|last| (tx.path().unwrap_or_default().to_string(), count, last)))
    }

    /// Records an accepted governance article (a second copy of the same id is ignored).
    pub fn record_governance(&mut self, g: &GovernanceRow) -> rusqlite::Result<()> {
        self.other_tables()
            .prepare_cached(
                "INSERT OR IGNORE INTO governance (msgid, date, signer, control, seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![g.msgid, g.date, g.signer, g.control, now()])?;
        Ok(())
    }

    /// A stored article's author key and groups (as filed); None when it is not stored
    /// or unsigned.
    pub fn stored_signer_and_groups(
        &self,
        msgid: &str,
    ) -> rusqlite::Result<Option<(String, String)>> {
        use rusqlite::OptionalExtension;
        self.other_tables()
            .prepare_cached(
                "SELECT signer, newsgroups FROM articles WHERE msgid = ?1 AND signer IS NOT NULL",
            )?
            .query_row(params![msgid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    /// The stored articles signed by `signer`: (Message-ID, Newsgroups as filed).
    pub fn articles_signed_by(&self, signer: &str) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self
            .other_tables()
            .prepare_cached("SELECT msgid, newsgroups FROM articles WHERE signer = ?1")?;
        let rows = stmt.query_map(params![signer], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}

impl Spool {
    /// Every governance row (for `member list` and `status`).
    pub fn governance_rows(&self) -> Result<Vec<GovernanceRow>, SpoolError> {
        let read = || -> rusqlite::Result<Vec<GovernanceRow>> {
            let mut stmt = self.conn.prepare_cached(SELECT_ALL)?;
            let rows = stmt.query_map([], row)?;
            rows.collect()
        };
        read().map_err(|e| SpoolError::from_sqlite(&self.path, e))
    }
}
