//! Relay decisions from local facts, through real nodes: which neighbour delivered an
//! article is recorded by the node that stores it, and only that (or, with no record,
//! the head of Path) keeps it from being offered or listed back. Path is not signed, so
//! a relay that writes neighbours' names into it must not keep the article from them.

mod common;

use common::*;
use newsmesh::article::{Article, Limits};

/// `raw` with its Path header replaced (the signature does not cover Path).
fn with_path(raw: &[u8], path: &str) -> Vec<u8> {
    let mut article = Article::parse(raw, &Limits::default()).expect("article parses");
    article.set_header("Path", path);
    article.to_bytes()
}

/// The neighbour a node recorded as having delivered `id` (None: nobody, or not there).
fn delivered_by(node: &Node, id: &str) -> Option<String> {
    node.db()
        .query_row(
            "SELECT delivered_by FROM articles WHERE msgid = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("delivered_by")
}

/// The Message-IDs `b` lists to the neighbour holding `key` after arrival `seq`,
/// asked as that neighbour with `MESH SINCE` under b's current epoch.
fn listed_to(b: &Node, key: &ed25519_dalek::SigningKey) -> Vec<String> {
    let mut raw = RawPeer::connect(b);
    raw.authenticate(key);
    // "none" lists everything unfiltered; it also tells us b's epoch.
    let first = raw.cmd("MESH SINCE none 0 100");
    assert_eq!(RawPeer::code(&first), 293, "{first}");
    raw.block();
    let epoch = first.split_whitespace().nth(1).expect("epoch").to_string();
    let answer = raw.cmd(&format!("MESH SINCE {epoch} 0 100"));
    assert_eq!(RawPeer::code(&answer), 293, "{answer}");
    let ids = String::from_utf8(raw.block()).expect("ids are text");
    assert_eq!(RawPeer::code(&raw.cmd("QUIT")), 205);
    ids.lines().map(str::to_string).collect()
}

/// Finding (issue 10, 3): a relay that adds neighbour names to Path stopped the article
/// from ever being offered (push) or listed (MESH SINCE) to those neighbours.
#[test]
fn a_relay_that_writes_neighbours_into_path_does_not_keep_the_article_from_them() {
    // hostile -> b; c pulls from b (c dials b), b pushes to d (b dials d).
    let mut b = Node::init("b");
    let c = Node::init("c");
    let mut d = Node::init("d");
    let hostile = Node::init("hostile");
    b.add_peer(&hostile, false, false);
    b.add_peer(&c, false, false);
    c.add_peer(&b, true, false);
    b.add_peer(&d, true, false);
    d.add_peer(&b, false, false);
    b.start();
    d.start();

    // Two genuine, signed articles; the relay claims in Path that c and d have them,
    // once deeper in Path and once at its head (without naming itself).
    let deep = hostile.post(GROUP, "deep in path", "first\n");
    let head = hostile.post(GROUP, "at the head", "second\n");
    let poisoned = [
        (
            deep.clone(),
            with_path(&hostile.raw_article(&deep), "hostile!c!d!not-for-mail"),
        ),
        (
            head.clone(),
            with_path(&hostile.raw_article(&head), "c!d!not-for-mail"),
        ),
    ];
    let mut feed = RawPeer::connect(&b);
    feed.authenticate(&hostile.signing_key());
    assert_eq!(RawPeer::code(&feed.cmd("MODE STREAM")), 203);
    for (id, raw) in &poisoned {
        feed.queue_takethis(id, raw);
        let answer = feed.line();
        assert_eq!(RawPeer::code(&answer), 239, "{answer}");
    }
    assert_eq!(RawPeer::code(&feed.cmd("QUIT")), 205);
    for id in [&deep, &head] {
        assert_eq!(delivered_by(&b, id).as_deref(), Some("hostile"), "{id}");
    }

    // Listed to c for its pull, but not back to the relay that delivered them.
    let to_c = listed_to(&b, &c.signing_key());
    assert!(to_c.contains(&deep) && to_c.contains(&head), "{to_c:?}");
    assert_eq!(listed_to(&b, &hostile.signing_key()), Vec::<String>::new());

    // c gets both by its next sync (pull), d by b's next sync (push).
    let pulled = c.sync();
    pulled.assert_ok();
    assert_eq!(
        pulled.peer("b").moved(),
        (0, 2, 0),
        "{}",
        pulled.peer("b").raw
    );
    let pushed = b.sync();
    pushed.assert_ok();
    assert_eq!(
        pushed.peer("d").moved(),
        (2, 0, 0),
        "{}",
        pushed.peer("d").raw
    );
    for (node, name) in [(&c, "c"), (&d, "d")] {
        for id in [&deep, &head] {
            assert!(node.has(id), "{name} lacks {id}");
            assert_eq!(delivered_by(node, id).as_deref(), Some("b"), "{name} {id}");
        }
    }

    // An rnews export for c carries them too.
    let batch = b.home().join("to-c.rnews");
    let export = b.cli(&["export", "--to", "c", "--file", batch.to_str().unwrap()]);
    let export = export.ok();
    assert!(
        export.stderr_text().contains("exported=2"),
        "{}",
        export.stderr_text()
    );
}

/// A plain news server's feed into `serve` (here an unsigned article its
/// `unsigned_groups` admit) is recorded as delivered by that `[[nntp_peer]]`, so it is
/// not offered back to it.
#[test]
fn a_news_servers_feed_is_recorded_as_delivered_by_it() {
    let mut b = Node::init("b");
    b.set_config("accept_unsigned", "true");
    b.add_nntp_peer_unsigned("inn.example", None, &["127.0.0.2"], "*", "mesh.*");
    b.start();
    let mut inn = RawPeer::connect_from(b.addr, "127.0.0.2".parse().unwrap());
    let id = "<unsigned-1@inn.example>";
    let answer = inn.cmd(&format!("IHAVE {id}"));
    assert_eq!(RawPeer::code(&answer), 335, "{answer}");
    let article = format!(
        "Path: inn.example!not-for-mail\r\nFrom: someone@example.org\r\nNewsgroups: mesh.test\r\n\
         Subject: from a plain news server\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: {id}\r\n\r\nhello\r\n"
    );
    let mut data = Vec::new();
    newsmesh::protocol::write_block(&mut data, article.as_bytes());
    inn.send(&data);
    let answer = inn.line();
    assert_eq!(RawPeer::code(&answer), 235, "{answer}");
    assert_eq!(delivered_by(&b, id).as_deref(), Some("inn.example"));
}

/// Issue 21, finding 2: a neighbour's sequence number above i64::MAX was converted with
/// `as i64` and wrapped negative (SINCE listed everything from the start; IDLE ended
/// every wait at once). It is refused as out of range.
#[test]
fn a_sequence_number_beyond_ours_is_refused_not_wrapped() {
    let mut b = Node::init("b");
    let c = Node::init("c");
    b.add_peer(&c, false, false);
    b.start();
    b.post(GROUP, "listed", "only to a sane request\n");
    let mut raw = RawPeer::connect(&b);
    raw.authenticate(&c.signing_key());
    let first = raw.cmd("MESH SINCE none 0 100");
    assert_eq!(RawPeer::code(&first), 293, "{first}");
    raw.block();
    let epoch = first.split_whitespace().nth(1).expect("epoch").to_string();
    let wrapped = 1u64 << 63;
    let answer = raw.cmd(&format!("MESH SINCE {epoch} {wrapped} 100"));
    assert_eq!(RawPeer::code(&answer), 501, "{answer}");
    let answer = raw.cmd(&format!("MESH IDLE {}", u64::MAX));
    assert_eq!(RawPeer::code(&answer), 501, "{answer}");
    assert_eq!(RawPeer::code(&raw.cmd("QUIT")), 205);
}
