//! The brief's live-relay target, measured: 100 nodes on a random graph of degree 3,
//! every link live both ways, running `serve` only (no `sync` at all). Articles are
//! posted one at a time at different nodes; for each, the time from the post until the
//! last node holds it. Prints the median and 99th percentile of that time, and body
//! transfers per needed body (bodies that crossed a link, stored or refused as they
//! arrived, from every node's article log, over the deliveries needed: target 1.0).
//! Real node homes, real servers on loopback, in one process.
//!
//!     cargo bench --bench live
//!     NEWSMESH_BENCH_LIVE_NODES=100 NEWSMESH_BENCH_LIVE_ARTICLES=20 cargo bench --bench live

use std::time::{Duration, Instant};

use newsmesh::spool::Spool;
use newsmesh::testbed::{random_regular_graph, Link, Mesh};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Longest wait for one article to reach every node before the bench gives up.
const GIVE_UP: Duration = Duration::from_secs(60);

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let nodes = env("NEWSMESH_BENCH_LIVE_NODES", 100);
    let articles = env("NEWSMESH_BENCH_LIVE_ARTICLES", 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let names: Vec<String> = (0..nodes).map(|i| format!("n{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let edges = random_regular_graph(nodes, 3, 1979);
    let started = Instant::now();
    let mesh = Mesh::build(dir.path(), &refs, &edges, Link::Live).expect("mesh");
    println!(
        "built {nodes} nodes, {} live links, in {:.1} s",
        edges.len(),
        started.elapsed().as_secs_f64()
    );
    // One reading connection per node, opened once: polling must not cost an open.
    let spools: Vec<Spool> = mesh
        .nodes
        .iter()
        .map(|node| Spool::open(&node.spool_path()).expect("spool"))
        .collect();
    let posted_ids = std::cell::RefCell::new(Vec::new());
    let deliver = |origin: usize, k: usize, what: &str| -> Option<Duration> {
        let posted = Instant::now();
        let id = mesh
            .post(origin, &format!("{what} {k}"), &format!("body {k}\n"), None)
            .expect("post");
        posted_ids.borrow_mut().push(id.clone());
        let mut missing: Vec<usize> = (0..nodes).collect();
        while !missing.is_empty() {
            missing.retain(|&n| !matches!(spools[n].article(&id), Ok(Some(_))));
            if posted.elapsed() > GIVE_UP {
                println!("  {what} {k}: {} nodes still lack it", missing.len());
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(posted.elapsed())
    };
    // Links dialled before their neighbour was up are retried with backoff: let them
    // come up, and take one article through the whole mesh, before measuring.
    std::thread::sleep(Duration::from_secs(5));
    let warm = deliver(0, 0, "warm-up").expect("warm-up article delivered");
    println!(
        "warm-up article everywhere after {:.2} s",
        warm.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    let mut times = Vec::with_capacity(articles);
    for k in 0..articles {
        let origin = (k * 37 + 11) % nodes;
        if let Some(t) = deliver(origin, k, "live article") {
            times.push(t.as_secs_f64());
        }
    }
    // Let the last acknowledgements settle before counting the logs.
    std::thread::sleep(Duration::from_secs(1));
    let transfers: usize = mesh
        .nodes
        .iter()
        .map(|node| {
            let log = std::fs::read_to_string(node.paths().news_log_path()).unwrap_or_default();
            log.lines()
                .filter(|l| l.contains(" accepted ") || l.contains(" refused "))
                .filter(|l| !l.contains(" peer=local"))
                .count()
        })
        .sum();
    let needed = (articles + 1) * (nodes - 1);
    // Hops each article took to each node, from its stored Path (this node's name, the
    // relays, the origin, not-for-mail): what `newsmesh simulate` reports as max_hops and
    // mean_hops, to compare the two.
    let limits = newsmesh::article::Limits::default();
    let hops: Vec<usize> = posted_ids
        .borrow()
        .iter()
        .flat_map(|id| spools.iter().map(move |spool| (id, spool)))
        .filter_map(|(id, spool)| {
            let raw = spool.article(id).ok()??.raw;
            let article = newsmesh::article::Article::parse(&raw, &limits).ok()?;
            Some(article.path_entries().len().saturating_sub(2))
        })
        .filter(|&h| h > 0)
        .collect();
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "live relay, mesh of {nodes} nodes (random, degree 3), serve only: {} of {articles} articles reached every node",
        times.len()
    );
    if !times.is_empty() {
        println!(
            "  post to last node: median {:.2} s, p99 {:.2} s, max {:.2} s",
            pick(0.5),
            pick(0.99),
            times[times.len() - 1]
        );
    }
    println!(
        "  body transfers: {transfers} for {needed} needed deliveries ({:.3} per needed body)",
        transfers as f64 / needed as f64
    );
    println!(
        "  hops (from Path): max {}, mean {:.2}",
        hops.iter().max().copied().unwrap_or(0),
        hops.iter().sum::<usize>() as f64 / hops.len().max(1) as f64
    );
    mesh.stop();
}
