//! Peer authentication: both nodes prove their ed25519 node keys with a challenge and
//! response carried by the `MESH HELLO` / `MESH PROVE` extension commands.
//!
//! ```text
//! client: MESH HELLO <client key> <client nonce>
//! server: 291 <server key> <server nonce> <server signature>
//! client: MESH PROVE <client signature>
//! server: 292 <client name> authenticated      (or 481)
//! ```
//!
//! Each signature is over the transcript
//! `"newsmesh-auth-v1" | role | client key | server key | client nonce | server nonce`
//! (role = `server` or `client`), so it is bound to both keys and both fresh 32-byte
//! nonces: a recorded exchange cannot be replayed on another connection, and a
//! signature made for one role cannot be reflected as the other.
//!
//! Over TLS (every mesh link unless a peer opted out) the transcript also carries the
//! link's **channel binding**: 32 bytes of TLS exported keying material
//! ([`BINDING_LABEL`], RFC 8446 section 7.5), the same at both ends of one TLS
//! connection and different on any other. A node in the middle that relays a HELLO and
//! a PROVE between two TLS connections (its own to the server, the victim's to it)
//! therefore relays signatures over the wrong binding, and the server refuses them: the
//! proof authenticates this TLS connection, not whoever forwards it. The bound form
//! starts `newsmesh-auth-v2`, so a plaintext proof never passes for a bound one.

use data_encoding::BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand_core::RngCore;

/// The side of the exchange a signature speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The node that dialled.
    Client,
    /// The node that accepted.
    Server,
}

/// The TLS exporter label of the channel binding.
pub const BINDING_LABEL: &[u8] = b"EXPORTER-newsmesh-mesh-auth";

/// A fresh random nonce, base64.
pub fn nonce() -> String {
    let mut bytes = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    BASE64.encode(&bytes)
}

/// The public values of one exchange.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Client node key.
    pub client_key: VerifyingKey,
    /// Server node key.
    pub server_key: VerifyingKey,
    /// Client nonce (base64 text as sent).
    pub client_nonce: String,
    /// Server nonce (base64 text as sent).
    pub server_nonce: String,
    /// The TLS channel binding of the connection (None on plain TCP).
    pub binding: Option<[u8; 32]>,
}

impl Transcript {
    fn message(&self, role: Role) -> Vec<u8> {
        let mut m = match self.binding {
            Some(_) => b"newsmesh-auth-v2".to_vec(),
            None => b"newsmesh-auth-v1".to_vec(),
        };
        m.extend_from_slice(match role {
            Role::Client => b"client",
            Role::Server => b"server",
        });
        m.extend_from_slice(self.client_key.as_bytes());
        m.extend_from_slice(self.server_key.as_bytes());
        m.extend_from_slice(self.client_nonce.as_bytes());
        m.push(b' ');
        m.extend_from_slice(self.server_nonce.as_bytes());
        if let Some(binding) = &self.binding {
            m.push(b' ');
            m.extend_from_slice(binding);
        }
        m
    }

    /// Signs the transcript for `role` with that side's node key (base64 signature).
    pub fn sign(&self, role: Role, key: &SigningKey) -> String {
        BASE64.encode(&key.sign(&self.message(role)).to_bytes())
    }

    /// Checks the other side's signature for `role`.
    pub fn verify(&self, role: Role, signature: &str) -> bool {
        let key = match role {
            Role::Client => &self.client_key,
            Role::Server => &self.server_key,
        };
        BASE64
            .decode(signature.as_bytes())
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .is_some_and(|sig| key.verify(&self.message(role), &sig).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(server_nonce: &str) -> (SigningKey, SigningKey, Transcript) {
        let c = SigningKey::from_bytes(&[1; 32]);
        let s = SigningKey::from_bytes(&[2; 32]);
        let t = Transcript {
            client_key: c.verifying_key(),
            server_key: s.verifying_key(),
            client_nonce: "cn".into(),
            server_nonce: server_nonce.into(),
            binding: None,
        };
        (c, s, t)
    }

    #[test]
    fn both_sides_prove_and_replays_fail() {
        let (c, s, t) = transcript("sn1");
        let client_sig = t.sign(Role::Client, &c);
        assert!(t.verify(Role::Client, &client_sig));
        assert!(t.verify(Role::Server, &t.sign(Role::Server, &s)));
        // The server's signature cannot be reflected as the client's.
        assert!(!t.verify(Role::Client, &t.sign(Role::Server, &c)));
        // A recorded client proof is useless under a fresh server nonce.
        let (_, _, fresh) = transcript("sn2");
        assert!(!fresh.verify(Role::Client, &client_sig));
        assert!(!t.verify(Role::Client, "garbage"));
        assert_ne!(nonce(), nonce());
    }

    /// A proof made on one TLS connection fails on another (a relay), and a proof made
    /// on plain TCP fails on a TLS connection.
    #[test]
    fn a_proof_holds_only_on_the_connection_it_was_made_on() {
        let (c, _, mut t) = transcript("sn");
        t.binding = Some([1; 32]);
        let bound = t.sign(Role::Client, &c);
        assert!(t.verify(Role::Client, &bound));
        let mut relayed = t.clone();
        relayed.binding = Some([2; 32]);
        assert!(!relayed.verify(Role::Client, &bound));
        let mut plain = t.clone();
        plain.binding = None;
        assert!(!t.verify(Role::Client, &plain.sign(Role::Client, &c)));
    }
}
