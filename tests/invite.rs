//! Joining by invite, on real nodes: a mesh built from scratch with `init`, `invite` and
//! `join` alone; bad codes (reused, expired, forged, truncated, withdrawn) refused with
//! one line and no configuration changed on either side; an admin inviter grants the
//! newcomer membership of a members-only hierarchy.

mod common;

use common::*;
use newsmesh::invite::code::InviteCode;

#[track_caller]
fn invite(node: &Node, args: &[&str]) -> String {
    let mut full = vec!["invite"];
    full.extend_from_slice(args);
    let run = node.cli(&full).ok();
    run.stdout_line()
}

#[track_caller]
fn join(node: &Node, code: &str) {
    let run = node.cli(&["join", code]);
    assert_eq!(run.code, Some(0), "{} joins: {run:#?}", node.name);
}

fn config(node: &Node) -> String {
    std::fs::read_to_string(node.home().join("newsmesh.toml")).unwrap()
}

#[test]
fn six_nodes_from_scratch_with_init_invite_and_join_alone() {
    let mut nodes: Vec<Node> = (0..6).map(|i| Node::init(&format!("n{i}"))).collect();
    nodes[0].start();
    // A tree: each newcomer is invited by a node already in the mesh, then serves.
    for (newcomer, inviter) in [(1, 0), (2, 0), (3, 1), (4, 2), (5, 3)] {
        let code = invite(&nodes[inviter], &[]);
        join(&nodes[newcomer], &code);
        nodes[newcomer].start();
    }
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| n.post(GROUP, &format!("hello from {}", n.name), "hi\n"))
        .collect();
    // Cron-style rounds: leaves towards n0, then back out.
    for round in [[5, 4, 3, 2, 1], [1, 2, 3, 4, 5]] {
        for i in round {
            SyncRun::of(&nodes[i], &[]).assert_ok();
        }
    }
    for node in &nodes {
        for id in &ids {
            assert!(node.has(id), "{} has {id}", node.name);
        }
    }
}

#[test]
fn bad_codes_are_refused_with_one_line_and_change_nothing() {
    let mut inviter = Node::init("inviter");
    inviter.start();
    let newcomer = Node::init("newcomer");
    let before = (config(&inviter), config(&newcomer));
    let refused = |code: &str, expect: &str| {
        let run = newcomer.cli(&["join", code]);
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert_eq!(
            run.stderr_text().trim().lines().count(),
            1,
            "one line: {run:#?}"
        );
        assert!(
            run.stderr_text().contains(expect),
            "wanted {expect:?}: {run:#?}"
        );
        assert_eq!(
            (config(&inviter), config(&newcomer)),
            before,
            "no config changed"
        );
    };
    let code = invite(&inviter, &[]);
    // Truncated and damaged codes never dial.
    refused(&code[..code.len() - 7], "truncated or damaged");
    refused(&code[..20], "truncated or damaged");
    refused("hello", "not a newsmesh invite code");
    // Forged: a well-formed code with a secret the inviter never made.
    let mut forged = InviteCode::decode(&code).unwrap();
    forged.secret = [42; 32];
    refused(&forged.encode(), "no such invite");
    // Forged the other way: the right secret, another node's key pinned.
    let mut pinned = InviteCode::decode(&code).unwrap();
    pinned.node_key = newcomer
        .cli(&["key", "--node"])
        .ok()
        .stdout_text()
        .trim()
        .to_string();
    refused(&pinned.encode(), "TLS");
    // Withdrawn.
    let withdrawn = invite(&inviter, &[]);
    inviter.cli(&["invite", "--revoke", &withdrawn]).ok();
    refused(&withdrawn, "no such invite");
    // Expired.
    let short = invite(&inviter, &["--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    refused(&short, "expired");
    // Reused: the first redemption works, a second newcomer's does not.
    join(&newcomer, &code);
    let second = Node::init("second");
    let second_before = config(&second);
    let run = second.cli(&["join", &code]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr_text().contains("used already"), "{run:#?}");
    assert_eq!(config(&second), second_before);
    assert!(!config(&inviter).contains("name = \"second\""));
}

#[test]
fn an_admin_inviter_grants_the_newcomer_membership() {
    let mut admin = Node::init("admin");
    let key = admin.cli(&["key"]).ok().stdout_text().trim().to_string();
    admin.add_trust("club.*", &["any"]);
    admin.add_control("club.*", &[&key]);
    admin.cli(&["newgroup", "club.a"]).ok();
    admin.cli(&["policy", "club.*", "members"]).ok();
    admin.start();
    let newcomer = Node::init("newcomer");
    let code = invite(&admin, &["--groups", "club.*"]);
    join(&newcomer, &code);
    // The newcomer took the hierarchy's rules and is a member.
    let taken = config(&newcomer);
    assert!(taken.contains(&key), "{taken}");
    let id = newcomer.post("club.a", "I am in", "hello\n");
    SyncRun::of(&newcomer, &[]).assert_ok();
    assert!(admin.has(&id));
    let list = admin.cli(&["member", "list"]).ok().stdout_text();
    let member = newcomer.cli(&["key"]).ok().stdout_text().trim().to_string();
    assert!(list.contains(&format!("key={member}")), "{list}");
}
