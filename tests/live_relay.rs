//! Live relay: nodes running `serve` only (no `sync`) pass a new article along at once,
//! through NAT too (the last node of the line cannot be dialled: it receives over the
//! link it keeps to its neighbour), and cron `sync` still catches up a node that was
//! down.

mod common;

use std::time::Duration;

use common::*;

/// A generous deadline for "at once" (CI runs on two busy cores); the point is that no
/// `sync` runs at all.
const LIVE_DEADLINE: Duration = Duration::from_secs(20);

/// Five nodes in a line, all serving, every link live; `e` is behind NAT (`d` has no
/// address for it).
fn live_line() -> Vec<Node> {
    let mut nodes: Vec<Node> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| Node::init(n))
        .collect();
    for pair in nodes[..4].windows(2) {
        link(&pair[0], &pair[1], Link::Live);
    }
    link(&nodes[4], &nodes[3], Link::FirstDialsLive);
    for node in &mut nodes {
        node.start();
    }
    nodes
}

#[track_caller]
fn assert_everywhere_once(nodes: &[Node], id: &str) {
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
    let id = nodes[0].post(GROUP, "live", body);
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
    let reply = nodes[4].post(GROUP, "live back", "from behind the NAT\n");
    assert_everywhere_once(&nodes, &reply);
    // `status` shows each live link up; e's link to d also receives (d cannot dial e),
    // and d has no live link of its own to e (passive).
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
        .map(|i| nodes[0].post(GROUP, &format!("while c was down {i}"), "held at b\n"))
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
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    link(&a, &b, Link::Live);
    a.start();
    b.start();
    let ids: Vec<String> = (0..30)
        .map(|i| a.post(GROUP, &format!("both ways {i}"), "raced\n"))
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

/// `status --json` of `node`: the entry for `peer` (Null when it lists no such peer).
fn peer_status(node: &Node, peer: &str) -> serde_json::Value {
    let run = node.cli(&["status", "--json"]).ok();
    let status: serde_json::Value = serde_json::from_str(&run.stdout_text()).expect("json");
    let peers = status["peers"].as_array().expect("peers").clone();
    peers
        .into_iter()
        .find(|p| p["name"] == peer)
        .unwrap_or(serde_json::Value::Null)
}

/// `node`'s own live link to `peer`, as `status --json` shows it.
fn live(node: &Node, peer: &str) -> serde_json::Value {
    peer_status(node, peer)["live"].clone()
}

/// `peer`'s live link into `node` (it idles on `node` with MESH IDLE).
fn live_inbound(node: &Node, peer: &str) -> serde_json::Value {
    peer_status(node, peer)["live_inbound"].clone()
}

#[test]
fn a_peer_added_while_serving_gets_a_live_link_and_loses_it_when_no_longer_live() {
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    // a knows b as a passive peer (b dials it); b starts knowing nobody.
    a.add_peer(&b, false, true);
    a.start();
    b.start();
    // The operator adds a on b while b serves: the file watcher reloads it, the relay
    // follows, and what b posts reaches a without sync and without a restart.
    b.add_peer(&a, true, true);
    let id = b.post(
        GROUP,
        "after the reload",
        "relayed by a link the reload opened\n",
    );
    assert!(
        wait_until(LIVE_DEADLINE, || a.copies_of(&id) == 1),
        "a never got {id} from b's live relay:\n{}",
        b.serve_logs()
    );
    assert!(wait_until(LIVE_DEADLINE, || live(&b, "a")["up"] == true));
    // The link idles on a (a cannot dial b): a's status shows it waiting there.
    assert!(wait_until(LIVE_DEADLINE, || live_inbound(&a, "b")["up"] == true));
    // Live turned off: the link is closed, on both sides.
    b.set_peer_option("a", "live", false);
    assert!(
        wait_until(LIVE_DEADLINE, || live(&b, "a").is_null()),
        "b still shows a live link to a: {}",
        live(&b, "a")
    );
    assert!(
        wait_until(LIVE_DEADLINE, || live_inbound(&a, "b")["up"] == false),
        "a still sees b's link: {}",
        live_inbound(&a, "b")
    );
    // On again, then removed: opened again, then closed again.
    b.set_peer_option("a", "live", true);
    assert!(wait_until(LIVE_DEADLINE, || live_inbound(&a, "b")["up"] == true));
    b.cli(&["peer", "remove", "a"]).ok();
    assert!(
        wait_until(LIVE_DEADLINE, || live_inbound(&a, "b")["up"] == false),
        "b's link to a outlived a's removal from b's config: {}",
        live_inbound(&a, "b")
    );
    assert!(peer_status(&b, "a").is_null());
    let state = std::fs::read_to_string(b.home().join("live.state")).unwrap_or_default();
    assert!(!state.contains("\"a\""), "{state}");
    b.stop();
    a.stop();
}

#[test]
fn the_hub_shows_the_live_link_of_a_node_behind_nat_while_it_idles() {
    let mut hub = Node::init("hub");
    let mut nat = Node::init("nat");
    link(&nat, &hub, Link::FirstDialsLive);
    hub.start();
    nat.start();
    assert!(
        wait_until(LIVE_DEADLINE, || live_inbound(&hub, "nat")["up"] == true),
        "hub's status never showed nat's live link: {}",
        peer_status(&hub, "nat")
    );
    // The hub dials nothing to nat (no address): its own live link stays null.
    assert!(live(&hub, "nat").is_null());
    let text = hub.cli(&["status"]).ok().stdout_text();
    assert!(
        text.contains("its live link here: up"),
        "status text shows it:\n{text}"
    );
    nat.stop();
    assert!(
        wait_until(LIVE_DEADLINE, || live_inbound(&hub, "nat")["up"] == false),
        "hub still shows nat's live link up after nat stopped: {}",
        peer_status(&hub, "nat")
    );
    let text = hub.cli(&["status"]).ok().stdout_text();
    assert!(text.contains("its live link here: down"), "{text}");
    hub.stop();
    // No serve, no live facts.
    assert!(live_inbound(&hub, "nat").is_null());
}

/// p (where articles are posted) live to two hubs h1 and h2, and n, not linked yet.
fn poster_two_hubs_and_n() -> [Node; 4] {
    let nodes = ["p", "h1", "h2", "n"].map(Node::init);
    link(&nodes[0], &nodes[1], Link::Live);
    link(&nodes[0], &nodes[2], Link::Live);
    nodes
}

#[test]
fn a_node_behind_nat_with_two_hubs_takes_each_body_once() {
    const ARTICLES: usize = 50;
    let [mut p, mut h1, mut h2, mut n] = poster_two_hubs_and_n();
    link(&n, &h1, Link::FirstDialsLive);
    link(&n, &h2, Link::FirstDialsLive);
    for node in [&mut p, &mut h1, &mut h2] {
        node.start();
    }
    // While n is down, both hubs get the same articles; when n starts, its two links
    // come up together and both find all of them new.
    let mut ids: Vec<String> = (0..ARTICLES)
        .map(|i| {
            p.post(
                GROUP,
                &format!("while n was down {i}"),
                "one crossing into n\n",
            )
        })
        .collect();
    let on_both_hubs = |ids: &[String]| ids.iter().all(|id| h1.has(id) && h2.has(id));
    assert!(wait_until(LIVE_DEADLINE, || on_both_hubs(&ids)));
    n.start();
    // Then live: each article reaches both hubs at about the same moment and wakes
    // both of n's links.
    for hub in [&h1, &h2] {
        assert!(wait_until(LIVE_DEADLINE, || live_inbound(hub, "n")["up"] == true));
    }
    ids.extend((0..ARTICLES).map(|i| p.post(GROUP, &format!("two hubs {i}"), "live into n\n")));
    assert!(
        wait_until(LIVE_DEADLINE, || ids.iter().all(|id| n.copies_of(id) == 1)),
        "n did not get them all"
    );
    // Every body that crossed into n is counted by the link that brought it:
    // received (stored) or duplicates (here already).
    let moved = || {
        let (mut received, mut duplicates) = (0, 0);
        for hub in ["h1", "h2"] {
            let l = live(&n, hub);
            received += l["received"].as_u64().unwrap_or(0);
            duplicates += l["duplicates"].as_u64().unwrap_or(0);
        }
        (received, duplicates)
    };
    assert!(
        wait_until(LIVE_DEADLINE, || moved().0 == ids.len() as u64),
        "n's links counted {:?} bodies",
        moved()
    );
    // A late second copy would be counted within a flush or two.
    std::thread::sleep(Duration::from_millis(2500));
    let (received, duplicates) = moved();
    assert_eq!(
        (received, duplicates),
        (ids.len() as u64, 0),
        "{duplicates} bodies crossed into n twice"
    );
    for node in [&mut n, &mut h2, &mut h1, &mut p] {
        node.stop();
    }
}

#[test]
fn a_body_pushed_in_by_one_neighbour_is_not_also_pulled_from_another() {
    const ARTICLES: usize = 50;
    let [mut p, mut h1, mut h2, mut n] = poster_two_hubs_and_n();
    // h1 dials n and pushes into n's server; n idles on h2 and pulls.
    link(&h1, &n, Link::Live);
    link(&n, &h2, Link::FirstDialsLive);
    for node in [&mut p, &mut h1, &mut h2, &mut n] {
        node.start();
    }
    assert!(wait_until(LIVE_DEADLINE, || live(&h1, "n")["up"] == true));
    assert!(wait_until(LIVE_DEADLINE, || live_inbound(&h2, "n")["up"] == true));
    let ids: Vec<String> = (0..ARTICLES)
        .map(|i| p.post(GROUP, &format!("push or pull {i}"), "one crossing into n\n"))
        .collect();
    assert!(
        wait_until(LIVE_DEADLINE, || ids.iter().all(|id| n.copies_of(id) == 1)),
        "n did not get them all"
    );
    // Bodies into n: pushed by h1 (taken, or turned down as already here: h1's log
    // has those) and pulled from h2 (stored, or found here already).
    let moved = || {
        let pushed = live(&h1, "n")["sent"].as_u64().unwrap_or(0);
        let log = std::fs::read_to_string(h1.home().join("news.log")).unwrap_or_default();
        let pushed_twice = log
            .lines()
            .filter(|l| l.contains("peer-refused") && l.contains("peer=n "))
            .count() as u64;
        let from_h2 = live(&n, "h2");
        let pulled = from_h2["received"].as_u64().unwrap_or(0);
        let pulled_twice = from_h2["duplicates"].as_u64().unwrap_or(0);
        (pushed + pulled, pushed_twice + pulled_twice)
    };
    assert!(
        wait_until(LIVE_DEADLINE, || moved().0 == ARTICLES as u64),
        "bodies counted into n: {:?}",
        moved()
    );
    std::thread::sleep(Duration::from_millis(2500));
    let (once, twice) = moved();
    assert_eq!(
        (once, twice),
        (ARTICLES as u64, 0),
        "{twice} bodies crossed into n twice"
    );
    for node in [&mut n, &mut h2, &mut h1, &mut p] {
        node.stop();
    }
}

/// Issue 21, finding 1: the live relay runs on the configuration `serve` runs on. A
/// `newsmesh.toml` edited into a state `serve` refuses (it keeps the last good one)
/// must neither stop a link from dialling again nor stop what it pulls from being
/// stored (judged by serve's trust policy, not the file's). Before, the link and the
/// storer of a pull of several batches loaded the file again and failed.
#[test]
fn live_links_run_on_serves_configuration_when_the_file_is_broken() {
    let mut hub = Node::init("hub");
    let mut nat = Node::init("nat");
    link(&nat, &hub, Link::FirstDialsLive);
    // One article a batch: every pull of two or more needs the storer's second node.
    nat.set_limit("sync_batch_bytes", "1");
    nat.set_limit("live_retry_max_secs", "1");
    hub.start();
    nat.start();
    let first = hub.post(GROUP, "before", "the file is fine\n");
    assert!(
        wait_until(LIVE_DEADLINE, || nat.copies_of(&first) == 1),
        "nat pulls over its live link"
    );
    // Broken on disk: serve refuses it and keeps running on what it loaded.
    nat.append_config("this is = = not toml [[[");
    nat.reload();
    // The hub goes away and comes back: nat's link must dial it again.
    hub.stop();
    hub.start();
    let ids: Vec<String> = (0..3)
        .map(|i| hub.post(GROUP, &format!("after {i}"), "the file is broken\n"))
        .collect();
    assert!(
        wait_until(LIVE_DEADLINE, || ids
            .iter()
            .all(|id| nat.copies_of(id) == 1)),
        "nat's live link stopped working once its newsmesh.toml was broken:\n{}",
        nat.serve_logs()
    );
}
