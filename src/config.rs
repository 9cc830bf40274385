//! The node configuration, `newsmesh.toml`: its types (this file), reading and checking
//! it (`load`: serde, every error with its line and column), and in-place edits that keep
//! an operator's comments and layout (`edit`: toml_edit). Values are parsed once, here:
//! a neighbour's node key is a [`NodeKey`] from the moment the file is read.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use crate::sign::TrustPolicy;
use crate::wildmat::Wildmat;

mod admission;
pub mod edit;
mod key;
mod load;
mod password;

pub use admission::{default_max_age_days, AdmissionConfig, QuotaRule};
pub use key::NodeKey;
pub use password::{check_nobody, hash_password, PasswordMatch};

/// The commented template `init` starts from (also shipped as `config.example.toml`).
pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// What can go wrong reading or editing the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has wrong keys; the message carries line and column.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A value is well-formed TOML but not acceptable.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A `peer` edit that cannot be made.
    #[error("{0}")]
    Peer(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[node]`.
    pub node: NodeConfig,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[policy]`.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// `[[trust]]` rules in order.
    #[serde(default, rename = "trust")]
    pub trust: Vec<TrustRuleConfig>,
    /// `[[control]]` rules: who may create and remove groups (newgroup, rmgroup).
    #[serde(default, rename = "control")]
    pub control: Vec<TrustRuleConfig>,
    /// `[[peer]]` neighbours.
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerConfig>,
    /// `[[nntp_peer]]` plain news servers (INN...).
    #[serde(default, rename = "nntp_peer")]
    pub nntp_peers: Vec<NntpPeerConfig>,
    /// `[reader]`.
    #[serde(default)]
    pub reader: ReaderConfig,
    /// `[expire]`.
    #[serde(default)]
    pub expire: ExpireConfig,
    /// `[[user]]` local AUTHINFO users.
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// `[tls]`: the reader certificate, NNTPS, AUTHINFO in clear.
    #[serde(default)]
    pub tls: TlsConfig,
    /// `[admission]`: age limits (and quotas) of what ingest accepts.
    #[serde(default)]
    pub admission: AdmissionConfig,
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Path identity.
    #[serde(deserialize_with = "path_identity")]
    pub name: String,
    /// `serve` listen address.
    pub listen: String,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest article in bytes.
    pub max_article_bytes: usize,
    /// Simultaneous connections for `serve`.
    pub max_connections: usize,
    /// Idle connection timeout.
    pub idle_timeout_secs: u64,
    /// `sync` connect timeout.
    pub connect_timeout_secs: u64,
    /// `sync` per-answer timeout.
    pub io_timeout_secs: u64,
    /// `serve`: most bytes of answers a connection may leave unread before its next
    /// command is taken (reading resumes when they are sent).
    pub max_pending_output_bytes: usize,
    /// `serve`: most connections from one source address that have not authenticated.
    pub max_unauthenticated_per_address: usize,
    /// `serve`: most connections, from all addresses, that have not authenticated.
    pub max_unauthenticated_connections: usize,
    /// `serve`: how long a connection has to authenticate (or, for a trusted loopback
    /// reader, to issue its first reader command) before it is closed.
    pub auth_timeout_secs: u64,
    /// `serve`: unsent answers and read-ahead allowed to a connection that has not
    /// authenticated (its answers are short; it has no reason to pipeline much).
    pub unauthenticated_buffer_bytes: usize,
    /// `sync`: the most one neighbour's whole exchange may take (dialling included).
    pub sync_deadline_secs: u64,
    /// `sync`: fetched article bytes held before they are verified and stored (and our
    /// own article bytes queued for a neighbour before they are sent).
    pub sync_batch_bytes: usize,
    /// Message-IDs one feeding session may hold reserved at once (answered 238 "send it",
    /// article not yet received); its further CHECKs get 431 (try later).
    pub max_in_flight_per_session: usize,
    /// Message-IDs all sessions together may hold reserved at once.
    pub max_in_flight: usize,
    /// A reservation whose article has not arrived after this long is dropped (its
    /// session stalled), so another neighbour may send the article.
    pub in_flight_timeout_secs: u64,
    /// Least time between two AUTHINFO password checks from one source address, and the
    /// first step of the backoff after a failure (per source and per account), in ms.
    pub auth_interval_ms: u64,
    /// Longest AUTHINFO backoff after repeated failures; a client that would have to wait
    /// longer is told 400 and disconnected.
    pub auth_max_backoff_secs: u64,
    /// The article log (`news.log`) is rotated when it would pass this size; 0 turns it
    /// off.
    pub news_log_bytes: u64,
    /// Rotated article logs kept (`news.log.1` ...).
    pub news_log_files: u32,
    /// Refused articles one peer's sync remembers to list with `sync -v` (the count is
    /// exact beyond it).
    pub sync_listed_refusals: usize,
    /// `serve`'s live relay redials a neighbour it lost after 1 s, doubling each time
    /// up to this many seconds.
    pub live_retry_max_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_article_bytes: crate::article::DEFAULT_MAX_ARTICLE,
            max_connections: 200,
            idle_timeout_secs: 300,
            connect_timeout_secs: 10,
            io_timeout_secs: 60,
            max_pending_output_bytes: 4 * 1024 * 1024,
            max_unauthenticated_per_address: 8,
            max_unauthenticated_connections: 100,
            auth_timeout_secs: 30,
            unauthenticated_buffer_bytes: 64 * 1024,
            sync_deadline_secs: 600,
            sync_batch_bytes: 32 * 1024 * 1024,
            max_in_flight_per_session: 10_000,
            max_in_flight: 100_000,
            in_flight_timeout_secs: 30,
            auth_interval_ms: 250,
            auth_max_backoff_secs: 16,
            news_log_bytes: 16 << 20,
            news_log_files: 4,
            sync_listed_refusals: 1000,
            live_retry_max_secs: 30,
        }
    }
}

impl LimitsConfig {
    /// The article parser limits these settings imply.
    pub fn article_limits(&self) -> crate::article::Limits {
        crate::article::Limits {
            max_article: self.max_article_bytes,
            ..crate::article::Limits::default()
        }
    }
}

/// `[policy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Accept unsigned articles.
    pub accept_unsigned: bool,
}

// `[[trust]]` and `[[control]]` rules are the trust policy's own input (`sign::trust`
// reads them without depending on the config module).
pub use crate::sign::trust::{Authors, TrustRuleConfig};

/// One `[[peer]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The neighbour's Path identity.
    #[serde(deserialize_with = "path_identity")]
    pub name: String,
    /// Its node public key.
    pub key: NodeKey,
    /// Where to dial it; none for a passive peer.
    #[serde(default)]
    pub address: Option<String>,
    /// Groups it gets from us.
    #[serde(default = "all_groups")]
    pub groups: String,
    /// Whether the link runs over TLS (false only for a neighbour that cannot: an older
    /// node; the link is then readable and forgeable on the path).
    #[serde(default = "yes")]
    pub tls: bool,
    /// Whether `sync` asks for COMPRESS DEFLATE on the link (a peer that does not
    /// know it just answers no).
    #[serde(default = "yes")]
    pub compress: bool,
    /// Whether `serve` relays new arrivals to it at once over a link it keeps open
    /// (only for a peer with an address); off for a metered link, which then gets what
    /// is new only from `sync`.
    #[serde(default = "live_by_default")]
    pub live: bool,
}

fn live_by_default() -> bool {
    true
}

fn all_groups() -> String {
    "*".into()
}

fn yes() -> bool {
    true
}

/// `[tls]`: TLS for newsreaders (mesh links need nothing here: they use the node key).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain for readers (STARTTLS, NNTPS), e.g. from an ACME client;
    /// none: `reader.crt` in the home (self-signed, made at `init`).
    pub cert: Option<String>,
    /// PEM private key of `cert`; none: `reader.key` in the home.
    pub key: Option<String>,
    /// HOST:PORT of an implicit-TLS (NNTPS) listener; none: no such listener.
    pub nntps_listen: Option<String>,
    /// Let AUTHINFO USER/PASS cross an unencrypted connection from a non-loopback
    /// address (otherwise 483: use STARTTLS or NNTPS).
    pub allow_plaintext_auth: bool,
    /// More names (DNS names or IP addresses) the home's self-signed `reader.crt` holds,
    /// beside the node name, localhost, loopback and the listen addresses: those readers
    /// use to reach this host (`crate::reader_names`).
    #[serde(deserialize_with = "reader_cert_names")]
    pub names: Vec<String>,
}

/// Reads `[tls] names`, refusing an entry that is neither a DNS name nor an address.
fn reader_cert_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    for name in &names {
        if name.parse::<std::net::IpAddr>().is_err()
            && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            return Err(serde::de::Error::custom(format!(
                "{name:?} is neither a DNS name nor an IP address"
            )));
        }
    }
    Ok(names)
}

impl PeerConfig {
    /// The peer's group feed pattern.
    pub fn feed(&self) -> Wildmat {
        Wildmat::new(&self.groups)
    }
}

/// One `[[nntp_peer]]`: a plain news server (INN, ...) that cannot prove a node key. It
/// may feed us from `hosts` (like INN's incoming.conf) and `sync` feeds it at `address`
/// with MODE STREAM or IHAVE (like an INN newsfeeds entry). Its articles are verified
/// like any other.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NntpPeerConfig {
    /// Its Path identity (INN's `pathhost`), so articles it has are not offered back.
    #[serde(deserialize_with = "path_identity")]
    pub name: String,
    /// Where `sync` feeds it; none to only receive from it.
    #[serde(default)]
    pub address: Option<String>,
    /// Addresses it may feed us from.
    #[serde(default)]
    pub hosts: Vec<std::net::IpAddr>,
    /// Groups it gets from us.
    #[serde(default = "all_groups")]
    pub groups: String,
    /// Groups (wildmat) in which unsigned articles it relays are accepted, when
    /// `[policy] accept_unsigned` is on; empty (the default): none.
    #[serde(default)]
    pub unsigned_groups: String,
}

impl NntpPeerConfig {
    /// The server's group feed pattern.
    pub fn feed(&self) -> Wildmat {
        Wildmat::new(&self.groups)
    }
}

/// `[expire]`: article retention per group, and how long history outlives articles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpireConfig {
    /// History rows of articles no longer stored here are kept this many days after they
    /// were first seen (longer than any retention, so an expired article is not taken back).
    pub history_days: u64,
    /// `[[expire.rule]]` in order; the last whose pattern matches a group decides.
    #[serde(rename = "rule")]
    pub rules: Vec<RetentionRule>,
}

impl Default for ExpireConfig {
    fn default() -> Self {
        ExpireConfig {
            history_days: 365,
            rules: Vec::new(),
        }
    }
}

/// One `[[expire.rule]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Wildmat of groups.
    pub groups: String,
    /// Days an article stays after its arrival.
    pub days: u64,
}

impl ExpireConfig {
    /// Retention of `group` in days (None: kept until removed by hand).
    pub fn days_for(&self, group: &str) -> Option<u64> {
        self.rules
            .iter()
            .rev()
            .find(|r| Wildmat::new(&r.groups).matches(group))
            .map(|r| r.days)
    }
}

/// `[reader]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReaderConfig {
    /// Loopback readers may read and post without AUTHINFO.
    pub loopback_without_auth: bool,
    /// Newsreaders may POST (false: a read-only reader service, POST gets 440).
    pub posting: bool,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            loopback_without_auth: true,
            posting: true,
        }
    }
}

/// One `[[user]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// AUTHINFO user name.
    #[serde(deserialize_with = "user_name")]
    pub name: String,
    /// The password hash: an Argon2id PHC string (`$argon2id$v=19$...`, what `user add`
    /// writes), or the legacy `salt$hex(sha256(salt || password))` that older versions
    /// wrote under the key `password_sha256` (still read under either key; `serve`
    /// rewrites it as `password_hash` on the user's next successful login).
    #[serde(alias = "password_sha256")]
    pub password_hash: String,
    /// Author key file, relative to the home.
    pub author_key: String,
}

impl UserConfig {
    /// Whether `password` matches [`password_hash`](Self::password_hash) (and whether the
    /// stored hash should be upgraded). Argon2: call it off the async threads.
    pub fn check_password(&self, password: &str) -> PasswordMatch {
        password::check(&self.password_hash, password)
    }
}

/// A valid `[[user]]` name: what a Path identity allows (it also names the key file).
pub fn is_valid_user_name(name: &str) -> bool {
    is_valid_node_name(name) && !name.starts_with('.')
}

impl Config {
    /// The trust policy the `[[trust]]` rules and `[policy]` describe.
    pub fn trust_policy(&self) -> Result<TrustPolicy, String> {
        let policy =
            TrustPolicy::from_config(&self.trust, &self.control, self.policy.accept_unsigned)?;
        Ok(self.nntp_peers.iter().fold(policy, |policy, peer| {
            policy.with_unsigned_from(&peer.name, &peer.unsigned_groups)
        }))
    }

    /// The peer called `name`.
    pub fn peer(&self, name: &str) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.name == name)
    }

    /// The peer whose node key is `key` (the one a MESH PROVE or a TLS handshake proved).
    pub fn peer_with_key(&self, key: &ed25519_dalek::VerifyingKey) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.key.key() == key)
    }

    /// The plain NNTP peer allowed to feed us from `ip`, if any.
    pub fn nntp_peer_at(&self, ip: std::net::IpAddr) -> Option<&NntpPeerConfig> {
        self.nntp_peers.iter().find(|p| p.hosts.contains(&ip))
    }

    /// The `[[user]]` called `name`.
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
    }
}

/// Reads a Path identity, refusing an invalid one where it stands (the error then
/// carries its line and column).
fn path_identity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    if is_valid_node_name(&name) {
        Ok(name)
    } else {
        Err(serde::de::Error::custom(format!(
            "{name:?} is not a valid Path identity (letters, digits, '.', '-', '_')"
        )))
    }
}

/// Reads a `[[user]]` name, refusing an invalid one where it stands.
fn user_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    if is_valid_user_name(&name) {
        Ok(name)
    } else {
        Err(serde::de::Error::custom(format!(
            "user name {name:?} is not valid (letters, digits, '.', '-', '_')"
        )))
    }
}

/// A valid Path identity (RFC 5537 path-identity, conservatively).
pub fn is_valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}
