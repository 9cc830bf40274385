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
    /// Claims the node for this process before it binds anything: takes the lock on
    /// `serve.state`, so a second `serve` of the same home is refused whatever its
    /// `listen` says, naming the process that holds it. The record says only the pid
    /// until [`ServeRecord::publish`] adds the addresses.
    pub fn claim(home: &Home) -> crate::error::Result<ServeRecord> {
        let path = home.serve_state_path();
        let state = ServeState {
            pid: std::process::id(),
            started: crate::spool::now(),
            listen: Vec::new(),
            nntps: None,
        };
        match write_locked(&path, &state) {
            Ok(file) => Ok(ServeRecord { path, _file: file }),
            Err(Claim::Held) => Err(crate::error::Error::Invalid(held_by(home))),
            Err(Claim::Io(e)) => Err(crate::error::Error::io(&path, e)),
        }
    }

    /// Records where this serve listens, for `status`. A record that cannot be written
    /// is a warning: the node still serves (and still holds the lock).
    pub fn publish(&mut self, listen: &[SocketAddr], nntps: Option<SocketAddr>) {
        let state = ServeState {
            pid: std::process::id(),
            started: crate::spool::now(),
            listen: listen.iter().map(ToString::to_string).collect(),
            nntps: nntps.map(|a| a.to_string()),
        };
        if let Err(e) = rewrite(&mut self._file, &state) {
            tracing::warn!(
                "{}: {e}; `newsmesh status` will not see this serve",
                self.path.display()
            );
        }
    }

    /// Records this process as the node's `serve`, listening on `listen` (and for NNTPS
    /// on `nntps`); None when another process holds the record.
    pub fn create(
        home: &Home,
        listen: &[SocketAddr],
        nntps: Option<SocketAddr>,
    ) -> Option<ServeRecord> {
        let mut record = ServeRecord::claim(home).ok()?;
        record.publish(listen, nntps);
        Some(record)
    }
}

/// The refusal of a second `serve`: which process serves the node, and where.
fn held_by(home: &Home) -> String {
    let path = home.serve_state_path();
    let holder = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<ServeState>(&text).ok());
    match holder {
        Some(s) if !s.listen.is_empty() => format!(
            "this node is already served by pid {} (listening on {}); {} is locked by it: \
             stop that serve first",
            s.pid,
            s.listen.join(", "),
            path.display()
        ),
        Some(s) => format!(
            "this node is already served by pid {}; {} is locked by it: stop that serve first",
            s.pid,
            path.display()
        ),
        None => format!(
            "this node is already served by another process ({} is locked): stop that serve first",
            path.display()
        ),
    }
}

/// Why `serve.state` could not be taken.
enum Claim {
    /// Another process holds the lock.
    Held,
    /// The file could not be opened or written.
    Io(std::io::Error),
}

impl Drop for ServeRecord {
    fn drop(&mut self) {
        // Removed while still locked, so `status` never reads a half-gone record.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn write_locked(path: &std::path::Path, state: &ServeState) -> Result<File, Claim> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::files::PRIVATE_FILE)
        .open(path)
        .map_err(Claim::Io)?;
    // An exclusive flock, released when the file closes.
    if file.try_lock().is_err() {
        return Err(Claim::Held);
    }
    rewrite(&mut file, state).map_err(Claim::Io)?;
    Ok(file)
}

/// Replaces the record's contents (the lock is held, so `status` reads it whole or
/// sees the lock only).
fn rewrite(file: &mut File, state: &ServeState) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&json)
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
        // A second serve of the same home cannot take it over, and is told who holds it.
        assert!(ServeRecord::create(&home, &[addr], None).is_none());
        let refusal = ServeRecord::claim(&home).unwrap_err().to_string();
        assert!(
            refusal.contains(&format!("already served by pid {}", std::process::id()))
                && refusal.contains("127.0.0.1:1119"),
            "{refusal}"
        );
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
