//! The configuration a running `serve` works from, and how it follows `newsmesh.toml`
//! without a restart.
//!
//! Everything derived from the file (the parsed [`Config`] and the [`TrustPolicy`] built
//! from it) lives in one immutable [`Snapshot`] value behind [`Current`]. A reload builds a
//! whole new `Snapshot` and swaps it in at once; a session takes one snapshot per command,
//! so a command never sees half of two configurations, and a connection admitted under
//! the old limits simply picks up the new ones at its next command.
//!
//! Reloads happen on SIGHUP and when the file changes: one task ([`follow`]) looks at
//! the file's identity (device, inode, size, modification time) every
//! [`POLL_INTERVAL`]. Polling a single file costs one `stat` a second and works on every
//! filesystem and with every way of editing (in place, or a new file renamed over the
//! old one, as `peer add` does), which a notification API does not guarantee. A file
//! replaced with its old time stamp and size (`cp -p`, `rsync -t`) is not noticed: SIGHUP
//! forces the reload. A file that does not parse or validate leaves the running
//! configuration in place and is logged (with line and column); `[node] name` and
//! `listen`, and `[tls]` `cert`, `key` and `nntps_listen`, keep their running values
//! until `serve` restarts, and the log says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::config::{Config, ConfigError};

/// How often the watcher looks at the file.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long a changed file must stay unchanged before it is read, so an editor still
/// writing it is not read half-way (and its error logged for nothing).
const SETTLE: Duration = Duration::from_millis(200);

// The snapshot type lives beside `Node` (`home::Snapshot`), so that the live relay can
// run on it without reaching into the server.
use crate::home::Snapshot;

/// The swappable current [`Snapshot`].
#[derive(Debug)]
pub struct Current {
    live: RwLock<Arc<Snapshot>>,
}

impl Current {
    /// Starts with `live`.
    pub fn new(live: Snapshot) -> Current {
        Current {
            live: RwLock::new(Arc::new(live)),
        }
    }

    /// The configuration in force now: keep the snapshot for the whole of one command.
    pub fn get(&self) -> Arc<Snapshot> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn set(&self, live: Snapshot) {
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(live);
    }
}

/// What a reload found.
#[derive(Debug)]
pub enum Reloaded {
    /// The new configuration is in force; what it holds, for the log.
    Applied(String),
    /// The file could not be used; the running configuration stays.
    Kept(ConfigError),
}

/// Reads the file at `path` again and, if it is valid, makes it the current
/// configuration (keeping the running `[node]` name and listen address, which need a
/// restart). Logs why a file was not taken, and what waits for a restart.
pub fn reload(current: &Current, path: &Path) -> Reloaded {
    let mut live = match Snapshot::load(path) {
        Ok(live) => live,
        Err(e) => {
            tracing::error!("config not reloaded, still running on the previous one: {e}");
            return Reloaded::Kept(e);
        }
    };
    let running = current.get();
    let (old, new) = (&running.config.node, &mut live.config.node);
    if new.name != old.name {
        tracing::warn!(
            "[node] name changed from {:?} to {:?}: takes effect when serve restarts",
            old.name,
            new.name
        );
        new.name.clone_from(&old.name);
    }
    if new.listen != old.listen {
        tracing::warn!(
            "[node] listen changed from {} to {}: takes effect when serve restarts",
            old.listen,
            new.listen
        );
        new.listen.clone_from(&old.listen);
    }
    // The reader certificate and the NNTPS listener are built when serve starts;
    // `allow_plaintext_auth` is read per command and follows the reload.
    let (old, new) = (&running.config.tls, &mut live.config.tls);
    if (&new.cert, &new.key, &new.nntps_listen) != (&old.cert, &old.key, &old.nntps_listen) {
        tracing::warn!("[tls] cert, key or nntps_listen changed: takes effect when serve restarts");
        new.cert.clone_from(&old.cert);
        new.key.clone_from(&old.key);
        new.nntps_listen.clone_from(&old.nntps_listen);
    }
    let config = &live.config;
    let summary = format!(
        "{} peer(s), {} nntp peer(s), {} user(s), {} trust rule(s){}",
        config.peers.len(),
        config.nntp_peers.len(),
        config.users.len(),
        config.trust.len(),
        changes(&running.config, config)
    );
    current.set(live);
    Reloaded::Applied(summary)
}

/// Who came and went between `old` and `new`: "; peers +beta -gamma; users +ann"
/// (empty when no peer, nntp peer or user changed), so the log says what a reload did.
fn changes(old: &Config, new: &Config) -> String {
    fn diff<'a>(what: &str, old: Vec<&'a str>, new: Vec<&'a str>) -> Option<String> {
        let added = new
            .iter()
            .filter(|n| !old.contains(n))
            .map(|n| format!(" +{n}"));
        let removed = old
            .iter()
            .filter(|n| !new.contains(n))
            .map(|n| format!(" -{n}"));
        let all: String = added.chain(removed).collect();
        (!all.is_empty()).then(|| format!("; {what}{all}"))
    }
    type Names<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>);
    fn names(c: &Config) -> Names<'_> {
        (
            c.peers.iter().map(|p| p.name.as_str()).collect(),
            c.nntp_peers.iter().map(|p| p.name.as_str()).collect(),
            c.users.iter().map(|u| u.name.as_str()).collect(),
        )
    }
    let (old_peers, old_nntp, old_users) = names(old);
    let (new_peers, new_nntp, new_users) = names(new);
    [
        diff("peers", old_peers, new_peers),
        diff("nntp peers", old_nntp, new_nntp),
        diff("users", old_users, new_users),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What identifies one version of the file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: Option<std::time::SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        device: meta.dev(),
        inode: meta.ino(),
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Reloads `path` into `current` when `force` is notified (SIGHUP) and when the file's
/// stamp changes, until `stopped`. `applied` runs after each reload that took (the
/// server updates what it built from the limits), and only then is the reload logged.
pub async fn follow<F, Done>(
    current: Arc<Current>,
    path: PathBuf,
    force: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
    applied: F,
) where
    F: Fn(Arc<Snapshot>) -> Done + Send + 'static,
    Done: std::future::Future<Output = ()> + Send,
{
    let mut seen = stamp(&path);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = stopped.changed() => return,
            _ = force.notified() => true,
            _ = tick.tick() => false,
        };
        let now = stamp(&path);
        if !forced {
            if now == seen {
                continue;
            }
            tokio::time::sleep(SETTLE).await;
            if stamp(&path) != now {
                // Still being written: look again at the next tick.
                continue;
            }
        }
        // The stamp is taken before reading, so a write during the read is seen next time.
        seen = now;
        if forced {
            tracing::info!("SIGHUP: reloading {}", path.display());
        } else {
            tracing::info!("{} changed: reloading", path.display());
        }
        if let Reloaded::Applied(summary) = reload(&current, &path) {
            applied(current.get()).await;
            tracing::info!("config reloaded: {summary}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(path: &Path, name: &str, listen: &str, extra: &str) {
        let text = crate::config::edit::node_template(name, listen).unwrap();
        std::fs::write(path, format!("{text}\n{extra}")).unwrap();
    }

    fn set_max_connections(path: &Path, max: usize) {
        let text = std::fs::read_to_string(path).unwrap();
        let text = text.replace("max_connections = 200", &format!("max_connections = {max}"));
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_valid_file_replaces_the_config_but_not_name_or_listen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsmesh.toml");
        write_config(&path, "alpha", "127.0.0.1:1119", "");
        let current = Current::new(Snapshot::load(&path).unwrap());
        write_config(&path, "beta", "127.0.0.1:2119", "");
        set_max_connections(&path, 7);
        assert!(matches!(reload(&current, &path), Reloaded::Applied(_)));
        let live = current.get();
        assert_eq!(live.config.limits.max_connections, 7);
        assert_eq!(live.config.node.name, "alpha");
        assert_eq!(live.config.node.listen, "127.0.0.1:1119");
    }

    #[test]
    fn tls_identity_changes_wait_for_a_restart_but_plaintext_auth_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsmesh.toml");
        write_config(&path, "alpha", "127.0.0.1:1119", "");
        let current = Current::new(Snapshot::load(&path).unwrap());
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "allow_plaintext_auth = false",
            "cert = \"other.crt\"\nkey = \"other.key\"\n\
             nntps_listen = \"127.0.0.1:1563\"\nallow_plaintext_auth = true",
        );
        std::fs::write(&path, text).unwrap();
        assert!(matches!(reload(&current, &path), Reloaded::Applied(_)));
        let live = current.get();
        assert_eq!(live.config.tls.cert, None);
        assert_eq!(live.config.tls.key, None);
        assert_eq!(live.config.tls.nntps_listen, None);
        assert!(live.config.tls.allow_plaintext_auth);
    }

    #[test]
    fn the_log_names_who_came_and_went() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsmesh.toml");
        let key = |n: u8| {
            crate::sign::public_key_text(
                &ed25519_dalek::SigningKey::from_bytes(&[n; 32]).verifying_key(),
            )
        };
        let peer =
            |name: &str, n: u8| format!("[[peer]]\nname = \"{name}\"\nkey = \"{}\"\n", key(n));
        write_config(
            &path,
            "alpha",
            "x:1",
            &format!("{}{}", peer("beta", 1), peer("gamma", 2)),
        );
        let old = Config::load(&path).unwrap();
        write_config(
            &path,
            "alpha",
            "x:1",
            &format!("{}{}", peer("beta", 1), peer("delta", 3)),
        );
        let new = Config::load(&path).unwrap();
        assert_eq!(changes(&old, &new), "; peers +delta -gamma");
        assert_eq!(changes(&new, &new), "");
    }

    #[test]
    fn a_broken_file_keeps_the_running_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsmesh.toml");
        write_config(&path, "alpha", "127.0.0.1:1119", "");
        let current = Current::new(Snapshot::load(&path).unwrap());
        let before = current.get();
        write_config(&path, "alpha", "127.0.0.1:1119", "[limits\n");
        let Reloaded::Kept(e) = reload(&current, &path) else {
            panic!("a broken file was applied");
        };
        assert!(e.to_string().contains("line"), "{e}");
        assert!(Arc::ptr_eq(&before, &current.get()));
    }

    #[test]
    fn the_stamp_changes_with_a_rename_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsmesh.toml");
        std::fs::write(&path, "a").unwrap();
        let before = stamp(&path);
        let other = dir.path().join("new");
        std::fs::write(&other, "a").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(before, stamp(&path));
    }
}
