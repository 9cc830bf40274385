//! Governance on real nodes: an admin's signed control articles (policy, member, revoke)
//! reach every node of a mesh, a node that was offline included after one sync, and
//! every node enforces them; a non-admin's control article changes nothing.

mod common;

use common::*;

/// Every node takes `club.*` from any author by its own rules, and lists `admin` as the
/// hierarchy's admin.
fn govern(node: &Node, admins: &[&str]) {
    node.add_trust("club.*", &["any"]);
    node.add_control("club.*", admins);
}

fn author_key(node: &Node) -> String {
    node.cli(&["key"]).ok().stdout_text().trim().to_string()
}

/// Runs a command that prints a Message-ID alone; returns it.
#[track_caller]
fn message_id(node: &Node, args: &[&str]) -> String {
    let run = node.cli(args).ok();
    let id = run.stdout_text().trim().to_string();
    assert!(
        id.starts_with('<') && id.ends_with('>') && run.stdout_text().lines().count() == 1,
        "{args:?} prints the Message-ID alone: {run:?}"
    );
    id
}

/// Posts to club.a; Some(id) when the node took it, None when it refused it.
fn post(node: &Node, subject: &str, author: &str) -> Option<String> {
    let run = node.cli_stdin(
        &["post", "-g", "club.a", "-s", subject, "--author", author],
        b"hello\n",
    );
    run.succeeded()
        .then(|| run.stdout_text().trim().to_string())
}

/// The line a-b-c-d syncs both ways (e is not dialled: it is passive at d).
fn spread(line: &[&Node]) {
    for node in line[1..].iter().chain(line[1..line.len() - 1].iter().rev()) {
        SyncRun::of(node, &[]);
    }
}

#[test]
fn membership_and_revocation_reach_every_node_including_one_that_was_offline() {
    let nodes: Vec<Node> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| Node::init(n))
        .collect();
    let [a, b, c, d, e] = &nodes[..] else {
        unreachable!()
    };
    let admin = author_key(a);
    for node in &nodes {
        govern(node, &[&admin]);
    }
    // b's operator lists its own key as an admin too: its control articles count on b
    // alone.
    let rogue = author_key(b);
    govern(b, &[&admin, &rogue]);
    link(a, b, Link::BothDial);
    link(b, c, Link::BothDial);
    link(c, d, Link::BothDial);
    link(e, d, Link::FirstDials);
    let mut serving: Vec<Node> = nodes;
    for node in serving.iter_mut().take(4) {
        node.start();
    }
    let [a, b, c, d, e] = &serving[..] else {
        unreachable!()
    };
    let line = [a, b, c, d];
    // e takes the group and goes offline (it never serves; it syncs when told).
    a.cli(&["newgroup", "club.a"]).ok();
    spread(&line);
    SyncRun::of(e, &[]).assert_ok();
    // c's author key, also held on e under another name (to post there while offline).
    let member = author_key(c);
    std::fs::copy(
        c.home().join("authors/default.key"),
        e.home().join("authors/cee.key"),
    )
    .unwrap();

    message_id(a, &["policy", "club.*", "members"]);
    spread(&line);
    assert!(
        post(c, "before the grant", "default").is_none(),
        "not a member yet"
    );

    // The admin adds c's key: its next article is taken everywhere.
    message_id(a, &["member", "add", "club.*", &member]);
    spread(&line);
    let first = post(c, "a member now", "default").expect("c is a member");
    spread(&line);
    for node in [a, b, d] {
        assert!(node.has(&first), "{} has the member's article", node.name);
    }
    // A non-admin's control article changes nothing beyond its own node.
    message_id(b, &["member", "add", "club.*", &rogue]);
    let rogue_post = post(b, "rogue", "default").expect("b believes itself admin");
    spread(&line);
    for node in [a, c, d] {
        assert!(
            !node.has(&rogue_post),
            "{} refused the non-member",
            node.name
        );
        let list = node.cli(&["member", "list"]).ok().stdout_text();
        assert!(!list.contains(&rogue), "{}: {list}", node.name);
        assert!(
            list.contains(&format!("key={member}")),
            "{}: {list}",
            node.name
        );
    }

    // e, offline all along, posts with the member key; then the admin revokes it.
    let late = post(e, "while offline", "cee").expect("e has seen no policy yet");
    message_id(a, &["revoke", &member, "--reason", "compromised"]);
    spread(&line);
    assert!(post(c, "after the revocation", "default").is_none());
    // One sync brings e up to date: the revocation holds there, and its offline post is
    // refused by d.
    SyncRun::of(e, &[]);
    assert!(
        post(e, "after e synced", "cee").is_none(),
        "revoked on e too"
    );
    assert!(!d.has(&late), "d refuses the revoked key's article");
    let list = e.cli(&["member", "list", "club.*"]).ok().stdout_text();
    assert!(list.contains("revoked=compromised"), "{list}");

    // revoke --cancel withdraws what the key posted, on every node.
    message_id(
        a,
        &["revoke", &member, "--reason", "compromised", "--cancel"],
    );
    spread(&line);
    SyncRun::of(e, &[]);
    for node in [a, b, c, d, e] {
        assert!(
            !node.has(&first),
            "{} withdrew the revoked key's article",
            node.name
        );
    }
    assert!(!e.has(&late), "e withdrew its offline copy");
}

#[test]
fn governance_commands_refuse_clearly() {
    let a = Node::init("a");
    let admin = author_key(&a);
    // No [[control]] rule lists the key: not an admin.
    let run = a.cli(&["policy", "mesh.*", "members"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.is_empty());
    assert_eq!(run.stderr_text().lines().count(), 1, "{run:?}");
    assert!(
        run.stderr_text().contains("not an admin of mesh.*"),
        "{run:?}"
    );
    govern(&a, &[&admin]);
    for (args, expect) in [
        (vec!["policy", "club*", "members"], "NAME.*"),
        (
            vec!["member", "add", "club.*", "notakey"],
            "not an author key",
        ),
        (
            vec!["policy", "mesh.*", "members"],
            "not an admin of mesh.*",
        ),
        (
            vec!["policy", "club.*", "members"],
            "carries no group in club.*",
        ),
    ] {
        let run = a.cli(&args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(run.stderr_text().contains(expect), "{args:?}: {run:?}");
    }
    let run = a.cli(&["policy", "club.*", "closed"]);
    assert_eq!(run.code, Some(2), "usage error: {run:?}");
    a.cli(&["newgroup", "club.a"]).ok();
    message_id(&a, &["policy", "club.*", "members"]);
    message_id(&a, &["member", "add", "club.*", &admin]);
    message_id(&a, &["member", "remove", "club.*", &admin]);
    message_id(&a, &["moderator", "add", "club.a", &admin]);
    let list = a.cli(&["member", "list", "club.*"]).ok().stdout_text();
    assert!(
        list.contains(&format!("groups=club.a moderator={admin} from=<")),
        "{list}"
    );
    let list = a.cli(&["member", "list"]).ok().stdout_text();
    assert!(
        list.contains("groups=club.* policy=members from=<"),
        "{list}"
    );
    assert!(
        !list.contains(&format!("key={admin} from=<")),
        "removed: {list}"
    );
}

/// A relay that carries no group of a hierarchy still passes its governance on: b files
/// the admin's policy article in `control.governance`, and c, fed by b only `club.*`,
/// receives it and enforces it (its non-member's post is refused).
#[test]
fn governance_reaches_a_neighbour_fed_only_its_hierarchy_through_a_relay_without_its_groups() {
    let nodes: Vec<Node> = ["a", "b", "c"].iter().map(|n| Node::init(n)).collect();
    let [a, b, c] = &nodes[..] else {
        unreachable!()
    };
    let admin = author_key(a);
    for node in &nodes {
        govern(node, &[&admin]);
    }
    // a and c carry club.a; b, in the middle, carries none of club.*.
    for node in [a, c] {
        node.cli(&["groups", "--add", "club.a"]).ok();
    }
    link(a, b, Link::BothDial);
    link(b, c, Link::BothDial);
    b.cli(&["peer", "edit", "c", "--groups", "club.*"]).ok();
    let mut serving = nodes;
    for node in serving.iter_mut() {
        node.start();
    }
    let [a, b, c] = &serving[..] else {
        unreachable!()
    };
    let policy = message_id(a, &["policy", "club.*", "members"]);
    SyncRun::of(b, &[]).assert_ok();
    assert!(b.has(&policy), "b relays it");
    SyncRun::of(c, &[]).assert_ok();
    SyncRun::of(b, &[]).assert_ok();
    assert!(
        c.has(&policy),
        "c, fed club.* by b, has club.*'s governance"
    );
    let list = c.cli(&["member", "list"]).ok().stdout_text();
    assert!(list.contains("policy=members"), "{list}");
    assert!(
        post(c, "not a member", "default").is_none(),
        "c enforces the policy"
    );
}
