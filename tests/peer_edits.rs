//! `peer add/list/remove` edit `newsmesh.toml` in place, keeping the operator's comments,
//! and refuse bad edits without changing anything.

mod common;

use common::*;

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
    alpha.cli(&["peer", "list"]).success().stdout_empty();

    alpha.add_peer(&beta, false, true);
    alpha
        .cli(&[
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
    let list = alpha.cli(&["peer", "list"]).success().stdout_text();
    assert_eq!(
        list,
        format!(
            "beta passive * {}\ngamma 127.0.0.1:2119 mesh.* {}\n",
            beta.node_key(),
            gamma.node_key()
        )
    );

    alpha.cli(&["peer", "remove", "beta"]).success();
    assert_comments_kept(&alpha);
    let list = alpha.cli(&["peer", "list"]).success().stdout_text();
    assert!(!list.contains("beta"), "{list}");
    assert!(list.starts_with("gamma 127.0.0.1:2119 "), "{list}");

    alpha.cli(&["peer", "remove", "gamma"]).success();
    assert_comments_kept(&alpha);
    alpha.cli(&["peer", "list"]).success().stdout_empty();
    // The node still works with the edited config.
    alpha.post("mesh.test", "After edits", b"ok\n");
}

#[test]
fn bad_peer_edits_are_refused_and_change_nothing() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    alpha.add_peer(&beta, false, true);
    let before = alpha.config_text();

    alpha
        .cli(&["peer", "add", "beta", &beta.author_key()])
        .failure()
        .stderr_has("a peer named \"beta\" already exists");
    for bad_key in [
        "not-a-key",
        &beta.node_key()[..40],
        &format!("{}AAAA", beta.node_key()),
    ] {
        alpha
            .cli(&["peer", "add", "delta", bad_key])
            .failure()
            .stderr_has("malformed public key");
    }
    alpha
        .cli(&["peer", "remove", "zeta"])
        .failure()
        .stderr_has("no peer named \"zeta\"");
    alpha
        .cli(&[
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
        .cli(&["peer", "add", "bad name!", &beta.node_key()])
        .failure()
        .stderr_has("not a valid Path identity");

    assert_eq!(
        alpha.config_text(),
        before,
        "a refused edit changed the file"
    );
    assert_eq!(
        alpha.cli(&["peer", "list"]).success().stdout_text(),
        format!("beta passive * {}\n", beta.node_key())
    );
}
