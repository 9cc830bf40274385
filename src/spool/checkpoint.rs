//! Checkpoints off the ingest path (issue 17). SQLite's automatic checkpoint runs inside
//! the commit that pushes the WAL past 1,000 pages: the thread storing a bulk sync stops
//! there to copy ~16 MiB into the database file and fsync it. A spool that stores in
//! bulk (a transaction of [`BULK`] articles or more: a sync, a neighbour's feed, an
//! import) instead nudges a thread of its own after each commit, which checkpoints
//! through its own connection (`PASSIVE`: it never blocks the writer) while the next
//! batch is stored. The writer keeps an automatic checkpoint at [`SAFETY_NET_PAGES`], so
//! the WAL stays bounded even if the checkpointer falls behind.
//!
//! Durability is untouched: a commit is durable when its WAL frames are synced
//! (`synchronous = FULL`), before any checkpoint; a checkpoint cut short (kill -9, power
//! loss) is redone from the WAL by the next one.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Articles in one transaction from which a spool hands its checkpoints to a thread.
pub(super) const BULK: usize = 256;

/// The writer's own automatic checkpoint once a checkpointer runs (pages; SQLite's
/// default is 1,000): only a bound for when the checkpointer falls behind.
pub(super) const SAFETY_NET_PAGES: i64 = 8_000;

/// Benchmark knob: set (to anything), bulk writers checkpoint in the commit as SQLite
/// does by default, for before/after figures from one build. Not meant for operators.
pub const INLINE_CHECKPOINT_ENV: &str = "NEWSMESH_BENCH_INLINE_CHECKPOINT";

/// A thread that checkpoints the spool's WAL when nudged.
pub(super) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Checkpoints run so far (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread with its own connection to the spool at `path`; None when the
    /// connection or the thread cannot be had (SQLite's own checkpoint then stays on).
    pub(super) fn start(path: &Path) -> Option<Checkpointer> {
        if std::env::var_os(INLINE_CHECKPOINT_ENV).is_some() {
            return None;
        }
        let conn = rusqlite::Connection::open(path).ok()?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).ok()?;
        conn.pragma_update(None, "journal_size_limit", super::WAL_SIZE_LIMIT)
            .ok()?;
        let (nudge, nudged) = sync_channel::<()>(1);
        let done = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("spool-checkpoint".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    // PASSIVE: copies what no reader still needs, waits for nobody. A
                    // failure (busy, disk full) leaves the frames in the WAL for the next
                    // checkpoint or the writer's own.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .ok()?;
        Some(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            done,
        })
    }

    /// Asks for a checkpoint; one already asked for and not begun covers this one.
    pub(super) fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            // Full: a nudge is pending. Disconnected: the thread is gone (the writer's
            // own checkpoint still bounds the WAL).
            let _ = nudge.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    /// Lets the thread finish the checkpoint it was asked for, then ends it.
    fn drop(&mut self) {
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_article, temp_spool};
    use super::*;

    fn autocheckpoint(spool: &super::super::Spool) -> i64 {
        spool
            .conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_spool_that_stores_in_bulk_checkpoints_on_its_own_thread() {
        let (_dir, mut spool) = temp_spool();
        // Small transactions (a post): SQLite's own checkpoint, no thread.
        spool
            .store_batch(&[new_article("<one@x>", "mesh.test")])
            .unwrap();
        assert!(spool.checkpointer.is_none());
        assert_eq!(autocheckpoint(&spool), 1000);
        let batch: Vec<_> = (0..BULK)
            .map(|i| new_article(&format!("<{i}@x>"), "mesh.test"))
            .collect();
        spool.store_batch(&batch).unwrap();
        assert_eq!(autocheckpoint(&spool), SAFETY_NET_PAGES);
        let checkpointer = spool.checkpointer.take().expect("a checkpointer");
        let done = Arc::clone(&checkpointer.done);
        // Dropping it lets the nudged checkpoint finish first.
        drop(checkpointer);
        assert_eq!(done.load(Ordering::Relaxed), 1);
        assert_eq!(spool.article_count().unwrap(), BULK as i64 + 1);
    }
}
