//! AUTHINFO USER / PASS (RFC 4643) against the `[[user]]` entries of the config. After
//! success the session's POSTs are signed with that user's author key.
//!
//! Guessing is slow: every check waits its turn in the server-wide pacing per source
//! address and per account (`Logins` in `server/feed/logins.rs`: a few checks per
//! second at most, doubling waits after failures), whatever the number of connections;
//! a client that would wait too long is told 400 and disconnected. Checks run one at a
//! time on the blocking pool (Argon2 is memory-hard on purpose). A legacy salted-SHA-256
//! entry is rewritten as Argon2id in `newsmesh.toml` on its user's next success.

use std::net::IpAddr;
use std::time::Instant;

use crate::config::{check_nobody, edit, hash_password, PasswordMatch, UserConfig};
use crate::net::NetError;
use crate::server::guards::{Pace, Turn};
use crate::server::session::{Flow, Session};

/// Failed AUTHINFO PASS attempts before the connection is closed.
const MAX_FAILURES: u32 = 3;
/// The account name that unknown user names share in the pacing (no real user has it:
/// names are never empty), so made-up names cannot grow its tables.
const UNKNOWN_ACCOUNT: &str = "";

/// AUTHINFO USER name.
pub(super) fn user(s: &mut Session, name: String) {
    if s.user.is_some() {
        s.reply(502, "already authenticated");
        return;
    }
    if !s.may_send_password() {
        s.reply(
            483,
            "encryption required: STARTTLS (or NNTPS) before AUTHINFO",
        );
        return;
    }
    s.pending_user = Some(name);
    s.reply(381, "password required (AUTHINFO PASS)");
}

/// AUTHINFO PASS password.
pub(super) async fn pass(s: &mut Session, password: String) -> Result<Flow, NetError> {
    if s.user.is_some() {
        s.reply(502, "already authenticated");
        return Ok(Flow::Continue);
    }
    if !s.may_send_password() {
        s.pending_user = None;
        s.reply(
            483,
            "encryption required: STARTTLS (or NNTPS) before AUTHINFO",
        );
        return Ok(Flow::Continue);
    }
    let Some(name) = s.pending_user.take() else {
        s.reply(
            482,
            "authentication commands issued out of sequence (AUTHINFO USER first)",
        );
        return Ok(Flow::Continue);
    };
    let user = s.live.config.user(&name).cloned();
    let account = user.as_ref().map_or(UNKNOWN_ACCOUNT, |u| u.name.as_str());
    let pace = Pace::of(&s.live.config.limits);
    let source = s.addr.ip();
    match s
        .shared
        .guards
        .logins
        .turn(source, account, pace, Instant::now())
    {
        Turn::After(wait) => {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        Turn::Refused(wait) => {
            s.reply(
                400,
                &format!(
                    "too many failed logins; try again in {} s",
                    wait.as_secs().max(1)
                ),
            );
            return Ok(Flow::Quit);
        }
    }
    let verdict = check(s, user.clone(), password.clone()).await;
    let account = account.to_string();
    if verdict.accepted() {
        s.shared
            .guards
            .logins
            .succeeded(source, &account, Instant::now());
        tracing::info!("{}: authenticated as {name}", s.addr);
        if let (PasswordMatch::YesLegacy, Some(user)) = (verdict, user) {
            upgrade(s, user, password).await;
        }
        s.user = Some(name);
        s.auth_failures = 0;
        s.reply(281, "authentication accepted");
        return Ok(Flow::Continue);
    }
    let in_a_row = s
        .shared
        .guards
        .logins
        .failed(source, &account, pace, Instant::now());
    s.auth_failures += 1;
    tracing::warn!(
        "{}: AUTHINFO failed for user {:?} ({} on this connection, {in_a_row} in a row from {})",
        s.addr,
        super::one_line(&name),
        s.auth_failures,
        source_text(source),
    );
    if s.auth_failures >= MAX_FAILURES {
        s.reply(
            481,
            "authentication failed; too many attempts, closing connection",
        );
        return Ok(Flow::Quit);
    }
    s.reply(481, "authentication failed");
    Ok(Flow::Continue)
}

/// Checks the password on the blocking pool, one check at a time server-wide; an
/// unknown user costs the same work as a wrong password.
async fn check(s: &Session, user: Option<UserConfig>, password: String) -> PasswordMatch {
    let Ok(_turn) = s.shared.guards.logins.checks.acquire().await else {
        return PasswordMatch::No;
    };
    tokio::task::spawn_blocking(move || match user {
        Some(user) => user.check_password(&password),
        None => {
            check_nobody(&password);
            PasswordMatch::No
        }
    })
    .await
    .unwrap_or(PasswordMatch::No)
}

/// Rewrites `user`'s legacy hash as Argon2id in `newsmesh.toml` (once per server run;
/// failures are logged, the login stands).
async fn upgrade(s: &Session, user: UserConfig, password: String) {
    if !s.shared.guards.logins.take_upgrade(&user.name) {
        return;
    }
    let Ok(_turn) = s.shared.guards.logins.checks.acquire().await else {
        return;
    };
    let path = s.shared.home.config_path();
    let name = user.name.clone();
    let done = tokio::task::spawn_blocking(move || {
        let new_hash = hash_password(&password);
        edit::upgrade_password(&path, &user.name, &user.password_hash, &new_hash)
            .map(|changed| (changed, path))
    })
    .await;
    match done {
        Ok(Ok((true, path))) => tracing::info!(
            "upgraded user {name}'s password hash to Argon2id in {}",
            path.display()
        ),
        Ok(Ok((false, _))) => {}
        Ok(Err(e)) => tracing::warn!("could not upgrade user {name}'s password hash: {e}"),
        Err(e) => tracing::warn!("could not upgrade user {name}'s password hash: {e}"),
    }
}

/// An address as the log shows it.
fn source_text(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}
