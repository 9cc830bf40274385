//! Security of the mesh, driven through real processes and raw NNTP: peers the config
//! does not list, a neighbour presenting the wrong key, replayed authentication, and
//! tampered / unsigned / id-squatting articles from a trusted peer (pushed and pulled).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::fake_peer::FakePeer;
use common::*;
use ed25519_dalek::SigningKey;
use newsmesh::article::{Article, Limits};

#[test]
fn a_node_whose_key_is_not_listed_is_refused_and_nothing_of_it_is_stored() {
    let mut server = Node::init("server");
    let stranger = Node::init("stranger");
    // The stranger lists the server; the server does not list the stranger.
    stranger.add_peer(&server, true, false);
    server.start();
    let theirs = stranger.post(GROUP, "let me in", "stranger body\n");
    let ours = server.post(GROUP, "members only", "server body\n");

    let run = stranger.sync();
    assert_eq!(run.code, Some(1), "{run:#?}");
    let line = run.peer("server");
    assert_eq!(line.get("status"), "failed", "{}", line.raw);
    assert_eq!(line.moved(), (0, 0, 0), "{}", line.raw);
    // Refused in the TLS handshake: the server takes no certificate it does not list.
    let error = line.get("error");
    assert!(
        error.contains("TLS") && error.contains("refuse our certificate"),
        "error names the refused certificate: {error}"
    );
    assert!(!server.has(&theirs));
    assert_eq!(server.history_status(&theirs), None);
    assert_eq!(server.article_count(), 1);
    assert!(!stranger.has(&ours), "nothing is pulled either");

    // By hand: a correct proof of an unlisted key is refused, and feeding stays closed.
    let key = stranger.signing_key();
    let mut raw = RawPeer::connect(&server);
    let hello = raw.hello(&key, &newsmesh::sign::handshake::nonce());
    let proof = RawPeer::proof(&key, &hello);
    let refused = raw.cmd(&format!("MESH PROVE {proof}"));
    assert_eq!(RawPeer::code(&refused), 481, "{refused}");
    assert_eq!(RawPeer::code(&raw.cmd("MODE STREAM")), 203);
    let article = stranger.raw_article(&theirs);
    raw.queue_takethis(&theirs, &article);
    assert_eq!(RawPeer::code(&raw.line()), 480);
    assert_eq!(RawPeer::code(&raw.cmd(&format!("CHECK {theirs}"))), 480);
    assert_eq!(RawPeer::code(&raw.cmd(&format!("IHAVE {theirs}"))), 480);
    assert_eq!(RawPeer::code(&raw.cmd("MESH SINCE none 0 10")), 480);
    assert_eq!(RawPeer::code(&raw.cmd("QUIT")), 205);
    assert!(!server.has(&theirs));
    assert_eq!(server.article_count(), 1);
}

#[test]
fn a_neighbour_presenting_another_key_is_refused_by_the_client() {
    let mut server = Node::init("server");
    let client = Node::init("client");
    let impostor_key_owner = Node::init("other");
    // The server lists the client correctly; the client's config expects another key
    // under the server's name (a spoofed or mistyped entry).
    server.add_peer(&client, true, false);
    let wrong = impostor_key_owner.node_key();
    let addr = server.addr.to_string();
    client
        .cli(&["peer", "add", "server", &wrong, "--address", &addr])
        .ok();
    server.start();
    let from_client = client.post(GROUP, "secret", "not for impostors\n");
    let from_server = server.post(GROUP, "hello", "server body\n");

    let run = client.sync();
    assert_eq!(run.code, Some(1), "{run:#?}");
    let line = run.peer("server");
    assert_eq!(line.get("status"), "failed");
    assert_eq!(line.moved(), (0, 0, 0));
    let error = line.get("error");
    assert!(
        error.contains("node key") && error.contains(&wrong) && error.contains("expects"),
        "error explains the key mismatch: {error}"
    );
    assert!(
        !server.has(&from_client),
        "nothing pushed to an unproven server"
    );
    assert!(!client.has(&from_server), "nothing pulled from it");
    assert_eq!(server.article_count(), 1);
    assert_eq!(client.article_count(), 1);
}

#[test]
fn a_replayed_proof_is_refused_and_the_connection_stays_unauthenticated() {
    let mut server = Node::init("server");
    let peer = Node::init("peer");
    link(&server, &peer, Link::BothDial);
    server.start();
    let key = peer.signing_key();
    let client_nonce = newsmesh::sign::handshake::nonce();

    // A genuine exchange, recorded.
    let mut first = RawPeer::connect(&server);
    first.start_tls(&key);
    let hello = first.hello(&key, &client_nonce);
    let recorded = RawPeer::proof(&key, &hello);
    let ok = first.cmd(&format!("MESH PROVE {recorded}"));
    assert_eq!(RawPeer::code(&ok), 292, "{ok}");
    assert!(ok.contains("peer"), "292 names the peer: {ok}");
    assert_eq!(RawPeer::code(&first.cmd("QUIT")), 205);

    // The same HELLO on a new connection gets a fresh server nonce; the old proof fails.
    let mut replay = RawPeer::connect(&server);
    replay.start_tls(&key);
    let again = replay.hello(&key, &client_nonce);
    assert_ne!(
        again.server_nonce, hello.server_nonce,
        "server nonces are fresh"
    );
    let refused = replay.cmd(&format!("MESH PROVE {recorded}"));
    assert_eq!(RawPeer::code(&refused), 481, "{refused}");
    let since = replay.cmd("MESH SINCE none 0 10");
    assert_eq!(RawPeer::code(&since), 480, "{since}");
    assert_eq!(RawPeer::code(&replay.cmd("MODE STREAM")), 203);
    assert_eq!(RawPeer::code(&replay.cmd("CHECK <x@y>")), 480);
    // The HELLO is used up: a second PROVE needs a new HELLO.
    let proof = RawPeer::proof(&key, &again);
    assert_eq!(
        RawPeer::code(&replay.cmd(&format!("MESH PROVE {proof}"))),
        482
    );

    // The server's own signature reflected back as the client's is refused too.
    let mut reflect = RawPeer::connect(&server);
    reflect.start_tls(&key);
    let hello = reflect.hello(&key, &newsmesh::sign::handshake::nonce());
    let reflected = reflect.cmd(&format!("MESH PROVE {}", hello.server_signature));
    assert_eq!(RawPeer::code(&reflected), 481, "{reflected}");

    // A listed key with a proof signed by someone else is refused.
    let mut forged = RawPeer::connect(&server);
    forged.start_tls(&key);
    let hello = forged.hello(&key, &newsmesh::sign::handshake::nonce());
    let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let transcript = newsmesh::sign::handshake::Transcript {
        client_key: key.verifying_key(),
        server_key: newsmesh::sign::parse_public_key(&hello.server_key).unwrap(),
        client_nonce: hello.client_nonce.clone(),
        server_nonce: hello.server_nonce.clone(),
        binding: hello.binding,
    };
    let forged_proof = transcript.sign(newsmesh::sign::handshake::Role::Client, &other);
    let answer = forged.cmd(&format!("MESH PROVE {forged_proof}"));
    assert_eq!(RawPeer::code(&answer), 481, "{answer}");
    assert_eq!(RawPeer::code(&forged.cmd("MESH SINCE none 0 10")), 480);

    // PROVE without HELLO.
    let mut early = RawPeer::connect(&server);
    assert_eq!(
        RawPeer::code(&early.cmd(&format!("MESH PROVE {recorded}"))),
        482
    );
}

/// Bad variants of a genuine article: (label, Message-ID it claims, wire form).
fn forgeries(genuine: &[u8], squatted_id: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let parse = || Article::parse(genuine, &Limits::default()).expect("genuine parses");
    let id = parse().message_id().unwrap().to_string();

    let mut body_changed = genuine.to_vec();
    let body_at = genuine
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator")
        + 4;
    body_changed[body_at] ^= 0x20; // flip the case of the first body letter

    let mut subject_changed = parse();
    subject_changed.set_header("Subject", "rewritten in transit");

    let mut unsigned = parse();
    unsigned.remove_header(newsmesh::sign::signature::SIGNATURE_HEADER);

    let mut squat = parse();
    squat.set_header("Message-ID", squatted_id);

    vec![
        ("tampered body", id.clone(), body_changed),
        ("tampered subject", id.clone(), subject_changed.to_bytes()),
        ("unsigned", id, unsigned.to_bytes()),
        ("squatting", squatted_id.to_string(), squat.to_bytes()),
    ]
}

#[test]
fn tampered_unsigned_and_squatting_articles_from_a_trusted_peer_are_refused_and_not_relayed() {
    // peer -> server -> third. peer is trusted by server; the test speaks as peer.
    let mut server = Node::init("server");
    let peer = Node::init("peer");
    let mut third = Node::init("third");
    link(&server, &peer, Link::BothDial);
    link(&server, &third, Link::BothDial);
    server.start();
    third.start();
    let victim = peer.post(GROUP, "the real one", "this id belongs to me\n");
    let donor = peer.post(GROUP, "donor", "donor body\n");
    let victim_raw = peer.raw_article(&victim);
    let donor_raw = peer.raw_article(&donor);
    let bad = forgeries(&donor_raw, &victim);

    let mut conn = RawPeer::connect(&server);
    conn.authenticate(&peer.signing_key());
    assert_eq!(RawPeer::code(&conn.cmd("MODE STREAM")), 203);
    for (_, id, raw) in &bad {
        conn.queue_takethis(id, raw);
    }
    for (label, id, _) in &bad {
        let answer = conn.line();
        assert!(
            answer.starts_with(&format!("439 {id}")),
            "{label} article: answer {answer:?}"
        );
    }
    // A genuine article under a TAKETHIS naming another id must not acknowledge that id.
    conn.queue_takethis(&victim, &donor_raw);
    let answer = conn.line();
    assert!(
        answer.starts_with(&format!("439 {victim}")),
        "239 {victim} would acknowledge an article that was not sent: {answer:?}"
    );
    // The same through RFC 3977 IHAVE.
    assert_eq!(RawPeer::code(&conn.cmd(&format!("IHAVE {victim}"))), 335);
    let mut block = Vec::new();
    newsmesh::protocol::write_block(&mut block, &donor_raw);
    conn.send(&block);
    let answer = conn.line();
    assert_eq!(
        RawPeer::code(&answer),
        437,
        "IHAVE {victim} with another article: {answer:?}"
    );
    // History was not poisoned: both ids are still wanted.
    for id in [&victim, &donor] {
        let answer = conn.cmd(&format!("CHECK {id}"));
        assert!(answer.starts_with(&format!("238 {id}")), "{answer:?}");
    }
    assert_eq!(RawPeer::code(&conn.cmd("QUIT")), 205);

    for id in [&victim, &donor] {
        assert!(
            server.read_id(id).is_none(),
            "server shows a forgery of {id}"
        );
        assert_eq!(server.history_status(id), None, "{id} in history");
    }
    assert_eq!(server.article_count(), 0);

    // Nothing bad travels on: the server's sync to third moves only its own article.
    let own = server.post(GROUP, "clean", "server's own\n");
    let run = server.sync_args(&["--peer", "third"]);
    run.assert_ok();
    assert_eq!(run.peer("third").moved(), (1, 0, 0), "{run:#?}");
    assert_eq!(third.message_ids(), vec![own.clone()]);

    // The genuine articles, squatted and tampered ids included, still get through.
    let run = peer.sync_args(&["--peer", "server"]);
    run.assert_ok();
    assert_eq!(run.peer("server").moved(), (2, 1, 0), "{run:#?}");
    let run = server.sync_args(&["--peer", "third"]);
    run.assert_ok();
    assert_eq!(run.peer("third").moved(), (2, 0, 0), "{run:#?}");
    for node in [&server, &third] {
        for (id, raw, body) in [
            (&victim, &victim_raw, "this id belongs to me\n"),
            (&donor, &donor_raw, "donor body\n"),
        ] {
            let shown = node.read_id(id).unwrap();
            assert!(
                shown.starts_with("Verified: signature valid"),
                "{}: {shown}",
                node.name
            );
            assert!(shown.ends_with(&format!("\n\n{body}")), "{shown}");
            let stored = node.raw_article(id);
            let sig = |raw: &[u8]| {
                Article::parse(raw, &Limits::default())
                    .unwrap()
                    .header("Newsmesh-Signature")
                    .map(str::to_string)
            };
            assert_eq!(sig(&stored), sig(raw), "{}: {id}", node.name);
        }
        assert_eq!(node.article_count(), 3, "{}", node.name);
    }
}

/// A fake neighbour "evil" that proves `key`, lists every forged id on `MESH SINCE`, and
/// answers `ARTICLE <id>` in its n-th session with the n-th forgery claiming that id (the
/// last one when there are fewer). The count of sessions (MODE STREAM) comes with it.
fn evil_peer(key: SigningKey, forged: Vec<(String, Vec<u8>)>) -> (FakePeer, Arc<AtomicUsize>) {
    let sessions = Arc::new(AtomicUsize::new(0));
    let counted = sessions.clone();
    let fake = FakePeer::start_as(key, move |words| match words {
        ["MODE", "STREAM"] => {
            counted.fetch_add(1, Ordering::SeqCst);
            None
        }
        ["MESH", "SINCE", ..] => {
            let mut r = format!("293 evilepoch {} 0\r\n", forged.len()).into_bytes();
            for (id, _) in &forged {
                r.extend_from_slice(format!("{id}\r\n").as_bytes());
            }
            r.extend_from_slice(b".\r\n");
            Some(r)
        }
        ["ARTICLE", id] => {
            let round = counted.load(Ordering::SeqCst).saturating_sub(1);
            let claims: Vec<&Vec<u8>> = forged
                .iter()
                .filter(|(claimed, _)| claimed == id)
                .map(|(_, raw)| raw)
                .collect();
            let raw = claims.get(round.min(claims.len().saturating_sub(1)))?;
            let mut r = format!("220 0 {id}\r\n").into_bytes();
            newsmesh::protocol::write_block(&mut r, raw);
            Some(r)
        }
        _ => None,
    });
    (fake, sessions)
}

#[test]
fn forgeries_pulled_from_a_neighbour_are_refused_too() {
    // client pulls from "evil", a listed neighbour that serves forgeries; then the
    // genuine articles arrive from an honest neighbour.
    let mut source = Node::init("source");
    let client = Node::init("client");
    let evil_identity = Node::init("evil");
    let victim = source.post(GROUP, "the real one", "this id belongs to me\n");
    let donor = source.post(GROUP, "donor", "donor body\n");
    let bad = forgeries(&source.raw_article(&donor), &victim);

    let forged: Vec<(String, Vec<u8>)> = bad
        .iter()
        .map(|(_, id, raw)| (id.clone(), raw.clone()))
        .collect();
    // Three syncs: the donor's id comes back tampered in body, in subject, then
    // unsigned; the victim's id is squatted each time.
    let (evil, sessions) = evil_peer(evil_identity.signing_key(), forged);
    let addr = evil.addr.to_string();
    client
        .cli(&[
            "peer",
            "add",
            "evil",
            &evil_identity.node_key(),
            "--address",
            &addr,
            "--no-tls",
        ])
        .ok();
    for round in 0..3 {
        let run = client.sync();
        run.assert_ok();
        // Each distinct id fetched once per sync, both refused, neither remembered.
        assert_eq!(
            run.peer("evil").moved(),
            (0, 0, 2),
            "round {round}: {run:#?}"
        );
        assert_eq!(
            sessions.load(Ordering::SeqCst),
            round + 1,
            "one session a sync"
        );
        assert_eq!(client.article_count(), 0);
        for id in [&victim, &donor] {
            assert!(client.read_id(id).is_none());
            assert_eq!(client.history_status(id), None, "{id} in history");
        }
    }

    // The genuine articles still arrive from an honest neighbour.
    client.cli(&["peer", "remove", "evil"]).ok();
    link(&client, &source, Link::BothDial);
    source.start();
    let run = client.sync();
    run.assert_ok();
    assert_eq!(run.peer("source").moved(), (0, 2, 0), "{run:#?}");
    for id in [&victim, &donor] {
        let shown = client.read_id(id).unwrap();
        assert!(shown.starts_with("Verified: signature valid"), "{shown}");
    }
    assert!(client
        .read_id(&victim)
        .unwrap()
        .ends_with("\n\nthis id belongs to me\n"));
}
