//! Who may do what, end to end on real nodes: early cancels are bound per (target, author
//! key), groups exist only when made deliberately, unsigned articles never get around a
//! key-restricted trust rule, and a node home is private. (The loopback POST rules are in
//! `tests/reader.rs`, with the other reader tests.)

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use ed25519_dalek::SigningKey;

/// Finding: the first early cancel for an id won, so a stranger's cancel that arrived
/// first made the author's own cancel be ignored and the target was then stored.
#[test]
fn a_strangers_early_cancel_does_not_shadow_the_authors_cancel() {
    let alpha = Node::init("alpha");
    let mut bravo = Node::init("bravo");
    link(&alpha, &bravo, Link::BothDial);
    bravo.start();
    let id = alpha.post(GROUP, "to be withdrawn", "the author changes their mind\n");
    let article = alpha.raw_article(&id);
    // A stranger's cancel reaches bravo first, relayed by alpha's node (a real neighbour).
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let forged = newsmesh::compose::compose_cancel(
        &id,
        "mesh.test",
        "mallory@example.org",
        "mallory",
        &stranger,
    );
    let mut feed = RawPeer::connect(&bravo);
    feed.authenticate(&alpha.signing_key());
    let forged_id = forged.message_id().unwrap().to_string();
    feed.queue_takethis(&forged_id, &forged.to_bytes());
    let answer = feed.line();
    assert!(answer.starts_with("239 "), "{answer}");
    // Then the author's own cancel, by sync.
    alpha.cli(&["cancel", &id]).ok();
    let run = alpha.sync();
    run.assert_ok();
    // Then the article itself arrives: its author cancelled it, so bravo withdraws it.
    feed.queue_takethis(&id, &article);
    let answer = feed.line();
    assert!(answer.starts_with("439 "), "{answer}");
    assert!(!bravo.has(&id), "the author's cancel must bind");
    assert_eq!(bravo.history_status(&id).as_deref(), Some("cancelled"));
}

/// Finding: any admitted article created its group (unlimited groups, groups back after
/// rmgroup, an operator's typo spread mesh-wide).
#[test]
fn groups_are_made_deliberately_not_by_posting() {
    let mut alpha = Node::init("alpha");
    let mut bravo = Node::init("bravo");
    link(&alpha, &bravo, Link::BothDial);
    bravo.start();
    // A typo fails, lists the groups, and creates nothing.
    let typo = alpha.cli_stdin(
        &["post", "--group", "mesh.tset", "--subject", "oops"],
        b"body\n",
    );
    assert_eq!(typo.code, Some(1), "{typo:?}");
    assert!(
        typo.stderr_text().contains("does not carry mesh.tset")
            && typo.stderr_text().contains("mesh.test"),
        "{typo:?}"
    );
    assert!(!alpha
        .cli(&["groups"])
        .ok()
        .stdout_text()
        .contains("mesh.tset"));
    // alpha creates a group bravo does not carry: its article is refused there...
    alpha.cli(&["groups", "--add", "mesh.new"]).ok();
    let id = alpha.post("mesh.new", "first", "hello\n");
    let run = alpha.sync();
    run.assert_ok();
    assert_eq!(run.peer("bravo").num("refused"), 1, "{run:#?}");
    assert!(!bravo.has(&id));
    assert!(!bravo
        .cli(&["groups"])
        .ok()
        .stdout_text()
        .contains("mesh.new"));
    // ...and not remembered, so once bravo creates the group it fetches the article.
    assert_eq!(bravo.history_status(&id), None);
    bravo.cli(&["groups", "--add", "mesh.new"]).ok();
    alpha.start();
    bravo.sync().assert_ok();
    assert!(bravo.has(&id));
}

/// Finding: with `accept_unsigned` on (needed for an INN peer), an unsigned article was
/// accepted in a group `[[trust]]` restricts to listed keys. And in a group its
/// `unsigned_groups` opens, one fed by that `[[nntp_peer]]` must be accepted.
#[test]
fn an_unsigned_article_is_refused_in_a_key_restricted_group() {
    let mut bravo = Node::init("bravo");
    let boss = SigningKey::from_bytes(&[9; 32]).verifying_key();
    bravo.set("policy", "accept_unsigned", "true");
    bravo.add_trust("mesh.announce", &[&newsmesh::sign::public_key_text(&boss)]);
    bravo.add_nntp_peer_unsigned("inn.example", None, &["127.0.0.1"], "*", "mesh.*");
    bravo.cli(&["groups", "--add", "mesh.announce"]).ok();
    bravo.start();
    let mut inn = RawPeer::connect(&bravo);
    let id = "<unsigned-1@inn.example>";
    let answer = inn.cmd(&format!("IHAVE {id}"));
    assert!(answer.starts_with("335"), "{answer}");
    let article = format!(
        "Path: inn.example!not-for-mail\r\nFrom: someone@example.org\r\nNewsgroups: mesh.announce\r\n\
         Subject: an announcement nobody signed\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: {id}\r\n\r\nbelieve me\r\n"
    );
    let mut data = Vec::new();
    newsmesh::protocol::write_block(&mut data, article.as_bytes());
    inn.send(&data);
    let answer = inn.line();
    assert!(answer.starts_with("437 "), "{answer}");
    assert!(!bravo.has(id));

    // In an open group, from the named peer over the network, it is taken, and `read`
    // says where it came from instead of "Verified".
    let open = article.replace("mesh.announce", "mesh.test");
    let answer = inn.cmd(&format!("IHAVE {id}"));
    assert!(answer.starts_with("335"), "{answer}");
    let mut data = Vec::new();
    newsmesh::protocol::write_block(&mut data, open.as_bytes());
    inn.send(&data);
    let answer = inn.line();
    assert!(answer.starts_with("235"), "{answer}");
    let shown = bravo.read_id(id).expect("stored");
    assert!(
        shown.starts_with("Unverified: unsigned, from INN peer inn.example"),
        "{shown}"
    );
    // The article log names the INN peer for both verdicts.
    let log = std::fs::read_to_string(bravo.home().join("news.log")).unwrap_or_default();
    assert!(
        log.contains(&format!(" refused id={id} peer=inn.example reason=\""))
            && log.contains(&format!(" accepted id={id} peer=inn.example\n")),
        "{log}"
    );
}

/// Finding: `newsmesh.toml` (AUTHINFO password hashes) and `spool.db` were 0644 and the
/// home 0755; the config was rewritten through a fixed `*.tmp` name.
#[test]
fn the_home_config_and_spool_are_private() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let mode = |p: std::path::PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(alpha.home().to_path_buf()), 0o700);
    assert_eq!(mode(alpha.home().join("newsmesh.toml")), 0o600);
    assert_eq!(mode(alpha.spool_path()), 0o600);
    // Edits keep the config private; a running serve's WAL files are private too.
    link(&alpha, &beta, Link::BothDial);
    alpha.post(GROUP, "x", "y\n");
    alpha.start();
    assert_eq!(mode(alpha.home().join("newsmesh.toml")), 0o600);
    for file in ["spool.db", "spool.db-wal", "spool.db-shm"] {
        let path = alpha.home().join(file);
        if path.exists() {
            assert_eq!(mode(path), 0o600, "{file}");
        }
    }
    assert!(std::fs::read_dir(alpha.home()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
    // Loosened by hand: opening warns.
    std::fs::set_permissions(
        alpha.home().join("newsmesh.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let run = alpha.cli(&["groups"]).ok();
    assert!(
        run.stderr_text().contains("newsmesh.toml is mode 644"),
        "{run:?}"
    );
}
