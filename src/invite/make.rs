//! `newsmesh invite`: makes a code for this node (and `--revoke` withdraws one).

use rand_core::RngCore;

use super::code::{hash_secret, InviteCode};
use crate::config::{Config, TrustRuleConfig};
use crate::error::{Error, Result};
use crate::governance::Scope;
use crate::home::Home;
use crate::wildmat::Wildmat;

/// What `invite` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The groups (a wildmat) the two will feed each other.
    pub groups: String,
    /// How many newcomers may redeem it.
    pub uses: u32,
    /// Seconds until it expires.
    pub expires_secs: i64,
    /// Where newcomers dial (default: `[node] listen`).
    pub address: Option<String>,
}

/// Reads `30m`, `12h`, `7d`, `3600s` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let bad = || Error::Invalid(format!("{text:?} is not a duration (e.g. 30m, 12h, 7d)"));
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], c),
        _ => (text, 's'),
    };
    let n: i64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).filter(|s| *s > 0).ok_or_else(bad)
}

/// Whether a rule speaks of some group of the invite (carried groups, or overlapping
/// simple patterns): the rules the newcomer must take.
fn concerns(rule: &TrustRuleConfig, groups: &str, carried: &[String]) -> bool {
    if groups == "*" {
        return true;
    }
    let rule_groups = Wildmat::new(&rule.groups);
    if carried.iter().any(|g| rule_groups.matches(g)) {
        return true;
    }
    match (Scope::parse(&rule.groups), Scope::parse(groups)) {
        (Some(a), Some(b)) => a.overlaps(&b),
        _ => rule.groups == groups,
    }
}

fn rules_for(rules: &[TrustRuleConfig], groups: &str, carried: &[String]) -> Vec<TrustRuleConfig> {
    rules
        .iter()
        .filter(|r| concerns(r, groups, carried))
        .cloned()
        .collect()
}

fn address(config: &Config, asked: Option<&str>) -> Result<String> {
    if let Some(address) = asked {
        return Ok(address.to_string());
    }
    let listen = &config.node.listen;
    let wildcard = listen.starts_with("0.0.0.0:") || listen.starts_with("[::]:");
    if wildcard {
        return Err(Error::Invalid(format!(
            "[node] listen is {listen}, a wildcard: say where newcomers reach this node with --address HOST:PORT"
        )));
    }
    Ok(listen.clone())
}

/// Makes an invite and returns its code.
pub fn make(home: &Home, options: &Options) -> Result<String> {
    if options.uses == 0 {
        return Err(Error::Invalid("--uses must be at least 1".into()));
    }
    let mut node = home.open()?;
    let address = address(&node.config, options.address.as_deref())?;
    let groups = Wildmat::new(&options.groups);
    let carried: Vec<String> = node
        .spool
        .groups()?
        .into_iter()
        .map(|g| g.name)
        .filter(|g| groups.matches(g) && !g.starts_with("control."))
        .collect();
    let mut secret = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut secret);
    let code = InviteCode {
        address,
        name: node.name().to_string(),
        node_key: crate::sign::public_key_text(&home.node_key()?.verifying_key()),
        secret,
        groups: groups.text(),
        trust: rules_for(&node.config.trust, &options.groups, &carried),
        control: rules_for(&node.config.control, &options.groups, &carried),
        carried,
    };
    let expires = crate::spool::now() + options.expires_secs;
    node.spool
        .add_invite(&hash_secret(&secret), &code.groups, options.uses, expires)?;
    Ok(code.encode())
}

/// `invite --revoke CODE`: withdraws the invite.
pub fn revoke(home: &Home, code: &str) -> Result<()> {
    let code = InviteCode::decode(code).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut node = home.open()?;
    if node.spool.remove_invite(&code.secret_hash())? {
        Ok(())
    } else {
        Err(Error::NotFound(
            "no such invite on this node (already withdrawn, or made elsewhere)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("90").unwrap(), 90);
        for bad in ["", "d", "-1h", "0s", "5y", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
