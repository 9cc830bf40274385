//! Governance: a private mesh that runs itself. Hierarchy admins (the keys a
//! `[[control]]` rule lists) send signed control articles that flood like any other:
//! members added and removed, groups made members-only or open, moderators named, keys
//! revoked (retired or compromised, optionally withdrawing what they posted). Every node
//! derives the same state from the same set of those articles, whatever order they came
//! in (`state.rs` holds that rule, and only it). `ingest` asks [`check`] once per signed
//! article (its admission seam, `ingest/admit.rs`) and has [`record`] carry out a
//! governance article (its control step, `ingest/control.rs`).
//!
//! Refusals here never write a history row: whether an article is admitted depends on
//! governance articles that may still be on their way (a member's first post can
//! overtake the grant that admits it), so a refused article can come again and be taken
//! then.
//!
//! Layout: `scope.rs` (the simple patterns governance speaks of), `control.rs` (the
//! Control verbs), `admins.rs` (who may send them, from `[[control]]`), `state.rs` (the
//! convergence rule), `compose.rs` (the articles the CLI sends).

pub mod admins;
pub mod compose;
pub mod control;
pub mod listing;
pub mod scope;
pub mod state;

#[cfg(test)]
mod tests;

use crate::article::Article;
use crate::sign::TrustPolicy;
use crate::spool::{GovernanceRow, Spool, SpoolError, Storer};

pub use control::{Action, Reason};
pub use scope::Scope;
pub use state::{Entry, Event, Revocation, State};

/// Why governance refuses an article (each a clear sentence in the article log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A governance Control header that does not parse.
    #[error("governance control refused: {0}")]
    Malformed(String),
    /// Its author is not an admin of its whole scope here.
    #[error("governance control refused: author key {key} is not an admin of {scope} here (no [[control]] rule covering it lists the key)")]
    NotAdmin {
        /// The author key.
        key: String,
        /// The scope it spoke of.
        scope: String,
    },
    /// A governance article without a Date this node can read (the order needs it).
    #[error("governance control refused: its Date cannot be read")]
    NoDate,
    /// A members-only group, an author who is not a member.
    #[error("{group} is members-only and author key {key} is not a member (the admins' policy)")]
    NotMember {
        /// The group.
        group: String,
        /// The author key.
        key: String,
    },
    /// The author key is revoked there.
    #[error("author key {key} is revoked ({}) by {by}", reason.word())]
    Revoked {
        /// The author key.
        key: String,
        /// Why.
        reason: Reason,
        /// The revoking article.
        by: String,
    },
}

/// The pseudo-group a governance article is filed in on a node that carries none of its
/// groups (it still counts there).
pub const GOVERNANCE_GROUP: &str = "control.governance";

/// A Date header in Unix seconds.
pub fn date_of(article: &Article) -> Option<i64> {
    let date = article.header_unfolded("Date")?;
    chrono::DateTime::parse_from_rfc2822(date.trim())
        .ok()
        .map(|d| d.timestamp())
}

/// The state from stored rows under this node's admins (rows that no longer parse are
/// left out: they were checked when stored).
pub fn state_from_rows(rows: Vec<GovernanceRow>, trust: &TrustPolicy) -> State {
    let events = rows.into_iter().filter_map(|r| {
        Some(Event {
            action: Action::parse(&r.control).ok()??,
            date: r.date,
            id: r.msgid,
            signer: r.signer,
        })
    });
    State::derive(events, |signer, scope| {
        admins::governs(trust, signer, scope)
    })
}

/// The node's governance state (for `member list`, `status`).
pub fn load(spool: &Spool, trust: &TrustPolicy) -> Result<State, SpoolError> {
    Ok(state_from_rows(spool.governance_rows()?, trust))
}

/// Whether `article` names a governance verb in its Control header: `Ok(None)` when not
/// (an ordinary article, a cancel, a newgroup...), `Err` when it does but is malformed.
/// `ingest` reads it with the other control messages.
pub fn action_of(article: &Article) -> Result<Option<Action>, Refusal> {
    match article.header_unfolded("Control") {
        Some(control) => Action::parse(&control),
        None => Ok(None),
    }
}

/// Judges one signed article for `ingest` (its admission seam), inside its transaction,
/// writing nothing: a governance article must come from an admin of its whole scope,
/// carry a readable Date, and not be by a key revoked there; any other article is
/// checked against the revocations and members-only policies in force.
///
/// Its one write: an admitted article whose cancel came before it from a moderator of
/// one of its groups has that cancel turned into its own author's early cancel, so the
/// store step withdraws it on arrival, exactly as [`moderator_cancel`] does for one
/// already stored (history says cancelled by the author's key: no copy comes back).
pub fn check(
    store: &mut Storer<'_>,
    trust: &TrustPolicy,
    article: &Article,
    groups: &[String],
    author: &str,
) -> rusqlite::Result<Result<(), Refusal>> {
    let action = match action_of(article) {
        Err(refusal) => return Ok(Err(refusal)),
        Ok(action) => action,
    };
    let Some(action) = action else {
        let Some(state) = cached_state(store, trust)? else {
            return Ok(Ok(()));
        };
        let date = date_of(article).unwrap_or(i64::MAX);
        let admitted = state.admits(groups, author, date, false);
        if admitted.is_ok() {
            if let Some(msgid) = article.message_id() {
                honour_early_moderator_cancel(store, &state, msgid, groups, author)?;
            }
        }
        return Ok(admitted);
    };
    if !admins::governs(trust, author, action.scope()) {
        return Ok(Err(Refusal::NotAdmin {
            key: author.to_string(),
            scope: action.scope().to_string(),
        }));
    }
    let Some(date) = date_of(article) else {
        return Ok(Err(Refusal::NoDate));
    };
    Ok(match cached_state(store, trust)? {
        Some(state) => state.admits(groups, author, date, true),
        None => Ok(()),
    })
}

/// Carries out a governance article that [`check`] admitted (`ingest`'s control step):
/// records it, withdraws what a counting `revoke ... cancel` names, and returns the
/// groups to file it in: those of `groups` this node carries, else
/// [`GOVERNANCE_GROUP`].
pub fn record(
    store: &mut Storer<'_>,
    trust: &TrustPolicy,
    article: &Article,
    groups: &[String],
    author: &str,
) -> rusqlite::Result<Vec<String>> {
    if let (Ok(Some(action)), Some(date), Some(msgid)) =
        (action_of(article), date_of(article), article.message_id())
    {
        let row = GovernanceRow {
            msgid: msgid.to_string(),
            date,
            signer: author.to_string(),
            control: action.control(),
        };
        store.record_governance(&row)?;
        if let Action::Revoke {
            key, cancel: true, ..
        } = &action
        {
            let state = state_from_rows(store.governance_rows()?, trust);
            if let Some(r) = state.revocations().iter().find(|r| r.id == msgid) {
                withdraw_revoked(store, key, &r.scope)?;
            }
        }
    }
    let mut filed = Vec::new();
    for group in groups {
        if store.carries(group)? {
            filed.push(group.clone());
        }
    }
    if filed.is_empty() {
        filed.push(GOVERNANCE_GROUP.to_string());
    }
    Ok(filed)
}

/// What the derived state depends on besides the rows: this node's admins.
fn admins_fingerprint(trust: &TrustPolicy) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (groups, keys) in trust.control_rules() {
        groups.text().hash(&mut h);
        for key in keys.unwrap_or_default() {
            key.as_bytes().hash(&mut h);
        }
    }
    h.finish()
}

type CachedState = ((String, i64, String), u64, std::sync::Arc<State>);

thread_local! {
    /// The last state derived on this thread, by spool version and admins: ingest asks
    /// once per article, and deriving parses every row's keys.
    static STATE: std::cell::RefCell<Option<CachedState>> = const { std::cell::RefCell::new(None) };
}

/// The state of the rows `store` holds under `trust` (None: no governance at all),
/// derived again only when the rows or the admins changed.
fn cached_state(
    store: &Storer<'_>,
    trust: &TrustPolicy,
) -> rusqlite::Result<Option<std::sync::Arc<State>>> {
    let Some(version) = store.governance_version()? else {
        return Ok(None);
    };
    let admins = admins_fingerprint(trust);
    let hit = STATE.with(|cell| {
        cell.borrow()
            .as_ref()
            .filter(|(v, a, _)| *v == version && *a == admins)
            .map(|(_, _, state)| std::sync::Arc::clone(state))
    });
    if let Some(state) = hit {
        return Ok(Some(state));
    }
    let state = std::sync::Arc::new(state_from_rows(store.governance_rows()?, trust));
    STATE.with(|cell| {
        *cell.borrow_mut() = Some((version, admins, std::sync::Arc::clone(&state)));
    });
    Ok(Some(state))
}

/// Withdraws the stored articles `key` signed in `scope` (a counting `revoke ...
/// cancel`); history says cancelled by the key, so they are not taken again.
fn withdraw_revoked(store: &mut Storer<'_>, key: &str, scope: &Scope) -> rusqlite::Result<()> {
    for (msgid, newsgroups) in store.articles_signed_by(key)? {
        if newsgroups.split(',').any(|g| scope.matches(g.trim())) {
            store.withdraw(&msgid, key)?;
        }
    }
    Ok(())
}

/// An early cancel of `msgid` (by `groups`, signed by `author`) from a key that, by the
/// convergence rule, moderates one of its groups (as of when the cancel came) counts as
/// the author's own: recorded so under the author's key, which the store step honours.
fn honour_early_moderator_cancel(
    store: &mut Storer<'_>,
    state: &State,
    msgid: &str,
    groups: &[String],
    author: &str,
) -> rusqlite::Result<()> {
    let cancellers = store.early_cancellers(msgid)?;
    let moderator = cancellers
        .iter()
        .any(|(by, seen)| by != author && groups.iter().any(|g| state.moderates(g, by, *seen)));
    if moderator {
        store.mark_cancelled_early(msgid, author)?;
    }
    Ok(())
}

/// A cancel of `target` signed by `by`, who is not its author: withdraws the stored
/// article when the admins named `by` a moderator of one of its groups (history then
/// says cancelled by the article's own author key, so no copy is taken again); whether
/// it did.
pub fn moderator_cancel(
    store: &mut Storer<'_>,
    trust: &TrustPolicy,
    target: &str,
    by: &str,
) -> rusqlite::Result<bool> {
    let rows = store.governance_rows()?;
    if rows.is_empty() {
        return Ok(false);
    }
    let Some((signer, newsgroups)) = store.stored_signer_and_groups(target)? else {
        return Ok(false);
    };
    let state = state_from_rows(rows, trust);
    let now = crate::spool::now();
    if !newsgroups
        .split(',')
        .any(|g| state.moderates(g.trim(), by, now))
    {
        return Ok(false);
    }
    store.withdraw(target, &signer)?;
    Ok(true)
}
