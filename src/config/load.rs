//! Reading `newsmesh.toml` and checking what serde cannot: names listed twice, trust
//! rules, password hashes. Every error names its line and column: serde's own (syntax,
//! unknown keys, malformed keys and names, refused where they stand) carry them, and a
//! rule found wrong after deserializing is located in the text with toml_edit's spans.
//! `serve` logs these when a reload is refused, so an operator can find the mistake.

use std::collections::HashSet;
use std::path::Path;

use super::{password, Config, ConfigError};
use crate::sign::TrustPolicy;

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
        config
            .check(text)
            .map_err(|(at, message)| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: match locate(text, &at) {
                    Some(place) => format!("{place}: {message}"),
                    None => message,
                },
            })?;
        Ok(config)
    }

    /// The rules serde does not check, with where the first broken one stands.
    fn check(&self, text: &str) -> Result<(), (Place, String)> {
        let mut names = HashSet::new();
        for (i, nntp) in self.nntp_peers.iter().enumerate() {
            if !names.insert(nntp.name.as_str()) {
                let message = format!("nntp_peer {:?} is listed twice", nntp.name);
                return Err((Place::entry("nntp_peer", i, "name"), message));
            }
        }
        for (i, peer) in self.peers.iter().enumerate() {
            if !names.insert(peer.name.as_str()) {
                let message = format!(
                    "peer {:?} is listed twice (names are shared with [[nntp_peer]])",
                    peer.name
                );
                return Err((Place::entry("peer", i, "name"), message));
            }
        }
        for (table, rules) in [("trust", &self.trust), ("control", &self.control)] {
            for (i, rule) in rules.iter().enumerate() {
                let one = std::slice::from_ref(rule);
                let checked = if table == "trust" {
                    TrustPolicy::from_config(one, &[], false)
                } else {
                    TrustPolicy::from_config(&[], one, false)
                };
                if let Err(message) = checked {
                    return Err((Place::entry(table, i, "authors"), message));
                }
            }
        }
        let mut users = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            if !users.insert(user.name.as_str()) {
                let message = format!("user {:?} is listed twice", user.name);
                return Err((Place::entry("user", i, "name"), message));
            }
            if let Err(why) = password::validate(&user.password_hash) {
                let message = format!(
                    "user {:?}: password_hash is {why} (set it with `newsmesh user add`)",
                    user.name
                );
                // Under whichever of its two names the hash is written.
                let key = ["password_hash", "password_sha256"]
                    .into_iter()
                    .find(|key| locate(text, &Place::entry("user", i, key)).is_some())
                    .unwrap_or("password_hash");
                return Err((Place::entry("user", i, key), message));
            }
        }
        super::admission::check_config(self)
            .map_err(|message| (Place::entry("expire", 0, "history_days"), message))?;
        Ok(())
    }
}

/// Where in the file a value stands: `key` of entry `index` of the array of tables
/// `array` (`[[peer]]`, `[[user]]`...).
struct Place {
    array: &'static str,
    index: usize,
    key: &'static str,
}

impl Place {
    fn entry(array: &'static str, index: usize, key: &'static str) -> Place {
        Place { array, index, key }
    }
}

/// "line L, column C" of `place` in `text` (1-based, as toml's own errors say it).
fn locate(text: &str, place: &Place) -> Option<String> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let span = doc
        .get(place.array)?
        .as_array_of_tables()?
        .get(place.index)?
        .get(place.key)?
        .span()?;
    let before = text.get(..span.start)?;
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    Some(format!("line {line}, column {column}"))
}

/// toml's messages span several lines (a snippet with a caret); keep the first line and
/// the pointer text so the CLI prints one clear line.
pub(super) fn one_line(message: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::{edit, hash_password};
    use super::*;

    fn base() -> String {
        edit::node_template("alpha", "127.0.0.1:1119").unwrap()
    }

    /// The line of `text` that `needle` starts on (1-based).
    fn line_of(text: &str, needle: &str) -> usize {
        text[..text.find(needle).unwrap()].matches('\n').count() + 1
    }

    #[test]
    fn example_config_is_valid() {
        let c = Config::parse(&base(), Path::new("x")).unwrap();
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
    fn a_bad_key_or_name_is_refused_where_it_stands() {
        let key = crate::sign::public_key_text(
            &ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key(),
        );
        for (entry, needle) in [
            (
                "[[peer]]\nname = \"beta\"\nkey = \"AAAA\"\n".to_string(),
                "key = \"AAAA\"",
            ),
            (
                format!("[[peer]]\nname = \"be ta\"\nkey = \"{key}\"\n"),
                "name = \"be ta\"",
            ),
        ] {
            let text = format!("{}\n{entry}", base());
            let msg = Config::parse(&text, Path::new("n"))
                .unwrap_err()
                .to_string();
            let line = line_of(&text, needle);
            assert!(msg.contains(&format!("line {line}")), "{msg}");
            assert!(msg.contains("column"), "{msg}");
        }
    }

    #[test]
    fn a_name_listed_twice_is_located() {
        let key = crate::sign::public_key_text(
            &ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key(),
        );
        let peer = format!("[[peer]]\nname = \"beta\"\nkey = \"{key}\"\n");
        let text = format!("{}\n{peer}\n{peer}", base());
        let msg = Config::parse(&text, Path::new("n"))
            .unwrap_err()
            .to_string();
        let second = text.rfind("name = \"beta\"").unwrap();
        let line = text[..second].matches('\n').count() + 1;
        assert!(msg.contains(&format!("line {line}, column 8")), "{msg}");
        assert!(msg.contains("twice"), "{msg}");
    }

    #[test]
    fn users_are_checked_at_load() {
        let base = base();
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
        let text = with(bad);
        let err = Config::parse(&text, Path::new("n")).unwrap_err();
        assert!(err.to_string().contains("password_hash"), "{err}");
        let line = line_of(&text, "password_sha256 = \"plain\"");
        assert!(err.to_string().contains(&format!("line {line}")), "{err}");
        let both = format!(
            "[[user]]\nname = \"ann\"\npassword_hash = \"{0}\"\npassword_sha256 = \"{0}\"\nauthor_key = \"a\"\n",
            hash_password("x")
        );
        assert!(Config::parse(&with(&both), Path::new("n")).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            Config::parse("[node]\nname='a'\nlisten='x'\nfoo=1\n", Path::new("n")).unwrap_err();
        assert!(err.to_string().contains("foo"), "{err}");
    }
}
