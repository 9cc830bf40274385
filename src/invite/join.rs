//! `newsmesh join CODE`: the newcomer's side. The code is read whole first (a damaged
//! one is refused before anything is dialled); then the inviter is dialled, its node key
//! pinned from the code, the secret proven with `MESH JOIN` over TLS; only once the
//! inviter has said yes does this node change: the inviter becomes a `[[peer]]` with its
//! address (limited to the invite's groups), the invite's `[[trust]]` and `[[control]]`
//! rules are taken, its groups created; then the first sync runs.

use std::time::Duration;

use data_encoding::BASE64;
use tokio::net::TcpStream;

use super::code::InviteCode;
use crate::config::{NodeKey, PeerConfig};
use crate::error::{Error, Result};
use crate::home::{Home, Node};
use crate::net::Conn;
use crate::protocol::{parse_response, Command, MeshCommand, Response, MAX_RESPONSE_LINE};
use crate::sign::{parse_public_key, public_key_text};
use crate::sync::PeerReport;

/// Redeems `code` and joins; the first sync's reports.
pub fn join(home: &Home, code: &str) -> Result<Vec<PeerReport>> {
    let code = InviteCode::decode(code).map_err(|e| Error::Invalid(e.to_string()))?;
    let inviter = parse_public_key(&code.node_key)
        .map_err(|e| Error::Invalid(format!("the invite code's node key: {e}")))?;
    let mut node = home.open()?;
    if node.config.peer_with_key(&inviter).is_some() {
        return Err(Error::Invalid(format!(
            "{} is already a neighbour of this node",
            code.name
        )));
    }
    let taken = node.config.peers.iter().any(|p| p.name == code.name)
        || node.config.nntp_peers.iter().any(|p| p.name == code.name);
    if taken {
        // Checked before dialling: the inviter would count the invite used.
        return Err(Error::Invalid(format!(
            "this node already has a neighbour named {} (remove it first with `newsmesh peer remove {}`)",
            code.name, code.name
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    runtime.block_on(redeem(&node, home, &code, inviter))?;
    let peer = PeerConfig {
        name: code.name.clone(),
        key: NodeKey::from(inviter),
        address: Some(code.address.clone()),
        groups: code.groups.clone(),
        tls: true,
        compress: true,
        live: true,
    };
    crate::config::edit::add_peer_and_rules(
        &home.config_path(),
        &peer,
        &code.trust,
        &code.control,
    )?;
    create_groups(&mut node, &code.carried)?;
    drop(node);
    crate::sync::sync_all(home, Some(&code.name))
}

fn create_groups(node: &mut Node, groups: &[String]) -> Result<()> {
    for group in groups {
        if node.spool.group(group)?.is_none() {
            node.spool.create_group(group, "")?;
        }
    }
    Ok(())
}

fn net(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Peer(format!("{what}: {e}"))
}

async fn answer(conn: &mut Conn) -> Result<Response> {
    let line = conn
        .read_line(MAX_RESPONSE_LINE)
        .await
        .map_err(|e| net("reading the inviter's answer", e))?;
    parse_response(&line).map_err(|e| net("the inviter's answer", e))
}

async fn send(conn: &mut Conn, command: &Command) -> Result<Response> {
    command.write(conn.out());
    answer(conn).await
}

/// Dials the inviter, pins its key, proves the secret. Nothing here changes this node.
async fn redeem(
    node: &Node,
    home: &Home,
    code: &InviteCode,
    inviter: ed25519_dalek::VerifyingKey,
) -> Result<()> {
    let limits = &node.config.limits;
    let address = &code.address;
    let stream = tokio::time::timeout(
        Duration::from_secs(limits.connect_timeout_secs),
        TcpStream::connect(address),
    )
    .await
    .map_err(|_| net(&format!("connecting to {address}"), "timed out"))?
    .map_err(|e| net(&format!("connecting to {address}"), e))?;
    let mut conn = Conn::new(stream, Duration::from_secs(limits.io_timeout_secs));
    let greeting = answer(&mut conn).await?;
    if greeting.code != 200 && greeting.code != 201 {
        return Err(net("the inviter refused the connection", greeting.text));
    }
    let r = send(&mut conn, &Command::StartTls).await?;
    if r.code != 382 {
        return Err(net("STARTTLS", format!("{} {}", r.code, r.text)));
    }
    let identity = crate::tls::node_identity(&home.node_key()?)?;
    let config = crate::tls::invite_client_config(&identity, inviter)?;
    conn.connect_tls(config, crate::tls::mesh_server_name())
        .await
        .map_err(|e| {
            net(
                &format!("TLS with {} (the key the code pins)", code.name),
                e,
            )
        })?;
    let author = public_key_text(
        &home
            .author_key(crate::home::DEFAULT_AUTHOR)?
            .verifying_key(),
    );
    let join = Command::Mesh(MeshCommand::Join {
        secret: BASE64.encode(&code.secret),
        name: node.name().to_string(),
        author,
    });
    let r = send(&mut conn, &join).await?;
    let _ = send(&mut conn, &Command::Quit).await;
    if r.code == 298 {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "{} refused the invite: {}",
            code.name, r.text
        )))
    }
}
