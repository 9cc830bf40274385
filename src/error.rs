//! The library's error type: one enum over the modules' typed errors, so the CLI can
//! print one clear line and choose an exit code.

use std::path::PathBuf;

use crate::article::ArticleError;
use crate::config::ConfigError;
use crate::net::NetError;
use crate::sign::KeyError;
use crate::spool::SpoolError;
use crate::tls::TlsError;

/// Any failure of a newsmesh operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node home does not exist or is not initialised.
    #[error("no newsmesh node at {0} (run `newsmesh init`, or pass --home / set NEWSMESH_HOME)")]
    NoHome(PathBuf),
    /// `init` on an existing node.
    #[error("{0} already holds a newsmesh node; refusing to overwrite it")]
    AlreadyInitialised(PathBuf),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Keys.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Spool.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// An article that cannot be parsed.
    #[error("malformed article: {0}")]
    Article(#[from] ArticleError),
    /// An article refused by verification or policy.
    #[error("article refused: {0}")]
    Refused(String),
    /// Something asked for is not there.
    #[error("{0}")]
    NotFound(String),
    /// Bad input from the user.
    #[error("{0}")]
    Invalid(String),
    /// The connection to a neighbour or client failed (socket, timeout, closed, framing,
    /// TLS handshake): the transport's typed error.
    #[error(transparent)]
    Network(#[from] NetError),
    /// The same, with what was being done (`TLS with peer b`, `COMPRESS`).
    #[error("{doing}: {source}")]
    NetworkDuring {
        /// What the link was doing.
        doing: String,
        /// The transport's error.
        source: NetError,
    },
    /// Connecting to a neighbour's address failed (refused, unreachable, timed out).
    #[error("connecting to {address}: {source}")]
    Dial {
        /// The address dialled.
        address: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A listening socket could not be set up.
    #[error("cannot listen on {address}: {source}{hint}")]
    Listen {
        /// The address (or what the socket is).
        address: String,
        /// The cause.
        source: std::io::Error,
        /// What to do about it, when known (` (another program listens there: ...)`).
        hint: String,
    },
    /// A neighbour's session went wrong on its side: it answered something we cannot go
    /// on from (an unexpected code, a malformed answer, a failed proof) or took longer
    /// than the session's deadline.
    #[error("{0}")]
    Peer(String),
    /// TLS material could not be made or loaded (this node's certificate, a TLS config).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A failure inside this process (a task that panicked, a channel closed): a bug,
    /// not the user's input nor a neighbour's.
    #[error("{0}")]
    Internal(String),
    /// Another `sync` holds the lock.
    #[error("another sync is running on this node (lock {0})")]
    Busy(PathBuf),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The process exit code for this error (see `man/newsmesh.1`, EXIT STATUS).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Busy(_) => 3,
            _ => 1,
        }
    }

    /// Whether the spool refused a change for want of room ([`SpoolError::Full`]): the
    /// caller answers "try again later", nothing was stored.
    pub fn is_spool_full(&self) -> bool {
        matches!(self, Error::Spool(e) if e.is_full())
    }

    /// An I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
