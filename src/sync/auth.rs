//! The dialling node's half of the mesh handshake (`MESH HELLO` / `MESH PROVE`, see
//! [`crate::sign::handshake`]): the peer must prove the node key our config lists for
//! it before anything else is said, and we prove ours.

use ed25519_dalek::SigningKey;

use super::conn::{command, expect};
use crate::config::PeerConfig;
use crate::error::{Error, Result};
use crate::net::Conn;
use crate::protocol::{Command, MeshCommand};
use crate::sign::handshake::{nonce, Role, Transcript};
use crate::sign::{parse_public_key, public_key_text};

/// Authenticates both ways with `peer` as the node whose key is `node_key`.
pub(super) async fn authenticate(
    node_key: &SigningKey,
    peer: &PeerConfig,
    conn: &mut Conn,
) -> Result<()> {
    let expected = *peer.key.key();
    let client_nonce = nonce();
    let hello = Command::Mesh(MeshCommand::Hello {
        key: public_key_text(&node_key.verifying_key()),
        nonce: client_nonce.clone(),
    });
    let r = command(conn, &hello).await?;
    if r.code == 500 || r.code == 501 {
        // A plain news server (INN...) does not know the extension: say what to do.
        return Err(Error::Network(format!(
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
        return Err(Error::Network(format!(
            "malformed MESH HELLO answer: {}",
            r.text
        )));
    };
    let server_key = parse_public_key(key)
        .map_err(|_| Error::Network("peer sent a malformed node key".into()))?;
    if server_key != expected {
        return Err(Error::Network(format!(
            "peer presented node key {key}, but the config expects {}",
            public_key_text(&expected)
        )));
    }
    let transcript = Transcript {
        client_key: node_key.verifying_key(),
        server_key,
        client_nonce,
        server_nonce: server_nonce.to_string(),
    };
    if !transcript.verify(Role::Server, signature) {
        return Err(Error::Network("peer failed to prove its node key".into()));
    }
    let prove = Command::Mesh(MeshCommand::Prove {
        signature: transcript.sign(Role::Client, node_key),
    });
    let r = command(conn, &prove).await?;
    expect(&r, 292, "MESH PROVE (is this node listed as a peer there?)")
}
