//! The brief's mesh target, measured: 100 nodes on a random graph of degree 3 (each link
//! dialled from one side, the other side passive), articles posted at random nodes, sync
//! rounds (every node runs `sync` once per round) until every node has every article.
//! Prints rounds, bodies received per node per article (must be exactly 1), ids offered
//! and listed per article, bytes and time. Real node homes, real servers on loopback.
//!
//!     cargo bench --bench mesh
//!     NEWSMESH_BENCH_MESH_NODES=100 NEWSMESH_BENCH_MESH_ARTICLES=20 cargo bench --bench mesh

use std::collections::HashMap;
use std::time::Instant;

use newsmesh::testbed::{random_regular_graph, Link, Mesh};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let nodes = env("NEWSMESH_BENCH_MESH_NODES", 100);
    let articles = env("NEWSMESH_BENCH_MESH_ARTICLES", 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let names: Vec<String> = (0..nodes).map(|i| format!("n{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let edges = random_regular_graph(nodes, 3, 1979);
    let started = Instant::now();
    let mesh = Mesh::build(dir.path(), &refs, &edges, Link::FirstDials).expect("mesh");
    println!(
        "built {nodes} nodes, {} links, in {:.1} s",
        edges.len(),
        started.elapsed().as_secs_f64()
    );
    let index: HashMap<&str, usize> = refs.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let origins: Vec<usize> = (0..articles).map(|k| (k * 37 + 11) % nodes).collect();
    let ids: Vec<String> = origins
        .iter()
        .enumerate()
        .map(|(k, &at)| {
            mesh.post(
                at,
                &format!("mesh article {k}"),
                &format!("body {k}\n"),
                None,
            )
            .expect("post")
        })
        .collect();

    let started = Instant::now();
    let mut bodies_into = vec![0u64; nodes];
    let (mut bytes, mut refused, mut rounds) = (0u64, 0u64, 0);
    loop {
        rounds += 1;
        let round_start = Instant::now();
        for (i, report) in mesh.round().expect("round") {
            assert!(report.outcome.ok(), "{} {report}", names[i]);
            bodies_into[i] += report.outcome.received;
            bodies_into[index[report.peer.as_str()]] += report.outcome.sent;
            bytes += report.outcome.bytes;
            refused += report.outcome.refused;
        }
        let have: usize = (0..nodes)
            .map(|n| {
                ids.iter()
                    .filter(|id| mesh.has(n, id).expect("has"))
                    .count()
            })
            .sum();
        println!(
            "round {rounds}: {have}/{} (node, article) pairs delivered, {:.1} s",
            nodes * articles,
            round_start.elapsed().as_secs_f64()
        );
        if have == nodes * articles {
            break;
        }
        assert!(rounds < nodes, "no convergence");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let expected: Vec<u64> = (0..nodes)
        .map(|n| (articles - origins.iter().filter(|&&o| o == n).count()) as u64)
        .collect();
    let exact = bodies_into
        .iter()
        .zip(&expected)
        .filter(|(got, want)| got == want)
        .count();
    let quiet_start = Instant::now();
    let quiet = mesh.round().expect("round");
    let quiet_moved: u64 = quiet
        .iter()
        .map(|(_, r)| r.outcome.sent + r.outcome.received)
        .sum();
    let quiet_bytes: u64 = quiet.iter().map(|(_, r)| r.outcome.bytes).sum();
    println!(
        "mesh of {nodes} nodes (random, degree 3), {articles} articles: every node has every article after {rounds} rounds ({elapsed:.1} s)"
    );
    println!(
        "  bodies received: {exact}/{nodes} nodes received each article body exactly once; total {} bodies for {} deliveries; refused {refused}",
        bodies_into.iter().sum::<u64>(),
        expected.iter().sum::<u64>()
    );
    println!(
        "  wire: {bytes} bytes in all ({:.0} bytes per delivery); a quiet round after: {quiet_moved} bodies, {quiet_bytes} bytes for {} peer syncs ({:.2} s)",
        bytes as f64 / expected.iter().sum::<u64>().max(1) as f64,
        quiet.len(),
        quiet_start.elapsed().as_secs_f64()
    );
    mesh.stop();
}
