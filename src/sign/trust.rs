//! The trust policy: which author keys may post to which groups, and where unsigned
//! articles are accepted. Built from the `[[trust]]` rules of `newsmesh.toml`.
//!
//! Unsigned articles (from legacy news servers such as INN) are accepted only when the
//! operator said so three times over: `[policy] accept_unsigned`, from a named
//! `[[nntp_peer]]`, in groups its `unsigned_groups` wildmat names. And never in a group
//! whose `[[trust]]` rule lists keys: an unsigned article cannot show it is by one of
//! them, so the switch must not become a way around the rule.

use ed25519_dalek::VerifyingKey;

use super::keys::{parse_public_key, public_key_text};
use crate::config::{Authors, TrustRuleConfig};
use crate::wildmat::Wildmat;

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
    pub fn allows_unsigned(&self, groups: &[String], peer: Option<&str>) -> Result<(), String> {
        if !self.accept_unsigned {
            return Err(
                "unsigned articles are not accepted (policy.accept_unsigned = false)".into(),
            );
        }
        let Some(peer) = peer else {
            return Err(
                "unsigned articles are accepted only from an [[nntp_peer]] that lists their groups in unsigned_groups"
                    .into(),
            );
        };
        if groups.is_empty() {
            return Err("the article names no newsgroup".into());
        }
        for group in groups {
            let scoped = self
                .unsigned_from
                .iter()
                .any(|(name, pattern)| name == peer && pattern.matches(group));
            if !scoped {
                return Err(format!(
                    "unsigned articles from {peer} are not accepted in {group} (its [[nntp_peer]] unsigned_groups)"
                ));
            }
            match self.rule_for(group)?.admits {
                Admits::Any => {}
                Admits::Keys(_) => {
                    return Err(format!(
                        "{group} is restricted to listed author keys: unsigned articles are refused"
                    ))
                }
            }
        }
        Ok(())
    }

    /// The `[[trust]]` rule that decides for `group` (the last that matches).
    fn rule_for(&self, group: &str) -> Result<&Rule, String> {
        self.rules
            .iter()
            .rev()
            .find(|r| r.groups.matches(group))
            .ok_or_else(|| format!("no trust rule covers group {group}"))
    }

    /// Checks that `author` may create or remove `group` with a control message.
    pub fn allows_control(&self, group: &str, author: &VerifyingKey) -> Result<(), String> {
        let rule = self
            .control
            .iter()
            .rev()
            .find(|r| r.groups.matches(group))
            .ok_or_else(|| format!("no [[control]] rule lets anyone create or remove {group}"))?;
        match &rule.admits {
            Admits::Any => Ok(()),
            Admits::Keys(keys) if keys.contains(author) => Ok(()),
            Admits::Keys(_) => Err(format!(
                "author key {} may not create or remove {group}",
                public_key_text(author)
            )),
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
    /// which knows where it came from) may post to every one of `groups`; the error is a
    /// sentence saying why not.
    pub fn allows(&self, groups: &[String], author: Option<&VerifyingKey>) -> Result<(), String> {
        if groups.is_empty() {
            return Err("the article names no newsgroup".into());
        }
        for group in groups {
            let rule = self.rule_for(group)?;
            match (author, &rule.admits) {
                (None, _) => return Err("unsigned articles are not accepted here".into()),
                (Some(_), Admits::Any) => {}
                (Some(key), Admits::Keys(keys)) if keys.contains(key) => {}
                (Some(key), Admits::Keys(_)) => {
                    return Err(format!(
                        "author key {} may not post to {group}",
                        public_key_text(key)
                    ))
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
        assert!(err.contains("may not post to mesh.announce"), "{err}");
        // A crosspost is only as open as its most restricted group.
        assert!(p
            .allows(&["mesh.test".into(), "mesh.announce".into()], Some(&anyone))
            .is_err());
        assert!(p
            .allows(&g("alt.test"), Some(&anyone))
            .unwrap_err()
            .contains("no trust rule"));
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
        assert!(err.contains("restricted to listed author keys"), "{err}");
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
