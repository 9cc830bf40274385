//! The governance control verbs: what the `Control` header of a governance article says,
//! parsed (total: any text gives an action, "not governance", or a refusal) and written
//! back in one canonical form.
//!
//! ```text
//! Control: member add SCOPE KEY        Control: member remove SCOPE KEY
//! Control: policy SCOPE members|open   Control: moderator add|remove SCOPE KEY
//! Control: revoke KEY retired|compromised SCOPE [cancel]
//! ```
//! SCOPE is a list of simple patterns (`scope.rs`), KEY an author key in base64.

use super::scope::Scope;
use super::Refusal;
use crate::sign::{parse_public_key, public_key_text};

/// Why a key is revoked (as OpenPGP's reasons): it decides what happens to its articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Its owner stopped using it: articles dated before the revocation stay valid.
    Retired,
    /// Someone else may hold it: every article by it is refused from now on.
    Compromised,
}

impl Reason {
    /// The word in the Control header and on the command line.
    pub fn word(self) -> &'static str {
        match self {
            Reason::Retired => "retired",
            Reason::Compromised => "compromised",
        }
    }

    fn parse(word: &str) -> Option<Reason> {
        match word {
            "retired" => Some(Reason::Retired),
            "compromised" => Some(Reason::Compromised),
            _ => None,
        }
    }
}

/// One governance action.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Adds (`add`) or removes a member key for the groups of `scope`.
    Member {
        add: bool,
        scope: Scope,
        key: String,
    },
    /// Makes the groups of `scope` members-only (`members`) or open.
    Policy { scope: Scope, members: bool },
    /// Names (`add`) or drops a moderator, who may cancel any article in `scope`.
    Moderator {
        add: bool,
        scope: Scope,
        key: String,
    },
    /// Revokes `key` in `scope`, for `reason`; `cancel` withdraws its stored articles.
    Revoke {
        key: String,
        reason: Reason,
        scope: Scope,
        cancel: bool,
    },
}

/// The first words of the governance verbs: a Control header starting with one of these
/// is governance's to judge (and refuse when malformed).
pub const VERBS: [&str; 4] = ["member", "policy", "moderator", "revoke"];

fn key(text: &str) -> Result<String, Refusal> {
    parse_public_key(text)
        .map(|k| public_key_text(&k))
        .map_err(|e| Refusal::Malformed(format!("bad author key {text:?}: {e}")))
}

fn scope(text: &str) -> Result<Scope, Refusal> {
    Scope::parse(text).ok_or_else(|| {
        Refusal::Malformed(format!(
            "bad scope {text:?}: a list of group names, NAME.* or *"
        ))
    })
}

fn add_or_remove(word: &str) -> Result<bool, Refusal> {
    match word {
        "add" => Ok(true),
        "remove" => Ok(false),
        other => Err(Refusal::Malformed(format!(
            "expected add or remove, not {other:?}"
        ))),
    }
}

impl Action {
    /// Reads a Control header value: `Ok(None)` when it is not a governance verb (a
    /// cancel, newgroup...), `Err` when it is one but malformed.
    pub fn parse(control: &str) -> Result<Option<Action>, Refusal> {
        let words: Vec<&str> = control.split_whitespace().collect();
        let Some(verb) = words.first() else {
            return Ok(None);
        };
        let verb = verb.to_ascii_lowercase();
        if !VERBS.contains(&verb.as_str()) {
            return Ok(None);
        }
        let malformed = || Refusal::Malformed(format!("malformed control: {control}"));
        let action = match (verb.as_str(), &words[1..]) {
            ("member", [op, s, k]) => Action::Member {
                add: add_or_remove(op)?,
                scope: scope(s)?,
                key: key(k)?,
            },
            ("moderator", [op, s, k]) => Action::Moderator {
                add: add_or_remove(op)?,
                scope: scope(s)?,
                key: key(k)?,
            },
            ("policy", [s, which]) => Action::Policy {
                scope: scope(s)?,
                members: match *which {
                    "members" => true,
                    "open" => false,
                    _ => return Err(malformed()),
                },
            },
            ("revoke", [k, reason, s, rest @ ..]) => Action::Revoke {
                key: key(k)?,
                reason: Reason::parse(reason).ok_or_else(malformed)?,
                scope: scope(s)?,
                cancel: match rest {
                    [] => false,
                    ["cancel"] => true,
                    _ => return Err(malformed()),
                },
            },
            _ => return Err(malformed()),
        };
        Ok(Some(action))
    }

    /// The scope it speaks of.
    pub fn scope(&self) -> &Scope {
        match self {
            Action::Member { scope, .. }
            | Action::Policy { scope, .. }
            | Action::Moderator { scope, .. }
            | Action::Revoke { scope, .. } => scope,
        }
    }

    /// The Control header value (what [`Action::parse`] reads back).
    pub fn control(&self) -> String {
        let op = |add: bool| if add { "add" } else { "remove" };
        match self {
            Action::Member { add, scope, key } => format!("member {} {scope} {key}", op(*add)),
            Action::Moderator { add, scope, key } => {
                format!("moderator {} {scope} {key}", op(*add))
            }
            Action::Policy { scope, members } => {
                format!(
                    "policy {scope} {}",
                    if *members { "members" } else { "open" }
                )
            }
            Action::Revoke {
                key,
                reason,
                scope,
                cancel,
            } => {
                let tail = if *cancel { " cancel" } else { "" };
                format!("revoke {key} {} {scope}{tail}", reason.word())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn k(n: u8) -> String {
        public_key_text(&SigningKey::from_bytes(&[n; 32]).verifying_key())
    }

    #[test]
    fn every_verb_round_trips() {
        let s = Scope::parse("club.*").unwrap();
        for action in [
            Action::Member {
                add: true,
                scope: s.clone(),
                key: k(1),
            },
            Action::Member {
                add: false,
                scope: s.clone(),
                key: k(1),
            },
            Action::Moderator {
                add: true,
                scope: s.clone(),
                key: k(2),
            },
            Action::Policy {
                scope: s.clone(),
                members: true,
            },
            Action::Policy {
                scope: s.clone(),
                members: false,
            },
            Action::Revoke {
                key: k(3),
                reason: Reason::Retired,
                scope: s.clone(),
                cancel: false,
            },
            Action::Revoke {
                key: k(3),
                reason: Reason::Compromised,
                scope: s.clone(),
                cancel: true,
            },
        ] {
            assert_eq!(Action::parse(&action.control()).unwrap(), Some(action));
        }
    }

    #[test]
    fn other_controls_are_not_governance() {
        assert_eq!(Action::parse("cancel <a@b>").unwrap(), None);
        assert_eq!(Action::parse("newgroup club.a").unwrap(), None);
        assert_eq!(Action::parse("").unwrap(), None);
    }

    #[test]
    fn malformed_governance_is_refused() {
        let key = k(1);
        for bad in [
            "member add club.*".to_string(),
            format!("member invite club.* {key}"),
            format!("member add club* {key}"),
            "member add club.* notakey".to_string(),
            "policy club.* closed".to_string(),
            format!("revoke {key} lost club.*"),
            format!("revoke {key} retired club.* cancel now"),
            format!("moderator add !club.* {key}"),
        ] {
            assert!(
                matches!(Action::parse(&bad), Err(Refusal::Malformed(_))),
                "{bad}"
            );
        }
    }
}
