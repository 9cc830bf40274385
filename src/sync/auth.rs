//! The dialling node's half of securing a mesh link: TLS first (`STARTTLS` naming the
//! mesh ALPN, see [`crate::tls`]: the peer's certificate must carry the node key our
//! config lists for it, and we present ours). That handshake authenticates both nodes;
//! only a peer that speaks the earlier mesh ALPN, or a link in clear (`tls = false`),
//! needs the mesh handshake (`MESH HELLO` / `MESH PROVE`, see
//! [`crate::sign::handshake`]), bound to the TLS connection when there is one: the peer
//! must prove the node key our config lists for it before anything else is said, and we
//! prove ours.

use ed25519_dalek::SigningKey;

use super::conn::{command, dial, expect, greeting};
use crate::config::LimitsConfig;
use crate::config::PeerConfig;
use crate::error::{Error, Result};
use crate::net::Conn;
use crate::protocol::{Command, MeshCommand};
use crate::sign::handshake::{nonce, Role, Transcript, BINDING_LABEL};
use crate::sign::{parse_public_key, public_key_text};

/// The one opening of a mesh link, after dialling: the greeting, then [`secure_link`].
/// The live relay's link and `push_raw` open this way; `sync`'s exchange takes the two
/// steps itself, to warn about the name the peer greets with.
pub(super) async fn handshake(
    node_key: &SigningKey,
    peer: &PeerConfig,
    conn: &mut Conn,
) -> Result<()> {
    greeting(conn).await?;
    secure_link(node_key, peer, conn).await
}

/// After the greeting: TLS pinned to the peer's key (unless `tls = false`), the mesh
/// handshake bound to it (when TLS did not authenticate both nodes), then compression
/// when the peer's entry asks for it.
pub(super) async fn secure_link(
    node_key: &SigningKey,
    peer: &PeerConfig,
    conn: &mut Conn,
) -> Result<()> {
    secure(node_key, peer, conn).await?;
    authenticate(node_key, peer, conn).await?;
    if peer.compress {
        compress(conn).await?;
    }
    Ok(())
}

/// Dials `peer` within `limits`' timeouts, opens the link ([`handshake`]) and enters
/// MODE STREAM: a link ready for CHECK/TAKETHIS (and, between them, MESH SINCE).
pub(super) async fn open_streaming(
    node_key: &SigningKey,
    peer: &PeerConfig,
    limits: &LimitsConfig,
) -> Result<Conn> {
    let mut conn = dial(&peer.name, peer.address.as_deref(), limits).await?;
    handshake(node_key, peer, &mut conn).await?;
    mode_stream(&mut conn).await?;
    Ok(conn)
}

/// MODE STREAM (RFC 4644), which every mesh node answers 203.
pub(super) async fn mode_stream(conn: &mut Conn) -> Result<()> {
    let r = command(conn, &Command::ModeStream).await?;
    expect(&r, 203, "MODE STREAM")
}

/// Switches the link to TLS pinned to `peer`'s node key, unless its config opts out.
async fn secure(node_key: &SigningKey, peer: &PeerConfig, conn: &mut Conn) -> Result<()> {
    if !peer.tls {
        return Ok(());
    }
    let expected = *peer.key.key();
    let r = command(conn, &Command::StartTls).await?;
    if r.code != 382 {
        return Err(Error::Peer(format!(
            "STARTTLS: peer answered {} {}: it does not speak TLS. An older newsmesh node: \
             set `tls = false` in its [[peer]] entry (`peer add --no-tls`; anyone on the \
             path can then read the link); a plain news server (INN...) is an \
             [[nntp_peer]]: `newsmesh peer remove {name}`, then \
             `newsmesh peer add {name} --nntp --address {address}`",
            r.code,
            r.text,
            name = peer.name,
            address = peer.address.as_deref().unwrap_or("HOST:PORT"),
        )));
    }
    let identity = crate::tls::node_identity(node_key)?;
    let config = crate::tls::mesh_client_config(&identity, expected)?;
    conn.connect_tls(config, crate::tls::mesh_server_name())
        .await
        .map_err(|source| Error::NetworkDuring {
            doing: format!("TLS with peer {}", peer.name),
            source,
        })
}

/// Asks for COMPRESS DEFLATE (RFC 8054) and compresses the link when the peer agrees;
/// a peer that does not know it (an older node) just goes on uncompressed.
async fn compress(conn: &mut Conn) -> Result<()> {
    let r = command(conn, &Command::Compress("DEFLATE".into())).await?;
    if r.code == 206 {
        conn.start_compression()
            .await
            .map_err(|source| Error::NetworkDuring {
                doing: "COMPRESS".into(),
                source,
            })?;
    }
    Ok(())
}

/// Authenticates both ways with `peer` as the node whose key is `node_key` (already
/// done when the TLS handshake agreed on [`crate::tls::MESH_ALPN`]).
async fn authenticate(node_key: &SigningKey, peer: &PeerConfig, conn: &mut Conn) -> Result<()> {
    if crate::tls::tls_authenticates(conn.alpn_protocol().as_deref()) {
        return Ok(());
    }
    let expected = *peer.key.key();
    let client_nonce = nonce();
    let hello = Command::Mesh(MeshCommand::Hello {
        key: public_key_text(&node_key.verifying_key()),
        nonce: client_nonce.clone(),
    });
    let r = command(conn, &hello).await?;
    if r.code == 500 || r.code == 501 {
        // A plain news server (INN...) does not know the extension: say what to do.
        return Err(Error::Peer(format!(
            "MESH HELLO: peer answered {} {}: it does not speak the newsmesh protocol; \
             a plain news server (INN...) is an [[nntp_peer]]: `newsmesh peer remove {name}`, \
             then `newsmesh peer add {name} --nntp --address {address}`",
            r.code,
            r.text,
            name = peer.name,
            address = peer.address.as_deref().unwrap_or("HOST:PORT"),
        )));
    }
    expect(&r, 291, "MESH HELLO")?;
    let mut words = r.text.split_whitespace();
    let (Some(key), Some(server_nonce), Some(signature)) =
        (words.next(), words.next(), words.next())
    else {
        return Err(Error::Peer(format!(
            "malformed MESH HELLO answer: {}",
            r.text
        )));
    };
    let server_key =
        parse_public_key(key).map_err(|_| Error::Peer("peer sent a malformed node key".into()))?;
    if server_key != expected {
        return Err(Error::Peer(format!(
            "peer presented node key {key}, but the config expects {}",
            public_key_text(&expected)
        )));
    }
    let transcript = Transcript {
        client_key: node_key.verifying_key(),
        server_key,
        client_nonce,
        server_nonce: server_nonce.to_string(),
        binding: conn.export_keying_material(BINDING_LABEL),
    };
    if !transcript.verify(Role::Server, signature) {
        return Err(Error::Peer("peer failed to prove its node key".into()));
    }
    let prove = Command::Mesh(MeshCommand::Prove {
        signature: transcript.sign(Role::Client, node_key),
    });
    let r = command(conn, &prove).await?;
    expect(&r, 292, "MESH PROVE (is this node listed as a peer there?)")
}
