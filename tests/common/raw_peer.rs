//! A hand-driven NNTP connection ([`RawPeer`]), to act as a neighbour, a reader or an
//! attacker: greeting, commands, blocks, STARTTLS with a node key, MESH HELLO/PROVE.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use newsmesh::testbed::Node;

/// A hand-driven NNTP connection, to act as a neighbour (or an attacker).
pub struct RawPeer {
    reader: BufReader<Box<dyn Duplex>>,
    /// The socket under it (plain, or under TLS after [`RawPeer::start_tls`]).
    tcp: TcpStream,
    /// The node key of the node we connected to (the TLS pin).
    server_key: Option<ed25519_dalek::VerifyingKey>,
    /// The TLS channel binding, once TLS runs.
    binding: Option<[u8; 32]>,
    /// The greeting line.
    pub greeting: String,
}

/// A byte stream both ways: plain TCP or TLS over it.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// The outcome of a MESH HELLO: what the server sent back.
#[derive(Debug, Clone)]
pub struct Hello {
    /// The client nonce we sent.
    pub client_nonce: String,
    /// The server's node key (text).
    pub server_key: String,
    /// The server's nonce.
    pub server_nonce: String,
    /// The server's signature.
    pub server_signature: String,
    /// The TLS channel binding of the connection it was made on.
    pub binding: Option<[u8; 32]>,
}

impl RawPeer {
    /// Connects to `node` and reads its greeting.
    pub fn connect(node: &Node) -> RawPeer {
        Self::try_connect(node).unwrap_or_else(|greeting| panic!("greeting {greeting:?}"))
    }

    /// Connects to `node`; the greeting line when it is not a welcome (200/201), as a
    /// server at its connection limit or shutting down answers.
    pub fn try_connect(node: &Node) -> Result<RawPeer, String> {
        let stream =
            TcpStream::connect_timeout(&node.addr, Duration::from_secs(5)).expect("connect");
        Self::on(
            stream,
            newsmesh::sign::parse_public_key(&node.node_key()).ok(),
        )
    }

    /// Connects to `addr` (a node's listen address) from the source address `source`
    /// (e.g. 127.0.0.2, to act as another host) and reads its greeting.
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> RawPeer {
        Self::on(connect_from(source, addr), None)
            .unwrap_or_else(|greeting| panic!("greeting {greeting:?}"))
    }

    /// Over `stream`; `server_key` is the node key a TLS handshake must find.
    fn on(
        stream: TcpStream,
        server_key: Option<ed25519_dalek::VerifyingKey>,
    ) -> Result<RawPeer, String> {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let tcp = stream.try_clone().unwrap();
        let mut peer = RawPeer {
            reader: BufReader::new(Box::new(stream)),
            tcp,
            server_key,
            binding: None,
            greeting: String::new(),
        };
        peer.greeting = peer.try_line().unwrap_or_default();
        if peer.greeting.starts_with("200 ") || peer.greeting.starts_with("201 ") {
            Ok(peer)
        } else {
            Err(peer.greeting)
        }
    }

    /// Whether the server has closed the connection (what is left unread is discarded).
    pub fn closed(&mut self) -> bool {
        std::io::copy(&mut self.reader, &mut std::io::sink()).is_ok()
    }

    /// Reads one response line (without CRLF).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a line");
        assert!(n > 0, "connection closed while waiting for a line");
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Reads one response line; None when the connection ends (closed or reset).
    pub fn try_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// The buffered read side, for tests that read answers in bulk.
    pub fn reader(&mut self) -> &mut BufReader<Box<dyn Duplex>> {
        &mut self.reader
    }

    /// A second handle on the socket, for a writer thread (plain TCP only).
    pub fn clone_writer(&self) -> TcpStream {
        assert!(self.binding.is_none(), "a TLS connection has one writer");
        self.tcp.try_clone().expect("clone socket")
    }

    /// `STARTTLS` as the mesh node whose secret key is `key`: 382, then a TLS handshake
    /// that presents `key` and accepts only the node key of the node we connected to.
    /// It names the earlier mesh ALPN protocol, so MESH HELLO/PROVE still authenticate.
    pub fn start_tls(&mut self, key: &ed25519_dalek::SigningKey) {
        self.start_tls_naming(key, newsmesh::tls::MESH_ALPN_HELLO);
    }

    /// STARTTLS naming the mesh ALPN protocol whose TLS handshake authenticates the
    /// session as `key`'s node (no MESH HELLO/PROVE needed), as `sync` does.
    pub fn start_tls_authenticated(&mut self, key: &ed25519_dalek::SigningKey) {
        self.start_tls_naming(key, newsmesh::tls::MESH_ALPN);
    }

    fn start_tls_naming(&mut self, key: &ed25519_dalek::SigningKey, alpn: &[u8]) {
        let line = self.cmd("STARTTLS");
        assert_eq!(Self::code(&line), 382, "STARTTLS answer {line:?}");
        self.handshake_naming(key, alpn).expect("TLS handshake");
    }

    /// The client side of a mesh TLS handshake with `key` (after a 382), naming the
    /// earlier mesh ALPN protocol (MESH HELLO/PROVE follow); the error the handshake
    /// failed with, if it did.
    pub fn handshake(&mut self, key: &ed25519_dalek::SigningKey) -> Result<(), String> {
        self.handshake_naming(key, newsmesh::tls::MESH_ALPN_HELLO)
    }

    fn handshake_naming(
        &mut self,
        key: &ed25519_dalek::SigningKey,
        alpn: &[u8],
    ) -> Result<(), String> {
        use newsmesh::tls;
        let identity = tls::node_identity(key).map_err(|e| e.to_string())?;
        let expected = self.server_key.expect("the node's key");
        let mut config =
            (*tls::mesh_client_config(&identity, expected).map_err(|e| e.to_string())?).clone();
        config.alpn_protocols = vec![alpn.to_vec()];
        let config = std::sync::Arc::new(config);
        let mut conn = tokio_rustls::rustls::ClientConnection::new(config, tls::mesh_server_name())
            .map_err(|e| e.to_string())?;
        let mut tcp = self.tcp.try_clone().expect("clone socket");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        }
        // (A server that refuses our certificate says so only on the next read.)
        let binding = conn
            .export_keying_material([0u8; 32], newsmesh::sign::handshake::BINDING_LABEL, None)
            .map_err(|e| e.to_string())?;
        self.binding = Some(binding);
        self.reader = BufReader::new(Box::new(tokio_rustls::rustls::StreamOwned::new(conn, tcp)));
        Ok(())
    }

    /// The status code of a response line.
    pub fn code(line: &str) -> u16 {
        line.get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not a response line: {line:?}"))
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).expect("write");
        stream.flush().expect("flush");
    }

    /// Sends one command line and reads one response line.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// Reads a dot-terminated block (unstuffed, CRLF kept).
    pub fn block(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            self.reader
                .read_until(b'\n', &mut line)
                .expect("read block");
            assert!(!line.is_empty(), "connection closed inside a block");
            if line == b".\r\n" {
                return out;
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            out.extend_from_slice(line);
        }
    }

    /// `MESH HELLO <key of `key`> <client_nonce>`; asserts 291 and returns its parts.
    pub fn hello(&mut self, key: &ed25519_dalek::SigningKey, client_nonce: &str) -> Hello {
        let text = newsmesh::sign::public_key_text(&key.verifying_key());
        let line = self.cmd(&format!("MESH HELLO {text} {client_nonce}"));
        assert_eq!(Self::code(&line), 291, "MESH HELLO answer {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 4, "291 key nonce signature: {line:?}");
        Hello {
            client_nonce: client_nonce.to_string(),
            server_key: words[1].to_string(),
            server_nonce: words[2].to_string(),
            server_signature: words[3].to_string(),
            binding: self.binding,
        }
    }

    /// The client's proof for a HELLO exchange, signed with `key`.
    pub fn proof(key: &ed25519_dalek::SigningKey, hello: &Hello) -> String {
        use newsmesh::sign::handshake::{Role, Transcript};
        let transcript = Transcript {
            client_key: key.verifying_key(),
            server_key: newsmesh::sign::parse_public_key(&hello.server_key).expect("server key"),
            client_nonce: hello.client_nonce.clone(),
            server_nonce: hello.server_nonce.clone(),
            binding: hello.binding,
        };
        assert!(
            transcript.verify(Role::Server, &hello.server_signature),
            "the server's own proof must verify"
        );
        transcript.sign(Role::Client, key)
    }

    /// Authenticates as the node whose secret key is `key` (STARTTLS unless TLS runs
    /// already, HELLO + PROVE, expects 292).
    pub fn authenticate(&mut self, key: &ed25519_dalek::SigningKey) {
        if self.binding.is_none() {
            self.start_tls(key);
        }
        self.authenticate_plain(key);
    }

    /// HELLO + PROVE as `key` on the connection as it is (plain TCP for a peer with
    /// `tls = false`), expects 292.
    pub fn authenticate_plain(&mut self, key: &ed25519_dalek::SigningKey) {
        let hello = self.hello(key, &newsmesh::sign::handshake::nonce());
        let proof = Self::proof(key, &hello);
        let line = self.cmd(&format!("MESH PROVE {proof}"));
        assert_eq!(Self::code(&line), 292, "MESH PROVE answer {line:?}");
    }

    /// Sends `TAKETHIS <id>` with `article` (wire form), dot-stuffed; does not read.
    pub fn queue_takethis(&mut self, id: &str, article: &[u8]) {
        let mut out = format!("TAKETHIS {id}\r\n").into_bytes();
        newsmesh::protocol::write_block(&mut out, article);
        self.send(&out);
    }

    /// Reads whatever is left until the server closes (after QUIT).
    pub fn drain(mut self) -> String {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        rest
    }
}

/// A TCP connection to `to` from the local address `source` (another 127.x.y.z, to act
/// as a different machine on loopback). Blocking, with a 20 s read timeout.
pub fn connect_from(source: std::net::IpAddr, to: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(source, 0))
            .unwrap_or_else(|e| panic!("bind {source}: {e}"));
        let stream = socket
            .connect(to)
            .await
            .unwrap_or_else(|e| panic!("connect {to} from {source}: {e}"));
        stream.into_std().expect("std stream")
    });
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    stream
}
