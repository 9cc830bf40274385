//! What `peer add` and `peer edit` refuse before they touch newsmesh.toml.

use crate::config::{Config, NodeKey};
use crate::error::{Error, Result};
use crate::home::Home;

/// Refuses a node key that this node or another neighbour already has: the inbound
/// session of that key would authenticate as whichever entry comes first.
pub fn check_key(home: &Home, config: &Config, name: &str, key: &NodeKey) -> Result<()> {
    if key.key() == &home.node_key()?.verifying_key() {
        return Err(Error::Invalid(format!(
            "{key} is this node's own key (`newsmesh key --node`): give the neighbour's, \
             from `newsmesh key --node` on its machine"
        )));
    }
    if let Some(author) = own_author_named_by(home, key) {
        return Err(Error::Invalid(format!(
            "{key} is the author key {author:?} of this node, not a neighbour's node key: \
             give the neighbour's `newsmesh key --node` (`newsmesh key` prints an author key)"
        )));
    }
    if let Some(other) = config
        .peers
        .iter()
        .find(|p| p.key.key() == key.key() && p.name != name)
    {
        return Err(Error::Invalid(format!(
            "peer {} already has this key: one node is one [[peer]] (`newsmesh peer remove {}` first)",
            other.name, other.name
        )));
    }
    Ok(())
}

/// The name of this node's author identity whose public key is `key`, if any.
fn own_author_named_by(home: &Home, key: &NodeKey) -> Option<String> {
    let dir = std::fs::read_dir(home.dir().join("authors")).ok()?;
    dir.flatten().find_map(|entry| {
        let file = entry.file_name().to_string_lossy().into_owned();
        let name = file.strip_suffix(".key")?.to_string();
        let secret = home.author_key(&name).ok()?;
        (&secret.verifying_key() == key.key()).then_some(name)
    })
}

/// Refuses an empty `--groups` or one with white space (a wildmat has none, and `peer
/// list`'s columns are separated by spaces).
pub fn check_groups(groups: &str) -> Result<()> {
    if groups.is_empty() || groups.contains(char::is_whitespace) {
        return Err(Error::Invalid(format!(
            "--groups {groups:?} must be a wildmat without spaces, e.g. \"*\" or \"mesh.*,!mesh.test\""
        )));
    }
    Ok(())
}
