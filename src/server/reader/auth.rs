//! AUTHINFO USER / PASS (RFC 4643) against the `[[user]]` entries of the config. After
//! success the session's POSTs are signed with that user's author key.

use std::time::Duration;

use crate::net::NetError;
use crate::server::session::{Flow, Session};

/// Failed AUTHINFO PASS attempts before the connection is closed.
const MAX_FAILURES: u32 = 3;
/// Pause after a failed attempt (slows password guessing).
const FAILURE_PAUSE: Duration = Duration::from_millis(200);

/// AUTHINFO USER name.
pub(super) fn user(s: &mut Session, name: String) {
    if s.user.is_some() {
        s.reply(502, "already authenticated");
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
    let Some(name) = s.pending_user.take() else {
        s.reply(
            482,
            "authentication commands issued out of sequence (AUTHINFO USER first)",
        );
        return Ok(Flow::Continue);
    };
    let ok = match s.shared.config.user(&name) {
        Some(user) => user.check_password(&password),
        None => {
            // Same work for an unknown name as for a wrong password.
            let _ = crate::config::hash_password(&password);
            false
        }
    };
    if ok {
        tracing::info!("{}: authenticated as {name}", s.addr);
        s.user = Some(name);
        s.auth_failures = 0;
        s.reply(281, "authentication accepted");
        return Ok(Flow::Continue);
    }
    s.auth_failures += 1;
    tracing::warn!(
        "{}: AUTHINFO failed for user {:?} ({} attempt(s))",
        s.addr,
        super::one_line(&name),
        s.auth_failures
    );
    tokio::time::sleep(FAILURE_PAUSE).await;
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
