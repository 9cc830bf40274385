//! `MESH JOIN`: the inviter's side of `newsmesh join`. On a TLS link that named the
//! invite ALPN (the newcomer's certificate carries its node key), the secret is checked
//! against the invites this node made (hashed, counted, expiring: `spool/invites.rs`);
//! a valid one adds the newcomer as a passive `[[peer]]` limited to the invite's groups,
//! through the same config editing `peer add` uses, and the running configuration is
//! reloaded at once so the newcomer's first sync is admitted. When this node's author key
//! is an admin of the invite's groups, it also grants the newcomer's author key
//! membership there (a signed `member add` that floods like any article). A refused
//! redemption changes nothing.

use data_encoding::BASE64;

use super::super::session::Session;
use super::super::Shared;
use crate::config::{NodeKey, PeerConfig};
use crate::error::{Error, Result};
use crate::governance::{self, admins, Action, Scope};
use crate::ingest::{ingest, Rules};
use crate::invite::code::hash_secret;
use crate::sign::{parse_public_key, public_key_text};
use crate::spool::Spool;

/// Answers `MESH JOIN secret name author`.
pub(super) async fn join(s: &mut Session, secret: &str, name: &str, author: &str) {
    if s.conn.alpn_protocol().as_deref() != Some(crate::tls::INVITE_ALPN) {
        s.reply(
            483,
            "MESH JOIN needs TLS naming the invite protocol (newsmesh join)",
        );
        return;
    }
    let Some(key) = s
        .conn
        .peer_certificate()
        .and_then(|c| crate::tls::node_key_of(&c))
    else {
        s.reply(481, "no node key in the TLS certificate");
        return;
    };
    let (Ok(secret), Ok(author)) = (BASE64.decode(secret.as_bytes()), parse_public_key(author))
    else {
        s.reply(501, "malformed secret or author key");
        return;
    };
    let hash = hash_secret(&secret);
    let (name, author) = (name.to_string(), public_key_text(&author));
    let addr = s.addr;
    let outcome = s
        .shared
        .with_spool(move |shared, spool| redeem(shared, spool, &hash, &name, key, &author))
        .await;
    match outcome {
        Ok(Ok(line)) => {
            tracing::info!("{addr}: {line}");
            s.reply(298, &line);
        }
        Ok(Err(why)) => {
            tracing::warn!("{addr}: invite refused: {why}");
            s.reply(481, &why);
        }
        Err(e) => {
            tracing::error!("{addr}: invite: {e}");
            s.reply(403, "internal fault, try again later");
        }
    }
}

/// Redeems the invite and configures this side; `Ok(Err(reason))` when refused (and
/// nothing changed).
fn redeem(
    shared: &Shared,
    spool: &mut Spool,
    hash: &str,
    name: &str,
    key: ed25519_dalek::VerifyingKey,
    author: &str,
) -> Result<std::result::Result<String, String>> {
    let live = shared.live();
    if live.config.peer_with_key(&key).is_some() {
        return Ok(Err("this node already has a peer with that node key".into()));
    }
    let groups = match spool.redeem_invite(hash)? {
        Ok(groups) => groups,
        Err(refusal) => return Ok(Err(refusal.to_string())),
    };
    let path = shared.home.config_path();
    let peer = PeerConfig {
        name: name.to_string(),
        key: NodeKey::from(key),
        address: None,
        groups: groups.clone(),
        tls: true,
        compress: true,
        live: true,
    };
    if let Err(e) = crate::config::edit::add_peer(&path, &peer) {
        spool.restore_invite_use(hash)?;
        return Ok(Err(e.to_string()));
    }
    // At once, not when the file watch notices: the newcomer syncs next.
    super::super::live::reload(&shared.current, &path);
    let granted = grant(shared, spool, &groups, author)?;
    Ok(Ok(format!(
        "{name} joined {} (groups {groups}){}",
        shared.name,
        if granted { ", membership granted" } else { "" }
    )))
}

/// Grants `author` membership of the invite's groups when this node's author key is an
/// admin there and carries one of them; whether it did.
fn grant(shared: &Shared, spool: &mut Spool, groups: &str, author: &str) -> Result<bool> {
    let live = shared.live();
    let Some(scope) = Scope::parse(groups) else {
        return Ok(false);
    };
    let signer = public_key_text(&shared.author_key.verifying_key());
    if !admins::governs(&live.trust, &signer, &scope) {
        return Ok(false);
    }
    let carried: Vec<String> = spool
        .groups()?
        .into_iter()
        .map(|g| g.name)
        .filter(|g| scope.matches(g))
        .collect();
    if carried.is_empty() {
        return Ok(false);
    }
    let action = Action::Member {
        add: true,
        scope,
        key: author.to_string(),
    };
    let after = spool.governance_rows()?.iter().map(|r| r.date).max();
    let from = format!("{}@{}.invalid", crate::home::DEFAULT_AUTHOR, shared.name);
    let article = governance::compose::article(
        &action,
        &carried,
        &from,
        &shared.name,
        &shared.author_key,
        after,
    );
    let rules = Rules::new(&live.config, &live.trust, shared.news_log.as_ref());
    let verdicts = ingest(spool, &rules, &[&article.to_bytes()]).map_err(Error::from)?;
    Ok(matches!(
        verdicts.first(),
        Some(crate::ingest::Verdict::Stored(_))
    ))
}
