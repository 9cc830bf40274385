//! The trust policy: which author keys may post to which groups, and whether unsigned
//! articles are accepted at all. Built from the `[[trust]]` rules of `newsmesh.toml`.

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
        })
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

    /// Whether unsigned articles are accepted.
    pub fn accepts_unsigned(&self) -> bool {
        self.accept_unsigned
    }

    /// Checks that `author` (None = unsigned) may post to every one of `groups`;
    /// the error is a sentence saying why not.
    pub fn allows(&self, groups: &[String], author: Option<&VerifyingKey>) -> Result<(), String> {
        if groups.is_empty() {
            return Err("the article names no newsgroup".into());
        }
        for group in groups {
            let rule = self
                .rules
                .iter()
                .rev()
                .find(|r| r.groups.matches(group))
                .ok_or_else(|| format!("no trust rule covers group {group}"))?;
            match (author, &rule.admits) {
                (None, _) if self.accept_unsigned => {}
                (None, _) => return Err("unsigned articles are not accepted".into()),
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
