//! The newsmesh extension commands a session serves: the mesh handshake (`MESH HELLO`,
//! `MESH PROVE`, see [`crate::sign::handshake`]), and the dispatch of `MESH SINCE`
//! (`since.rs`) and `MESH IDLE` (`idle.rs`). Whether a proof admits the session is
//! [`judge_proof`], a pure function of what the session knows.

use ed25519_dalek::VerifyingKey;

use super::{idle, join, reconcile, since};
use crate::net::NetError;
use crate::protocol::MeshCommand;
use crate::server::session::Session;
use crate::sign::handshake::{nonce, Role, Transcript, BINDING_LABEL};
use crate::sign::{parse_public_key, public_key_text};

/// The newsmesh extension commands.
pub(in crate::server) async fn mesh(s: &mut Session, command: MeshCommand) -> Result<(), NetError> {
    match command {
        MeshCommand::Hello {
            key,
            nonce: client_nonce,
        } => hello(s, &key, client_nonce),
        MeshCommand::Prove { signature } => prove(s, &signature),
        MeshCommand::Since { epoch, seq, limit } => since::since(s, epoch, seq, limit).await?,
        MeshCommand::Idle { seq } => idle::idle(s, seq).await?,
        MeshCommand::Reconcile => reconcile::reconcile(s).await?,
        MeshCommand::Join {
            secret,
            name,
            author,
        } => join::join(s, &secret, &name, &author).await,
    }
    Ok(())
}

/// `MESH HELLO key nonce`: we answer with our key, our nonce and our half of the proof.
fn hello(s: &mut Session, key: &str, client_nonce: String) {
    let Ok(client_key) = parse_public_key(key) else {
        s.reply(501, "malformed node key");
        return;
    };
    let transcript = Transcript {
        client_key,
        server_key: s.shared.node_key.verifying_key(),
        client_nonce,
        server_nonce: nonce(),
        binding: s.conn.export_keying_material(BINDING_LABEL),
    };
    let signature = transcript.sign(Role::Server, &s.shared.node_key);
    let line = format!(
        "{} {} {}",
        public_key_text(&transcript.server_key),
        transcript.server_nonce,
        signature
    );
    s.hello = Some(transcript);
    s.reply(291, &line);
}

/// `MESH PROVE signature`: the session becomes the peer's if [`judge_proof`] says so.
fn prove(s: &mut Session, signature: &str) {
    let Some(transcript) = s.hello.take() else {
        s.reply(482, "MESH HELLO first");
        return;
    };
    let listed = s
        .live
        .config
        .peer_with_key(&transcript.client_key)
        .map(|p| (p.name.clone(), p.tls));
    let tls_key = s
        .conn
        .peer_certificate()
        .and_then(|c| crate::tls::node_key_of(&c));
    let on_tls = s.conn.is_tls();
    let proved = judge_proof(listed, on_tls, tls_key, &transcript.client_key, || {
        transcript.verify(Role::Client, signature)
    });
    let key = public_key_text(&transcript.client_key);
    let addr = s.addr;
    match &proved {
        Proved::Peer(name) => tracing::info!("{addr}: authenticated as peer {name}"),
        Proved::TlsRequired(name) => tracing::warn!("{addr}: peer {name} without TLS; refused"),
        Proved::NotTheTlsKey => {
            tracing::warn!("{addr}: MESH HELLO key {key} is not the TLS key; refused")
        }
        Proved::BadProof(name) => {
            tracing::warn!("{addr}: bad proof for peer {name}'s key; refused")
        }
        Proved::NotAPeer => {
            tracing::warn!("{addr}: node key {key} is not a configured peer; refused")
        }
    }
    let (code, text) = proved.answer();
    s.reply(code, &text);
    if let Proved::Peer(name) = proved {
        s.peer = Some(name);
    }
}

/// What a `MESH PROVE` established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Proved {
    /// The configured peer of that name: the session is its.
    Peer(String),
    /// A peer whose entry requires TLS, on a connection in clear.
    TlsRequired(String),
    /// Over TLS, a key other than the one the certificate carried.
    NotTheTlsKey,
    /// A configured peer's key, but the proof does not verify.
    BadProof(String),
    /// A key no `[[peer]]` lists.
    NotAPeer,
}

impl Proved {
    /// The answer to `MESH PROVE`.
    pub(super) fn answer(&self) -> (u16, String) {
        match self {
            Proved::Peer(name) => (292, format!("{name} authenticated")),
            Proved::TlsRequired(_) => (483, "TLS required for this peer (STARTTLS first)".into()),
            Proved::NotTheTlsKey => (481, "node key differs from the TLS certificate's".into()),
            Proved::BadProof(_) => (481, "authentication failed".into()),
            Proved::NotAPeer => (481, "node key is not a configured peer".into()),
        }
    }
}

/// Judges a proof of `key`: `listed` is the `[[peer]]` with that key (name, whether it
/// requires TLS), `tls_key` the key of the certificate the connection presented (when
/// `on_tls`), `verifies` checks the signature (run only when everything else holds).
pub(super) fn judge_proof(
    listed: Option<(String, bool)>,
    on_tls: bool,
    tls_key: Option<VerifyingKey>,
    key: &VerifyingKey,
    verifies: impl FnOnce() -> bool,
) -> Proved {
    match listed {
        None => Proved::NotAPeer,
        Some((name, true)) if !on_tls => Proved::TlsRequired(name),
        Some(_) if on_tls && tls_key.as_ref() != Some(key) => Proved::NotTheTlsKey,
        Some((name, _)) if verifies() => Proved::Peer(name),
        Some((name, _)) => Proved::BadProof(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> VerifyingKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key()
    }

    #[test]
    fn a_listed_key_with_a_good_proof_is_that_peer() {
        let b = Some(("b".to_string(), true));
        let proved = judge_proof(b.clone(), true, Some(key(1)), &key(1), || true);
        assert_eq!(proved, Proved::Peer("b".into()));
        assert_eq!(proved.answer(), (292, "b authenticated".into()));
        let clear = Some(("b".to_string(), false));
        assert_eq!(
            judge_proof(clear, false, None, &key(1), || true),
            Proved::Peer("b".into())
        );
    }

    #[test]
    fn each_way_to_fail_has_its_answer() {
        let b = || Some(("b".to_string(), true));
        let never = || -> bool { panic!("the signature is checked last") };
        assert_eq!(
            judge_proof(None, true, Some(key(1)), &key(1), never),
            Proved::NotAPeer
        );
        assert_eq!(
            judge_proof(b(), false, None, &key(1), never),
            Proved::TlsRequired("b".into())
        );
        assert_eq!(
            judge_proof(b(), true, Some(key(2)), &key(1), never),
            Proved::NotTheTlsKey
        );
        let bad = judge_proof(b(), true, Some(key(1)), &key(1), || false);
        assert_eq!(bad, Proved::BadProof("b".into()));
        assert_eq!(bad.answer().0, 481);
        assert_eq!(Proved::TlsRequired("b".into()).answer().0, 483);
    }
}
