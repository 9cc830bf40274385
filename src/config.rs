//! The node configuration, `newsmesh.toml`: typed reading with serde, and in-place edits
//! (`peer add`/`peer remove`) with toml_edit so an operator's comments and layout survive.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sign::{parse_public_key, TrustPolicy};
use crate::wildmat::Wildmat;

mod password;

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
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Path identity.
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

/// One `[[trust]]` rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRuleConfig {
    /// Wildmat of groups.
    pub groups: String,
    /// "any" or a list of keys.
    pub authors: Authors,
}

/// Who a trust rule admits.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Authors {
    /// The word "any" (checked at load).
    Word(String),
    /// A list of author public keys.
    Keys(Vec<String>),
}

/// One `[[peer]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The neighbour's Path identity.
    pub name: String,
    /// Its node public key.
    pub key: String,
    /// Where to dial it; none for a passive peer.
    #[serde(default)]
    pub address: Option<String>,
    /// Groups it gets from us.
    #[serde(default = "all_groups")]
    pub groups: String,
}

fn all_groups() -> String {
    "*".into()
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
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks configuration text (`path` is only for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line(&e.to_string()),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if !is_valid_node_name(&config.node.name) {
            return Err(invalid(format!(
                "[node] name {:?} is not a valid Path identity (letters, digits, '.', '-', '_')",
                config.node.name
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for nntp in &config.nntp_peers {
            if !seen.insert(nntp.name.as_str()) {
                return Err(invalid(format!(
                    "nntp_peer {:?} is listed twice",
                    nntp.name
                )));
            }
        }
        for peer in &config.peers {
            if !seen.insert(peer.name.as_str()) {
                return Err(invalid(format!(
                    "peer {:?} is listed twice (names are shared with [[nntp_peer]])",
                    peer.name
                )));
            }
            parse_public_key(&peer.key)
                .map_err(|e| invalid(format!("peer {:?}: {e}", peer.name)))?;
        }
        config.trust_policy().map_err(invalid)?;
        let mut users = std::collections::HashSet::new();
        for user in &config.users {
            if !is_valid_user_name(&user.name) {
                return Err(invalid(format!(
                    "[[user]] name {:?} is not valid (letters, digits, '.', '-', '_')",
                    user.name
                )));
            }
            if !users.insert(user.name.as_str()) {
                return Err(invalid(format!("user {:?} is listed twice", user.name)));
            }
            if let Err(why) = password::validate(&user.password_hash) {
                return Err(invalid(format!(
                    "user {:?}: password_hash is {why} (set it with `newsmesh user add`)",
                    user.name
                )));
            }
        }
        Ok(config)
    }

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

    /// The plain NNTP peer allowed to feed us from `ip`, if any.
    pub fn nntp_peer_at(&self, ip: std::net::IpAddr) -> Option<&NntpPeerConfig> {
        self.nntp_peers.iter().find(|p| p.hosts.contains(&ip))
    }

    /// The `[[user]]` called `name`.
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
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

/// toml's messages span several lines (a snippet with a caret); keep the first line and
/// the pointer text so the CLI prints one clear line.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().unwrap_or("invalid TOML").to_string();
    let detail = message
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('|') && !l.contains('|'))
        .filter(|l| *l != head)
        .map(str::to_string);
    match detail {
        Some(d) => format!("{head}: {d}"),
        None => head,
    }
}

/// Edits of `newsmesh.toml` that keep the operator's comments and layout.
pub mod edit {
    use super::*;
    use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table};

    fn load(path: &Path) -> Result<DocumentMut, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        text.parse::<DocumentMut>().map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line(&e.to_string()),
        })
    }

    fn save(path: &Path, doc: &DocumentMut) -> Result<(), ConfigError> {
        let text = doc.to_string();
        // Refuse to write something we could not read back.
        Config::parse(&text, path)?;
        crate::files::write_atomically(path, text.as_bytes()).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Fills `[node] name` and `listen` into the template text.
    pub fn node_template(name: &str, listen: &str) -> Result<String, ConfigError> {
        let mut doc = EXAMPLE
            .parse::<DocumentMut>()
            .map_err(|e| ConfigError::Peer(e.to_string()))?;
        doc["node"]["name"] = value(name);
        doc["node"]["listen"] = value(listen);
        Ok(doc.to_string())
    }

    /// Appends a `[[peer]]`.
    pub fn add_peer(path: &Path, peer: &PeerConfig) -> Result<(), ConfigError> {
        if !is_valid_node_name(&peer.name) {
            return Err(ConfigError::Peer(format!(
                "peer name {:?} is not a valid Path identity (letters, digits, '.', '-', '_')",
                peer.name
            )));
        }
        parse_public_key(&peer.key).map_err(|e| ConfigError::Peer(e.to_string()))?;
        let mut doc = load(path)?;
        let peers = doc
            .entry("peer")
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(|| {
                ConfigError::Peer("`peer` in the config is not an array of tables".into())
            })?;
        if peers
            .iter()
            .any(|t| t.get("name").and_then(|n| n.as_str()) == Some(peer.name.as_str()))
        {
            return Err(ConfigError::Peer(format!(
                "a peer named {:?} already exists (remove it first with `newsmesh peer remove {}`)",
                peer.name, peer.name
            )));
        }
        let mut table = Table::new();
        table["name"] = value(peer.name.as_str());
        table["key"] = value(peer.key.trim());
        if let Some(address) = &peer.address {
            table["address"] = value(address.as_str());
        }
        table["groups"] = value(peer.groups.as_str());
        peers.push(table);
        save(path, &doc)
    }

    /// Appends an `[[nntp_peer]]` (a plain news server); refuses a name any neighbour
    /// (either kind) already has.
    pub fn add_nntp_peer(path: &Path, peer: &NntpPeerConfig) -> Result<(), ConfigError> {
        if !is_valid_node_name(&peer.name) {
            return Err(ConfigError::Peer(format!(
                "peer name {:?} is not a valid Path identity (letters, digits, '.', '-', '_')",
                peer.name
            )));
        }
        let mut doc = load(path)?;
        let named = |key: &str| {
            doc.get(key)
                .and_then(Item::as_array_of_tables)
                .is_some_and(|tables| {
                    tables
                        .iter()
                        .any(|t| t.get("name").and_then(|n| n.as_str()) == Some(peer.name.as_str()))
                })
        };
        if named("peer") || named("nntp_peer") {
            return Err(ConfigError::Peer(format!(
                "a peer named {:?} already exists (remove it first with `newsmesh peer remove {}`)",
                peer.name, peer.name
            )));
        }
        let peers = doc
            .entry("nntp_peer")
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(|| {
                ConfigError::Peer("`nntp_peer` in the config is not an array of tables".into())
            })?;
        let mut table = Table::new();
        table["name"] = value(peer.name.as_str());
        if let Some(address) = &peer.address {
            table["address"] = value(address.as_str());
        }
        if !peer.hosts.is_empty() {
            let mut hosts = toml_edit::Array::new();
            for ip in &peer.hosts {
                hosts.push(ip.to_string());
            }
            table["hosts"] = value(hosts);
        }
        table["groups"] = value(peer.groups.as_str());
        peers.push(table);
        save(path, &doc)
    }

    /// Removes the `[[nntp_peer]]` called `name`.
    pub fn remove_nntp_peer(path: &Path, name: &str) -> Result<(), ConfigError> {
        let mut doc = load(path)?;
        let missing = || ConfigError::Peer(format!("no peer named {name:?} in the config"));
        let peers = doc
            .get_mut("nntp_peer")
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(missing)?;
        let index = peers
            .iter()
            .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
            .ok_or_else(missing)?;
        peers.remove(index);
        if peers.is_empty() {
            doc.remove("nntp_peer");
        }
        save(path, &doc)
    }

    /// Appends a `[[user]]`; refuses a name that is already there.
    pub fn add_user(path: &Path, user: &UserConfig) -> Result<(), ConfigError> {
        if !is_valid_user_name(&user.name) {
            return Err(ConfigError::Peer(format!(
                "user name {:?} is not valid (letters, digits, '.', '-', '_')",
                user.name
            )));
        }
        let mut doc = load(path)?;
        let users = doc
            .entry("user")
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(|| {
                ConfigError::Peer("`user` in the config is not an array of tables".into())
            })?;
        if users
            .iter()
            .any(|t| t.get("name").and_then(|n| n.as_str()) == Some(user.name.as_str()))
        {
            return Err(ConfigError::Peer(format!(
                "a user named {:?} already exists (remove it first with `newsmesh user remove {}`)",
                user.name, user.name
            )));
        }
        let mut table = Table::new();
        table["name"] = value(user.name.as_str());
        table["password_hash"] = value(user.password_hash.as_str());
        table["author_key"] = value(user.author_key.as_str());
        users.push(table);
        save(path, &doc)
    }

    /// Replaces the password hash of the `[[user]]` called `name` by `new_hash`, under the
    /// key `password_hash` at the place of the old key and with its comments, if the
    /// entry still holds `old_hash` (so a concurrent edit by the operator wins). Returns
    /// whether the file changed.
    pub fn upgrade_password(
        path: &Path,
        name: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, ConfigError> {
        const KEYS: [&str; 2] = ["password_hash", "password_sha256"];
        let mut doc = load(path)?;
        let Some(users) = doc.get_mut("user").and_then(Item::as_array_of_tables_mut) else {
            return Ok(false);
        };
        let Some(table) = users
            .iter_mut()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
        else {
            return Ok(false);
        };
        let Some(old_key) = KEYS
            .into_iter()
            .find(|k| table.get(k).and_then(|v| v.as_str()) == Some(old_hash))
        else {
            return Ok(false);
        };
        // Rebuild the entry in its order, the old key renamed with its decoration.
        let entries: Vec<(toml_edit::Key, Item)> = table
            .iter()
            .filter_map(|(k, _)| table.get_key_value(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        table.clear();
        for (key, item) in entries {
            if key.get() == old_key {
                let renamed =
                    toml_edit::Key::new("password_hash").with_leaf_decor(key.leaf_decor().clone());
                let mut new_value = toml_edit::Value::from(new_hash);
                if let Some(old) = item.as_value() {
                    *new_value.decor_mut() = old.decor().clone();
                }
                table.insert_formatted(&renamed, Item::Value(new_value));
            } else {
                table.insert_formatted(&key, item);
            }
        }
        save(path, &doc)?;
        Ok(true)
    }

    /// Removes the `[[user]]` called `name`.
    pub fn remove_user(path: &Path, name: &str) -> Result<(), ConfigError> {
        let mut doc = load(path)?;
        let missing = || ConfigError::Peer(format!("no user named {name:?} in the config"));
        let users = doc
            .get_mut("user")
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(missing)?;
        let index = users
            .iter()
            .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
            .ok_or_else(missing)?;
        users.remove(index);
        if users.is_empty() {
            doc.remove("user");
        }
        save(path, &doc)
    }

    /// Removes the `[[peer]]` called `name`.
    pub fn remove_peer(path: &Path, name: &str) -> Result<(), ConfigError> {
        let mut doc = load(path)?;
        let missing = || ConfigError::Peer(format!("no peer named {name:?} in the config"));
        let peers = doc
            .get_mut("peer")
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(missing)?;
        let index = peers
            .iter()
            .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
            .ok_or_else(missing)?;
        peers.remove(index);
        if peers.is_empty() {
            doc.remove("peer");
        }
        save(path, &doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid() {
        let text = edit::node_template("alpha", "127.0.0.1:1119").unwrap();
        let c = Config::parse(&text, Path::new("x")).unwrap();
        assert_eq!(c.node.name, "alpha");
        assert_eq!(c.trust.len(), 1);
        assert!(c.peers.is_empty());
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = Config::parse("[node]\nname = \n", Path::new("n.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("column"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn users_are_checked_at_load() {
        let base = edit::node_template("alpha", "127.0.0.1:1119").unwrap();
        let with = |users: &str| format!("{base}\n{users}");
        let good = format!(
            "[[user]]\nname = \"ann\"\npassword_hash = \"{}\"\nauthor_key = \"authors/ann.key\"\n",
            hash_password("x")
        );
        let c = Config::parse(&with(&good), Path::new("n")).unwrap();
        assert!(c.user("ann").is_some() && c.user("bob").is_none());
        let twice = format!("{good}{good}");
        let err = Config::parse(&with(&twice), Path::new("n")).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let bad = "[[user]]\nname = \"ann\"\npassword_sha256 = \"plain\"\nauthor_key = \"a\"\n";
        let err = Config::parse(&with(bad), Path::new("n")).unwrap_err();
        assert!(err.to_string().contains("password_hash"), "{err}");
        let both = format!(
            "[[user]]\nname = \"ann\"\npassword_hash = \"{0}\"\npassword_sha256 = \"{0}\"\nauthor_key = \"a\"\n",
            hash_password("x")
        );
        assert!(Config::parse(&with(&both), Path::new("n")).is_err());
    }

    #[test]
    fn a_legacy_password_is_upgraded_in_place_keeping_comments() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsmesh.toml");
        let legacy = format!(
            "salt${}",
            data_encoding::HEXLOWER.encode(&Sha256::digest(b"saltpw"))
        );
        let base = edit::node_template("alpha", "127.0.0.1:1119").unwrap();
        let text = format!(
            "{base}\n# Ann from accounting.\n[[user]]\nname = \"ann\"\n\
             # set in 2025\npassword_sha256 = \"{legacy}\" # old scheme\n\
             author_key = \"authors/ann.key\"\n"
        );
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            Config::load(&path)
                .unwrap()
                .user("ann")
                .unwrap()
                .check_password("pw"),
            PasswordMatch::YesLegacy
        );
        let new = hash_password("pw");
        assert!(!edit::upgrade_password(&path, "ann", "other", &new).unwrap());
        assert!(edit::upgrade_password(&path, "ann", &legacy, &new).unwrap());
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(
            after.contains(&format!(
                "name = \"ann\"\n# set in 2025\npassword_hash = \"{new}\" # old scheme\n\
             author_key = \"authors/ann.key\""
            )),
            "{after}"
        );
        assert!(
            after.contains("# Ann from accounting.\n[[user]]"),
            "{after}"
        );
        assert!(!after.contains("\npassword_sha256"), "{after}");
        let user = Config::load(&path).unwrap().user("ann").unwrap().clone();
        assert_eq!(user.check_password("pw"), PasswordMatch::Yes);
        // Done once: the entry no longer holds the legacy value.
        assert!(!edit::upgrade_password(&path, "ann", &legacy, &new).unwrap());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            Config::parse("[node]\nname='a'\nlisten='x'\nfoo=1\n", Path::new("n")).unwrap_err();
        assert!(err.to_string().contains("foo"), "{err}");
    }
}
