//! What a running `serve` records of itself in the home (`serve.state`): its pid, when
//! it started and where it listens, as JSON. `serve` holds an exclusive `flock` on the
//! file while it runs and removes it when it stops cleanly; `status` believes the file
//! only while that lock is held, so a `serve` killed with -9 (whose lock the kernel
//! dropped) is never reported running, and a reused pid cannot fool it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::home::Home;

/// The contents of `serve.state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeState {
    /// The serving process.
    pub pid: u32,
    /// Unix seconds it started serving.
    pub started: i64,
    /// The addresses it listens on.
    pub listen: Vec<String>,
    /// Its NNTPS (implicit TLS) address, when `[tls] nntps_listen` asks for one.
    #[serde(default)]
    pub nntps: Option<String>,
}

/// `serve.state`, held (locked) for as long as this value lives; removed on drop.
#[derive(Debug)]
pub struct ServeRecord {
    path: PathBuf,
    _file: File,
}

impl ServeRecord {
    /// Records this process as the node's `serve`, listening on `listen` (and for NNTPS
    /// on `nntps`). A node that cannot record itself still serves: a failure is a
    /// warning, and None.
    pub fn create(
        home: &Home,
        listen: &[SocketAddr],
        nntps: Option<SocketAddr>,
    ) -> Option<ServeRecord> {
        let path = home.serve_state_path();
        let state = ServeState {
            pid: std::process::id(),
            started: crate::spool::now(),
            listen: listen.iter().map(ToString::to_string).collect(),
            nntps: nntps.map(|a| a.to_string()),
        };
        match write_locked(&path, &state) {
            Ok(file) => Some(ServeRecord { path, _file: file }),
            Err(e) => {
                tracing::warn!(
                    "{}: {e}; `newsmesh status` will not see this serve",
                    path.display()
                );
                None
            }
        }
    }
}

impl Drop for ServeRecord {
    fn drop(&mut self) {
        // Removed while still locked, so `status` never reads a half-gone record.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn write_locked(path: &std::path::Path, state: &ServeState) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::files::PRIVATE_FILE)
        .open(path)?;
    // An exclusive flock, released when the file closes.
    if file.try_lock().is_err() {
        return Err(std::io::Error::other("another serve of this node holds it"));
    }
    let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.write_all(&json)?;
    Ok(file)
}

/// The running `serve` of `home`, if there is one (its record exists and is locked).
pub fn running(home: &Home) -> Option<ServeState> {
    let file = File::open(home.serve_state_path()).ok()?;
    // A shared flock, released when the file closes.
    let free = file.try_lock_shared().is_ok();
    if free {
        // Nobody holds it: a serve that died without cleaning up.
        return None;
    }
    let mut text = String::new();
    file.take(64 * 1024).read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_seen_while_held_and_gone_after() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        assert_eq!(running(&home), None);
        let addr: SocketAddr = "127.0.0.1:1119".parse().unwrap();
        let record = ServeRecord::create(&home, &[addr], None).unwrap();
        let state = running(&home).unwrap();
        assert_eq!(state.pid, std::process::id());
        assert_eq!(state.listen, ["127.0.0.1:1119"]);
        // A second serve of the same home cannot take it over.
        assert!(ServeRecord::create(&home, &[addr], None).is_none());
        drop(record);
        assert!(!home.serve_state_path().exists());
        assert_eq!(running(&home), None);
    }

    #[test]
    fn a_record_left_by_a_dead_serve_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let stale = ServeState {
            pid: std::process::id(),
            started: 1,
            listen: vec!["127.0.0.1:1119".into()],
            nntps: None,
        };
        std::fs::write(home.serve_state_path(), serde_json::to_vec(&stale).unwrap()).unwrap();
        assert_eq!(running(&home), None);
    }
}
