//! `post` and `read` through the real binary: an article read back byte-exact with a
//! valid signature, what `post` refuses (duplicates, untrusted keys, oversized bodies,
//! header injection, author names that leave the home) and what `read` says when
//! something is not there.

mod common;

use common::*;

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

    let run = alpha.cli(&[
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

    let by_number = alpha.cli(&["read", "mesh.test", "1"]);
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

    let by_id = alpha.cli(&["read", &id]);
    by_id.success().stdout_has("signature valid");
    assert_eq!(shown_body(&by_id.stdout), body);
    assert_eq!(by_id.stdout, by_number.stdout, "same article, same output");

    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 1)]);

    let listing = alpha.cli(&["read", "mesh.test"]);
    let listing = listing.success().stdout_text();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 1, "{listing}");
    assert!(lines[0].trim_start().starts_with("1 "), "{listing}");
    assert!(lines[0].ends_with("Dots and bytes"), "{listing}");

    // Nothing was copied anywhere: beta does not have it, and says so.
    beta.cli(&["read", &id])
        .failure()
        .stderr_has(&format!("no article {id}"));
    assert_eq!(group_counts(&beta), [("mesh.test".to_string(), 0)]);
}

#[test]
fn reading_what_is_not_there_exits_1() {
    let alpha = Node::init("alpha");
    alpha
        .cli(&["read", "<nothing@newsmesh>"])
        .failure()
        .stdout_empty();
    alpha
        .cli(&["read", "mesh.test", "1"])
        .failure()
        .stderr_has("no article 1 in mesh.test");
    alpha
        .cli(&["read", "no.such.group"])
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
    let second = alpha.cli_stdin(&["post", "-g", "mesh.test", "-s", "Twice"], b"same\n");
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

#[test]
fn posting_to_a_restricted_group_with_an_untrusted_key_is_refused() {
    let beta = Node::init("beta");
    let boss = beta
        .cli(&["key", "--author", "boss", "--generate"])
        .success()
        .stdout_line();
    assert_ne!(boss, beta.author_key());
    beta.add_trust("mesh.announce", &[&boss]);
    beta.cli(&["groups", "--add", "mesh.announce"]).success();

    let refused = beta.cli_stdin(
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
    let ok = beta.cli_stdin(
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
    beta.cli(&["read", &id])
        .success()
        .stdout_has(&format!("signature valid (author key {boss})"));
}

#[test]
fn an_oversized_body_is_refused_with_a_size_message() {
    let alpha = Node::init("alpha");
    let line = format!("{}\n", "x".repeat(99));
    let big = line.repeat(100_000); // 10 MB
    assert_eq!(big.len(), 10_000_000);
    let file = write_file(&alpha, "big.txt", big.as_bytes());
    alpha
        .cli(&[
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
        shown_body(&alpha.cli(&["read", &id]).stdout),
        half.as_bytes()
    );
}

#[test]
fn a_group_named_twice_in_newsgroups_files_the_article_once() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test,mesh.test", "Said twice", b"once\n");
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 1)]);
    alpha
        .cli(&["read", "mesh.test", "1"])
        .success()
        .stdout_has(&format!("Message-ID: {id}"));
    alpha.cli(&["read", "mesh.test", "2"]).failure();
}

#[test]
fn a_line_break_in_a_header_option_is_refused_before_signing() {
    // Otherwise "a\nControl: cancel <...>" would inject a header into the article.
    let alpha = Node::init("alpha");
    alpha
        .cli_stdin(
            &["post", "-g", "mesh.test", "-s", "a\nControl: cancel <x@y>"],
            b"x\n",
        )
        .failure()
        .stdout_empty()
        .stderr_has("--subject must be one line");
    alpha
        .cli_stdin(
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
        .cli(&["post", "-g", "mesh.test", "-s", "x", "--author", "../node"])
        .failure()
        .stderr_has("author name");
    alpha
        .cli(&["key", "--author", "../../escape", "--generate"])
        .failure()
        .stderr_has("author name");
    alpha
        .cli_stdin(&["post", "-g", "mesh.test", "-s", "nothing"], b"")
        .failure()
        .stderr_has("empty body");
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);
}
