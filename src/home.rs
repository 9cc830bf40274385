//! The node home: one directory holding `newsmesh.toml`, `spool.db`, `node.key` (the node
//! identity) and `authors/*.key` (author identities), and what the node writes about
//! itself: the article log `news.log`, `serve.state` while `serve` runs, `sync.lock`.
//! `init` creates it; everything else opens it as a [`Node`].
//!
//! The home holds secrets (keys, AUTHINFO password hashes in the config, the spool), so
//! it is private: the directory 0700, config and spool 0600 from the moment they are
//! created, and `open` warns when someone has loosened them. Files are replaced through
//! a temporary file created exclusively with a random name (no symlink is followed).

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use crate::article::Article;
use crate::config::{self, Config, ConfigError};
use crate::error::{Error, Result};
use crate::sign::{self, SigStatus, TrustPolicy};
use crate::spool::Spool;

/// The group every fresh node carries.
pub const DEFAULT_GROUP: &str = "mesh.test";
/// The default `[node] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1119";
/// Name of the default author identity.
pub const DEFAULT_AUTHOR: &str = "default";

/// Paths inside a node home.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// A home at `dir` (nothing is checked).
    pub fn new(dir: impl Into<PathBuf>) -> Home {
        Home { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `newsmesh.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("newsmesh.toml")
    }
    /// `spool.db`.
    pub fn spool_path(&self) -> PathBuf {
        self.dir.join("spool.db")
    }
    /// `node.key`.
    pub fn node_key_path(&self) -> PathBuf {
        self.dir.join("node.key")
    }
    /// `authors/NAME.key`.
    pub fn author_key_path(&self, name: &str) -> PathBuf {
        self.dir.join("authors").join(format!("{name}.key"))
    }
    /// The reader service's certificate and key (PEM), used when `[tls]` names none.
    pub fn reader_tls_paths(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("reader.crt"), self.dir.join("reader.key"))
    }

    /// The reader TLS certificate and key: the operator's (`[tls] cert`/`key`), or the
    /// home's self-signed pair, made now when a home from before TLS has none.
    pub fn reader_identity(&self, config: &config::Config) -> Result<crate::tls::Identity> {
        let (cert, key) = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => (PathBuf::from(cert), PathBuf::from(key)),
            (None, None) => {
                let (cert, key) = self.reader_tls_paths();
                let names = crate::reader_names::wanted(config);
                if !cert.exists() && !key.exists() {
                    self.make_reader_certificate(&names)?;
                } else if !crate::reader_names::covers(&cert, &names) {
                    // Readers check the name they dialled against the certificate.
                    self.make_reader_certificate(&names)?;
                    tracing::warn!(
                        "{} made again to hold {}: readers that trusted the old one must copy it again",
                        cert.display(),
                        names.join(", ")
                    );
                }
                (cert, key)
            }
            _ => {
                return Err(Error::Invalid(
                    "[tls] needs both cert and key, or neither".into(),
                ))
            }
        };
        Ok(crate::tls::load_identity(&cert, &key)?)
    }

    /// Makes the home's self-signed reader certificate (`reader.crt`, `reader.key` 0600).
    fn make_reader_certificate(&self, names: &[String]) -> Result<()> {
        let (cert, key) = self.reader_tls_paths();
        let (cert_pem, key_pem) = crate::tls::reader_certificate_pem(names)?;
        write_atomically(&key, key_pem.as_bytes()).map_err(|e| Error::io(&key, e))?;
        write_atomically(&cert, cert_pem.as_bytes()).map_err(|e| Error::io(&cert, e))
    }

    /// The lock `sync` holds while it runs.
    pub fn sync_lock_path(&self) -> PathBuf {
        self.dir.join("sync.lock")
    }
    /// The article log (`news.log`, rotated to `news.log.1` ...).
    pub fn news_log_path(&self) -> PathBuf {
        self.dir.join("news.log")
    }
    /// What a running `serve` records of itself (pid, start, addresses), locked while it
    /// runs and removed when it stops.
    pub fn serve_state_path(&self) -> PathBuf {
        self.dir.join("serve.state")
    }

    /// `live.state`: which live links the running `serve` has up (`crate::relay`).
    pub fn live_state_path(&self) -> PathBuf {
        self.dir.join("live.state")
    }

    /// `live-in.state`: which neighbours' own live links wait on the running `serve`.
    pub fn live_in_state_path(&self) -> PathBuf {
        self.dir.join("live-in.state")
    }

    /// Creates a node: directory, config from the commented template, node key, default
    /// author key, spool with the group `mesh.test`. Refuses to touch an existing node.
    pub fn init(&self, name: &str, listen: &str) -> Result<Node> {
        if !config::is_valid_node_name(name) {
            return Err(Error::Invalid(format!(
                "node name {name:?} is not a valid Path identity (letters, digits, '.', '-', '_')"
            )));
        }
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(Error::Invalid(format!(
                "--listen {listen:?} is not HOST:PORT (e.g. 127.0.0.1:1119)"
            )));
        }
        if self.config_path().exists()
            || self.node_key_path().exists()
            || self.spool_path().exists()
        {
            return Err(Error::AlreadyInitialised(self.dir.clone()));
        }
        let authors = self.dir.join("authors");
        let existing = crate::files::existing_dir(&self.dir);
        std::fs::create_dir_all(&authors).map_err(|e| Error::io(&authors, e))?;
        for dir in [&self.dir, &authors] {
            if dir == &self.dir && existing.as_ref().is_some_and(|d| !d.empty) {
                // Not ours alone: its mode is the operator's (`open` warns while it is
                // not private).
                continue;
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_DIR))
                .map_err(|e| Error::io(dir, e))?;
        }
        if let Some(d) = existing {
            crate::files::say_how_the_mode_was_treated(&self.dir, &d, PRIVATE_DIR);
        }
        create_private(&self.spool_path())?;
        sign::generate_secret(&self.node_key_path())?;
        sign::generate_secret(&self.author_key_path(DEFAULT_AUTHOR))?;
        let text = config::edit::node_template(name, listen)?;
        write_atomically(&self.config_path(), text.as_bytes())
            .map_err(|e| Error::io(self.config_path(), e))?;
        let node = self.open()?;
        self.make_reader_certificate(&crate::reader_names::wanted(&node.config))?;
        Ok(node)
    }

    /// Opens an initialised node.
    pub fn open(&self) -> Result<Node> {
        if !self.config_path().exists() {
            return Err(Error::NoHome(self.dir.clone()));
        }
        for (path, mode) in [
            (self.dir.clone(), PRIVATE_DIR),
            (self.config_path(), PRIVATE_FILE),
            (self.spool_path(), PRIVATE_FILE),
        ] {
            warn_if_not_private(&path, mode);
        }
        let config = Config::load(&self.config_path())?;
        let trust = config.trust_policy().map_err(Error::Invalid)?;
        self.open_with(config, trust)
    }

    /// Opens the node's spool under a configuration already loaded (`serve`'s snapshot:
    /// the live relay and its pulls run on what `serve` runs on, not on whatever
    /// `newsmesh.toml` says now, which `serve` may have refused).
    pub fn open_with(&self, config: Config, trust: TrustPolicy) -> Result<Node> {
        if !self.spool_path().exists() {
            // A spool lost and rebuilt is private from the start too.
            create_private(&self.spool_path())?;
        }
        let mut spool = Spool::open(&self.spool_path())?;
        // Articles are read from the mapped file, not copied page by page (read.rs):
        // `serve`'s readers, and the bodies a push sends.
        spool.map_for_readers()?;
        if spool.is_new() {
            // A new spool (init, or rebuilt after a loss) carries the default group, so
            // a fresh mesh works without editing.
            spool.create_group(
                DEFAULT_GROUP,
                "Testing the mesh: any valid signature may post",
            )?;
        }
        let log = crate::newslog::NewsLog::new(
            self.news_log_path(),
            config.limits.news_log_bytes,
            config.limits.news_log_files,
        );
        Ok(Node {
            home: self.clone(),
            config,
            spool,
            trust,
            log,
        })
    }

    /// The node identity key.
    pub fn node_key(&self) -> Result<SigningKey> {
        Ok(sign::load_secret(&self.node_key_path())?)
    }

    /// An author identity key (`default` unless named).
    pub fn author_key(&self, name: &str) -> Result<SigningKey> {
        check_author_name(name)?;
        Ok(sign::load_secret(&self.author_key_path(name))?)
    }
}

/// One consistent configuration and what is derived from it: what `serve` runs on
/// (swapped whole on a reload, `server::live`), and what the live relay runs on.
#[derive(Debug)]
pub struct Snapshot {
    /// The configuration.
    pub config: Config,
    /// The trust policy its `[[trust]]`, `[[control]]`, `[policy]` and `[[nntp_peer]]`
    /// entries describe.
    pub trust: TrustPolicy,
}

impl Snapshot {
    /// `config` with its trust policy (already checked when the config was loaded).
    pub fn new(config: Config, trust: TrustPolicy) -> Snapshot {
        Snapshot { config, trust }
    }

    /// Reads `path` and builds its trust policy.
    pub fn load(path: &Path) -> std::result::Result<Snapshot, ConfigError> {
        let config = Config::load(path)?;
        let trust = config
            .trust_policy()
            .map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(Snapshot::new(config, trust))
    }
}

/// An open node: its home, configuration, trust policy and spool.
#[derive(Debug)]
pub struct Node {
    /// Where it lives.
    pub home: Home,
    /// `newsmesh.toml`.
    pub config: Config,
    /// The spool.
    pub spool: Spool,
    /// The trust policy from the config.
    pub trust: TrustPolicy,
    /// The article log (`news.log`): `ingest` writes each verdict to it through its
    /// [`crate::ingest::Rules`]; beside the spool, not inside it, so a reload resizes it
    /// without touching the spool.
    pub log: crate::newslog::NewsLog,
}

impl Node {
    /// A second node on the same home and configuration, with its own spool connection
    /// (the configuration is not read again from disk).
    pub fn reopen(&self) -> Result<Node> {
        self.home.open_with(self.config.clone(), self.trust.clone())
    }

    /// The node's Path identity.
    pub fn name(&self) -> &str {
        &self.config.node.name
    }

    /// The signature and trust verdict on a stored article, one line (`read`, `demo`).
    pub fn verdict(&self, article: &Article) -> String {
        match sign::check(article) {
            SigStatus::Valid { key } => {
                match self.trust.allows(&article.newsgroups(), Some(&key)) {
                    Ok(()) => SigStatus::Valid { key }.describe(),
                    Err(why) => format!(
                        "{}, but not trusted here: {why}",
                        SigStatus::Valid { key }.describe()
                    ),
                }
            }
            SigStatus::Unsigned => self.unsigned_origin(article),
            other => other.describe(),
        }
    }

    /// Where an unsigned article came from: the relay after this node in its Path, which
    /// `ingest` has checked is the `[[nntp_peer]]` that fed it.
    fn unsigned_origin(&self, article: &Article) -> String {
        let path = article.path_entries();
        let relay = match path.first() {
            Some(first) if first == self.name() => path.get(1),
            other => other,
        };
        match relay {
            Some(relay) if self.config.nntp_peers.iter().any(|p| &p.name == relay) => {
                format!("unsigned, from INN peer {relay} (its author cannot be checked)")
            }
            Some(relay) => format!("unsigned, relayed by {relay} (its author cannot be checked)"),
            None => "unsigned, origin unknown (its author cannot be checked)".into(),
        }
    }
}

/// Refuses author names that are not plain names: `authors/NAME.key` must stay inside
/// the home (no `..`, no `/`).
pub fn check_author_name(name: &str) -> Result<()> {
    if config::is_valid_user_name(name) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "author name {name:?} must be letters, digits, '.', '-', '_' (not starting with '.')"
        )))
    }
}

pub use crate::files::{write_atomically, PRIVATE_DIR, PRIVATE_FILE};

/// Creates an empty file with mode 0600 before SQLite opens it (SQLite gives its -wal
/// and -shm files the database file's mode).
fn create_private(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)
        .map(|_| ())
        .map_err(|e| Error::io(path, e))
}

/// Warns (does not fail: the operator may have reasons) when `path` grants more than
/// `mode` to group or others.
fn warn_if_not_private(path: &Path, mode: u32) {
    if let Ok(meta) = std::fs::metadata(path) {
        let actual = meta.permissions().mode() & 0o777;
        if actual & 0o077 & !mode != 0 {
            tracing::warn!(
                "{} is mode {actual:o}: others on this machine may read it \
                 (it holds keys, password hashes or articles); chmod {mode:o} it",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_home_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("node"));
        home.init("alpha", "127.0.0.1:1119").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(home.dir()), 0o700);
        assert_eq!(mode(&home.dir().join("authors")), 0o700);
        assert_eq!(mode(&home.config_path()), 0o600);
        assert_eq!(mode(&home.spool_path()), 0o600);
    }
}
