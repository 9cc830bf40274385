//! The effective membership as lines of `key=value` (for `member list` and `status`):
//! the admins' policies, grants in force and revocations, and the local `[[trust]]` key
//! lists, each saying where it came from.

use super::{Scope, State};
use crate::config::{Authors, TrustRuleConfig};

/// The lines of `member list` (and of `status`'s membership).
pub fn lines(
    state: &State,
    trust: &[TrustRuleConfig],
    shown: impl Fn(&Scope) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (scope, members, id) in state.policies() {
        if shown(&scope) {
            let policy = if members { "members" } else { "open" };
            out.push(format!("groups={scope} policy={policy} from={id}"));
        }
    }
    for e in state.members(crate::spool::now()) {
        if shown(&e.scope) {
            out.push(format!(
                "groups={} key={} from={} by={}",
                e.scope, e.key, e.id, e.by
            ));
        }
    }
    for e in state.moderators(crate::spool::now()) {
        if shown(&e.scope) {
            out.push(format!(
                "groups={} moderator={} from={} by={}",
                e.scope, e.key, e.id, e.by
            ));
        }
    }
    for r in state.revocations() {
        if shown(&r.scope) {
            let cancel = if r.cancel { " cancel=yes" } else { "" };
            out.push(format!(
                "groups={} key={} revoked={}{cancel} from={} by={}",
                r.scope,
                r.key,
                r.reason.word(),
                r.id,
                r.by
            ));
        }
    }
    for rule in trust {
        let Authors::Keys(keys) = &rule.authors else {
            continue;
        };
        if Scope::parse(&rule.groups).is_none_or(|s| shown(&s)) {
            for key in keys {
                out.push(format!("groups={} key={key} from=config", rule.groups));
            }
        }
    }
    out
}
