//! Only untouched, correctly signed articles get in, and tampering is visible: articles
//! carried between nodes (through `ingest`, as import and sync do) are stored only when
//! intact, a Message-ID claimed by other content blocks nothing, and bytes changed in the
//! spool show up as a mismatch or a bad signature when read.

mod common;

use common::*;
use newsmesh::article::{Article, Limits};
use newsmesh::ingest::Verdict;
use newsmesh::sign::{self, SigStatus};

#[test]
fn an_article_carried_to_another_node_is_stored_only_when_untouched() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let id = alpha.post("mesh.test", "Carried", b"hello beta\nsecond line\n");
    let raw = stored_raw(&alpha, &id);

    // One body byte changed: refused, and the id is NOT written to history...
    let tampered = with_body_byte_changed(&raw);
    assert_refused(
        ingest_into(&beta, &tampered),
        "Message-ID does not match the content",
    );
    assert_eq!(history(&beta, &id), None, "a forgery must not block the id");
    beta.cli(&["read", &id]).failure();

    // ...so the genuine article can still arrive afterwards.
    assert!(
        matches!(ingest_into(&beta, &raw), Verdict::Stored(_)),
        "genuine article refused"
    );
    let on_beta = Article::parse(&stored_raw(&beta, &id), &Limits::default()).unwrap();
    assert!(matches!(sign::check(&on_beta), SigStatus::Valid { .. }));
    assert_eq!(on_beta.path_entries()[..2], ["beta", "alpha"]);
    assert_eq!(
        history(&beta, &id).map(|(status, _)| status).as_deref(),
        Some("stored")
    );
    beta.cli(&["read", &id])
        .success()
        .stdout_has("signature valid")
        .stdout_has("Path: beta!alpha!");
    assert_eq!(
        shown_body(&beta.cli(&["read", &id]).stdout),
        b"hello beta\nsecond line\n"
    );

    // Offered again (another neighbour, a re-sync): a duplicate, stored once.
    assert_eq!(ingest_into(&beta, &raw), Verdict::Duplicate);
    assert_eq!(group_counts(&beta), [("mesh.test".to_string(), 1)]);
}

#[test]
fn a_message_id_claimed_by_other_content_is_refused_and_blocks_nothing() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let id_a = alpha.post("mesh.test", "Article A", b"content A\n");
    let id_b = alpha.post("mesh.test", "Article B", b"content B\n");
    let raw_a = stored_raw(&alpha, &id_a);
    let raw_b = stored_raw(&alpha, &id_b);

    // A's content under B's id (squatting B before B arrives).
    let squat = with_header(&raw_a, "Message-ID", &id_b);
    assert_refused(ingest_into(&beta, &squat), "Message-ID does not match");
    // A's content under a made-up id of the right shape.
    let made_up = format!("<{}@newsmesh>", "a".repeat(52));
    assert!(is_newsmesh_id(&made_up));
    let fake = with_header(&raw_a, "Message-ID", &made_up);
    assert_refused(ingest_into(&beta, &fake), "Message-ID does not match");

    for id in [&id_a, &id_b, &made_up] {
        assert_eq!(history(&beta, id), None, "{id} entered history");
    }
    assert_eq!(group_counts(&beta), [("mesh.test".to_string(), 0)]);

    // The real B (and A) still arrive.
    assert!(matches!(ingest_into(&beta, &raw_b), Verdict::Stored(_)));
    assert!(matches!(ingest_into(&beta, &raw_a), Verdict::Stored(_)));
    assert_eq!(group_counts(&beta), [("mesh.test".to_string(), 2)]);
}

#[test]
fn a_valid_signature_from_an_untrusted_key_to_a_restricted_group_is_refused() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    // beta: only beta's own author key may post to mesh.announce.
    beta.add_trust("mesh.announce", &[&beta.author_key()]);
    for node in [&alpha, &beta] {
        node.cli(&["groups", "--add", "mesh.announce"]).success();
    }
    // alpha's policy (mesh.* open to any key) lets alpha post there.
    let announce = alpha.post("mesh.announce", "Announcement", b"hear ye\n");
    let chat = alpha.post("mesh.test", "Chat", b"hello\n");

    let why = assert_refused(
        ingest_into(&beta, &stored_raw(&alpha, &announce)),
        "may not post to mesh.announce",
    );
    assert!(why.contains(&alpha.author_key()), "names the key: {why}");
    beta.cli(&["read", &announce]).failure();
    // The verdict depends on the signed content alone, so it is remembered.
    assert_eq!(
        history(&beta, &announce)
            .map(|(status, _)| status)
            .as_deref(),
        Some("refused")
    );
    assert_eq!(
        ingest_into(&beta, &stored_raw(&alpha, &announce)),
        Verdict::Duplicate
    );

    // The same key is fine in an open group.
    assert!(matches!(
        ingest_into(&beta, &stored_raw(&alpha, &chat)),
        Verdict::Stored(_)
    ));
}

#[test]
fn a_header_that_is_not_utf8_is_refused_with_the_reason() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let id = alpha.post("mesh.test", "Cafe", b"coffee\n");
    let raw = stored_raw(&alpha, &id);
    let text = String::from_utf8(raw.clone()).unwrap();
    let mut bad = Vec::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("Subject:") {
            bad.extend_from_slice(b"Subject: Caf\xe9\r\n");
        } else {
            bad.extend_from_slice(line.as_bytes());
        }
    }
    assert_ne!(bad, raw);
    let why = assert_refused(ingest_into(&beta, &bad), "not valid UTF-8");
    assert!(why.contains("Subject"), "names the header: {why}");
    assert_eq!(history(&beta, &id), None);
    assert!(matches!(ingest_into(&beta, &raw), Verdict::Stored(_)));
}

/// Rewrites the stored `raw` of article `id` directly in spool.db.
fn tamper_in_spool(node: &Node, id: &str, change: impl FnOnce(&mut Vec<u8>)) {
    let conn = rusqlite::Connection::open(node.spool_path()).expect("open spool.db");
    let mut raw: Vec<u8> = conn
        .query_row("SELECT raw FROM articles WHERE msgid = ?1", [id], |r| {
            r.get(0)
        })
        .expect("article row");
    let before = raw.clone();
    change(&mut raw);
    assert_ne!(raw, before, "the change changed nothing");
    let n = conn
        .execute(
            "UPDATE articles SET raw = ?1 WHERE msgid = ?2",
            rusqlite::params![raw, id],
        )
        .expect("update");
    assert_eq!(n, 1);
}

#[test]
fn a_body_byte_changed_in_the_spool_shows_as_a_mismatch() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test", "Soon tampered", b"original text\n");
    alpha
        .cli(&["read", &id])
        .success()
        .stdout_has("signature valid");

    tamper_in_spool(&alpha, &id, |raw| {
        let at = body_start(raw);
        raw[at] = b'O';
    });
    // The article is there, so `read` succeeds, but the status line tells the truth.
    for args in [vec!["read", id.as_str()], vec!["read", "mesh.test", "1"]] {
        alpha
            .cli(&args)
            .success()
            .stdout_lacks("signature valid")
            .stdout_has("Message-ID does not match the content");
    }
}

#[test]
fn a_signature_changed_in_the_spool_shows_as_bad() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test", "Soon forged", b"text\n");
    tamper_in_spool(&alpha, &id, |raw| {
        let at = raw.windows(2).position(|w| w == b"s=").expect("s= tag") + 2;
        raw[at] = if raw[at] == b'A' { b'B' } else { b'A' };
    });
    alpha
        .cli(&["read", &id])
        .success()
        .stdout_lacks("signature valid")
        .stdout_has("BAD signature");
}
