//! The operator interface (BRIEF.md, "Interfaces"): a three-node mesh built and run with
//! CLI commands only — `init`, `key --node`, `peer add`, `post`, `sync`, `read` — no
//! hand-written configuration; sync's key=value lines, its exit codes and `-q`.

mod common;

use std::time::Duration;

use common::*;

/// What an operator hands to a neighbour: `newsmesh key --node`, one line.
fn node_key(node: &Node) -> String {
    let run = node.cli(&["key", "--node"]).ok();
    assert_eq!(run.stdout_text().lines().count(), 1, "{run:?}");
    let key = run.stdout_text().trim().to_string();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key:?}");
    key
}

fn everyone_has_everything(nodes: &[&Node], ids: &[String]) -> bool {
    nodes
        .iter()
        .all(|node| ids.iter().all(|id| node.cli(&["read", id]).code == Some(0)))
}

#[test]
fn a_three_node_mesh_built_with_the_cli_alone() {
    // alpha and beta serve; gamma sits behind NAT: it dials both, nobody dials it.
    let mut alpha = Node::init("alpha"); // newsmesh init --name alpha --listen ...
    let mut beta = Node::init("beta");
    let gamma = Node::init("gamma");
    let (ka, kb, kg) = (node_key(&alpha), node_key(&beta), node_key(&gamma));
    let (aa, ab) = (alpha.addr.to_string(), beta.addr.to_string());
    alpha
        .cli(&["peer", "add", "beta", &kb, "--address", &ab])
        .ok();
    alpha.cli(&["peer", "add", "gamma", &kg]).ok();
    beta.cli(&["peer", "add", "alpha", &ka, "--address", &aa])
        .ok();
    beta.cli(&["peer", "add", "gamma", &kg]).ok();
    gamma
        .cli(&["peer", "add", "alpha", &ka, "--address", &aa])
        .ok();
    gamma
        .cli(&["peer", "add", "beta", &kb, "--address", &ab])
        .ok();
    let listed = alpha.cli(&["peer", "list"]).ok().stdout_text();
    assert_eq!(
        listed,
        format!("beta {ab} * {kb}\ngamma passive * {kg}\n"),
        "peer list: name, address or passive, groups, key"
    );
    alpha.start();
    beta.start();

    let ids = vec![
        alpha.post(GROUP, "hello from alpha", "alpha here\n"),
        beta.post(GROUP, "hello from beta", "beta here\n"),
        gamma.post(GROUP, "hello from gamma", "gamma here, behind NAT\n"),
    ];
    let nodes = [&alpha, &beta, &gamma];
    let mut rounds = 0;
    while !everyone_has_everything(&nodes, &ids) {
        rounds += 1;
        assert!(rounds <= 4, "not converged after 4 rounds");
        for node in nodes {
            node.sync().assert_ok();
        }
    }
    for node in nodes {
        // `read` lists groups; `read mesh.test` lists the three articles.
        let groups = node.cli(&["read"]).ok().stdout_text();
        assert!(groups.starts_with("mesh.test "), "{groups}");
        assert!(groups.trim_end().ends_with("3 articles"), "{groups}");
        let listing = node.cli(&["read", "mesh.test"]).ok().stdout_text();
        assert_eq!(listing.lines().count(), 3, "{listing}");
        for name in ["alpha", "beta", "gamma"] {
            assert_eq!(node.listed(&format!("hello from {name}")), 1, "{listing}");
        }
        // `read mesh.test 1` shows an article, signature line first.
        let first = node.cli(&["read", "mesh.test", "1"]).ok().stdout_text();
        assert!(first.starts_with("Verified: signature valid"), "{first}");
    }

    // A further round: one key=value line per dialled peer, nothing moved.
    let expected_peers: [(&Node, &[&str]); 3] = [
        (&alpha, &["beta"]),
        (&beta, &["alpha"]),
        (&gamma, &["alpha", "beta"]),
    ];
    for (node, peers) in expected_peers {
        let run = node.sync();
        run.assert_ok();
        let names: Vec<&str> = run.lines.iter().map(SyncLine::peer).collect();
        assert_eq!(names, peers, "{} dials exactly its active peers", node.name);
        for line in &run.lines {
            assert_eq!(line.moved(), (0, 0, 0), "{}", line.raw);
            assert_eq!(
                line.fields.keys().collect::<Vec<_>>(),
                ["bytes", "ms", "peer", "received", "refused", "sent", "status", "tls"],
                "{}",
                line.raw
            );
            assert!(line.raw.starts_with(&format!(
                "peer={} status=ok sent=0 received=0 refused=0 bytes=",
                line.peer()
            )));
        }
    }

    // `read '<id>'`: 0 with the article, 1 (and a message on stderr) when unknown.
    let shown = gamma.cli(&["read", &ids[0]]);
    assert_eq!(shown.code, Some(0));
    assert!(shown.stdout_text().starts_with("Verified: signature valid"));
    assert!(
        shown.stdout_text().ends_with("\n\nalpha here\n"),
        "{}",
        shown.stdout_text()
    );
    let unknown = "<nosuchthing@newsmesh>";
    let missing = gamma.cli(&["read", unknown]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(missing.stdout_text().is_empty());
    assert!(
        missing.stderr_text().contains(unknown),
        "{}",
        missing.stderr_text()
    );

    // `sync -q` is silent when every peer succeeds.
    for node in nodes {
        let quiet = node.cli(&["sync", "-q"]);
        assert_eq!(quiet.code, Some(0), "{quiet:?}");
        assert_eq!(quiet.stdout_text(), "", "{} sync -q", node.name);
    }

    // beta goes down: syncs that dial it exit 1 and print status=failed for it.
    beta.stop();
    assert!(std::net::TcpStream::connect_timeout(&beta.addr, Duration::from_millis(300)).is_err());
    let run: SyncRun = alpha.sync();
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.lines.len(), 1);
    assert_eq!(run.peer("beta").get("status"), "failed");
    assert!(!run.peer("beta").get("error").is_empty());
    let run = gamma.sync();
    assert_eq!(run.code, Some(1), "one failed peer fails the run: {run:#?}");
    assert!(run.peer("alpha").is_ok());
    assert_eq!(run.peer("beta").get("status"), "failed");
    // -q still reports the failure, and only the failure.
    let quiet = gamma.cli(&["sync", "-q"]);
    assert_eq!(quiet.code, Some(1));
    let lines: Vec<SyncLine> = quiet.stdout_text().lines().map(SyncLine::parse).collect();
    assert_eq!(lines.len(), 1, "{}", quiet.stdout_text());
    assert_eq!(
        (lines[0].peer(), lines[0].get("status")),
        ("beta", "failed")
    );

    // A post while beta is down reaches it once it is back.
    let late = alpha.post(GROUP, "while beta slept", "catch up\n");
    beta.start();
    let run = alpha.sync();
    run.assert_ok();
    // Sent by this sync, unless alpha's live link (on by default) redialled first.
    let (sent, received, refused) = run.peer("beta").moved();
    assert!(sent <= 1 && (received, refused) == (0, 0), "{run:#?}");
    assert!(beta.has(&late));

    // Usage errors exit 2.
    assert_eq!(alpha.cli(&["sync", "--no-such-flag"]).code, Some(2));
    assert_eq!(alpha.cli(&["peer", "add", "onlyname"]).code, Some(2));
}
