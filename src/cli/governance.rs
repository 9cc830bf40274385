//! `policy`, `member add|remove|list`, `revoke`: an admin's governance articles (signed
//! by the node's author key, which a `[[control]]` rule must list for the groups) and
//! the effective membership this node holds.

use super::local::store_own;
use crate::error::{Error, Result};
use crate::governance::{self, admins, Action, Reason, Scope};
use crate::home::Home;
use crate::sign::{parse_public_key, public_key_text};
use crate::wildmat::Wildmat;

fn scope(wildmat: &str) -> Result<Scope> {
    Scope::parse(wildmat).ok_or_else(|| {
        Error::Invalid(format!(
            "{wildmat:?}: governance speaks of group names, NAME.* or * (comma-separated)"
        ))
    })
}

fn author_key(text: &str) -> Result<String> {
    parse_public_key(text)
        .map(|k| public_key_text(&k))
        .map_err(|e| Error::Invalid(format!("{text:?} is not an author key: {e}")))
}

/// Signs and stores the governance article for `action` (it floods from here), printing
/// its Message-ID.
fn send(home: &Home, action: Action, author: &str) -> Result<()> {
    let mut node = home.open()?;
    let key = home.author_key(author)?;
    let signer = public_key_text(&key.verifying_key());
    if !admins::governs(&node.trust, &signer, action.scope()) {
        return Err(Error::Refused(format!(
            "author key {signer} is not an admin of {}: a [[control]] rule covering those groups must list it",
            action.scope()
        )));
    }
    let groups: Vec<String> = node
        .spool
        .groups()?
        .into_iter()
        .map(|g| g.name)
        .filter(|g| action.scope().matches(g))
        .collect();
    if groups.is_empty() {
        return Err(Error::Refused(format!(
            "this node carries no group in {}: create one first (newsmesh newgroup)",
            action.scope()
        )));
    }
    let from = format!("{author}@{}.invalid", node.name());
    let after = node.spool.governance_rows()?.iter().map(|r| r.date).max();
    let article = governance::compose::article(&action, &groups, &from, node.name(), &key, after);
    store_own(&mut node, &article)
}

/// `newsmesh policy WILDMAT members|open`.
pub fn policy(home: &Home, wildmat: &str, members: bool, author: &str) -> Result<()> {
    let scope = scope(wildmat)?;
    send(home, Action::Policy { scope, members }, author)
}

/// `newsmesh member add|remove WILDMAT AUTHOR-KEY`.
pub fn member(home: &Home, add: bool, wildmat: &str, key: &str, author: &str) -> Result<()> {
    let action = Action::Member {
        add,
        scope: scope(wildmat)?,
        key: author_key(key)?,
    };
    send(home, action, author)
}

/// `newsmesh moderator add|remove WILDMAT AUTHOR-KEY`.
pub fn moderator(home: &Home, add: bool, wildmat: &str, key: &str, author: &str) -> Result<()> {
    let action = Action::Moderator {
        add,
        scope: scope(wildmat)?,
        key: author_key(key)?,
    };
    send(home, action, author)
}

/// `newsmesh revoke AUTHOR-KEY [--reason retired|compromised] [--cancel]`: over every
/// hierarchy this node's author key administers.
pub fn revoke(home: &Home, key: &str, reason: Reason, cancel: bool, author: &str) -> Result<()> {
    let key = author_key(key)?;
    let node = home.open()?;
    let signer = public_key_text(&home.author_key(author)?.verifying_key());
    let hierarchies = admins::hierarchies(&node.trust, &signer);
    let joined: Vec<String> = hierarchies.iter().map(Scope::to_string).collect();
    drop(node);
    let Some(scope) = Scope::parse(&joined.join(",")) else {
        return Err(Error::Refused(format!(
            "author key {signer} is not an admin of any hierarchy here (no [[control]] rule of simple patterns lists it)"
        )));
    };
    let action = Action::Revoke {
        key,
        reason,
        scope,
        cancel,
    };
    send(home, action, author)
}

/// `newsmesh member list [WILDMAT]`: one line per fact, key=value: the admins' policies,
/// their member grants, the revocations, and the local `[[trust]]` key lists (a node
/// narrows the mesh's membership with them, never widens it).
pub fn list(home: &Home, wildmat: Option<&str>) -> Result<()> {
    let node = home.open()?;
    let state = governance::load(&node.spool, &node.trust)?;
    let filter = wildmat.map(Wildmat::new);
    let shown = |scope: &Scope| {
        filter.as_ref().is_none_or(|w| {
            scope.patterns().iter().any(|p| {
                w.matches(&p.to_string())
                    || Scope::parse(&w.text()).is_some_and(|s| s.overlaps(scope))
            })
        })
    };
    for line in governance::listing::lines(&state, &node.config.trust, shown) {
        println!("{line}");
    }
    Ok(())
}
