//! The trust policy: which author keys may post to which groups, and where unsigned
//! articles are accepted. Built from the `[[trust]]` rules of `newsmesh.toml`.
//!
//! Unsigned articles (from legacy news servers such as INN) are accepted only when the
//! operator said so three times over: `[policy] accept_unsigned`, from a named
//! `[[nntp_peer]]`, in groups its `unsigned_groups` wildmat names. And never in a group
//! whose `[[trust]]` rule lists keys: an unsigned article cannot show it is by one of
//! them, so the switch must not become a way around the rule.

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use super::keys::{parse_public_key, public_key_text};
use crate::wildmat::Wildmat;

/// One `[[trust]]` rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRuleConfig {
    /// Wildmat of groups.
    pub groups: String,
    /// "any" or a list of keys.
    pub authors: Authors,
}

/// Who a trust rule admits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Authors {
    /// The word "any" (checked at load).
    Word(String),
    /// A list of author public keys.
    Keys(Vec<String>),
}

#[derive(Debug, Clone)]
enum Admits {
    Any,
    Keys(Vec<VerifyingKey>),
}

#[derive(Debug, Clone)]
struct Rule {
    groups: Wildmat,
    admits: Admits,
}

/// Decides whether an author may post to a set of groups.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    rules: Vec<Rule>,
    control: Vec<Rule>,
    accept_unsigned: bool,
    /// (nntp_peer name, groups it may relay unsigned articles to).
    unsigned_from: Vec<(String, Wildmat)>,
}

fn parse_rules(table: &str, rules: &[TrustRuleConfig]) -> Result<Vec<Rule>, String> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let admits = match &r.authors {
                Authors::Word(w) if w == "any" => Admits::Any,
                Authors::Word(w) => {
                    return Err(format!(
                        "[[{table}]] rule {}: authors must be \"any\" or a list of keys, not {w:?}",
                        i + 1
                    ))
                }
                Authors::Keys(keys) => Admits::Keys(
                    keys.iter()
                        .map(|k| parse_public_key(k))
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("[[{table}]] rule {}: {e}", i + 1))?,
                ),
            };
            Ok(Rule {
                groups: Wildmat::new(&r.groups),
                admits,
            })
        })
        .collect()
}

impl TrustPolicy {
    /// Builds the policy from `[[trust]]` (who may post where) and `[[control]]` (who may
    /// create and remove groups by newgroup/rmgroup); an error names the bad rule.
    pub fn from_config(
        rules: &[TrustRuleConfig],
        control: &[TrustRuleConfig],
        accept_unsigned: bool,
    ) -> Result<TrustPolicy, String> {
        Ok(TrustPolicy {
            rules: parse_rules("trust", rules)?,
            control: parse_rules("control", control)?,
            accept_unsigned,
            unsigned_from: Vec::new(),
        })
    }

    /// Lets `[[nntp_peer]]` `peer` relay unsigned articles to `groups` (a wildmat), when
    /// `accept_unsigned` is on and the groups' trust rules admit any author.
    pub fn with_unsigned_from(mut self, peer: &str, groups: &str) -> TrustPolicy {
        if !groups.trim().is_empty() {
            self.unsigned_from
                .push((peer.to_string(), Wildmat::new(groups)));
        }
        self
    }

    /// Checks that an unsigned article relayed by `[[nntp_peer]]` `peer` (None: it did
    /// not come from one) may be stored in every one of `groups`.
    pub fn allows_unsigned(&self, groups: &[String], peer: Option<&str>) -> Result<(), Denied> {
        if !self.accept_unsigned {
            return Err(Denied::UnsignedOff);
        }
        let Some(peer) = peer else {
            return Err(Denied::UnsignedNeedsNntpPeer);
        };
        if groups.is_empty() {
            return Err(Denied::NoNewsgroup);
        }
        for group in groups {
            let scoped = self
                .unsigned_from
                .iter()
                .any(|(name, pattern)| name == peer && pattern.matches(group));
            if !scoped {
                return Err(Denied::UnsignedOutOfScope {
                    peer: peer.to_string(),
                    group: group.clone(),
                });
            }
            match self.rule_for(group)?.admits {
                Admits::Any => {}
                Admits::Keys(_) => {
                    return Err(Denied::UnsignedInKeyedGroup {
                        group: group.clone(),
                    })
                }
            }
        }
        Ok(())
    }

    /// The `[[trust]]` rule that decides for `group` (the last that matches).
    fn rule_for(&self, group: &str) -> Result<&Rule, Denied> {
        self.rules
            .iter()
            .rev()
            .find(|r| r.groups.matches(group))
            .ok_or_else(|| Denied::NoRule {
                group: group.to_string(),
            })
    }

    /// Checks that `author` may create or remove `group` with a control message.
    pub fn allows_control(&self, group: &str, author: &VerifyingKey) -> Result<(), Denied> {
        let rule = self
            .control
            .iter()
            .rev()
            .find(|r| r.groups.matches(group))
            .ok_or_else(|| Denied::NoControlRule {
                group: group.to_string(),
            })?;
        match &rule.admits {
            Admits::Any => Ok(()),
            Admits::Keys(keys) if keys.contains(author) => Ok(()),
            Admits::Keys(_) => Err(Denied::ControlKeyNotListed {
                key: public_key_text(author),
                group: group.to_string(),
            }),
        }
    }

    /// The `[[control]]` rules in order: each one's groups and the keys it lists (None
    /// for `"any"`). Governance reads its admins from them (`governance::admins`).
    pub fn control_rules(&self) -> impl Iterator<Item = (&Wildmat, Option<&[VerifyingKey]>)> {
        self.control.iter().map(|r| {
            let keys = match &r.admits {
                Admits::Any => None,
                Admits::Keys(keys) => Some(keys.as_slice()),
            };
            (&r.groups, keys)
        })
    }

    /// Whether unsigned articles may be accepted at all (`[policy] accept_unsigned`);
    /// where, [`allows_unsigned`](Self::allows_unsigned) decides.
    pub fn accepts_unsigned(&self) -> bool {
        self.accept_unsigned
    }

    /// Checks that `author` (None = unsigned: see [`allows_unsigned`](Self::allows_unsigned),
    /// which knows where it came from) may post to every one of `groups`; the error says
    /// why not.
    pub fn allows(&self, groups: &[String], author: Option<&VerifyingKey>) -> Result<(), Denied> {
        if groups.is_empty() {
            return Err(Denied::NoNewsgroup);
        }
        for group in groups {
            let rule = self.rule_for(group)?;
            match (author, &rule.admits) {
                (None, _) => return Err(Denied::Unsigned),
                (Some(_), Admits::Any) => {}
                (Some(key), Admits::Keys(keys)) if keys.contains(key) => {}
                (Some(key), Admits::Keys(_)) => {
                    return Err(Denied::KeyNotListed {
                        key: public_key_text(key),
                        group: group.clone(),
                    })
                }
            }
        }
        Ok(())
    }

    /// True when some rule lets some author post to `group` (a group a node may carry).
    pub fn covers(&self, group: &str) -> bool {
        self.rules.iter().any(|r| r.groups.matches(group))
    }
}

/// Why the trust policy refuses an article; its text is the sentence the article log,
/// the wire and the CLI show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The article names no newsgroup.
    #[error("the article names no newsgroup")]
    NoNewsgroup,
    /// No `[[trust]]` rule covers `group`.
    #[error("no trust rule covers group {group}")]
    NoRule {
        /// The group.
        group: String,
    },
    /// An unsigned article where signatures are required.
    #[error("unsigned articles are not accepted here")]
    Unsigned,
    /// `key` is not among the keys `group`'s rule lists.
    #[error("author key {key} may not post to {group}")]
    KeyNotListed {
        /// The author key (text).
        key: String,
        /// The group.
        group: String,
    },
    /// `[policy] accept_unsigned` is off.
    #[error("unsigned articles are not accepted (policy.accept_unsigned = false)")]
    UnsignedOff,
    /// An unsigned article that no `[[nntp_peer]]` relayed.
    #[error(
        "unsigned articles are accepted only from an [[nntp_peer]] that lists their groups in unsigned_groups"
    )]
    UnsignedNeedsNntpPeer,
    /// An unsigned article for a group its `[[nntp_peer]]`'s `unsigned_groups` omits.
    #[error(
        "unsigned articles from {peer} are not accepted in {group} (its [[nntp_peer]] unsigned_groups)"
    )]
    UnsignedOutOfScope {
        /// The `[[nntp_peer]]`.
        peer: String,
        /// The group.
        group: String,
    },
    /// An unsigned article for a group restricted to listed keys.
    #[error("{group} is restricted to listed author keys: unsigned articles are refused")]
    UnsignedInKeyedGroup {
        /// The group.
        group: String,
    },
    /// No `[[control]]` rule covers `group`.
    #[error("no [[control]] rule lets anyone create or remove {group}")]
    NoControlRule {
        /// The group.
        group: String,
    },
    /// `key` is not among the keys `group`'s `[[control]]` rule lists.
    #[error("author key {key} may not create or remove {group}")]
    ControlKeyNotListed {
        /// The author key (text).
        key: String,
        /// The group.
        group: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn policy(announcer: &VerifyingKey) -> TrustPolicy {
        let rules = vec![
            TrustRuleConfig {
                groups: "mesh.*".into(),
                authors: Authors::Word("any".into()),
            },
            TrustRuleConfig {
                groups: "mesh.announce".into(),
                authors: Authors::Keys(vec![public_key_text(announcer)]),
            },
        ];
        TrustPolicy::from_config(&rules, &[], false).unwrap()
    }

    #[test]
    fn restricted_group_needs_a_listed_key() {
        let boss = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let anyone = SigningKey::from_bytes(&[2; 32]).verifying_key();
        let p = policy(&boss);
        let g = |s: &str| vec![s.to_string()];
        assert!(p.allows(&g("mesh.test"), Some(&anyone)).is_ok());
        assert!(p.allows(&g("mesh.announce"), Some(&boss)).is_ok());
        let err = p.allows(&g("mesh.announce"), Some(&anyone)).unwrap_err();
        assert!(
            matches!(&err, Denied::KeyNotListed { group, .. } if group == "mesh.announce"),
            "{err}"
        );
        assert!(
            err.to_string().contains("may not post to mesh.announce"),
            "{err}"
        );
        // A crosspost is only as open as its most restricted group.
        assert!(p
            .allows(&["mesh.test".into(), "mesh.announce".into()], Some(&anyone))
            .is_err());
        assert_eq!(
            p.allows(&g("alt.test"), Some(&anyone)),
            Err(Denied::NoRule {
                group: "alt.test".into()
            })
        );
        assert!(p.allows(&g("mesh.test"), None).is_err());
    }

    #[test]
    fn unsigned_articles_only_from_named_peers_in_open_groups() {
        let boss = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let rules = vec![
            TrustRuleConfig {
                groups: "*".into(),
                authors: Authors::Word("any".into()),
            },
            TrustRuleConfig {
                groups: "mesh.announce".into(),
                authors: Authors::Keys(vec![public_key_text(&boss)]),
            },
        ];
        let g = |s: &str| vec![s.to_string()];
        let off = TrustPolicy::from_config(&rules, &[], false)
            .unwrap()
            .with_unsigned_from("inn", "*");
        assert!(off.allows_unsigned(&g("local.test"), Some("inn")).is_err());
        let p = TrustPolicy::from_config(&rules, &[], true)
            .unwrap()
            .with_unsigned_from("inn", "local.*,mesh.*");
        assert!(p.allows_unsigned(&g("local.test"), Some("inn")).is_ok());
        assert!(p.allows_unsigned(&g("local.test"), Some("other")).is_err());
        assert!(p.allows_unsigned(&g("local.test"), None).is_err());
        assert!(p.allows_unsigned(&g("alt.test"), Some("inn")).is_err());
        let err = p
            .allows_unsigned(&g("mesh.announce"), Some("inn"))
            .unwrap_err();
        assert_eq!(
            err,
            Denied::UnsignedInKeyedGroup {
                group: "mesh.announce".into()
            }
        );
        assert!(err.to_string().contains("restricted to listed author keys"));
        assert!(p.allows(&g("local.test"), None).is_err());
    }

    #[test]
    fn bad_rules_are_reported() {
        let rules = vec![TrustRuleConfig {
            groups: "*".into(),
            authors: Authors::Word("everyone".into()),
        }];
        assert!(TrustPolicy::from_config(&rules, &[], false)
            .unwrap_err()
            .contains("rule 1"));
    }
}
