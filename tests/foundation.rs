//! Foundation scenarios: init, key, post, read, peer management, import safety and bad
//! input, driven through the real `newsmesh` binary on temporary homes (and, for import,
//! through the library's one way into the spool, `newsmesh::ingest::ingest`).

mod common;

use common::{is_newsmesh_id, is_public_key_text, shown_body, Node};
use newsmesh::article::{Article, Limits};
use newsmesh::home::Home;
use newsmesh::ingest::{ingest, Rules, Verdict};
use newsmesh::sign::{self, SigStatus};

// ------------------------------------------------------------------ helpers

/// The raw (wire form) article `id` as stored in `node`'s spool.
fn stored_raw(node: &Node, id: &str) -> Vec<u8> {
    let open = Home::new(node.home()).open().expect("open node");
    open.spool
        .article(id)
        .expect("spool query")
        .unwrap_or_else(|| panic!("{id} is not stored on {}", node.name()))
        .raw
}

/// Whether `id` is in `node`'s history (stored or refused).
fn history(node: &Node, id: &str) -> Option<(String, String)> {
    let open = Home::new(node.home()).open().expect("open node");
    open.spool.history(id).expect("history query")
}

/// Offers one raw article to `node` through `ingest`, with the node's own rules.
fn ingest_into(node: &Node, raw: &[u8]) -> Verdict {
    let mut open = Home::new(node.home()).open().expect("open node");
    let rules = Rules {
        node_name: &open.config.node.name,
        limits: open.config.limits.article_limits(),
        trust: &open.trust,
        source: newsmesh::ingest::Source::Local,
        admission: newsmesh::admission::Admission::from_config(&open.config),
    };
    let mut verdicts = ingest(&mut open.spool, &rules, &[raw]).expect("ingest");
    assert_eq!(verdicts.len(), 1);
    verdicts.remove(0)
}

#[track_caller]
fn assert_refused(verdict: Verdict, because: &str) -> String {
    match verdict {
        Verdict::Refused(why) => {
            assert!(
                why.contains(because),
                "refused, but for {why:?}, not {because:?}"
            );
            why
        }
        other => panic!("expected a refusal ({because}), got {other:?}"),
    }
}

/// Offset of the body in a wire-form article.
fn body_start(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator")
        + 4
}

/// `raw` with the first body byte's ASCII case flipped.
fn with_body_byte_changed(raw: &[u8]) -> Vec<u8> {
    let mut out = raw.to_vec();
    let at = body_start(raw);
    assert!(out[at].is_ascii_alphabetic(), "body starts with a letter");
    out[at] ^= 0x20;
    out
}

/// `raw` with header `name` set to `value` (re-serialised).
fn with_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let mut a = Article::parse(raw, &Limits::default()).expect("parse");
    a.set_header(name, value);
    a.to_bytes()
}

fn write_file(node: &Node, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = node.home().parent().expect("tempdir").join(name);
    std::fs::write(&path, bytes).expect("write file");
    path
}

/// Lines `read` prints for the groups: (name, count).
fn group_counts(node: &Node) -> Vec<(String, i64)> {
    node.cmd(&["read"])
        .success()
        .stdout_text()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "group line {l:?}");
            assert_eq!(f[2], "articles", "group line {l:?}");
            (f[0].to_string(), f[1].parse().expect("count"))
        })
        .collect()
}

// ------------------------------------------------------------------ post and read

#[test]
fn a_post_is_read_back_byte_exact_with_a_valid_signature() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let body = b"Hello mesh.\n\
        .\n\
        ..\n\
        .a line starting with a dot\n\
        ..two dots\n\
        \n\
        trailing spaces and a tab  \t\n\
        end\n";
    let file = write_file(&alpha, "body.txt", body);

    let run = alpha.cmd(&[
        "post".as_ref(),
        "--group".as_ref(),
        "mesh.test".as_ref(),
        "--subject".as_ref(),
        "Dots and bytes".as_ref(),
        "--file".as_ref(),
        file.as_os_str(),
    ]);
    let id = run.success().stdout_line();
    assert!(
        is_newsmesh_id(&id),
        "stdout is not a newsmesh Message-ID alone: {id:?}"
    );

    let by_number = alpha.cmd(&["read", "mesh.test", "1"]);
    by_number
        .success()
        .stdout_has("signature valid")
        .stdout_has(&format!("Message-ID: {id}\n"))
        .stdout_has("Newsgroups: mesh.test\n")
        .stdout_has("Subject: Dots and bytes\n");
    assert_eq!(
        String::from_utf8_lossy(shown_body(&by_number.stdout)),
        String::from_utf8_lossy(body),
        "body shown by `read mesh.test 1` is not the posted file"
    );
    assert_eq!(shown_body(&by_number.stdout), body);

    let by_id = alpha.cmd(&["read", &id]);
    by_id.success().stdout_has("signature valid");
    assert_eq!(shown_body(&by_id.stdout), body);
    assert_eq!(by_id.stdout, by_number.stdout, "same article, same output");

    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 1)]);

    let listing = alpha.cmd(&["read", "mesh.test"]);
    let listing = listing.success().stdout_text();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 1, "{listing}");
    assert!(lines[0].trim_start().starts_with("1 "), "{listing}");
    assert!(lines[0].ends_with("Dots and bytes"), "{listing}");

    // Nothing was copied anywhere: beta does not have it, and says so.
    beta.cmd(&["read", &id])
        .failure()
        .stderr_has(&format!("no article {id}"));
    assert_eq!(group_counts(&beta), [("mesh.test".to_string(), 0)]);
}

#[test]
fn reading_what_is_not_there_exits_1() {
    let alpha = Node::init("alpha");
    alpha
        .cmd(&["read", "<nothing@newsmesh>"])
        .failure()
        .stdout_empty();
    alpha
        .cmd(&["read", "mesh.test", "1"])
        .failure()
        .stderr_has("no article 1 in mesh.test");
    alpha
        .cmd(&["read", "no.such.group"])
        .failure()
        .stderr_has("no group no.such.group");
}

#[test]
fn posting_the_same_article_twice_in_one_second_is_refused_not_duplicated() {
    // Same author, subject, body and Date second => same content => same Message-ID.
    // Either the second post is refused as identical, or (next second) it is a new
    // article; it must never be stored twice under one id.
    let alpha = Node::init("alpha");
    let first = alpha.post("mesh.test", "Twice", b"same\n");
    let second = alpha.cmd_stdin(&["post", "-g", "mesh.test", "-s", "Twice"], b"same\n");
    match second.code {
        Some(0) => assert_ne!(second.stdout_line(), first),
        _ => {
            second.failure().stderr_has("identical article");
        }
    }
    let counts = group_counts(&alpha);
    let expected = if second.code == Some(0) { 2 } else { 1 };
    assert_eq!(counts, [("mesh.test".to_string(), expected)]);
}

// ------------------------------------------------------------------ import safety

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
    beta.cmd(&["read", &id]).failure();

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
    beta.cmd(&["read", &id])
        .success()
        .stdout_has("signature valid")
        .stdout_has("Path: beta!alpha!");
    assert_eq!(
        shown_body(&beta.cmd(&["read", &id]).stdout),
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
    beta.append_config(&format!(
        "\n[[trust]]\ngroups = \"mesh.announce\"\nauthors = [\"{}\"]\n",
        beta.author_key()
    ));
    for node in [&alpha, &beta] {
        node.cmd(&["groups", "--add", "mesh.announce"]).success();
    }
    // alpha's policy (mesh.* open to any key) lets alpha post there.
    let announce = alpha.post("mesh.announce", "Announcement", b"hear ye\n");
    let chat = alpha.post("mesh.test", "Chat", b"hello\n");

    let why = assert_refused(
        ingest_into(&beta, &stored_raw(&alpha, &announce)),
        "may not post to mesh.announce",
    );
    assert!(why.contains(&alpha.author_key()), "names the key: {why}");
    beta.cmd(&["read", &announce]).failure();
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

// ------------------------------------------------------------------ tampering in the spool

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
        .cmd(&["read", &id])
        .success()
        .stdout_has("signature valid");

    tamper_in_spool(&alpha, &id, |raw| {
        let at = body_start(raw);
        raw[at] = b'O';
    });
    // The article is there, so `read` succeeds, but the status line tells the truth.
    for args in [vec!["read", id.as_str()], vec!["read", "mesh.test", "1"]] {
        alpha
            .cmd(&args)
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
        .cmd(&["read", &id])
        .success()
        .stdout_lacks("signature valid")
        .stdout_has("BAD signature");
}

// ------------------------------------------------------------------ trust on post

#[test]
fn posting_to_a_restricted_group_with_an_untrusted_key_is_refused() {
    let beta = Node::init("beta");
    let boss = beta
        .cmd(&["key", "--author", "boss", "--generate"])
        .success()
        .stdout_line();
    assert_ne!(boss, beta.author_key());
    beta.append_config(&format!(
        "\n[[trust]]\ngroups = \"mesh.announce\"\nauthors = [\"{boss}\"]\n"
    ));
    beta.cmd(&["groups", "--add", "mesh.announce"]).success();

    let refused = beta.cmd_stdin(
        &["post", "-g", "mesh.announce", "-s", "Not mine to say"],
        b"hello\n",
    );
    refused.failure().stdout_empty().stderr_has(&format!(
        "author key {} may not post to mesh.announce",
        beta.author_key()
    ));
    assert_eq!(
        group_counts(&beta),
        [
            ("mesh.announce".to_string(), 0),
            ("mesh.test".to_string(), 0)
        ]
    );

    // The listed key may.
    let ok = beta.cmd_stdin(
        &[
            "post",
            "-g",
            "mesh.announce",
            "-s",
            "Official",
            "--author",
            "boss",
        ],
        b"hear ye\n",
    );
    let id = ok.success().stdout_line();
    assert!(is_newsmesh_id(&id));
    beta.cmd(&["read", &id])
        .success()
        .stdout_has(&format!("signature valid (author key {boss})"));
}

// ------------------------------------------------------------------ bad input

#[test]
fn a_missing_home_is_a_clear_error() {
    let ghost = Node::new("ghost");
    let home = ghost.home().display().to_string();
    for args in [
        vec!["read"],
        vec!["read", "mesh.test"],
        vec!["key"],
        vec!["key", "--node"],
        vec!["peer", "list"],
        vec!["groups"],
    ] {
        ghost
            .cmd(&args)
            .failure()
            .stdout_empty()
            .stderr_has("no newsmesh node at")
            .stderr_has(&home)
            .stderr_has("newsmesh init");
    }
    ghost
        .cmd_stdin(&["post", "-g", "mesh.test", "-s", "x"], b"body\n")
        .failure()
        .stderr_has("no newsmesh node at");
    assert!(!ghost.home().exists(), "a failed command created the home");
}

#[test]
fn a_corrupt_config_is_reported_with_line_and_column() {
    let alpha = Node::init("alpha");
    let lines = alpha.config_text().lines().count();
    alpha.append_config("[node\n");
    let run = alpha.cmd(&["read"]);
    run.failure()
        .stderr_has("newsmesh.toml")
        .stderr_has(&format!("line {}", lines + 1))
        .stderr_has("column");
    assert_eq!(run.stderr_text().lines().count(), 1, "one line on stderr");

    // A well-formed file with a wrong type: the line of the bad value.
    let beta = Node::init("beta");
    let text = beta.config_text();
    let listen_line = text
        .lines()
        .position(|l| l.starts_with("listen ="))
        .expect("listen line")
        + 1;
    let broken = text.replacen("listen = \"127.0.0.1:1119\"", "listen = 1119", 1);
    assert_ne!(broken, text);
    std::fs::write(beta.config_path(), broken).unwrap();
    beta.cmd_stdin(&["post", "-g", "mesh.test", "-s", "x"], b"x\n")
        .failure()
        .stderr_has(&format!("line {listen_line}"))
        .stderr_has("column");
}

#[test]
fn a_garbage_key_file_is_a_clear_error_naming_the_file() {
    let alpha = Node::init("alpha");
    let author = alpha.path("authors/default.key");
    std::fs::write(&author, "this is not a key\n").unwrap();
    let named = author.display().to_string();
    alpha
        .cmd_stdin(&["post", "-g", "mesh.test", "-s", "x"], b"x\n")
        .failure()
        .stdout_empty()
        .stderr_has(&named)
        .stderr_has("not an ed25519 secret key");
    alpha
        .cmd(&["key"])
        .failure()
        .stdout_empty()
        .stderr_has(&named);
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);

    let node_key = alpha.path("node.key");
    std::fs::write(&node_key, b"\xff\xfe garbage").unwrap();
    alpha
        .cmd(&["key", "--node"])
        .failure()
        .stderr_has(&node_key.display().to_string());

    std::fs::remove_file(&author).unwrap();
    alpha.cmd(&["key"]).failure().stderr_has(&named);
}

#[test]
fn an_oversized_body_is_refused_with_a_size_message() {
    let alpha = Node::init("alpha");
    let line = format!("{}\n", "x".repeat(99));
    let big = line.repeat(100_000); // 10 MB
    assert_eq!(big.len(), 10_000_000);
    let file = write_file(&alpha, "big.txt", big.as_bytes());
    alpha
        .cmd(&[
            "post".as_ref(),
            "-g".as_ref(),
            "mesh.test".as_ref(),
            "-s".as_ref(),
            "Too big".as_ref(),
            "--file".as_ref(),
            file.as_os_str(),
        ])
        .failure()
        .stdout_empty()
        .stderr_has("exceeds the limit of 1048576");
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);

    // Half the limit is fine.
    let half = line.repeat(5_000);
    let id = alpha.post("mesh.test", "Big but fine", half.as_bytes());
    assert_eq!(
        shown_body(&alpha.cmd(&["read", &id]).stdout),
        half.as_bytes()
    );
}

#[test]
fn init_twice_fails_without_destroying_anything() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test", "Keep me", b"precious\n");
    let files = ["newsmesh.toml", "node.key", "authors/default.key"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(alpha.path(f)).unwrap())
        .collect();
    let keys = (alpha.author_key(), alpha.node_key());

    for args in [
        vec!["init", "--name", "alpha"],
        vec!["init", "--name", "other"],
        vec!["init"],
    ] {
        alpha
            .cmd(&args)
            .failure()
            .stderr_has("already holds a newsmesh node");
    }
    for (f, bytes) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(alpha.path(f)).unwrap(), bytes, "{f} changed");
    }
    assert_eq!((alpha.author_key(), alpha.node_key()), keys);
    alpha
        .cmd(&["read", &id])
        .success()
        .stdout_has("signature valid");
}

#[test]
fn usage_errors_exit_2() {
    let alpha = Node::init("alpha");
    alpha.cmd(&["post", "-s", "no group"]).code(2);
    alpha.cmd(&["no-such-command"]).code(2);
    alpha.cmd(&["read", "mesh.test", "not-a-number"]).code(2);
}

// ------------------------------------------------------------------ keys

#[test]
fn key_prints_one_line_and_node_key_differs() {
    let alpha = Node::init("alpha");
    let author = alpha.cmd(&["key"]);
    let author_line = author.success().stdout_line();
    assert!(is_public_key_text(&author_line), "{author_line:?}");
    assert_eq!(author.stdout, format!("{author_line}\n").into_bytes());

    let node = alpha.cmd(&["key", "--node"]);
    let node_line = node.success().stdout_line();
    assert!(is_public_key_text(&node_line), "{node_line:?}");
    assert_ne!(author_line, node_line);

    // Stable, parseable, and per node.
    assert_eq!(alpha.author_key(), author_line);
    assert!(sign::parse_public_key(&author_line).is_ok());
    let beta = Node::init("beta");
    assert_ne!(beta.author_key(), author_line);
    assert_ne!(beta.node_key(), node_line);
}

#[test]
fn newsmesh_home_env_selects_the_node() {
    let alpha = Node::init("alpha");
    let run = common::cmd_without_home(&["key"], &[("NEWSMESH_HOME", alpha.home().as_os_str())]);
    assert_eq!(run.success().stdout_line(), alpha.author_key());
}

// ------------------------------------------------------------------ peers

const OWN_COMMENT: &str = "# Our own note: beta sits in the basement, on the UPS.";
const TEMPLATE_COMMENT: &str = "# Trust rules: which author keys may post to which groups.";

#[track_caller]
fn assert_comments_kept(node: &Node) {
    let text = node.config_text();
    assert!(text.contains(OWN_COMMENT), "own comment lost:\n{text}");
    assert!(
        text.contains(TEMPLATE_COMMENT),
        "template comment lost:\n{text}"
    );
}

#[test]
fn peers_are_added_listed_and_removed_keeping_comments() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let gamma = Node::init("gamma");
    let text = alpha.config_text();
    assert!(text.contains(TEMPLATE_COMMENT), "template changed?");
    std::fs::write(
        alpha.config_path(),
        text.replacen("[reader]", &format!("{OWN_COMMENT}\n[reader]"), 1),
    )
    .unwrap();
    assert_comments_kept(&alpha);
    alpha.cmd(&["peer", "list"]).success().stdout_empty();

    alpha.add_passive_peer(&beta);
    alpha
        .cmd(&[
            "peer",
            "add",
            "gamma",
            &gamma.node_key(),
            "--address",
            "127.0.0.1:2119",
            "--groups",
            "mesh.*",
        ])
        .success();
    assert_comments_kept(&alpha);
    let list = alpha.cmd(&["peer", "list"]).success().stdout_text();
    assert_eq!(
        list,
        format!(
            "beta passive * {}\ngamma 127.0.0.1:2119 mesh.* {}\n",
            beta.node_key(),
            gamma.node_key()
        )
    );

    alpha.cmd(&["peer", "remove", "beta"]).success();
    assert_comments_kept(&alpha);
    let list = alpha.cmd(&["peer", "list"]).success().stdout_text();
    assert!(!list.contains("beta"), "{list}");
    assert!(list.starts_with("gamma 127.0.0.1:2119 "), "{list}");

    alpha.cmd(&["peer", "remove", "gamma"]).success();
    assert_comments_kept(&alpha);
    alpha.cmd(&["peer", "list"]).success().stdout_empty();
    // The node still works with the edited config.
    alpha.post("mesh.test", "After edits", b"ok\n");
}

#[test]
fn bad_peer_edits_are_refused_and_change_nothing() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    alpha.add_passive_peer(&beta);
    let before = alpha.config_text();

    alpha
        .cmd(&["peer", "add", "beta", &beta.author_key()])
        .failure()
        .stderr_has("a peer named \"beta\" already exists");
    for bad_key in [
        "not-a-key",
        &beta.node_key()[..40],
        &format!("{}AAAA", beta.node_key()),
    ] {
        alpha
            .cmd(&["peer", "add", "delta", bad_key])
            .failure()
            .stderr_has("malformed public key");
    }
    alpha
        .cmd(&["peer", "remove", "zeta"])
        .failure()
        .stderr_has("no peer named \"zeta\"");
    alpha
        .cmd(&[
            "peer",
            "add",
            "delta",
            &beta.node_key(),
            "--address",
            "nowhere",
        ])
        .failure()
        .stderr_has("not HOST:PORT");
    alpha
        .cmd(&["peer", "add", "bad name!", &beta.node_key()])
        .failure()
        .stderr_has("not a valid Path identity");

    assert_eq!(
        alpha.config_text(),
        before,
        "a refused edit changed the file"
    );
    assert_eq!(
        alpha.cmd(&["peer", "list"]).success().stdout_text(),
        format!("beta passive * {}\n", beta.node_key())
    );
}

#[test]
fn a_group_named_twice_in_newsgroups_files_the_article_once() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test,mesh.test", "Said twice", b"once\n");
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 1)]);
    alpha
        .cmd(&["read", "mesh.test", "1"])
        .success()
        .stdout_has(&format!("Message-ID: {id}"));
    alpha.cmd(&["read", "mesh.test", "2"]).failure();
}

#[test]
fn a_line_break_in_a_header_option_is_refused_before_signing() {
    // Otherwise "a\nControl: cancel <...>" would inject a header into the article.
    let alpha = Node::init("alpha");
    alpha
        .cmd_stdin(
            &["post", "-g", "mesh.test", "-s", "a\nControl: cancel <x@y>"],
            b"x\n",
        )
        .failure()
        .stdout_empty()
        .stderr_has("--subject must be one line");
    alpha
        .cmd_stdin(
            &[
                "post",
                "-g",
                "mesh.test",
                "-s",
                "ok",
                "--from",
                "a@b\r\nX-Evil: 1",
            ],
            b"x\n",
        )
        .failure()
        .stderr_has("--from must be one line");
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);
}

#[test]
fn author_names_cannot_leave_the_home_and_empty_bodies_are_not_posted() {
    let alpha = Node::init("alpha");
    alpha
        .cmd(&["post", "-g", "mesh.test", "-s", "x", "--author", "../node"])
        .failure()
        .stderr_has("author name");
    alpha
        .cmd(&["key", "--author", "../../escape", "--generate"])
        .failure()
        .stderr_has("author name");
    alpha
        .cmd_stdin(&["post", "-g", "mesh.test", "-s", "nothing"], b"")
        .failure()
        .stderr_has("empty body");
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);
}

#[test]
fn expire_removes_articles_past_retention_and_remembers_their_ids() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test", "short-lived", b"gone soon\n");
    let mut config = std::fs::read_to_string(alpha.home().join("newsmesh.toml")).unwrap();
    config.push_str("\n[[expire.rule]]\ngroups = \"mesh.*\"\ndays = 0\n");
    std::fs::write(alpha.home().join("newsmesh.toml"), config).unwrap();
    // Nothing is older than "now" within the same second: wait for the next one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    alpha
        .cmd(&["expire"])
        .success()
        .stdout_has("group=mesh.test expired=1")
        .stdout_has("articles_removed=1 history_pruned=0");
    alpha.cmd(&["read", &id]).code(1);
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);
    let status: String = rusqlite::Connection::open(alpha.home().join("spool.db"))
        .unwrap()
        .query_row("SELECT status FROM history WHERE msgid = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "expired");
}

#[test]
fn articles_cross_an_air_gap_as_an_rnews_batch() {
    let alpha = Node::init("alpha");
    let bravo = Node::init("bravo");
    let ids: Vec<String> = (0..3)
        .map(|i| {
            alpha.post(
                "mesh.test",
                &format!("air gap {i}"),
                b"on a USB stick\n.dot\n",
            )
        })
        .collect();
    let stick = alpha.home().join("stick.batch");
    let stick_arg = stick.to_str().unwrap();
    alpha
        .cmd(&["export", "--to", "bravo", "--file", stick_arg])
        .success()
        .stderr_has("exported=3");
    assert!(std::fs::read(&stick).unwrap().starts_with(b"#! rnews "));
    bravo
        .cmd(&["import", stick_arg])
        .success()
        .stdout_has("imported=3 duplicates=0 refused=0");
    for id in &ids {
        bravo
            .cmd(&["read", id])
            .success()
            .stdout_has("signature valid");
    }
    // Importing twice stores nothing new; a second export to bravo is empty.
    bravo
        .cmd(&["import", stick_arg])
        .success()
        .stdout_has("imported=0 duplicates=3");
    alpha
        .cmd(&["export", "--to", "bravo", "--file", stick_arg])
        .success()
        .stderr_has("exported=0");
    // A batch tampered with on the way: the changed article is refused, the rest stored.
    let mut batch = Vec::new();
    for i in 0..2 {
        let id = alpha.post("mesh.test", &format!("second trip {i}"), b"Pay Alice\n");
        let raw: Vec<u8> = rusqlite::Connection::open(alpha.home().join("spool.db"))
            .unwrap()
            .query_row(
                "SELECT a.raw FROM history h JOIN articles a ON a.seq = h.seq WHERE h.msgid = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        let mut text = String::from_utf8(raw).unwrap().replace("\r\n", "\n");
        if i == 1 {
            text = text.replace("Pay Alice", "Pay Malle");
        }
        batch.extend_from_slice(format!("#! rnews {}\n{text}", text.len()).as_bytes());
    }
    std::fs::write(&stick, &batch).unwrap();
    bravo
        .cmd(&["import", stick_arg])
        .success()
        .stdout_has("imported=1 duplicates=0 refused=1")
        .stderr_has("does not match the content");
    // A damaged batch is an error after what came before it is stored.
    batch.extend_from_slice(b"#! rnews 100\nshort");
    std::fs::write(&stick, &batch).unwrap();
    bravo
        .cmd(&["import", stick_arg])
        .failure()
        .stderr_has("truncated");
}

#[test]
fn newgroup_and_rmgroup_need_a_key_that_control_trusts() {
    let alpha = Node::init("alpha");
    let admin = alpha.cmd(&["key"]).success().stdout_text();
    let admin = admin.trim();
    alpha
        .cmd(&["key", "--author", "mallory", "--generate"])
        .success();
    let mut config = std::fs::read_to_string(alpha.home().join("newsmesh.toml")).unwrap();
    config.push_str(&format!(
        "\n[[control]]\ngroups = \"mesh.*\"\nauthors = [\"{admin}\"]\n"
    ));
    std::fs::write(alpha.home().join("newsmesh.toml"), config).unwrap();
    alpha
        .cmd(&["newgroup", "mesh.rogue", "--author", "mallory"])
        .failure()
        .stderr_has("may not create or remove mesh.rogue");
    alpha
        .cmd(&[
            "newgroup",
            "mesh.announce",
            "--description",
            "Announcements",
        ])
        .success();
    let groups = alpha.cmd(&["groups"]).success().stdout_text();
    assert!(groups.contains("mesh.announce 0"), "{groups}");
    assert!(!groups.contains("mesh.rogue"), "{groups}");
    alpha.post("mesh.announce", "hello", b"first\n");
    alpha.cmd(&["rmgroup", "mesh.announce"]).success();
    let groups = alpha.cmd(&["groups"]).success().stdout_text();
    assert!(!groups.contains("mesh.announce"), "{groups}");
}
