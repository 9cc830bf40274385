//! A fake mesh neighbour, for tests of how `sync` copes with a broken or hostile peer:
//! a std-thread server on 127.0.0.1 that proves its node key in the `MESH HELLO` /
//! `MESH PROVE` handshake exactly as `serve` does (so the node under test accepts it),
//! then answers every further command with a script of the test's choosing.
//!
//! Reached as `common::fake_peer`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use newsmesh::sign::handshake::{nonce, Role, Transcript};
use newsmesh::sign::{parse_public_key, public_key_text};

/// The script: given a command's words (after the handshake), the bytes to answer, or
/// None for the default answer (MODE STREAM: 203, QUIT: 205 and close, ARTICLE: 430,
/// anything else: 500).
pub type Script = dyn Fn(&[&str]) -> Option<Vec<u8>> + Send + Sync;

/// A running fake neighbour; it serves every connection until the test process ends.
pub struct FakePeer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its node key.
    pub key: SigningKey,
}

impl FakePeer {
    /// Starts a fake neighbour with a fresh node key, answering by `script`.
    pub fn start(script: impl Fn(&[&str]) -> Option<Vec<u8>> + Send + Sync + 'static) -> FakePeer {
        FakePeer::start_as(SigningKey::generate(&mut rand_core::OsRng), script)
    }

    /// Starts a fake neighbour that proves `key` (a real node's, to impersonate it),
    /// answering by `script`.
    pub fn start_as(
        key: SigningKey,
        script: impl Fn(&[&str]) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake peer");
        let addr = listener.local_addr().expect("local addr");
        let script: Arc<Script> = Arc::new(script);
        let server_key = key.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (key, script) = (server_key.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &key, &*script));
            }
        });
        FakePeer { addr, key }
    }

    /// Its node key as `peer add` takes it.
    pub fn key_text(&self) -> String {
        public_key_text(&self.key.verifying_key())
    }
}

/// One connection: greeting, handshake, then the script until QUIT or the client leaves.
fn serve(stream: TcpStream, key: &SigningKey, script: &Script) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    if out.write_all(b"200 fake peer ready\r\n").is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["MESH", "HELLO", client_key, client_nonce] => hello(key, client_key, client_nonce),
            ["MESH", "PROVE", _] => b"292 client authenticated\r\n".to_vec(),
            _ => script(&words).unwrap_or_else(|| match words.as_slice() {
                ["MODE", "STREAM"] => b"203 streaming\r\n".to_vec(),
                ["QUIT"] => b"205 bye\r\n".to_vec(),
                ["ARTICLE", id] => format!("430 no {id}\r\n").into_bytes(),
                _ => b"500 what\r\n".to_vec(),
            }),
        };
        if out.write_all(&reply).is_err() || words.first() == Some(&"QUIT") {
            return;
        }
    }
}

/// The server's half of the handshake: its key, a fresh nonce and its signature.
fn hello(key: &SigningKey, client_key: &str, client_nonce: &str) -> Vec<u8> {
    let Ok(client_key) = parse_public_key(client_key) else {
        return b"501 bad key\r\n".to_vec();
    };
    let transcript = Transcript {
        client_key,
        server_key: key.verifying_key(),
        client_nonce: client_nonce.to_string(),
        server_nonce: nonce(),
        binding: None,
    };
    format!(
        "291 {} {} {}\r\n",
        public_key_text(&key.verifying_key()),
        transcript.server_nonce,
        transcript.sign(Role::Server, key)
    )
    .into_bytes()
}
