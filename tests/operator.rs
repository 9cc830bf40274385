//! The operator interface (BRIEF.md, "Interfaces"): a three-node mesh built and run with
//! CLI commands only — `init`, `key --node`, `peer add`, `post`, `sync`, `read` — no
//! hand-written configuration; sync's key=value lines, its exit codes and `-q`.

#[path = "common/mesh.rs"]
mod mesh;

use std::time::Duration;

use mesh::{SyncLine, SyncRun, TestNode};

/// What an operator hands to a neighbour: `newsmesh key --node`, one line.
fn node_key(node: &TestNode) -> String {
    let run = node.run(&["key", "--node"]).ok();
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    let key = run.stdout.trim().to_string();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key:?}");
    key
}

fn everyone_has_everything(nodes: &[&TestNode], ids: &[String]) -> bool {
    nodes
        .iter()
        .all(|node| ids.iter().all(|id| node.run(&["read", id]).code == 0))
}

#[test]
fn a_three_node_mesh_built_with_the_cli_alone() {
    // alpha and beta serve; gamma sits behind NAT: it dials both, nobody dials it.
    let mut alpha = TestNode::new("alpha"); // newsmesh init --name alpha --listen ...
    let mut beta = TestNode::new("beta");
    let gamma = TestNode::new("gamma");
    let (ka, kb, kg) = (node_key(&alpha), node_key(&beta), node_key(&gamma));
    let (aa, ab) = (alpha.addr.to_string(), beta.addr.to_string());
    alpha
        .run(&["peer", "add", "beta", &kb, "--address", &ab])
        .ok();
    alpha.run(&["peer", "add", "gamma", &kg]).ok();
    beta.run(&["peer", "add", "alpha", &ka, "--address", &aa])
        .ok();
    beta.run(&["peer", "add", "gamma", &kg]).ok();
    gamma
        .run(&["peer", "add", "alpha", &ka, "--address", &aa])
        .ok();
    gamma
        .run(&["peer", "add", "beta", &kb, "--address", &ab])
        .ok();
    let listed = alpha.run(&["peer", "list"]).ok().stdout;
    assert_eq!(
        listed,
        format!("beta {ab} * {kb}\ngamma passive * {kg}\n"),
        "peer list: name, address or passive, groups, key"
    );
    alpha.start();
    beta.start();

    let ids = vec![
        alpha.post("hello from alpha", "alpha here\n"),
        beta.post("hello from beta", "beta here\n"),
        gamma.post("hello from gamma", "gamma here, behind NAT\n"),
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
        let groups = node.run(&["read"]).ok().stdout;
        assert!(groups.starts_with("mesh.test "), "{groups}");
        assert!(groups.trim_end().ends_with("3 articles"), "{groups}");
        let listing = node.run(&["read", "mesh.test"]).ok().stdout;
        assert_eq!(listing.lines().count(), 3, "{listing}");
        for name in ["alpha", "beta", "gamma"] {
            assert_eq!(node.listed(&format!("hello from {name}")), 1, "{listing}");
        }
        // `read mesh.test 1` shows an article, signature line first.
        let first = node.run(&["read", "mesh.test", "1"]).ok().stdout;
        assert!(first.starts_with("Verified: signature valid"), "{first}");
    }

    // A further round: one key=value line per dialled peer, nothing moved.
    let expected_peers: [(&TestNode, &[&str]); 3] = [
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
    let shown = gamma.run(&["read", &ids[0]]);
    assert_eq!(shown.code, 0);
    assert!(shown.stdout.starts_with("Verified: signature valid"));
    assert!(
        shown.stdout.ends_with("\n\nalpha here\n"),
        "{}",
        shown.stdout
    );
    let unknown = "<nosuchthing@newsmesh>";
    let missing = gamma.run(&["read", unknown]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stdout.is_empty());
    assert!(missing.stderr.contains(unknown), "{}", missing.stderr);

    // `sync -q` is silent when every peer succeeds.
    for node in nodes {
        let quiet = node.run(&["sync", "-q"]);
        assert_eq!(quiet.code, 0, "{quiet:?}");
        assert_eq!(quiet.stdout, "", "{} sync -q", node.name);
    }

    // beta goes down: syncs that dial it exit 1 and print status=failed for it.
    beta.stop();
    assert!(std::net::TcpStream::connect_timeout(&beta.addr, Duration::from_millis(300)).is_err());
    let run: SyncRun = alpha.sync();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.lines.len(), 1);
    assert_eq!(run.peer("beta").get("status"), "failed");
    assert!(!run.peer("beta").get("error").is_empty());
    let run = gamma.sync();
    assert_eq!(run.code, 1, "one failed peer fails the run: {run:#?}");
    assert!(run.peer("alpha").is_ok());
    assert_eq!(run.peer("beta").get("status"), "failed");
    // -q still reports the failure, and only the failure.
    let quiet = gamma.run(&["sync", "-q"]);
    assert_eq!(quiet.code, 1);
    let lines: Vec<SyncLine> = quiet.stdout.lines().map(SyncLine::parse).collect();
    assert_eq!(lines.len(), 1, "{}", quiet.stdout);
    assert_eq!(
        (lines[0].peer(), lines[0].get("status")),
        ("beta", "failed")
    );

    // A post while beta is down reaches it once it is back.
    let late = alpha.post("while beta slept", "catch up\n");
    beta.start();
    let run = alpha.sync();
    run.assert_ok();
    assert_eq!(run.peer("beta").moved(), (1, 0, 0));
    assert!(beta.has(&late));

    // Usage errors exit 2.
    assert_eq!(alpha.run(&["sync", "--no-such-flag"]).code, 2);
    assert_eq!(alpha.run(&["peer", "add", "onlyname"]).code, 2);
}
