//! A neighbour's node key as the configuration holds it: parsed once, when the file is
//! read, so a malformed key is an error with its line and column at load, and the
//! handshakes compare keys instead of re-parsing text.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer};

use crate::sign::{parse_public_key, public_key_text, KeyError};

/// An ed25519 node public key (`[[peer]] key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeKey(VerifyingKey);

impl NodeKey {
    /// Parses the text form (base64, optionally prefixed `ed25519:`).
    pub fn parse(text: &str) -> Result<NodeKey, KeyError> {
        parse_public_key(text).map(NodeKey)
    }

    /// The key.
    pub fn key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl From<VerifyingKey> for NodeKey {
    fn from(key: VerifyingKey) -> NodeKey {
        NodeKey(key)
    }
}

impl std::fmt::Display for NodeKey {
    /// The text form `key --node` prints (and `peer add` writes).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&public_key_text(&self.0))
    }
}

impl<'de> Deserialize<'de> for NodeKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NodeKey, D::Error> {
        let text = String::deserialize(deserializer)?;
        NodeKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_its_text() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let text = public_key_text(&key);
        let parsed = NodeKey::parse(&text).unwrap();
        assert_eq!(parsed.key(), &key);
        assert_eq!(parsed.to_string(), text);
        assert_eq!(NodeKey::parse(&format!("ed25519:{text}")).unwrap(), parsed);
        assert!(NodeKey::parse("not a key").is_err());
    }
}
