//! Running for years (issue 22): the age window at ingest keeps expired articles from
//! coming back. Time is simulated: every command runs with `NEWSMESH_NOW` set (the
//! node's clock, `newsmesh::clock`), so three years pass without sleeping, and each
//! article's Date is the simulated time it was posted.

mod common;

use common::*;
use std::collections::HashSet;

/// A day in seconds.
const DAY: i64 = 86_400;

/// The simulated start: 2027-01-15.
const T0: i64 = 1_800_000_000;

/// Runs `args` on `node` at simulated time `now`.
fn at(node: &Node, now: i64, args: &[&str]) -> Run {
    let mut cmd = node.command(args);
    cmd.env(newsmesh::clock::NOW_VAR, now.to_string());
    run(cmd, None, DEFAULT_TIMEOUT)
}

/// `nat` dials `hub`, which lists it as passive.
fn link_passive(hub: &Node, nat: &Node) {
    link(nat, hub, Link::FirstDials);
}

/// Posts to mesh.test at `now`; returns the Message-ID.
fn post_at(node: &Node, now: i64, subject: &str) -> String {
    let mut cmd = node.command(&["post", "-g", GROUP, "-s", subject]);
    cmd.env(newsmesh::clock::NOW_VAR, now.to_string());
    let done = run(cmd, Some(subject.as_bytes().to_vec()), DEFAULT_TIMEOUT);
    done.success().stdout_line()
}

/// `sync -v` at `now`: the peer lines and the refusal lines.
fn sync_at(node: &Node, now: i64) -> (Vec<SyncLine>, Vec<String>) {
    let done = at(node, now, &["sync", "-v"]);
    assert_eq!(
        done.code,
        Some(0),
        "sync on {} failed: {done:#?}",
        node.name
    );
    let stdout = done.stdout_text();
    let (refusals, lines): (Vec<&str>, Vec<&str>) = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .partition(|l| l.starts_with("refused "));
    (
        lines.into_iter().map(SyncLine::parse).collect(),
        refusals.into_iter().map(str::to_string).collect(),
    )
}

/// Starts (or restarts) `node`'s serve with its clock at `now`.
fn serve_at(node: &mut Node, now: i64) {
    if node.serving() {
        node.stop();
    }
    node.start_with_env(&[(newsmesh::clock::NOW_VAR, &now.to_string())]);
}

fn news_log(node: &Node) -> String {
    std::fs::read_to_string(node.home().join("news.log")).unwrap_or_default()
}

/// Short retention: 30 days, history 60 (so the age limit is 59 days).
const SHORT: &str = "[expire]\nhistory_days = 60\n[[expire.rule]]\ngroups = \"*\"\ndays = 30\n";

/// Keeps everything: history of 2000 days, no retention rule.
const LONG: &str = "[expire]\nhistory_days = 2000\n";

fn set_expire(node: &Node, text: &str) {
    // `init` writes an [expire] table; replace it.
    let path = node.config_path();
    let config = std::fs::read_to_string(&path).unwrap();
    let kept: String = match config.find("[expire]") {
        Some(start) => {
            let rest = &config[start + "[expire]".len()..];
            let end = rest.find("\n[").map_or(config.len(), |e| start + 8 + e + 1);
            format!("{}{}", &config[..start], &config[end..])
        }
        None => config,
    };
    std::fs::write(&path, format!("{kept}\n{text}")).unwrap();
}

#[test]
fn an_expired_article_is_refused_from_a_longer_retention_and_a_first_contact() {
    let mut alpha = Node::init("alpha");
    let mut keeper = Node::init("keeper");
    let gamma = Node::init("gamma");
    set_expire(&alpha, SHORT);
    set_expire(&gamma, SHORT);
    set_expire(&keeper, LONG);
    // Both dial; only `sync` moves articles.
    link(&alpha, &keeper, Link::BothDial);
    serve_at(&mut keeper, T0);

    let old = post_at(&keeper, T0, "from the first day");
    let (lines, _) = sync_at(&alpha, T0);
    assert_eq!(lines[0].num("received"), 1, "{lines:?}");
    keeper.stop();

    // 70 days on: alpha's retention and then its history have let the article go.
    let later = T0 + 70 * DAY;
    at(&alpha, later, &["expire"]).success();
    assert!(!alpha.has(&old));
    assert_eq!(alpha.history_status(&old), None, "history forgot it");

    // The keeper, back after months (it never pushed to alpha), offers it with CHECK and
    // TAKETHIS: refused "too old", with the reason in both logs.
    serve_at(&mut alpha, later);
    let (lines, refusals) = sync_at(&keeper, later);
    assert_eq!(lines[0].num("sent"), 0, "{lines:?}");
    assert_eq!(lines[0].num("refused"), 1, "{lines:?}");
    assert!(
        refusals
            .iter()
            .any(|r| r.contains(&old) && r.contains("by=peer") && r.contains("too old")),
        "sync -v names the reason: {refusals:?}"
    );
    assert!(!alpha.has(&old));
    assert!(news_log(&alpha).contains("too old"), "{}", news_log(&alpha));
    alpha.stop();

    // A node meeting the keeper for the first time (a full listing) refuses it the same
    // way, and takes the in-range one.
    link_passive(&keeper, &gamma);
    serve_at(&mut keeper, later);
    let fresh = post_at(&keeper, later, "recent");
    let (lines, refusals) = sync_at(&gamma, later);
    assert_eq!(
        lines[0].num("received"),
        1,
        "the in-range one flows: {lines:?}"
    );
    assert!(gamma.has(&fresh));
    assert!(!gamma.has(&old));
    assert!(
        refusals
            .iter()
            .any(|r| r.contains(&old) && r.contains("too old")),
        "{refusals:?}"
    );
    assert!(news_log(&gamma).contains("too old"));

    // An article dated a month ahead of the keeper's clock is refused there.
    let ahead = post_at(&alpha, later + 30 * DAY, "from the future");
    let (lines, refusals) = sync_at(&alpha, later + 30 * DAY);
    assert_eq!(lines[0].num("refused"), 1, "{lines:?}");
    assert!(refusals.iter().any(|r| r.contains("dated in the future")));
    assert!(!keeper.has(&ahead));
    assert!(news_log(&keeper).contains("dated in the future"));
    keeper.stop();
}

#[test]
fn a_config_whose_retention_outlives_history_is_refused() {
    let node = Node::init("solo");
    set_expire(
        &node,
        "[expire]\nhistory_days = 30\n[[expire.rule]]\ngroups = \"*\"\ndays = 45\n",
    );
    let done = node.cli(&["status"]);
    assert_ne!(done.code, Some(0), "{done:#?}");
    assert!(done.stderr_text().contains("history_days"), "{done:#?}");
}

/// Articles of `node` that were already older than `days` when they arrived.
fn stored_too_old(node: &Node, days: i64) -> i64 {
    node.db()
        .query_row(
            "SELECT COUNT(*) FROM articles WHERE posted < arrived - ?1",
            [days * DAY],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn three_years_with_one_long_memory_move_no_expired_article_back() {
    // A hub keeping everything and four nodes keeping 30 days (history 60) in a star.
    // One short node is off for half a year, one joins after a year and a half.
    let mut hub = Node::init("hub");
    set_expire(&hub, LONG);
    let shorts: Vec<Node> = (1..=4)
        .map(|i| {
            let n = Node::init(&format!("short{i}"));
            set_expire(&n, SHORT);
            link_passive(&hub, &n);
            n
        })
        .collect();
    let mut expired: Vec<HashSet<String>> = vec![HashSet::new(); shorts.len()];
    let steps = 3 * 365 / 45;
    for step in 0..steps {
        let now = T0 + step as i64 * 45 * DAY;
        serve_at(&mut hub, now);
        for (i, node) in shorts.iter().enumerate() {
            let away = i == 2 && (4..8).contains(&step);
            let not_yet = i == 3 && step < 12;
            if away || not_yet {
                continue;
            }
            post_at(node, now, &format!("step {step} from {}", node.name));
            sync_at(node, now);
        }
        for (i, node) in shorts.iter().enumerate() {
            let before: HashSet<String> = node.message_ids().into_iter().collect();
            assert!(
                before.is_disjoint(&expired[i]),
                "{} took back an article it had expired (step {step})",
                node.name
            );
            assert_eq!(
                stored_too_old(node, 59),
                0,
                "{} stored an article older than its window (step {step})",
                node.name
            );
            at(node, now, &["expire"]).success();
            let after: HashSet<String> = node.message_ids().into_iter().collect();
            expired[i].extend(before.difference(&after).cloned());
        }
    }
    hub.stop();
    assert!(
        expired.iter().all(|e| !e.is_empty()),
        "every short node expired something"
    );
    assert!(hub.article_count() >= steps as i64 * 2);
}

/// Quotas for the quota tests: 3 articles per author key, 100 per neighbour, per day.
const QUOTA: &str =
    "[[admission.quota]]\ngroups = \"*\"\nauthor_articles = 3\npeer_articles = 100\n";

/// Now, by the system clock (the articles composed in this process carry it).
fn real_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn an_author_past_its_quota_is_told_to_try_later_everywhere_and_loses_nothing() {
    // poster -> hub (serving) <- reader, every node with the same quota.
    let poster = Node::init("poster");
    let mut hub = Node::init("hub");
    let far = Node::init("far");
    for n in [&poster, &hub, &far] {
        n.append_config(QUOTA);
    }
    link_passive(&hub, &poster);
    link_passive(&hub, &far);
    let today = real_now();
    let tomorrow = today + DAY;
    serve_at(&mut hub, today);
    // The operator posts past the quota: its own node never refuses it.
    let ids: Vec<String> = (0..5)
        .map(|i| post_at(&poster, today, &format!("post {i}")))
        .collect();
    assert!(ids.iter().all(|id| poster.has(id)));
    let (lines, _) = sync_at(&poster, today);
    assert_eq!(lines[0].num("sent"), 3, "{lines:?}");
    assert_eq!(
        lines[0].get("deferred"),
        "2",
        "the line says the rest waits"
    );
    assert_eq!(lines[0].num("refused"), 0, "a deferral is not a refusal");
    let held = |n: &Node| ids.iter().filter(|id| n.has(id)).count();
    assert_eq!(held(&hub), 3);
    let deferred = ids.iter().find(|id| !hub.has(id)).unwrap();
    assert_eq!(hub.history_status(deferred), None, "no history row");
    assert!(news_log(&hub).contains("over quota, try later"));
    sync_at(&far, today);
    assert_eq!(held(&far), 3);

    // The next day the window has moved: the rest comes, nothing was lost.
    serve_at(&mut hub, tomorrow);
    let (lines, _) = sync_at(&poster, tomorrow);
    assert_eq!(lines[0].num("sent"), 2, "{lines:?}");
    assert!(!lines[0].raw.contains("deferred="), "{lines:?}");
    sync_at(&far, tomorrow);
    assert_eq!(held(&hub), 5);
    assert_eq!(held(&far), 5);
    hub.stop();
}

#[test]
fn a_thousand_fresh_keys_are_bounded_by_the_neighbours_quota() {
    use newsmesh::compose::{compose, Draft};
    use newsmesh::home::Home;
    use newsmesh::ingest::{ingest, Rules, Source, Verdict};

    let source = Node::init("source");
    let mut hub = Node::init("hub");
    hub.append_config(QUOTA);
    link_passive(&hub, &source);
    // A thousand articles, each by a fresh key, imported on `source` (the operator's
    // import is never refused).
    {
        let mut open = Home::new(source.home()).open().expect("open source");
        let raws: Vec<Vec<u8>> = (0..1000u32)
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                let subject = format!("sock puppet {i}");
                let draft = Draft {
                    groups: GROUP,
                    subject: &subject,
                    from: "puppet@example.invalid",
                    references: None,
                    body: b"buy now\n",
                };
                compose(&draft, "source", &key).to_bytes()
            })
            .collect();
        let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        let rules = Rules::new(&open.config, &open.trust).from(Source::Import);
        let verdicts = ingest(&mut open.spool, &rules, &refs).expect("ingest");
        assert!(verdicts.iter().all(|v| matches!(v, Verdict::Stored(_))));
    }
    let today = real_now();
    serve_at(&mut hub, today);
    let (lines, _) = sync_at(&source, today);
    assert_eq!(lines[0].num("sent"), 100, "{lines:?}");
    assert_eq!(lines[0].get("deferred"), "900");
    assert_eq!(hub.article_count(), 100);
    // The operator's status names who is filling the spool.
    let status = hub.cli(&["status"]).success().stdout_text();
    assert!(status.contains("top authors today:"), "{status}");
    hub.stop();
}

#[test]
fn a_sync_line_says_how_many_articles_were_left_in_flight_for_later() {
    // The neighbour answers every CHECK "431 try later", as `serve` does for an id its
    // feed session from our live relay holds in flight.
    let node = Node::init("node");
    let identity = Node::init("busy");
    let busy = fake_peer::FakePeer::start_as(identity.signing_key(), |words| match words {
        ["MESH", "SINCE", ..] => Some(b"293 busyepoch 0 0\r\n.\r\n".to_vec()),
        ["CHECK", id] => Some(format!("431 {id} in flight, try later\r\n").into_bytes()),
        _ => None,
    });
    let addr = busy.addr.to_string();
    let key = identity.node_key();
    let add = ["peer", "add", "busy", &key, "--address", &addr, "--no-tls"];
    node.cli(&add).success();
    node.post(GROUP, "one", "1\n");
    node.post(GROUP, "two", "2\n");
    for round in 0..2 {
        let run = node.sync();
        run.assert_ok();
        let line = run.peer("busy");
        assert_eq!(line.get("deferred"), "2", "round {round}: {}", line.raw);
        assert_eq!(line.moved(), (0, 0, 0), "{}", line.raw);
        // The BRIEF's keys first, in order; deferred= appended.
        assert!(line
            .raw
            .starts_with("peer=busy status=ok sent=0 received=0 refused=0 bytes="));
        assert!(line.raw.contains(" tls=no deferred=2"), "{}", line.raw);
    }
}

#[test]
fn listings_and_pushes_leave_out_what_the_window_refuses() {
    // A node that keeps articles past its own age window (no retention rule) neither
    // lists nor pushes them: a neighbour with the same window would refuse them, so no
    // body crosses for nothing.
    let mut old_hand = Node::init("oldhand");
    let newcomer = Node::init("newcomer");
    for n in [&old_hand, &newcomer] {
        set_expire(n, "[expire]\nhistory_days = 100\n");
    }
    let old = post_at(&old_hand, T0, "kept past the window");
    let later = T0 + 120 * DAY;
    let fresh = post_at(&old_hand, later, "inside the window");
    assert!(old_hand.has(&old), "no retention rule: still stored");
    link_passive(&old_hand, &newcomer);
    serve_at(&mut old_hand, later);
    // First contact: a full listing.
    let (lines, refusals) = sync_at(&newcomer, later);
    assert_eq!(lines[0].num("received"), 1, "{lines:?}");
    assert_eq!(
        lines[0].num("refused"),
        0,
        "not listed, so not refused: {refusals:?}"
    );
    assert!(newcomer.has(&fresh) && !newcomer.has(&old));
    old_hand.stop();
    // Push: the old hand dials another newcomer and offers only what is in the window.
    let mut pushed_to = Node::init("pushedto");
    set_expire(&pushed_to, "[expire]\nhistory_days = 100\n");
    link_passive(&pushed_to, &old_hand);
    serve_at(&mut pushed_to, later);
    let (lines, refusals) = sync_at(&old_hand, later);
    assert_eq!(lines[0].num("sent"), 1, "{lines:?}");
    assert_eq!(lines[0].num("refused"), 0, "not offered: {refusals:?}");
    assert!(pushed_to.has(&fresh) && !pushed_to.has(&old));
    pushed_to.stop();
}
