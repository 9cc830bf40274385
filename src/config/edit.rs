//! Edits of `newsmesh.toml` that keep the operator's comments and layout (toml_edit):
//! adding and removing `[[peer]]`, `[[nntp_peer]]` and `[[user]]` entries through one
//! pair of functions, and the password upgrade `serve` makes at a login. Every edit is
//! checked by reading the result back before the file is replaced (atomically), so an
//! edit never leaves a file that `serve` would refuse to reload.

use std::path::Path;

use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table};

use super::load::one_line;
use super::{
    is_valid_node_name, is_valid_user_name, Authors, Config, ConfigError, NntpPeerConfig,
    PeerConfig, TrustRuleConfig, UserConfig, EXAMPLE,
};

/// One kind of named entry: the array of tables it is in, the arrays whose names it must
/// not repeat, and what messages call it.
struct Kind {
    array: &'static str,
    namespace: &'static [&'static str],
    noun: &'static str,
}

/// `[[peer]]`: shares its names with `[[nntp_peer]]` (both are neighbours in Path).
const PEER: Kind = Kind {
    array: "peer",
    namespace: &["peer", "nntp_peer"],
    noun: "peer",
};
/// `[[nntp_peer]]`.
const NNTP_PEER: Kind = Kind {
    array: "nntp_peer",
    namespace: &["peer", "nntp_peer"],
    noun: "peer",
};
/// `[[user]]`.
const USER: Kind = Kind {
    array: "user",
    namespace: &["user"],
    noun: "user",
};

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

fn has_named(doc: &DocumentMut, array: &str, name: &str) -> bool {
    doc.get(array)
        .and_then(Item::as_array_of_tables)
        .is_some_and(|tables| tables.iter().any(|t| entry_name(t) == Some(name)))
}

fn entry_name(table: &Table) -> Option<&str> {
    table.get("name").and_then(|n| n.as_str())
}

/// Appends `table` (whose `name` is `name`) to the array of `kind`, refusing a name the
/// kind's namespace already holds.
fn append(path: &Path, kind: &Kind, name: &str, table: Table) -> Result<(), ConfigError> {
    let mut doc = load(path)?;
    if kind
        .namespace
        .iter()
        .any(|array| has_named(&doc, array, name))
    {
        return Err(ConfigError::Peer(format!(
            "a {noun} named {name:?} already exists (remove it first with \
             `newsmesh {noun} remove {name}`)",
            noun = kind.noun
        )));
    }
    doc.entry(kind.array)
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| {
            ConfigError::Peer(format!(
                "`{}` in the config is not an array of tables",
                kind.array
            ))
        })?
        .push(table);
    save(path, &doc)
}

/// Removes the entry of `kind` called `name` (and the array when it is left empty).
fn remove(path: &Path, kind: &Kind, name: &str) -> Result<(), ConfigError> {
    let mut doc = load(path)?;
    let missing = || ConfigError::Peer(format!("no {} named {name:?} in the config", kind.noun));
    let entries = doc
        .get_mut(kind.array)
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(missing)?;
    let index = entries
        .iter()
        .position(|t| entry_name(t) == Some(name))
        .ok_or_else(missing)?;
    entries.remove(index);
    if entries.is_empty() {
        doc.remove(kind.array);
    }
    save(path, &doc)
}

fn check_neighbour_name(name: &str) -> Result<(), ConfigError> {
    if is_valid_node_name(name) {
        Ok(())
    } else {
        Err(ConfigError::Peer(format!(
            "peer name {name:?} is not a valid Path identity (letters, digits, '.', '-', '_')"
        )))
    }
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

/// Appends a `[[peer]]`; refuses a name any neighbour (either kind) already has.
pub fn add_peer(path: &Path, peer: &PeerConfig) -> Result<(), ConfigError> {
    check_neighbour_name(&peer.name)?;
    let mut table = Table::new();
    table["name"] = value(peer.name.as_str());
    table["key"] = value(peer.key.to_string());
    if let Some(address) = &peer.address {
        table["address"] = value(address.as_str());
    }
    table["groups"] = value(peer.groups.as_str());
    if !peer.tls {
        table["tls"] = value(false);
    }
    if !peer.live {
        table["live"] = value(false);
    }
    append(path, &PEER, &peer.name, table)
}

/// `newsmesh join`'s one edit: the inviter as a `[[peer]]`, and the `[[trust]]` and
/// `[[control]]` rules the invite carries appended after ours ([`add_rules`]), saved at
/// once: all or nothing.
pub fn add_peer_and_rules(
    path: &Path,
    peer: &PeerConfig,
    trust: &[TrustRuleConfig],
    control: &[TrustRuleConfig],
) -> Result<(), ConfigError> {
    add_peer(path, peer)?;
    if let Err(e) = add_rules(path, trust, control) {
        // All or nothing: take the peer back out.
        let _ = remove_peer(path, &peer.name);
        return Err(e);
    }
    Ok(())
}

/// Appends `[[trust]]` and `[[control]]` rules after the ones the config has (the last
/// matching rule decides, so these hold for their groups). Rules already present word
/// for word are not repeated.
pub fn add_rules(
    path: &Path,
    trust: &[TrustRuleConfig],
    control: &[TrustRuleConfig],
) -> Result<(), ConfigError> {
    let mut doc = load(path)?;
    for (array, rules) in [("trust", trust), ("control", control)] {
        for rule in rules {
            let mut table = Table::new();
            table["groups"] = value(rule.groups.as_str());
            table["authors"] = match &rule.authors {
                Authors::Word(w) => value(w.as_str()),
                Authors::Keys(keys) => value(keys.iter().collect::<toml_edit::Array>()),
            };
            let tables = doc
                .entry(array)
                .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
                .as_array_of_tables_mut()
                .ok_or_else(|| {
                    ConfigError::Peer(format!("`{array}` in the config is not an array of tables"))
                })?;
            let text = |t: &Table, key: &str| t.get(key).map(|v| v.to_string().trim().to_string());
            let same = |t: &Table| {
                text(t, "groups") == text(&table, "groups")
                    && text(t, "authors") == text(&table, "authors")
            };
            if !tables.iter().any(same) {
                tables.push(table);
            }
        }
    }
    save(path, &doc)
}

/// Appends an `[[nntp_peer]]` (a plain news server); refuses a name any neighbour
/// (either kind) already has.
pub fn add_nntp_peer(path: &Path, peer: &NntpPeerConfig) -> Result<(), ConfigError> {
    check_neighbour_name(&peer.name)?;
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
    if !peer.unsigned_groups.is_empty() {
        table["unsigned_groups"] = value(peer.unsigned_groups.as_str());
    }
    append(path, &NNTP_PEER, &peer.name, table)
}

/// Appends a `[[user]]`; refuses a name that is already there.
pub fn add_user(path: &Path, user: &UserConfig) -> Result<(), ConfigError> {
    if !is_valid_user_name(&user.name) {
        return Err(ConfigError::Peer(format!(
            "user name {:?} is not valid (letters, digits, '.', '-', '_')",
            user.name
        )));
    }
    let mut table = Table::new();
    table["name"] = value(user.name.as_str());
    table["password_hash"] = value(user.password_hash.as_str());
    table["author_key"] = value(user.author_key.as_str());
    append(path, &USER, &user.name, table)
}

/// Removes the `[[peer]]` called `name`.
pub fn remove_peer(path: &Path, name: &str) -> Result<(), ConfigError> {
    remove(path, &PEER, name)
}

/// Removes the `[[nntp_peer]]` called `name`.
pub fn remove_nntp_peer(path: &Path, name: &str) -> Result<(), ConfigError> {
    remove(path, &NNTP_PEER, name)
}

/// Removes the `[[user]]` called `name`.
pub fn remove_user(path: &Path, name: &str) -> Result<(), ConfigError> {
    remove(path, &USER, name)
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

/// One change `amend_neighbour` makes to an entry: set `key` to a value, or remove it.
pub type Change = (&'static str, Option<toml_edit::Value>);

/// Changes the neighbour (either kind) called `name` in place, keeping its place and
/// comments: each key of `changes` is set (or removed for None). A new `name` must not be
/// another neighbour's. The result is read back before the file is replaced; returns
/// whether the entry is a `[[peer]]` (else an `[[nntp_peer]]`).
pub fn amend_neighbour(path: &Path, name: &str, changes: &[Change]) -> Result<bool, ConfigError> {
    let mut doc = load(path)?;
    if let Some((_, Some(new))) = changes.iter().find(|(key, _)| *key == "name") {
        let new = new.as_str().unwrap_or_default();
        check_neighbour_name(new)?;
        if new != name && PEER.namespace.iter().any(|a| has_named(&doc, a, new)) {
            return Err(ConfigError::Peer(format!(
                "a peer named {new:?} already exists"
            )));
        }
    }
    for kind in [&PEER, &NNTP_PEER] {
        let Some(entries) = doc
            .get_mut(kind.array)
            .and_then(Item::as_array_of_tables_mut)
        else {
            continue;
        };
        let found = entries.iter_mut().find(|t| entry_name(t) == Some(name));
        if let Some(table) = found {
            for (key, change) in changes {
                match change {
                    Some(v) => match table.get_mut(key).and_then(Item::as_value_mut) {
                        // In place: the comment and layout around the value stay.
                        Some(old) => {
                            let decor = old.decor().clone();
                            *old = v.clone();
                            *old.decor_mut() = decor;
                        }
                        None => table[*key] = Item::Value(v.clone()),
                    },
                    None => {
                        table.remove(key);
                    }
                }
            }
            let is_peer = kind.array == PEER.array;
            save(path, &doc)?;
            return Ok(is_peer);
        }
    }
    Err(ConfigError::Peer(format!(
        "no peer named {name:?} in the config"
    )))
}

/// Sets `key` in the table `table` (a dotted path such as `limits` or `tls`, created
/// when missing) to `new`, keeping the rest of the file as it is. Like every edit it
/// is refused when the result would not load.
pub fn set(
    path: &Path,
    table: &str,
    key: &str,
    new: impl Into<toml_edit::Value>,
) -> Result<(), ConfigError> {
    let mut doc = load(path)?;
    let mut at = doc.as_table_mut();
    for part in table.split('.').filter(|p| !p.is_empty()) {
        at = at
            .entry(part)
            .or_insert(Item::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| ConfigError::Peer(format!("`{table}` in the config is not a table")))?;
    }
    at[key] = Item::Value(new.into());
    save(path, &doc)
}

/// Sets `key` in the `[[peer]]` entry called `name` to `new`.
pub fn set_peer(
    path: &Path,
    name: &str,
    key: &str,
    new: impl Into<toml_edit::Value>,
) -> Result<(), ConfigError> {
    let mut doc = load(path)?;
    let missing = || ConfigError::Peer(format!("no peer named {name:?} in the config"));
    let entry = doc
        .get_mut(PEER.array)
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|peers| peers.iter_mut().find(|t| entry_name(t) == Some(name)))
        .ok_or_else(missing)?;
    entry[key] = Item::Value(new.into());
    save(path, &doc)
}

#[cfg(test)]
mod tests {
    use super::super::{hash_password, PasswordMatch};
    use super::*;

    fn node(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("newsmesh.toml");
        let text = node_template("alpha", "127.0.0.1:1119").unwrap();
        std::fs::write(&path, format!("# kept\n{text}")).unwrap();
        path
    }

    fn peer(name: &str) -> PeerConfig {
        PeerConfig {
            name: name.into(),
            key: ed25519_dalek::SigningKey::from_bytes(&[3; 32])
                .verifying_key()
                .into(),
            address: None,
            groups: "*".into(),
            tls: true,
            compress: true,
            live: true,
        }
    }

    #[test]
    fn entries_are_added_and_removed_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = node(&dir);
        add_peer(&path, &peer("beta")).unwrap();
        // A metered neighbour: live relay off is written, the default is not.
        let metered = PeerConfig {
            live: false,
            ..peer("gamma")
        };
        add_peer(&path, &metered).unwrap();
        let nntp = NntpPeerConfig {
            name: "inn".into(),
            address: Some("127.0.0.1:119".into()),
            hosts: vec![],
            groups: "*".into(),
            unsigned_groups: "mesh.*".into(),
        };
        add_nntp_peer(&path, &nntp).unwrap();
        let user = UserConfig {
            name: "ann".into(),
            password_hash: hash_password("x"),
            author_key: "authors/ann.key".into(),
        };
        add_user(&path, &user).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.peer("beta").unwrap().key, peer("beta").key);
        assert!(config.peer("beta").unwrap().live);
        assert!(!config.peer("gamma").unwrap().live);
        assert_eq!(config.nntp_peers[0].name, "inn");
        assert_eq!(config.nntp_peers[0].unsigned_groups, "mesh.*");
        assert!(config.user("ann").is_some());
        // One namespace for both kinds of neighbour; users have their own.
        let err = add_peer(&path, &peer("inn")).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        let err = add_nntp_peer(
            &path,
            &NntpPeerConfig {
                name: "beta".into(),
                ..nntp
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("peer remove beta"), "{err}");
        add_user(
            &path,
            &UserConfig {
                name: "beta".into(),
                ..user.clone()
            },
        )
        .unwrap();
        let err = add_user(&path, &user).unwrap_err().to_string();
        assert!(err.contains("user remove ann"), "{err}");

        remove_peer(&path, "beta").unwrap();
        remove_peer(&path, "gamma").unwrap();
        remove_nntp_peer(&path, "inn").unwrap();
        remove_user(&path, "ann").unwrap();
        remove_user(&path, "beta").unwrap();
        let err = remove_peer(&path, "beta").unwrap_err().to_string();
        assert!(err.contains("no peer named"), "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# kept\n"), "{text}");
        let config = Config::load(&path).unwrap();
        assert!(config.peers.is_empty() && config.nntp_peers.is_empty() && config.users.is_empty());
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
        let base = node_template("alpha", "127.0.0.1:1119").unwrap();
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
        assert!(!upgrade_password(&path, "ann", "other", &new).unwrap());
        assert!(upgrade_password(&path, "ann", &legacy, &new).unwrap());
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
        assert!(!upgrade_password(&path, "ann", &legacy, &new).unwrap());
    }
}
