//! Mesh links and readers over TLS (issue 11), against real `serve` and `sync`
//! processes: a mesh syncs over TLS by default; a node presenting another key is
//! refused by both sides; a MESH authentication relayed into another TLS connection
//! fails; what a forwarding proxy sees of a link holds no article text or Message-ID;
//! AUTHINFO in clear from another machine gets 483; the TLS handshake is the mesh
//! authentication, so a no-op sync over TLS stays under the brief's 2 KB.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::*;
use newsmesh::sign::handshake::{Role, Transcript};

/// A TCP forwarder to `to` that keeps a copy of every byte it passes, both ways: what
/// anyone on the path between two nodes sees.
struct Tap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    fn start(to: SocketAddr) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tap");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(to) else {
                    continue;
                };
                for (mut from, mut into) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let log = Arc::clone(&log);
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || into.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            log.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        let _ = into.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Tap { addr, seen }
    }

    fn saw(&self, text: &str) -> bool {
        let seen = self.seen.lock().unwrap();
        seen.windows(text.len()).any(|w| w == text.as_bytes())
    }
}

/// `peer remove NAME`, then `peer add NAME KEY --address ADDRESS [extra...]` on `on`.
fn repoint(on: &Node, name: &str, key: &str, address: &str, extra: &[&str]) {
    on.cli(&["peer", "remove", name]).ok();
    let mut args = vec!["peer", "add", name, key, "--address", address];
    args.extend_from_slice(extra);
    on.cli(&args).ok();
}

#[test]
fn a_three_node_mesh_syncs_over_tls_by_default() {
    let mut nodes = [Node::init("one"), Node::init("two"), Node::init("three")];
    link(&nodes[0], &nodes[1], Link::BothDial);
    link(&nodes[1], &nodes[2], Link::BothDial);
    for node in &mut nodes {
        node.start();
    }
    let from_one = nodes[0].post(GROUP, "over tls", "carried encrypted\n");
    let from_three = nodes[2].post(GROUP, "back over tls", "also encrypted\n");
    let all: Vec<&Node> = nodes.iter().collect();
    for _ in 0..2 {
        for run in sync_round(&all) {
            for line in &run.lines {
                assert!(line.is_ok(), "{}", line.raw);
                assert_eq!(line.get("tls"), "yes", "{}", line.raw);
            }
        }
    }
    for node in &nodes {
        assert!(
            node.has(&from_one) && node.has(&from_three),
            "{}",
            node.name
        );
    }
}

#[test]
fn a_node_presenting_another_key_is_refused_by_both_sides() {
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    let mut mallory = Node::init("mallory");
    link(&alpha, &beta, Link::BothDial);
    beta.start();
    mallory.start();
    let ours = alpha.post(GROUP, "for beta only", "not for mallory\n");

    // The dialling side: alpha reaches an address where mallory answers (a hijacked
    // address, or a TLS-terminating proxy with its own key) and refuses its key.
    let beta_key = beta.node_key();
    repoint(&alpha, "beta", &beta_key, &mallory.addr.to_string(), &[]);
    let run = alpha.sync();
    let line = run.peer("beta");
    assert_eq!(line.get("status"), "failed", "{}", line.raw);
    assert!(
        line.get("error").contains(&beta_key),
        "the error names the key the config lists: {}",
        line.raw
    );
    assert!(!mallory.has(&ours));

    // The accepting side: mallory dials beta with its own key, and beta, which lists
    // no such key, refuses it in the TLS handshake.
    mallory
        .cli(&[
            "peer",
            "add",
            "beta",
            &beta_key,
            "--address",
            &beta.addr.to_string(),
        ])
        .ok();
    let theirs = mallory.post(GROUP, "let me in", "from mallory\n");
    let run = mallory.sync();
    let line = run.peer("beta");
    assert_eq!(line.get("status"), "failed", "{}", line.raw);
    assert_eq!(line.moved(), (0, 0, 0), "{}", line.raw);
    assert!(!beta.has(&theirs));
    // By hand: its certificate is refused before a single NNTP command is read.
    let mut raw = RawPeer::connect(&beta);
    assert_eq!(RawPeer::code(&raw.cmd("STARTTLS")), 382);
    raw.handshake(&mallory.signing_key())
        .expect("our half completes");
    assert_eq!(
        raw.try_line(),
        None,
        "beta must close on a key it does not list"
    );
}

#[test]
fn a_mesh_authentication_relayed_into_another_tls_connection_fails() {
    // mallory is a configured neighbour of beta (its TLS key is accepted) and tries to
    // pass as alice by relaying alice's handshake.
    let alice = Node::init("alice");
    let mut beta = Node::init("beta");
    let mallory = Node::init("mallory");
    link(&alice, &beta, Link::BothDial);
    link(&mallory, &beta, Link::BothDial);
    beta.start();
    let (alice_key, mallory_key) = (alice.signing_key(), mallory.signing_key());

    for alice_is_on_tls in [false, true] {
        let mut relay = RawPeer::connect(&beta);
        relay.start_tls(&mallory_key);
        // mallory sends alice's HELLO (alice's key, alice's nonce)...
        let hello = relay.hello(&alice_key, &newsmesh::sign::handshake::nonce());
        // ...and alice signs what she is shown, on her own connection: in clear (a
        // link that opted out of TLS) or on another TLS connection.
        let mut own = RawPeer::connect(&beta);
        if alice_is_on_tls {
            own.start_tls(&alice_key);
        }
        let transcript = Transcript {
            client_key: alice_key.verifying_key(),
            server_key: newsmesh::sign::parse_public_key(&hello.server_key).unwrap(),
            client_nonce: hello.client_nonce.clone(),
            server_nonce: hello.server_nonce.clone(),
            binding: own.hello(&alice_key, "x").binding,
        };
        // (An honest alice would not even sign: the server's proof, made for mallory's
        // connection, does not verify on hers.)
        assert!(!transcript.verify(Role::Server, &hello.server_signature));
        let relayed = transcript.sign(Role::Client, &alice_key);
        let answer = relay.cmd(&format!("MESH PROVE {relayed}"));
        assert_eq!(RawPeer::code(&answer), 481, "{answer}");
        assert_eq!(RawPeer::code(&relay.cmd("MESH SINCE none 0 10")), 480);
    }
    // mallory's own authentication on the same kind of connection works.
    let mut honest = RawPeer::connect(&beta);
    honest.authenticate(&mallory_key);
    // A configured peer that has not opted out cannot authenticate in clear.
    let mut clear = RawPeer::connect(&beta);
    let hello = clear.hello(&alice_key, &newsmesh::sign::handshake::nonce());
    let proof = RawPeer::proof(&alice_key, &hello);
    let answer = clear.cmd(&format!("MESH PROVE {proof}"));
    assert_eq!(RawPeer::code(&answer), 483, "{answer}");
}

#[test]
fn a_tap_between_two_nodes_sees_no_article_text_or_message_id() {
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    beta.start();
    let tap = Tap::start(beta.addr);
    repoint(&alpha, "beta", &beta.node_key(), &tap.addr.to_string(), &[]);
    let body = "the minutes of the private meeting\n";
    let id = alpha.post(GROUP, "private", body);
    let run = alpha.sync();
    let line = run.peer("beta");
    assert!(line.is_ok() && line.get("tls") == "yes", "{}", line.raw);
    assert_eq!(line.num("sent"), 1, "{}", line.raw);
    assert!(beta.has(&id));
    assert!(
        !tap.saw("minutes of the private meeting"),
        "article text in clear"
    );
    assert!(!tap.saw(&id), "Message-ID in clear");

    // The same tap on a link that opted out of TLS sees everything (so it does look).
    beta.stop();
    repoint(
        &beta,
        "alpha",
        &alpha.node_key(),
        &alpha.addr.to_string(),
        &["--no-tls"],
    );
    beta.start();
    repoint(
        &alpha,
        "beta",
        &beta.node_key(),
        &tap.addr.to_string(),
        &["--no-tls"],
    );
    // (Compression would hide the text from a glance too: off for this look.)
    alpha.set_peer_option("beta", "compress", false);
    let id = alpha.post(GROUP, "not private", "the minutes of the open meeting\n");
    let run = alpha.sync();
    let line = run.peer("beta");
    assert!(line.is_ok() && line.get("tls") == "no", "{}", line.raw);
    assert!(tap.saw("minutes of the open meeting") && tap.saw(&id));
}

#[test]
fn authinfo_in_clear_from_another_machine_gets_483() {
    let mut node = Node::init("alpha");
    node.cli_stdin(&["user", "add", "ann"], b"secret pw\n").ok();
    node.start();
    let other_machine = IpAddr::from([127, 0, 0, 2]);
    let stream = connect_from(other_machine, node.addr);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    let mut cmd = |text: &str, reader: &mut BufReader<TcpStream>| -> String {
        stream.write_all(format!("{text}\r\n").as_bytes()).unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    };
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    let caps = cmd("CAPABILITIES", &mut reader);
    assert!(caps.starts_with("101"), "{caps}");
    let mut listed = Vec::new();
    loop {
        let mut l = String::new();
        reader.read_line(&mut l).unwrap();
        if l.trim_end() == "." {
            break;
        }
        listed.push(l.trim_end().to_string());
    }
    assert!(listed.iter().any(|c| c == "STARTTLS"), "{listed:?}");
    assert!(
        !listed.iter().any(|c| c.starts_with("AUTHINFO")),
        "{listed:?}"
    );
    let answer = cmd("AUTHINFO USER ann", &mut reader);
    assert!(answer.starts_with("483 "), "{answer}");
    let answer = cmd("AUTHINFO PASS secret pw", &mut reader);
    assert!(answer.starts_with("483 "), "{answer}");

    // From this machine's own address the same login works (it never left the host).
    let mut local = RawPeer::connect(&node);
    assert_eq!(RawPeer::code(&local.cmd("AUTHINFO USER ann")), 381);
    assert_eq!(RawPeer::code(&local.cmd("AUTHINFO PASS secret pw")), 281);

    // The operator may allow it.
    node.stop();
    node.set_config("allow_plaintext_auth", "true");
    node.start();
    let stream = connect_from(other_machine, node.addr);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    stream.write_all(b"AUTHINFO USER ann\r\n").unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    assert!(answer.starts_with("381 "), "{answer}");
}

#[test]
fn a_no_op_sync_over_tls_stays_under_2_kb() {
    // The brief's no-op target (2 KB, handshake included) on the default link (TLS and
    // DEFLATE) and on TLS alone; it was 2,469 and 2,335 bytes while the certificates
    // carried the key in their names and MESH HELLO/PROVE followed the TLS handshake.
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    link(&a, &b, Link::BothDial);
    a.start();
    b.start();
    a.post(GROUP, "before", "so that marks exist\n");
    for compress in [true, false] {
        if !compress {
            let path = a.config_path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
            doc["peer"][0]["compress"] = toml_edit::value(false);
            std::fs::write(&path, doc.to_string()).unwrap();
        }
        a.sync().assert_ok();
        let run = a.sync();
        run.assert_ok();
        let line = run.peer("b");
        assert_eq!(line.get("tls"), "yes", "{}", line.raw);
        assert_eq!(line.moved(), (0, 0, 0), "{}", line.raw);
        eprintln!("no-op sync, compress {compress}: {}", line.raw);
        let bytes: u64 = line.get("bytes").parse().unwrap();
        assert!(
            bytes < 2000,
            "no-op sync (compress {compress}): {}",
            line.raw
        );
    }
}

#[test]
fn the_tls_handshake_authenticates_a_mesh_session() {
    let mut beta = Node::init("beta");
    let alice = Node::init("alice");
    link(&alice, &beta, Link::BothDial);
    beta.start();
    // Naming the current mesh ALPN, the handshake with a listed key is the login.
    let mut peer = RawPeer::connect(&beta);
    peer.start_tls_authenticated(&alice.signing_key());
    let since = peer.cmd("MESH SINCE none 0 10");
    assert_eq!(RawPeer::code(&since), 293, "{since}");
    // Naming the earlier one (a node from before), MESH HELLO/PROVE are still needed.
    let mut older = RawPeer::connect(&beta);
    older.start_tls(&alice.signing_key());
    assert_eq!(RawPeer::code(&older.cmd("MESH SINCE none 0 10")), 480);
    older.authenticate_plain(&alice.signing_key());
    assert_eq!(RawPeer::code(&older.cmd("MESH SINCE none 0 10")), 293);
    // A key beta does not list gets no session either way.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut raw = RawPeer::connect(&beta);
    assert_eq!(RawPeer::code(&raw.cmd("STARTTLS")), 382);
    let _ = raw.handshake(&stranger);
    assert_eq!(
        raw.try_line(),
        None,
        "beta must close on a key it does not list"
    );
}
