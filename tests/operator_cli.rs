//! The operator's command line for a node that runs for months: neighbours of every kind
//! added, listed and removed with `peer` (newsmesh nodes and plain news servers such as
//! INN), and the home chosen by the environment as shells and cron leave it.

mod common;

use common::{Node, DEFAULT_TIMEOUT};

#[test]
fn peer_add_nntp_lists_and_removes_a_plain_news_server() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    alpha
        .cmd(&["peer", "add", "beta", &beta.node_key()])
        .success();
    alpha
        .cmd(&[
            "peer",
            "add",
            "inn.example",
            "--nntp",
            "--address",
            "127.0.0.1:119",
            "--hosts",
            "127.0.0.1,::1",
            "--groups",
            "mesh.*",
        ])
        .success();
    alpha
        .cmd(&["peer", "add", "feeder", "--nntp", "--hosts", "192.0.2.7"])
        .success();
    let text = alpha.config_text();
    assert!(
        text.contains(
            "[[nntp_peer]]\nname = \"inn.example\"\naddress = \"127.0.0.1:119\"\n\
             hosts = [\"127.0.0.1\", \"::1\"]\ngroups = \"mesh.*\"\n"
        ),
        "{text}"
    );
    assert_eq!(
        alpha.cmd(&["peer", "list"]).success().stdout_text(),
        format!(
            "beta passive * {}\n\
             inn.example 127.0.0.1:119 mesh.* nntp hosts=127.0.0.1,::1\n\
             feeder passive * nntp hosts=192.0.2.7\n",
            beta.node_key()
        )
    );

    // Refusals change nothing: names are shared by both kinds, a news server has no key
    // and needs somewhere to talk to, --hosts is for news servers only.
    let before = alpha.config_text();
    alpha
        .cmd(&["peer", "add", "beta", "--nntp", "--hosts", "127.0.0.1"])
        .failure()
        .stderr_has("a peer named \"beta\" already exists");
    alpha
        .cmd(&["peer", "add", "inn.example", &beta.node_key()])
        .failure()
        .stderr_has("listed twice");
    alpha
        .cmd(&["peer", "add", "lonely", "--nntp"])
        .failure()
        .stderr_has("needs --address");
    alpha
        .cmd(&["peer", "add", "bad", "--nntp", "--address", "nowhere"])
        .failure()
        .stderr_has("not HOST:PORT");
    alpha
        .cmd(&["peer", "add", "x", &beta.node_key(), "--nntp"])
        .code(2);
    alpha
        .cmd(&["peer", "add", "x", &beta.node_key(), "--hosts", "127.0.0.1"])
        .code(2);
    alpha
        .cmd(&["peer", "add", "x", "--nntp", "--hosts", "not-an-ip"])
        .code(2);
    assert_eq!(
        alpha.config_text(),
        before,
        "a refused edit changed the file"
    );

    alpha.cmd(&["peer", "remove", "inn.example"]).success();
    alpha.cmd(&["peer", "remove", "feeder"]).success();
    assert!(!alpha.config_text().contains("\n[[nntp_peer]]"));
    assert_eq!(
        alpha.cmd(&["peer", "list"]).success().stdout_text(),
        format!("beta passive * {}\n", beta.node_key())
    );
    alpha
        .cmd(&["peer", "remove", "inn.example"])
        .failure()
        .stderr_has("no peer named");
}

/// `NEWSMESH_HOME=` (set but empty, as a crontab or a shell often leaves it) counts as
/// unset: --home still works, and without it the default home is used.
#[test]
fn an_empty_newsmesh_home_counts_as_unset() {
    let alpha = Node::init("alpha");
    let mut with_home = alpha.command(&["key"]);
    with_home.env("NEWSMESH_HOME", "");
    let run = common::run(with_home, None, DEFAULT_TIMEOUT);
    assert_eq!(run.success().stdout_line(), alpha.author_key());

    // Without --home: the default ~/.newsmesh, here under a HOME that holds alpha.
    let parent = alpha.home().parent().expect("home has a parent");
    std::fs::rename(alpha.home(), parent.join(".newsmesh")).unwrap();
    let mut default_home = std::process::Command::new(common::BIN);
    default_home
        .arg("key")
        .env("NEWSMESH_HOME", "")
        .env("HOME", parent);
    let run = common::run(default_home, None, DEFAULT_TIMEOUT);
    assert!(
        common::is_public_key_text(&run.success().stdout_line()),
        "{run:?}"
    );
}

/// Subjects and names a newsreader posted as RFC 2047 encoded-words are shown decoded by
/// `read` (list and article); the stored article keeps its raw, signed form.
#[test]
fn read_decodes_encoded_words_for_display() {
    let alpha = Node::init("alpha");
    let id = alpha
        .cmd_stdin(
            &[
                "post",
                "-g",
                "mesh.test",
                "-s",
                "=?UTF-8?Q?caf=C3=A9?= =?utf-8?B?w6AgbGEgY2FydGU=?=",
                "--from",
                "=?ISO-8859-1?Q?Ren=E9?= <rene@example.org>",
            ],
            b"body\n",
        )
        .success()
        .stdout_line();
    let list = alpha.cmd(&["read", "mesh.test"]).success().stdout_text();
    assert!(list.contains("René <rene@example.org>"), "{list}");
    assert!(list.contains("caféà la carte"), "{list}");
    assert!(!list.contains("=?"), "{list}");
    let shown = alpha.cmd(&["read", &id]).success().stdout_text();
    assert!(shown.contains("\nSubject: caféà la carte\n"), "{shown}");
    assert!(
        shown.contains("\nFrom: René <rene@example.org>\n"),
        "{shown}"
    );
    assert!(shown.contains("signature valid"), "{shown}");
}

/// One rule for empty subjects: `post` refuses a blank --subject as an NNTP POST without
/// Subject is refused.
#[test]
fn post_refuses_an_empty_subject() {
    let alpha = Node::init("alpha");
    for subject in ["", "   "] {
        alpha
            .cmd_stdin(&["post", "-g", "mesh.test", "-s", subject], b"body\n")
            .failure()
            .stderr_has("--subject is empty");
    }
    alpha.cmd(&["read", "mesh.test"]).success().stdout_empty();
}
