//! Live relay: nodes running `serve` only (no `sync`) pass a new article along at once,
//! through NAT too (the last node of the line cannot be dialled: it receives over the
//! link it keeps to its neighbour), and cron `sync` still catches up a node that was
//! down.

#[path = "common/mesh.rs"]
mod mesh;

use std::time::Duration;

use mesh::{link_live, link_passive_live, wait_until, TestNode};

/// A generous deadline for "at once" (CI runs on two busy cores); the point is that no
/// `sync` runs at all.
const LIVE_DEADLINE: Duration = Duration::from_secs(20);

/// Five nodes in a line, all serving, every link live; `e` is behind NAT (`d` has no
/// address for it).
fn live_line() -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| TestNode::new(n))
        .collect();
    for pair in nodes[..4].windows(2) {
        link_live(&pair[0], &pair[1]);
    }
    link_passive_live(&nodes[3], &nodes[4]);
    for node in &mut nodes {
        node.start();
    }
    nodes
}

#[track_caller]
fn assert_everywhere_once(nodes: &[TestNode], id: &str) {
    let all_have = || nodes.iter().all(|n| n.copies_of(id) == 1);
    assert!(
        wait_until(LIVE_DEADLINE, all_have),
        "{id} did not reach every node within {LIVE_DEADLINE:?} by live relay: {:?}",
        nodes
            .iter()
            .map(|n| (n.name.clone(), n.copies_of(id)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_article_posted_at_one_end_of_a_line_reaches_the_other_end_without_sync() {
    let nodes = live_line();
    let body = "live from a\n\n.leading dot and trailing spaces   \n";
    let id = nodes[0].post("live", body);
    assert_everywhere_once(&nodes, &id);
    let far = nodes[4].read_id(&id).expect("e has it");
    assert!(far.contains("live from a"), "{far}");
    assert!(
        far.to_lowercase().contains("signature") && far.contains("valid"),
        "verified at the far end: {far}"
    );
    // Byte-exact: the body at the far end is the body posted.
    let raw = nodes[4].raw_article(&id);
    let posted = nodes[0].raw_article(&id);
    let body_of = |a: &[u8]| {
        let at = a
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        a[at..].to_vec()
    };
    assert_eq!(body_of(&raw), body_of(&posted));
    // And back: from behind the NAT to the other end, over the same link.
    let reply = nodes[4].post("live back", "from behind the NAT\n");
    assert_everywhere_once(&nodes, &reply);
    // `status` shows each live link up; e's link to d also receives (d cannot dial e),
    // and d has no live link of its own to e (passive).
    let live = |node: &TestNode, peer: &str| -> serde_json::Value {
        let run = node.run(&["status", "--json"]).ok();
        let status: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        let peers = status["peers"].as_array().expect("peers").clone();
        let p = peers.into_iter().find(|p| p["name"] == peer).expect("peer");
        p["live"].clone()
    };
    assert_eq!(live(&nodes[1], "a")["up"], true);
    assert_eq!(live(&nodes[1], "c")["receives"], false);
    assert_eq!(live(&nodes[4], "d")["up"], true);
    assert_eq!(live(&nodes[4], "d")["receives"], true);
    assert!(live(&nodes[3], "e").is_null());
    // Every link went live, and the marks moved: the next cron sync has nothing to move.
    for node in &nodes[..4] {
        let run = node.sync();
        run.assert_ok();
        assert_eq!(run.sent(), 0, "{}: {run:#?}", node.name);
        assert_eq!(run.received(), 0, "{}: {run:#?}", node.name);
    }
}

#[test]
fn a_node_that_was_down_is_caught_up_by_one_sync_and_relays_on() {
    let mut nodes = live_line();
    nodes[2].stop();
    let ids: Vec<String> = (0..3)
        .map(|i| nodes[0].post(&format!("while c was down {i}"), "held at b\n"))
        .collect();
    assert!(
        wait_until(LIVE_DEADLINE, || ids
            .iter()
            .all(|id| nodes[1].copies_of(id) == 1)),
        "b has them"
    );
    assert!(ids.iter().all(|id| nodes[3].copies_of(id) == 0));
    nodes[2].start();
    // One sync at c pulls them from b; c's serve then relays them on to d and e.
    nodes[2].sync().assert_ok();
    for id in &ids {
        assert_everywhere_once(&nodes, id);
    }
}

#[test]
fn cron_sync_running_beside_the_live_relay_moves_no_body_twice() {
    let mut a = TestNode::new("a");
    let mut b = TestNode::new("b");
    link_live(&a, &b);
    a.start();
    b.start();
    let ids: Vec<String> = (0..30)
        .map(|i| a.post(&format!("both ways {i}"), "raced\n"))
        .collect();
    // Cron's sync races the relay for the same articles, on both sides.
    let (sa, sb) = std::thread::scope(|s| {
        let sa = s.spawn(|| a.sync());
        let sb = s.spawn(|| b.sync());
        (sa.join().expect("a's sync"), sb.join().expect("b's sync"))
    });
    sa.assert_ok();
    sb.assert_ok();
    assert!(
        wait_until(LIVE_DEADLINE, || ids.iter().all(|id| b.copies_of(id) == 1)),
        "b has them all"
    );
    // Every body that reached b is in its article log, stored or refused: exactly one
    // arrival per article, whichever of relay and sync carried it.
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_to_string(b.home().join("news.log")).unwrap_or_default();
    for id in &ids {
        let arrivals = log
            .lines()
            .filter(|l| l.contains(&format!("id={id} ")) && !l.contains(" peer=local"))
            .count();
        assert_eq!(arrivals, 1, "{id} crossed {arrivals} times:\n{log}");
    }
    b.stop();
    a.stop();
}
