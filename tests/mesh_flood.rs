//! Flooding in a random mesh: every article reaches every node, and each node receives
//! each article's body exactly once (ids may be offered more often). The brief's target
//! is 100 nodes (`cargo bench --bench mesh`); the test runs a smaller random mesh.

use std::collections::HashMap;

use newsmesh::testbed::{random_regular_graph, Link, Mesh};

const NODES: usize = 16;
const ARTICLES: usize = 6;

#[test]
fn every_article_reaches_every_node_and_each_body_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..NODES).map(|i| format!("n{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let edges = random_regular_graph(NODES, 3, 2026);
    let mesh = Mesh::build(dir.path(), &refs, &edges, Link::FirstDials).unwrap();
    let index: HashMap<&str, usize> = refs.iter().enumerate().map(|(i, n)| (*n, i)).collect();

    let origins: Vec<usize> = (0..ARTICLES).map(|k| (k * 7) % NODES).collect();
    let ids: Vec<String> = origins
        .iter()
        .enumerate()
        .map(|(k, &at)| {
            mesh.post(at, &format!("article {k}"), &format!("body {k}\n"), None)
                .unwrap()
        })
        .collect();

    let mut bodies_into = [0u64; NODES];
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= NODES, "no convergence after {NODES} rounds");
        for (i, report) in mesh.round().unwrap() {
            assert!(report.outcome.ok(), "{} {report}", names[i]);
            assert_eq!(report.outcome.refused, 0, "{} {report}", names[i]);
            bodies_into[i] += report.outcome.received;
            bodies_into[index[report.peer.as_str()]] += report.outcome.sent;
        }
        let complete = (0..NODES).all(|n| ids.iter().all(|id| mesh.has(n, id).unwrap()));
        if complete {
            break;
        }
    }
    for (n, received) in bodies_into.iter().enumerate() {
        let posted_here = origins.iter().filter(|&&o| o == n).count() as u64;
        assert_eq!(
            *received,
            ARTICLES as u64 - posted_here,
            "node {} received bodies",
            names[n]
        );
    }
    let quiet: u64 = mesh
        .round()
        .unwrap()
        .iter()
        .map(|(_, r)| r.outcome.sent + r.outcome.received + r.outcome.refused)
        .sum();
    assert_eq!(quiet, 0, "a round after convergence moves nothing");
    mesh.stop();
}
