//! POST (RFC 3977 §6.3.1): read the article within the size limit, sign it here with the
//! author key of the AUTHINFO user (or the node's default author key for a trusted
//! loopback reader), then store it through `ingest`, the one way into the spool.
//!
//! A loopback reader without AUTHINFO may post ordinary articles only: Control,
//! Supersedes and Approved need an AUTHINFO user, because any local process can open
//! a loopback connection and must not cancel the operator's articles mesh-wide or
//! remove groups with the node's default key.

use ed25519_dalek::SigningKey;

use super::one_line;
use crate::compose::{sign_posted, Poster};
use crate::ingest::{ingest, Rules, Source, Verdict};
use crate::net::NetError;
use crate::server::session::Session;

/// POST.
pub(super) async fn post(s: &mut Session) -> Result<(), NetError> {
    if !s.may_post() {
        s.reply(440, "posting not permitted");
        return Ok(());
    }
    s.reply(340, "send article to be posted; end with <CR-LF>.<CR-LF>");
    let max = s.live.config.limits.max_article_bytes;
    let raw = match s.conn.read_block(max).await {
        Ok(raw) => raw,
        Err(NetError::Protocol(e)) => {
            s.reply(441, &format!("posting failed: {e}"));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let user = s.user.clone();
    let live = std::sync::Arc::clone(&s.live);
    let Some(outcome) = super::query(s, move |shared, spool| {
        let (key, poster) = match &user {
            Some(name) => match author_key(shared, &live.config, name) {
                Ok(key) => (key, Poster::Authenticated),
                Err(why) => return Ok(Err(why)),
            },
            None => (shared.author_key.clone(), Poster::AnonymousLoopback),
        };
        let limits = live.config.limits.article_limits();
        let article = match sign_posted(&raw, shared.name(), &key, &limits, poster) {
            Ok(a) => a,
            Err(why) => return Ok(Err(why)),
        };
        let id = article.message_id().unwrap_or_default().to_string();
        let rules = Rules::new(&live.config, &live.trust).from(Source::Reader(user.as_deref()));
        let signed = article.to_bytes();
        Ok(match ingest(spool, &rules, &[&signed])?.pop() {
            Some(Verdict::Stored(_)) => Ok(id),
            Some(Verdict::Duplicate) => Err(format!("{id} is already here")),
            Some(Verdict::Refused(why)) | Some(Verdict::Deferred(why)) => Err(why.to_string()),
            None => Err("no verdict".into()),
        })
    })
    .await
    else {
        return Ok(());
    };
    match outcome {
        Ok(id) => {
            tracing::info!(
                "{}: posted {id} as {}",
                s.addr,
                s.user.as_deref().unwrap_or("the node's default author")
            );
            s.reply(240, &format!("{id} article received"));
        }
        Err(why) => s.reply(441, &format!("posting failed: {}", one_line(&why))),
    }
    Ok(())
}

/// The author key of `[[user]]` `name` (its file relative to the home).
fn author_key(
    shared: &crate::server::Shared,
    config: &crate::config::Config,
    name: &str,
) -> Result<SigningKey, String> {
    let user = config
        .user(name)
        .ok_or_else(|| format!("user {name} is no longer configured"))?;
    let path = shared.home.dir().join(&user.author_key);
    crate::sign::load_secret(&path).map_err(|e| {
        tracing::error!("author key of user {name}: {e}");
        format!("the author key of user {name} cannot be read")
    })
}
