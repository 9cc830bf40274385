//! The convergence rule, in one place: the membership state a node derives from the SET
//! of governance articles it holds. Nothing here depends on the order they arrived in:
//! [`State::derive`] removes repeats, sorts by (Date, Message-ID) and reads them in that
//! order, so two nodes holding the same articles (and the same `[[control]]` admins)
//! hold the same state, whatever subset came first. `man/newsmesh-article.5` states the
//! same rule for people.
//!
//! The rule:
//! 1. An article counts only when its author is an admin of its whole scope (the
//!    `[[control]]` rules, checked by the caller's `is_admin`).
//! 2. Revocations are read in (Date, Message-ID) order; one counts unless a revocation
//!    that counts and comes before it revoked its author over an overlapping scope.
//!    Revocations are permanent: nothing undoes one.
//! 3. Any other article by a revoked author (over an overlapping scope) does not count:
//!    none when the key is compromised, those dated at or after the revocation when it is
//!    retired (the revocation wins a tie).
//! 4. For a group and key, the member (or moderator) article that counts, names the key,
//!    covers the group and comes last in (Date, Message-ID) order decides: add or
//!    remove. Likewise the last policy article covering a group decides whether it is
//!    members-only; with none it is open (the local `[[trust]]` rules alone decide).
//! 5. An author revoked over a group may not post there: compromised, nothing; retired,
//!    nothing dated at or after the revocation; nothing at all when the revocation also
//!    withdraws (`cancel`) what the key posted.

use super::control::{Action, Reason};
use super::scope::Scope;
use super::Refusal;

/// One governance article: its Message-ID, Date (Unix seconds), author key and action.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Event {
    /// Date, Unix seconds: first in the order.
    pub date: i64,
    /// Message-ID: breaks ties of Date (content-derived, so every node breaks them alike).
    pub id: String,
    /// Author key (base64).
    pub signer: String,
    /// What it says.
    pub action: Action,
}

/// A revocation that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The revoked key.
    pub key: String,
    /// Why.
    pub reason: Reason,
    /// Where it applies.
    pub scope: Scope,
    /// Its Date: a retired key's articles dated before it stay valid.
    pub date: i64,
    /// The revoking article.
    pub id: String,
    /// The admin who revoked it.
    pub by: String,
    /// Whether it withdraws the key's stored articles.
    pub cancel: bool,
}

/// The state: the articles that count, in order, and the revocations among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Member, policy and moderator articles that count, in (Date, Message-ID) order.
    events: Vec<Event>,
    /// Revocations that count, in the same order.
    revocations: Vec<Revocation>,
}

/// Where an effective member entry came from (for `member list` and `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The scope of the granting article.
    pub scope: Scope,
    /// The member key.
    pub key: String,
    /// The granting article.
    pub id: String,
    /// The admin who granted it.
    pub by: String,
}

/// Whether revocation `r` makes an article by `signer` over `scope` dated `date` not
/// count (rules 3 and 5; one definition for governance articles and ordinary ones). For
/// an ordinary `article`, a revocation that withdraws (`cancel`) bars every date: the
/// copies stored before it were withdrawn, so a late copy must not be taken either.
fn revokes(r: &Revocation, signer: &str, scope_overlaps: bool, date: i64, article: bool) -> bool {
    r.key == signer
        && scope_overlaps
        && match r.reason {
            Reason::Compromised => true,
            Reason::Retired => date >= r.date || (article && r.cancel),
        }
}

impl State {
    /// Derives the state from a set of governance articles (repeats and order do not
    /// matter); `is_admin(signer, scope)` says whether the `[[control]]` rules make the
    /// signer an admin of the whole scope.
    pub fn derive(
        events: impl IntoIterator<Item = Event>,
        is_admin: impl Fn(&str, &Scope) -> bool,
    ) -> State {
        let mut events: Vec<Event> = events
            .into_iter()
            .filter(|e| is_admin(&e.signer, e.action.scope()))
            .collect();
        events.sort();
        events.dedup_by(|a, b| a.id == b.id);
        let mut state = State::default();
        for e in &events {
            if let Action::Revoke {
                key,
                reason,
                scope,
                cancel,
            } = &e.action
            {
                if !state.revoked(&e.signer, scope, e.date) {
                    state.revocations.push(Revocation {
                        key: key.clone(),
                        reason: *reason,
                        scope: scope.clone(),
                        date: e.date,
                        id: e.id.clone(),
                        by: e.signer.clone(),
                        cancel: *cancel,
                    });
                }
            }
        }
        state.events = events
            .into_iter()
            .filter(|e| !matches!(e.action, Action::Revoke { .. }))
            .filter(|e| !state.revoked(&e.signer, e.action.scope(), e.date))
            .collect();
        state
    }

    /// Whether a revocation that counts bars `signer` over `scope` at `date`.
    fn revoked(&self, signer: &str, scope: &Scope, date: i64) -> bool {
        self.revocations
            .iter()
            .any(|r| revokes(r, signer, r.scope.overlaps(scope), date, false))
    }

    /// The revocation that bars `key` from posting to `group` an article dated `date`.
    pub fn revocation(&self, key: &str, group: &str, date: i64) -> Option<&Revocation> {
        self.revocations
            .iter()
            .find(|r| revokes(r, key, r.scope.matches(group), date, true))
    }

    /// The revocations that count, in order.
    pub fn revocations(&self) -> &[Revocation] {
        &self.revocations
    }

    /// The last counting article of `pick`'s kind covering `group` decides (rule 4).
    fn last<T>(&self, group: &str, pick: impl Fn(&Action) -> Option<T>) -> Option<T> {
        self.events
            .iter()
            .rev()
            .filter(|e| e.action.scope().matches(group))
            .find_map(|e| pick(&e.action))
    }

    /// Whether the admins made `group` members-only.
    pub fn members_only(&self, group: &str) -> bool {
        self.last(group, |a| match a {
            Action::Policy { members, .. } => Some(*members),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// Whether `key` is a member for `group` (whatever its policy).
    pub fn is_member(&self, group: &str, key: &str) -> bool {
        self.last(group, |a| match a {
            Action::Member { add, key: k, .. } if k == key => Some(*add),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// Whether `key` moderates `group` (may cancel any article there).
    pub fn moderates(&self, group: &str, key: &str, now: i64) -> bool {
        self.revocation(key, group, now).is_none()
            && self
                .last(group, |a| match a {
                    Action::Moderator { add, key: k, .. } if k == key => Some(*add),
                    _ => None,
                })
                .unwrap_or(false)
    }

    /// Whether an article by `author` dated `date` in `groups` is admitted: not by a key
    /// revoked there, and (unless it is itself governance, which admins send whether or
    /// not they are members) by a member wherever the group is members-only.
    pub fn admits(
        &self,
        groups: &[String],
        author: &str,
        date: i64,
        governance: bool,
    ) -> Result<(), Refusal> {
        for group in groups {
            if let Some(r) = self.revocation(author, group, date) {
                return Err(Refusal::Revoked {
                    key: author.to_string(),
                    reason: r.reason,
                    by: r.id.clone(),
                });
            }
            if !governance && self.members_only(group) && !self.is_member(group, author) {
                return Err(Refusal::NotMember {
                    group: group.clone(),
                    key: author.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The member grants in force: for each (scope, key), the last counting member
    /// article, when it adds and the key is not revoked there now.
    pub fn members(&self, now: i64) -> Vec<Entry> {
        self.grants(now, |action| match action {
            Action::Member { add, scope, key } => Some((*add, scope, key)),
            _ => None,
        })
    }

    /// The moderators in force: for each (scope, key), the last counting moderator
    /// article, when it names the key and the key is not revoked there now.
    pub fn moderators(&self, now: i64) -> Vec<Entry> {
        self.grants(now, |action| match action {
            Action::Moderator { add, scope, key } => Some((*add, scope, key)),
            _ => None,
        })
    }

    /// The grants of one kind in force (`kind` picks (adds, scope, key) from the
    /// articles of that kind): for each (scope, key), the last counting article decides,
    /// and a key revoked there now holds nothing.
    fn grants<'s>(
        &'s self,
        now: i64,
        kind: impl Fn(&'s Action) -> Option<(bool, &'s Scope, &'s String)>,
    ) -> Vec<Entry> {
        let mut seen: Vec<(&Scope, &str)> = Vec::new();
        let mut out = Vec::new();
        for e in self.events.iter().rev() {
            let Some((add, scope, key)) = kind(&e.action) else {
                continue;
            };
            if seen.contains(&(scope, key.as_str())) {
                continue;
            }
            seen.push((scope, key));
            let revoked = self
                .revocations
                .iter()
                .any(|r| revokes(r, key, r.scope.overlaps(scope), now, true));
            if add && !revoked {
                out.push(Entry {
                    scope: scope.clone(),
                    key: key.clone(),
                    id: e.id.clone(),
                    by: e.signer.clone(),
                });
            }
        }
        out.reverse();
        out
    }

    /// The policies in force: (scope, members-only), the last for each scope.
    pub fn policies(&self) -> Vec<(Scope, bool, String)> {
        let mut out: Vec<(Scope, bool, String)> = Vec::new();
        for e in &self.events {
            if let Action::Policy { scope, members } = &e.action {
                out.retain(|(s, _, _)| s != scope);
                out.push((scope.clone(), *members, e.id.clone()));
            }
        }
        out
    }
}
