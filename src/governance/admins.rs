//! Who the admins are: the keys a `[[control]]` rule lists for a hierarchy (the rule that
//! already authorises newgroup/rmgroup there). An admin governs a scope when, for every
//! pattern of it, the last `[[control]]` rule that names any of its groups names all of
//! them and lists the key. A rule saying `authors = "any"` makes nobody an admin:
//! governance is never open to every key.

use ed25519_dalek::VerifyingKey;

use super::scope::{Pattern, Relation, Scope};
use crate::sign::{parse_public_key, TrustPolicy};

/// Whether `signer` (base64) is an admin of every group of `scope` under `trust`.
pub fn governs(trust: &TrustPolicy, signer: &str, scope: &Scope) -> bool {
    let Ok(key) = parse_public_key(signer) else {
        return false;
    };
    scope
        .patterns()
        .iter()
        .all(|p| governs_pattern(trust, &key, p))
}

fn governs_pattern(trust: &TrustPolicy, key: &VerifyingKey, pattern: &Pattern) -> bool {
    let rules: Vec<_> = trust.control_rules().collect();
    for (groups, keys) in rules.into_iter().rev() {
        match Scope::wildmat_relation(groups, pattern) {
            Relation::Disjoint => continue,
            Relation::Partial => return false,
            Relation::Contains => return keys.is_some_and(|k| k.contains(key)),
        }
    }
    false
}

/// The scopes `signer` is an admin of by this node's rules: the groups of each
/// `[[control]]` rule listing it that is a simple scope (what `revoke` revokes over).
pub fn hierarchies(trust: &TrustPolicy, signer: &str) -> Vec<Scope> {
    let Ok(key) = parse_public_key(signer) else {
        return Vec::new();
    };
    trust
        .control_rules()
        .filter(|(_, keys)| keys.is_some_and(|k| k.contains(&key)))
        .filter_map(|(groups, _)| Scope::parse(&groups.text()))
        .filter(|scope| governs(trust, signer, scope))
        .collect()
}
