//! Control messages and Supersedes (RFC 5537 §5): cancel, newgroup, rmgroup, and an
//! article replacing another; governance's verbs are recognised here and carried out by
//! `governance::record`. Read from the headers ([`control_of`]) before the trust
//! check, and carried out ([`carry_out`]) in the article's transaction once it passed.

use ed25519_dalek::VerifyingKey;

use super::{Refusal, Rules};
use crate::article::Article;
use crate::spool::{Storer, Target};

/// The pseudo-group cancel control messages are filed in.
pub const CANCEL_GROUP: &str = "control.cancel";

/// What a control message or Supersedes asks for: to cancel or replace an article, to
/// create or remove a group, or a governance fact (not only withdrawals).
pub(super) enum Control {
    /// `Control: cancel <id>`.
    Cancel(String),
    /// `Supersedes: <id>`.
    Supersede(String),
    /// `Control: newgroup <group> [moderated]`.
    NewGroup(String),
    /// `Control: rmgroup <group>`.
    RmGroup(String),
    /// `Control: member|policy|moderator|revoke ...`: governance (src/governance/).
    Governance,
}

/// Reads Control and Supersedes (RFC 5537 §5); checkgroups and the rest are refused.
pub(super) fn control_of(article: &Article) -> Result<Option<Control>, Refusal> {
    if let Some(control) = article.header_unfolded("Control") {
        if crate::governance::action_of(article)?.is_some() {
            return Ok(Some(Control::Governance));
        }
        let mut words = control.split_whitespace();
        let verb = words.next().map(str::to_ascii_lowercase);
        let arg = words.next();
        let group = arg
            .filter(|g| crate::article::is_valid_group_name(g))
            .map(str::to_string);
        return match (verb.as_deref(), arg, group) {
            (Some("cancel"), Some(id), _) if crate::article::is_valid_message_id(id) => {
                Ok(Some(Control::Cancel(id.to_string())))
            }
            (Some("newgroup"), _, Some(group)) => Ok(Some(Control::NewGroup(group))),
            (Some("rmgroup"), _, Some(group)) => Ok(Some(Control::RmGroup(group))),
            _ => Err(Refusal::UnsupportedControl(control.to_string())),
        };
    }
    Ok(article
        .header_unfolded("Supersedes")
        .map(|id| id.trim().to_string())
        .filter(|id| crate::article::is_valid_message_id(id))
        .map(Control::Supersede))
}

/// The description a newgroup carries: the body line `<group> <description>` (the
/// "For your newsgroups file:" convention), or nothing.
fn group_description(article: &Article, group: &str) -> String {
    String::from_utf8_lossy(&article.body)
        .lines()
        .find_map(|line| {
            line.strip_prefix(group)
                .filter(|rest| rest.starts_with([' ', '\t']))
        })
        .map(|rest| rest.trim().to_string())
        .unwrap_or_default()
}

/// Withdraws `target` on behalf of author key `by`: only its own author may. An article
/// not here yet is marked in advance. `Ok(Err(reason))` when refused.
fn withdraw(
    store: &mut Storer<'_>,
    target: &str,
    by: &str,
) -> rusqlite::Result<Result<(), Refusal>> {
    match store.target(target)? {
        Target::Stored(Some(signer)) if signer == by => store.withdraw(target, by)?,
        Target::Stored(_) => {
            return Ok(Err(Refusal::NotTheAuthor {
                target: target.to_string(),
            }))
        }
        Target::Unknown => store.mark_cancelled_early(target, by)?,
        Target::Gone => {}
    }
    Ok(Ok(()))
}

/// Carries out what the control message or Supersedes `asks` for, in the open
/// transaction: returns the groups the article is filed in then (`filed_in` unless it
/// is a control message), or why it is refused. `author` is its verified key (None: unsigned), `signer` that key's text.
pub(super) fn carry_out(
    store: &mut Storer<'_>,
    rules: &Rules<'_>,
    article: &Article,
    asks: Option<Control>,
    author: Option<&VerifyingKey>,
    signer: Option<&str>,
    filed_in: Vec<String>,
) -> rusqlite::Result<Result<Vec<String>, Refusal>> {
    Ok(Ok(match asks {
        None => filed_in,
        Some(Control::Cancel(target)) => {
            let Some(by) = signer else {
                return Ok(Err(Refusal::UnsignedCancel));
            };
            if let Err(why) = withdraw(store, &target, by)? {
                // Not its author: a moderator the admins named may still (governance).
                if !crate::governance::moderator_cancel(store, rules.trust, &target, by)? {
                    return Ok(Err(why));
                }
            }
            // Like INN, cancels are filed in control.cancel, not in the groups they name.
            vec![CANCEL_GROUP.to_string()]
        }
        Some(Control::Supersede(target)) => {
            if let Some(by) = signer {
                // A Supersedes by another author is ignored; the new article stays.
                let _ = withdraw(store, &target, by)?;
            }
            filed_in
        }
        Some(Control::Governance) => {
            let Some(by) = signer else {
                return Ok(Err(Refusal::UnsignedGroupControl));
            };
            // Filed in its groups this node carries (`filed_in`: all it names).
            crate::governance::record(store, rules.trust, article, &filed_in, by)?
        }
        Some(Control::NewGroup(group)) | Some(Control::RmGroup(group)) => {
            let Some(key) = author else {
                return Ok(Err(Refusal::UnsignedGroupControl));
            };
            if let Err(why) = rules.trust.allows_control(&group, key) {
                return Ok(Err(why.into()));
            }
            let newgroup = article
                .header_unfolded("Control")
                .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("newgroup"));
            if newgroup {
                store.create_group(&group, &group_description(article, &group))?;
                vec!["control.newgroup".to_string()]
            } else {
                store.remove_group(&group)?;
                vec!["control.rmgroup".to_string()]
            }
        }
    }))
}
