//! The spool: one SQLite database (`spool.db`, WAL) holding articles, groups with their
//! NNTP article numbers, overview fields, the history of every Message-ID seen, the local
//! arrival sequence and the per-peer sync marks. Schema: `schema/*.sql`, applied in
//! order at open (`migrate.rs`).
//!
//! Durability: `synchronous=FULL`, so a committed transaction survives a crash of the
//! process and of the machine; an article is acknowledged to a peer only after the
//! transaction that stores it has committed. Batches amortise the fsync.

mod cancel;
mod checkpoint;
mod expire;
mod governance;
mod invites;
mod marks;
mod migrate;
mod numbering;
mod peer_syncs;
mod query;
mod quota_usage;
mod read;
mod reconcile;
mod stats;
mod store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use cancel::Target;
pub use checkpoint::INLINE_CHECKPOINT_ENV;
pub use expire::ExpireReport;
pub use governance::GovernanceRow;
pub use invites::InviteRefusal;
pub use marks::PeerMarks;
pub use peer_syncs::{PeerInbound, PeerSyncs, SyncOutcome, SyncTotals};
pub use query::{is_internal_group, Arrival, GroupInfo, Overview, StoredArticle};
pub use quota_usage::{Usage, UsageKind};
pub use read::Lent;
pub use reconcile::SpoolItems;
pub use stats::SpoolStats;
pub use store::{NewArticle, StoreOutcome, Storer};

/// Test knob: the environment variable that caps the spool at this many pages (SQLite's
/// `max_page_count`, 16 KiB each), so tests can fill a spool without filling a disk and
/// free room again by expiring articles. Not meant for operators.
pub const MAX_PAGES_ENV: &str = "NEWSMESH_TEST_SPOOL_MAX_PAGES";

/// What can go wrong in the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// SQLite failed.
    #[error("spool {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The spool cannot grow: the disk (or the spool's size limit) is full. Nothing of the
    /// failed change was kept; reads still work, and writes succeed again once there is
    /// room (free disk space, or `newsmesh expire`).
    #[error("spool {path} is full (no room on its disk or within its size limit); free some space or run `newsmesh expire`")]
    Full {
        /// The database file.
        path: PathBuf,
    },
    /// The database is newer than this program.
    #[error("spool {path} has schema version {found}, newer than this newsmesh ({known}); upgrade newsmesh")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
}

impl SpoolError {
    /// A SQLite failure on the spool at `path`; SQLITE_FULL becomes [`SpoolError::Full`].
    pub fn from_sqlite(path: &Path, source: rusqlite::Error) -> SpoolError {
        if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return SpoolError::Full {
                path: path.to_path_buf(),
            };
        }
        SpoolError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the spool failed for want of room (try again later, nothing was kept).
    pub fn is_full(&self) -> bool {
        matches!(self, SpoolError::Full { .. })
    }
}

/// An open spool.
pub struct Spool {
    conn: Connection,
    path: PathBuf,
    created: bool,
    /// Called after every committed write transaction (`serve` wakes its live relay).
    on_commit: Option<Box<dyn Fn() + Send>>,
    /// Checkpoints this spool's WAL on another thread once it stores in bulk.
    checkpointer: Option<checkpoint::Checkpointer>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("path", &self.path).finish()
    }
}

/// Bytes a WAL file keeps after a checkpoint (`PRAGMA journal_size_limit`).
pub const WAL_SIZE_LIMIT: i64 = 4 << 20;

/// Unix time now, in seconds (the node's clock: [`crate::clock`]).
pub fn now() -> i64 {
    crate::clock::now()
}

impl Spool {
    /// Opens (creating if needed) the spool at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Spool, SpoolError> {
        let wrap = |source| SpoolError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(wrap)?;
        // 16 KiB pages (set before the first table exists, so only for new spools): with
        // ~1.5 KB rows and random Message-ID keys, bigger pages mean fewer B-tree levels and
        // WAL frames per article; measured +27% bulk ingest against 4 KiB (BENCHMARKS.md).
        conn.pragma_update(None, "page_size", 16384).map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(wrap)?;
        // A WAL grows to the largest transaction since its last checkpoint (a bulk sync's
        // batches: tens of MiB) and SQLite keeps the file that big; on a small disk that
        // is space a long-running `serve` never gives back. Truncated to this after each
        // checkpoint. A post writes 7 pages (114,856 bytes of WAL frames, 16 KiB pages);
        // see BENCHMARKS.md "WAL per post".
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        conn.set_prepared_statement_cache_capacity(64);
        let created = migrate::migrate(&mut conn, path)?;
        if let Some(pages) = std::env::var(MAX_PAGES_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(wrap)?;
        }
        Ok(Spool {
            conn,
            path: path.to_path_buf(),
            created,
            on_commit: None,
            checkpointer: None,
        })
    }

    /// Whether this open made the spool (it had no schema yet): a new node, or a spool
    /// rebuilt after a loss.
    pub fn is_new(&self) -> bool {
        self.created
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls `hook` after every write transaction this spool commits from now on: what
    /// was stored is durable by then, so the hook may let others read and offer it.
    pub fn on_commit(&mut self, hook: impl Fn() + Send + 'static) {
        self.on_commit = Some(Box::new(hook));
    }

    fn err(&self, source: rusqlite::Error) -> SpoolError {
        SpoolError::from_sqlite(&self.path, source)
    }

    /// The spool's epoch: a random id made at creation; a neighbour that sees it change
    /// knows the spool was rebuilt and restarts its marks.
    pub fn epoch(&self) -> Result<String, SpoolError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A fresh spool in a temporary directory (kept alive by the returned guard).
    pub fn temp_spool() -> (tempfile::TempDir, Spool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(&dir.path().join("spool.db")).expect("open spool");
        (dir, spool)
    }

    /// A minimal stored-article record for group `group`.
    pub fn new_article(id: &str, group: &str) -> NewArticle {
        NewArticle {
            msgid: id.into(),
            path: "alpha!not-for-mail".into(),
            newsgroups: vec![group.into()],
            subject: format!("about {id}"),
            author: "ann@example.org".into(),
            date: "Fri, 27 Nov 2026 14:00:00 +0000".into(),
            posted: 1_795_788_000,
            refs: String::new(),
            lines: 1,
            signer: None,
            raw: format!("Message-ID: {id}\r\n\r\nbody\r\n").into_bytes(),
            delivered_by: None,
        }
    }
}
