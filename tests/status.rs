//! How a node and its neighbours are doing, seen by an operator: `newsmesh status`
//! (text and `--json`) after real syncs, the article log `news.log` with every accepted
//! and refused article, `sync -v` naming each refused article, and `import` naming the
//! Message-ID of each refusal.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// `newsmesh status --json`, parsed.
fn status(node: &Node) -> Value {
    let run = node.cli(&["status", "--json"]).ok();
    serde_json::from_str(&run.stdout_text())
        .unwrap_or_else(|e| panic!("{e}: {}", run.stdout_text()))
}

/// The entry for `name` in `peers`.
fn peer<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["peers"]
        .as_array()
        .expect("peers is an array")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no peer {name} in {status:#}"))
}

/// The lines of `news.log`, split into fields.
fn news_log(node: &Node) -> Vec<String> {
    std::fs::read_to_string(node.home().join("news.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Finding: there was no way to see how a node was doing; `status --json` must list
/// every neighbour (dialled, failing, passive) with its backlog and last result.
#[test]
fn status_json_lists_every_peer_with_its_backlog_and_last_result() {
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    // A neighbour that is down, and one behind NAT that dials us.
    let down = Node::init("down");
    alpha
        .cli(&[
            "peer",
            "add",
            "down",
            &down.node_key(),
            "--address",
            &down.addr.to_string(),
        ])
        .ok();
    let nat = Node::init("nat");
    alpha.add_peer(&nat, false, false);
    beta.start();
    for i in 0..3 {
        alpha.post(GROUP, &format!("news {i}"), "hello\n");
    }

    let before = status(&alpha);
    assert_eq!(before["node"], "alpha");
    assert_eq!(before["spool"]["articles"], 3);
    assert_eq!(peer(&before, "beta")["backlog"], 3);
    assert_eq!(peer(&before, "beta")["last_sync"], Value::Null);
    assert_eq!(before["serve"]["running"], false);

    let run = alpha.sync_args(&["--peer", "beta"]);
    run.assert_ok();
    let _ = alpha.sync(); // "down" fails; beta has nothing new.

    let after = status(&alpha);
    let names: Vec<&str> = after["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta", "down", "nat"]);
    // The shape the man page documents (STATUS), for monitoring scripts.
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k.join(" ")
    };
    assert_eq!(
        keys(&after),
        "home membership node now peers refusals serve spool top_authors"
    );
    assert_eq!(
        keys(&after["serve"]),
        "listen nntps pid running started uptime_secs"
    );
    assert_eq!(keys(&after["spool"]), "articles bytes groups newest oldest");
    let b = peer(&after, "beta");
    assert_eq!(
        keys(b),
        "address backlog groups inbound kind last_ok last_sync live live_inbound marks name totals"
    );
    assert_eq!(
        keys(&b["last_sync"]),
        "at bytes error ms received refused sent status"
    );
    assert_eq!(
        keys(&b["totals"]),
        "bytes failures received refused sent syncs"
    );
    assert_eq!(keys(&b["marks"]), "pull_epoch pull_seq push_seq");
    assert_eq!(b["kind"], "mesh");
    assert_eq!(b["backlog"], 0, "{b:#}");
    assert_eq!(b["last_sync"]["status"], "ok");
    assert_eq!(b["last_sync"]["error"], Value::Null);
    assert_eq!(b["totals"]["syncs"], 2);
    assert_eq!(b["totals"]["sent"], 3);
    assert_eq!(b["last_ok"], b["last_sync"]["at"]);
    assert!(b["marks"]["push_seq"].as_i64().unwrap() >= 3, "{b:#}");
    let d = peer(&after, "down");
    assert_eq!(d["backlog"], 3, "nothing reached it: {d:#}");
    assert_eq!(d["last_sync"]["status"], "failed");
    assert!(d["last_sync"]["error"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));
    assert_eq!(d["last_ok"], Value::Null);
    assert_eq!(
        (
            d["totals"]["syncs"].clone(),
            d["totals"]["failures"].clone()
        ),
        (1.into(), 1.into())
    );
    let n = peer(&after, "nat");
    assert_eq!(
        (n["address"].clone(), n["backlog"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(n["last_sync"], Value::Null);

    // A new article is backlog for beta until the next sync.
    alpha.post(GROUP, "one more", "hello\n");
    assert_eq!(peer(&status(&alpha), "beta")["backlog"], 1);

    // beta's serve is seen running (pid, address) until it stops.
    let pid = beta.serve_pid();
    assert!(wait_until(Duration::from_secs(10), || status(&beta)
        ["serve"]["running"]
        == true));
    let s = status(&beta);
    assert_eq!(s["serve"]["pid"], pid);
    assert_eq!(s["serve"]["listen"][0], beta.addr.to_string());
    assert!(s["serve"]["uptime_secs"].as_i64().unwrap() >= 0);
    assert_eq!(s["spool"]["articles"], 3);
    beta.stop();
    assert_eq!(status(&beta)["serve"]["running"], false);
    assert!(!beta.home().join("serve.state").exists());

    // The text form says the same for a person.
    let text = alpha.cli(&["status"]).ok().stdout_text();
    assert!(text.contains("serve: not running"), "{text}");
    assert!(text.contains("peer beta (mesh, "), "{text}");
    assert!(text.contains("backlog 1"), "{text}");
    assert!(
        text.contains("peer down (mesh, ") && text.contains(" failed "),
        "{text}"
    );
}

/// A serve killed with -9 leaves its state file behind; status must not believe it.
#[test]
fn a_killed_serve_is_not_reported_running() {
    let mut alpha = Node::init("alpha");
    alpha.start();
    assert!(wait_until(Duration::from_secs(10), || status(&alpha)
        ["serve"]["running"]
        == true));
    alpha.kill9();
    assert!(alpha.home().join("serve.state").exists());
    assert_eq!(status(&alpha)["serve"]["running"], false);
}

/// `status` names the NNTPS address next to the listen address (issue 11: it showed
/// only the plain port, so an operator could not see where readers reach NNTPS).
#[test]
fn status_shows_where_serve_listens_for_nntps() {
    let mut alpha = Node::init("alpha");
    // Port 0: serve binds NNTPS itself, so the test reads back where it listens.
    alpha.set("tls", "nntps_listen", "\"127.0.0.1:0\"");
    alpha.start();
    assert!(wait_until(Duration::from_secs(10), || status(&alpha)
        ["serve"]["running"]
        == true));
    let s = status(&alpha);
    let nntps = s["serve"]["nntps"]
        .as_str()
        .expect("an NNTPS address")
        .to_string();
    let port: std::net::SocketAddr = nntps.parse().expect("HOST:PORT");
    assert!(port.ip().is_loopback() && port.port() != 0, "{nntps}");
    assert_eq!(s["serve"]["listen"][0], alpha.addr.to_string());
    let text = alpha.cli(&["status"]).ok().stdout_text();
    assert!(
        text.contains(&format!("listening on {}, NNTPS on {nntps}", alpha.addr)),
        "{text}"
    );
    alpha.stop();
    assert_eq!(status(&alpha)["serve"]["nntps"], Value::Null);
}

/// Finding: `import` printed the reason of a refusal without the Message-ID.
#[test]
fn import_names_each_refused_article_and_logs_it() {
    let alpha = Node::init("alpha");
    let bravo = Node::init("bravo");
    let good = alpha.post(GROUP, "fine", "Pay Alice\n");
    let bad = alpha.post(GROUP, "tampered", "Pay Alice\n");
    let mut batch = Vec::new();
    for id in [&good, &bad] {
        let mut text = String::from_utf8(alpha.raw_article(id))
            .unwrap()
            .replace("\r\n", "\n");
        if *id == bad {
            text = text.replace("Pay Alice", "Pay Malle");
        }
        batch.extend_from_slice(format!("#! rnews {}\n{text}", text.len()).as_bytes());
    }
    let run = bravo.cli_stdin(&["import"], &batch).ok();
    assert!(
        run.stdout_text()
            .contains("imported=1 duplicates=0 refused=1"),
        "{run:?}"
    );
    assert!(
        run.stderr_text().contains(&format!("refused {bad}: ")),
        "the refusal names the article: {run:?}"
    );
    let log = news_log(&bravo);
    assert!(
        log.iter()
            .any(|l| l.contains(&format!(" accepted id={good} peer=import"))),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains(&format!(" refused id={bad} peer=import reason=\""))),
        "{log:#?}"
    );
}

/// Finding: `sync` printed `refused=2` with no Message-ID or reason (the reason was only
/// in the other side's log). Now `sync -v` names each refused article, who refused it and
/// why, and both nodes' article logs have it.
#[test]
fn a_refused_article_is_in_the_article_log_and_in_sync_v_with_its_id_and_reason() {
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    // Each carries a group the other does not: what is posted there is refused across.
    alpha.cli(&["groups", "--add", "mesh.alpha-only"]).ok();
    beta.cli(&["groups", "--add", "mesh.beta-only"]).ok();
    let pulled = beta.post("mesh.beta-only", "beta's own", "text\n");
    let pushed = alpha.post("mesh.alpha-only", "alpha's own", "text\n");
    beta.start();

    let run = alpha.cli(&["sync", "-v"]).ok();
    let stdout = run.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("peer=beta status=ok ") && lines[0].contains(" refused=2 "),
        "the main line is unchanged: {run:?}"
    );
    let refusal = |id: &str| {
        lines[1..]
            .iter()
            .find(|l| l.starts_with(&format!("refused id={id} peer=beta ")))
            .unwrap_or_else(|| panic!("no refusal line for {id}: {run:?}"))
            .to_string()
    };
    let ours = refusal(&pulled);
    assert!(
        ours.contains(" by=us reason=\"") && ours.contains("does not carry mesh.beta-only"),
        "{ours}"
    );
    let theirs = refusal(&pushed);
    assert!(
        theirs.contains(" by=peer reason=\"") && theirs.contains("mesh.alpha-only"),
        "{theirs}"
    );
    assert_eq!(lines.len(), 3, "{run:?}");

    // Without -v, only the peer line.
    let quiet = alpha.cli(&["sync"]).ok();
    assert!(
        quiet.stdout_text().lines().all(|l| l.starts_with("peer=")),
        "{quiet:?}"
    );

    let log = news_log(&alpha);
    let has = |log: &[String], what: &str| log.iter().any(|l| l.contains(what));
    assert!(
        has(&log, &format!(" refused id={pulled} peer=beta reason=\"")),
        "{log:#?}"
    );
    assert!(
        has(
            &log,
            &format!(" peer-refused id={pushed} peer=beta reason=\"")
        ),
        "{log:#?}"
    );
    // beta's serve logged its side, naming the peer that sent it.
    let beta_log = news_log(&beta);
    assert!(
        has(
            &beta_log,
            &format!(" refused id={pushed} peer=alpha reason=\"")
        ),
        "{beta_log:#?}"
    );
    // beta's serve recorded alpha's sessions: for a peer that dials in, the only news.
    let inbound = || peer(&status(&beta), "alpha")["inbound"].clone();
    assert!(
        wait_until(Duration::from_secs(10), || inbound()["sessions"] == 2),
        "{:#}",
        inbound()
    );
    assert_eq!(
        (inbound()["received"].clone(), inbound()["refused"].clone()),
        (0.into(), 1.into())
    );
    // And status lists them with id, peer and reason.
    let refusals = status(&alpha)["refusals"].clone();
    let listed: Vec<(&str, &str, &str)> = refusals
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["verdict"].as_str().unwrap(),
                r["id"].as_str().unwrap(),
                r["peer"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        listed.contains(&("refused", pulled.as_str(), "beta")),
        "{refusals:#}"
    );
    assert!(
        listed.contains(&("peer-refused", pushed.as_str(), "beta")),
        "{refusals:#}"
    );
}

/// An article a neighbour refuses unread (too large for it) never reaches its ingest; it
/// must still be in its article log, and in our `sync -v`.
#[test]
fn an_article_refused_unread_for_its_size_is_logged_too() {
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    beta.set_limit("max_article_bytes", "2000");
    let big = alpha.post(GROUP, "large", "x".repeat(4000));
    beta.start();
    let run = alpha.cli(&["sync", "-v"]).ok();
    assert!(
        run.stdout_text()
            .contains(&format!("refused id={big} peer=beta by=peer reason=\"")),
        "{run:?}"
    );
    let beta_log = news_log(&beta);
    assert!(
        beta_log
            .iter()
            .any(|l| l.contains(&format!(" refused id={big} peer=alpha reason=\""))),
        "{beta_log:#?}"
    );
}

/// The article log is bounded by `[limits] news_log_bytes` and `news_log_files`.
#[test]
fn the_article_log_rotates_within_the_configured_bounds() {
    let alpha = Node::init("alpha");
    alpha.set_limit("news_log_bytes", "300");
    alpha.set_limit("news_log_files", "1");
    let ids: Vec<String> = (0..6)
        .map(|i| alpha.post(GROUP, &format!("n{i}"), "x\n"))
        .collect();
    let home = alpha.home();
    let size = |name: &str| std::fs::metadata(home.join(name)).map_or(0, |m| m.len());
    assert!(size("news.log") > 0 && size("news.log") <= 300);
    assert!(size("news.log.1") > 0 && size("news.log.1") <= 300);
    assert!(
        !home.join("news.log.2").exists(),
        "one rotated file is kept"
    );
    let log = news_log(&alpha);
    assert!(log.last().unwrap().contains(&ids[5]), "{log:#?}");
}
