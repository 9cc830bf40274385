//! The node home: one directory holding `newsmesh.toml`, `spool.db`, `node.key` (the node
//! identity) and `authors/*.key` (author identities). `init` creates it; everything else
//! opens it as a [`Node`].

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::sign::{self, TrustPolicy};
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
    /// The lock `sync` holds while it runs.
    pub fn sync_lock_path(&self) -> PathBuf {
        self.dir.join("sync.lock")
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
        std::fs::create_dir_all(&authors).map_err(|e| Error::io(&authors, e))?;
        sign::generate_secret(&self.node_key_path())?;
        sign::generate_secret(&self.author_key_path(DEFAULT_AUTHOR))?;
        let text = config::edit::node_template(name, listen)?;
        write_atomically(&self.config_path(), text.as_bytes())
            .map_err(|e| Error::io(self.config_path(), e))?;
        let mut node = self.open()?;
        node.spool.create_group(
            DEFAULT_GROUP,
            "Testing the mesh: any valid signature may post",
        )?;
        Ok(node)
    }

    /// Opens an initialised node.
    pub fn open(&self) -> Result<Node> {
        if !self.config_path().exists() {
            return Err(Error::NoHome(self.dir.clone()));
        }
        let config = Config::load(&self.config_path())?;
        let trust = config.trust_policy().map_err(Error::Invalid)?;
        let spool = Spool::open(&self.spool_path())?;
        Ok(Node {
            home: self.clone(),
            config,
            spool,
            trust,
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
}

impl Node {
    /// The node's Path identity.
    pub fn name(&self) -> &str {
        &self.config.node.name
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

/// Writes `bytes` to `path` via a temporary file and a rename, so a crash never leaves a
/// half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
