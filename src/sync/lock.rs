//! The sync lock: an advisory `flock` on `sync.lock` in the node home, so two
//! overlapping cron runs never work on the same marks at once. The kernel drops the
//! lock when the process dies, so a killed sync never leaves a stale lock behind.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A held lock; released on drop (when the file closes).
#[derive(Debug)]
pub struct SyncLock {
    _file: File,
}

impl SyncLock {
    /// Takes the lock, waiting up to `wait`; `Error::Busy` after that.
    pub fn acquire(path: &Path, wait: Duration) -> Result<SyncLock> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let deadline = Instant::now() + wait;
        loop {
            // An exclusive flock, released when the file closes.
            if file.try_lock().is_ok() {
                return Ok(SyncLock { _file: file });
            }
            if Instant::now() >= deadline {
                return Err(Error::Busy(path.to_path_buf()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.lock");
        let held = SyncLock::acquire(&path, Duration::ZERO).unwrap();
        let err = SyncLock::acquire(&path, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        drop(held);
        SyncLock::acquire(&path, Duration::ZERO).unwrap();
    }
}
