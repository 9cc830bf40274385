//! What a test reads of a node beside the CLI: `sync` parsed, `read GROUP` counted,
//! and the spool through a read-only SQLite connection (safe while `serve` runs: WAL).

use std::time::Duration;

use newsmesh::testbed::Node;

use super::sync_run::SyncRun;

/// The group every fresh node carries.
pub const GROUP: &str = newsmesh::home::DEFAULT_GROUP;

/// Test-side views of a [`Node`].
pub trait Inspect {
    /// `newsmesh sync ARGS...`, with its lines parsed.
    fn sync_args(&self, args: &[&str]) -> SyncRun;
    /// `newsmesh sync`.
    fn sync(&self) -> SyncRun {
        self.sync_args(&[])
    }
    /// How many lines of `read mesh.test` show this subject.
    fn listed(&self, subject: &str) -> usize;
    /// A read-only SQLite connection to the spool.
    fn db(&self) -> rusqlite::Connection;
    /// Rows in `articles`.
    fn article_count(&self) -> i64;
    /// Rows in `articles` with this Message-ID.
    fn copies_of(&self, id: &str) -> i64;
    /// Every Message-ID in `articles`.
    fn message_ids(&self) -> Vec<String>;
    /// The `history` status of a Message-ID, if any.
    fn history_status(&self, id: &str) -> Option<String>;
    /// `peer_marks` row for `peer`: (pull_epoch, pull_seq, push_seq).
    fn marks(&self, peer: &str) -> Option<(String, i64, i64)>;
    /// The raw wire form of a stored article (through the library).
    fn raw_article(&self, id: &str) -> Vec<u8>;
}

impl Inspect for Node {
    fn sync_args(&self, args: &[&str]) -> SyncRun {
        SyncRun::of(self, args)
    }

    /// How many lines of `read mesh.test` show this subject.
    fn listed(&self, subject: &str) -> usize {
        let run = self.cli(&["read", GROUP]).ok();
        run.stdout_text()
            .lines()
            .filter(|l| l.trim_end().ends_with(&format!("  {subject}")))
            .count()
    }

    /// A read-only SQLite connection to the spool (safe while `serve` runs: WAL).
    fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_with_flags(
            self.spool_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .expect("open spool read-only");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// Rows in `articles`.
    fn article_count(&self) -> i64 {
        self.db()
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))
            .expect("count articles")
    }

    /// Rows in `articles` with this Message-ID.
    fn copies_of(&self, id: &str) -> i64 {
        self.db()
            .query_row(
                "SELECT COUNT(*) FROM articles WHERE msgid = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("count copies")
    }

    /// Every Message-ID in `articles`.
    fn message_ids(&self) -> Vec<String> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT msgid FROM articles ORDER BY seq")
            .unwrap();
        let ids = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        ids
    }

    /// The `history` status of a Message-ID, if any.
    fn history_status(&self, id: &str) -> Option<String> {
        use rusqlite::OptionalExtension;
        self.db()
            .query_row("SELECT status FROM history WHERE msgid = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .expect("history")
    }

    /// `peer_marks` row for `peer`: (pull_epoch, pull_seq, push_seq).
    fn marks(&self, peer: &str) -> Option<(String, i64, i64)> {
        use rusqlite::OptionalExtension;
        self.db()
            .query_row(
                "SELECT pull_epoch, pull_seq, push_seq FROM peer_marks WHERE peer = ?1",
                [peer],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .expect("peer_marks")
    }

    /// The raw wire form of a stored article (through the library).
    fn raw_article(&self, id: &str) -> Vec<u8> {
        newsmesh::spool::Spool::open(&self.spool_path())
            .expect("open spool")
            .article(id)
            .expect("query spool")
            .unwrap_or_else(|| panic!("{} has no {id}", self.name))
            .raw
    }
}
