//! TLS 1.3 for mesh links and readers, keyed the way the mesh already is.
//!
//! A mesh link needs no CA and no host names: every node has an ed25519 node key and its
//! neighbours already list that key in their config. So each node presents a self-signed
//! certificate made from its node key ([`node_identity`]), both ends present one (client
//! authentication), and each end accepts exactly the key its config lists for the other
//! ([`PinnedServerKey`] when dialling one neighbour, [`PinnedClientKeys`] when accepting
//! any configured neighbour). The certificate is only an envelope for the key: what is
//! checked is that the TLS handshake was signed by the listed key, and nothing in the
//! certificate but its subject key is looked at (names, dates and issuers mean nothing
//! here). A mesh client names [`MESH_ALPN`], so one listening port serves both mesh
//! links and newsreaders: readers get the operator's certificate ([`reader_config`]),
//! nodes the node certificate.
//!
//! Since both ends proved their node keys in the handshake, that handshake is the mesh
//! authentication ([`MESH_ALPN`]): the session starts authenticated as the neighbour
//! whose key signed it, and no `MESH HELLO`/`MESH PROVE` follows (they cost ~500 bytes
//! per sync). A node that names only [`MESH_ALPN_HELLO`] (before this) still proves
//! itself with `MESH HELLO`/`MESH PROVE`, bound to the TLS channel through exported
//! keying material (see `sign::handshake`).
//!
//! TLS sits under the connection (`net::Conn`), never inside the protocol code.

use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig,
    SignatureScheme,
};
use tokio_rustls::rustls;

/// The ALPN protocol a node names when it opens a mesh link over TLS: the TLS
/// handshake (both node keys pinned) authenticates the mesh session.
pub const MESH_ALPN: &[u8] = b"newsmesh/2";

/// The ALPN protocol `newsmesh join` names: a newcomer redeeming an invite. The server
/// then accepts any node key in the client certificate (the newcomer is no peer yet; the
/// invite's secret, proven with `MESH JOIN` on this link, is what admits it) and the
/// session is no neighbour's.
pub const INVITE_ALPN: &[u8] = b"newsmesh-invite/1";

/// Whether a client hello names [`INVITE_ALPN`].
pub fn wants_invite(hello: &rustls::server::ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|p| p == INVITE_ALPN))
}

/// The earlier mesh ALPN protocol, still accepted and offered second: the session then
/// authenticates with `MESH HELLO`/`MESH PROVE` bound to the TLS channel.
pub const MESH_ALPN_HELLO: &[u8] = b"newsmesh/1";

/// Whether a mesh link that agreed on `alpn` is authenticated by its TLS handshake.
pub fn tls_authenticates(alpn: Option<&[u8]>) -> bool {
    alpn == Some(MESH_ALPN)
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Failures setting TLS up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key could not be made or used.
    #[error("TLS setup: {0}")]
    Setup(String),
    /// A certificate or key file could not be read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn setup(e: impl std::fmt::Display) -> TlsError {
    TlsError::Setup(e.to_string())
}

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Identity {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// The node key as PKCS#8 v2 (RFC 5958, with the public key), the form ring takes.
fn pkcs8(key: &SigningKey) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(key.as_bytes());
    der.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    der.extend_from_slice(key.verifying_key().as_bytes());
    der
}

/// The node's self-signed certificate for its ed25519 node key, made afresh (it is an
/// envelope for the key, so nothing about it needs to be kept). It is as small as a
/// certificate gets (~200 bytes): it crosses every link twice per handshake, and a
/// no-op sync should stay under 2 KB. Its subject and issuer are just `CN=newsmesh`
/// (the key is the identity) and its serial number is 1.
pub fn node_identity(node_key: &SigningKey) -> Result<Identity, TlsError> {
    let der = PrivatePkcs8KeyDer::from(pkcs8(node_key));
    let pair =
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519).map_err(setup)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(setup)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "newsmesh");
    params.serial_number = Some(rcgen::SerialNumber::from(vec![1]));
    let cert = params.self_signed(&pair).map_err(setup)?;
    Ok(Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(der),
    })
}

/// A self-signed certificate and key for the reader service (ECDSA P-256, which every
/// newsreader's TLS library takes), as PEM: (certificate, key).
pub fn reader_certificate_pem(names: &[String]) -> Result<(String, String), TlsError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(setup)?;
    // An entry that parses as an address becomes an IP address name (what a reader that
    // dialled 127.0.0.1 checks), any other a DNS name.
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(setup)?;
    let name = names.first().map(String::as_str).unwrap_or("newsmesh");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("newsmesh {name}"));
    let cert = params.self_signed(&pair).map_err(setup)?;
    Ok((cert.pem(), pair.serialize_pem()))
}

/// The ed25519 key a certificate carries, if it carries one.
pub fn node_key_of(cert: &CertificateDer<'_>) -> Option<VerifyingKey> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let spki = parsed.subject_public_key_info();
    let key = spki.as_ref().strip_prefix(&ED25519_SPKI_PREFIX[..])?;
    VerifyingKey::from_bytes(key.try_into().ok()?).ok()
}

/// Checks a TLS 1.3 handshake signature made with `key`.
fn verify_with(
    key: &VerifyingKey,
    message: &[u8],
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    if dss.scheme != SignatureScheme::ED25519 {
        return Err(rustls::Error::PeerMisbehaved(
            rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ));
    }
    let signature = Signature::from_slice(dss.signature())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))?;
    key.verify_strict(message, &signature)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))?;
    Ok(HandshakeSignatureValid::assertion())
}

/// Why a presented node key was refused (shows in the error of the side that refused).
#[derive(Debug)]
struct WrongKey(String);

impl std::fmt::Display for WrongKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WrongKey {}

fn wrong_key(text: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        WrongKey(text),
    ))))
}

fn presented(cert: &CertificateDer<'_>) -> Result<VerifyingKey, rustls::Error> {
    node_key_of(cert).ok_or_else(|| wrong_key("the certificate carries no ed25519 node key".into()))
}

/// The dialling side: accepts exactly the node key the config lists for the neighbour.
#[derive(Debug)]
pub struct PinnedServerKey {
    expected: VerifyingKey,
}

impl ServerCertVerifier for PinnedServerKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = presented(end_entity)?;
        if key != self.expected {
            return Err(wrong_key(format!(
                "the peer presented node key {}, but the config expects {} (the neighbour's \
                 `newsmesh key --node`; the key `newsmesh key` prints is an author key)",
                crate::sign::public_key_text(&key),
                crate::sign::public_key_text(&self.expected)
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("mesh links use TLS 1.3 only".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The pinned key itself must have signed the handshake.
        verify_with(&self.expected, message, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// The accepting side: accepts any node key the config lists for a neighbour (the
/// session is then that neighbour's; over [`MESH_ALPN_HELLO`] the mesh handshake must
/// name the same key).
#[derive(Debug)]
pub struct PinnedClientKeys {
    allowed: Vec<VerifyingKey>,
    /// Any node key (an invite's newcomer: see [`INVITE_ALPN`]).
    any: bool,
}

impl ClientCertVerifier for PinnedClientKeys {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let key = presented(end_entity)?;
        if !self.any && !self.allowed.contains(&key) {
            return Err(wrong_key(format!(
                "node key {} is not a configured peer",
                crate::sign::public_key_text(&key)
            )));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("mesh links use TLS 1.3 only".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // `verify_client_cert` admitted this certificate's key; it must have signed.
        verify_with(&presented(cert)?, message, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The name a mesh client puts in its hello: none is checked (the key is), but TLS
/// wants one.
pub fn mesh_server_name() -> ServerName<'static> {
    ServerName::DnsName(
        rustls::pki_types::DnsName::try_from("newsmesh.invalid")
            .expect("a valid DNS name")
            .to_owned(),
    )
}

/// The configuration for dialling a neighbour whose node key is `expected`.
pub fn mesh_client_config(
    identity: &Identity,
    expected: VerifyingKey,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerKey { expected }))
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(setup)?;
    config.alpn_protocols = vec![MESH_ALPN.to_vec(), MESH_ALPN_HELLO.to_vec()];
    // The server's name means nothing here (its key is pinned): not sent.
    config.enable_sni = false;
    Ok(Arc::new(config))
}

/// The configuration for accepting a mesh link from any of the `allowed` node keys.
pub fn mesh_server_config(
    identity: &Identity,
    allowed: Vec<VerifyingKey>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup)?
        .with_client_cert_verifier(Arc::new(PinnedClientKeys {
            allowed,
            any: false,
        }))
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(setup)?;
    // Preferred first: a client offering both gets the handshake-authenticated protocol.
    config.alpn_protocols = vec![MESH_ALPN.to_vec(), MESH_ALPN_HELLO.to_vec()];
    // A sync never resumes a session (it runs once from cron): tickets would only add
    // bytes to every link.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(config))
}

/// The configuration for a newcomer redeeming an invite: any node key, [`INVITE_ALPN`]
/// only (its certificate still signs the handshake, so the key is the newcomer's).
pub fn invite_server_config(identity: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup)?
        .with_client_cert_verifier(Arc::new(PinnedClientKeys {
            allowed: Vec::new(),
            any: true,
        }))
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(setup)?;
    config.alpn_protocols = vec![INVITE_ALPN.to_vec()];
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The configuration for `join`: the inviter's node key pinned (from the code), ours
/// presented, [`INVITE_ALPN`] named.
pub fn invite_client_config(
    identity: &Identity,
    inviter: VerifyingKey,
) -> Result<Arc<ClientConfig>, TlsError> {
    let config = mesh_client_config(identity, inviter)?;
    let mut config = (*config).clone();
    config.alpn_protocols = vec![INVITE_ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain and private key (e.g. from an ACME client).
pub fn load_identity(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let file = |path: &Path, e: &dyn std::fmt::Display| TlsError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file(cert, &e))?;
    if chain.is_empty() {
        return Err(file(cert, &"no certificate in the file"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file(key, &e))?;
    Ok(Identity {
        chain,
        key: key_der,
    })
}

/// The configuration for newsreaders (STARTTLS, NNTPS): the operator's certificate, no
/// client certificate.
pub fn reader_config(identity: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup)?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(setup)?;
    Ok(Arc::new(config))
}

/// Whether a client hello asks for a mesh link.
pub fn wants_mesh(hello: &rustls::server::ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|p| p == MESH_ALPN || p == MESH_ALPN_HELLO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_certificate_carries_the_node_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let identity = node_identity(&key).unwrap();
        assert_eq!(node_key_of(&identity.chain[0]), Some(key.verifying_key()));
        // Configs build from it (rustls takes the key).
        mesh_client_config(&identity, key.verifying_key()).unwrap();
        mesh_server_config(&identity, vec![key.verifying_key()]).unwrap();
    }

    #[test]
    fn a_reader_certificate_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = reader_certificate_pem(&["alpha".into()]).unwrap();
        std::fs::write(dir.path().join("c.pem"), cert).unwrap();
        std::fs::write(dir.path().join("k.pem"), key).unwrap();
        let identity = load_identity(&dir.path().join("c.pem"), &dir.path().join("k.pem")).unwrap();
        reader_config(&identity).unwrap();
        assert!(node_key_of(&identity.chain[0]).is_none());
    }
}
