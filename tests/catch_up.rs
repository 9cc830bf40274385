//! A long absence (issue 18): a node off for a week while its neighbour took 50,000
//! articles catches up in ONE `sync`, and a second sync moves nothing. Time is
//! simulated (`NEWSMESH_NOW`, the node clock): the articles are dated and stored across
//! the seven days, then the absent node syncs at the end of the week.

mod common;

use common::*;
use newsmesh::compose::{compose, Draft};

/// A day in seconds.
const DAY: i64 = 86_400;

/// The simulated start: 2027-01-15.
const T0: i64 = 1_800_000_000;

/// Articles the neighbour takes while the node is off.
const ARTICLES: usize = 50_000;

/// Stored in this many steps spread over the week (one every ~3.4 hours).
const STEPS: usize = 50;

/// Runs `args` on `node` at simulated time `now`.
fn at(node: &Node, now: i64, args: &[&str]) -> Run {
    let mut cmd = node.command(args);
    cmd.env(newsmesh::clock::NOW_VAR, now.to_string());
    run(cmd, None, DEFAULT_TIMEOUT)
}

/// `sync` on `node` at `now`: its one peer line.
fn sync_at(node: &Node, now: i64) -> SyncLine {
    let done = at(node, now, &["sync"]);
    assert_eq!(
        done.code,
        Some(0),
        "sync on {} failed: {done:#?}",
        node.name()
    );
    let text = done.stdout_text();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one peer line: {text}");
    SyncLine::parse(lines[0])
}

/// `n` signed articles with ~1 KB bodies dated at this process's node clock, by a few
/// authors (as a busy group would have).
fn articles(from: usize, n: usize) -> Vec<Vec<u8>> {
    let keys: Vec<_> = (1..=8u8)
        .map(|i| ed25519_dalek::SigningKey::from_bytes(&[i; 32]))
        .collect();
    let body = "While you were away the mesh kept talking; here is what it said.\n".repeat(15);
    (from..from + n)
        .map(|i| {
            let subject = format!("while you were away {i}");
            let who = format!("author{0} <a{0}@example.org>", i % keys.len());
            compose(
                &Draft {
                    groups: GROUP,
                    subject: &subject,
                    from: &who,
                    references: None,
                    body: body.as_bytes(),
                },
                "alpha",
                &keys[i % keys.len()],
            )
            .to_bytes()
        })
        .collect()
}

fn count(node: &Node) -> i64 {
    newsmesh::spool::Spool::open(&node.spool_path())
        .expect("spool")
        .article_count()
        .expect("count")
}

#[test]
fn a_node_off_for_a_week_catches_up_in_one_sync() {
    let mut a = Node::init("alpha");
    let b = Node::init("beta");
    link(&b, &a, Link::FirstDials);
    a.start_with_env(&[(newsmesh::clock::NOW_VAR, &T0.to_string())]);
    // Before the week: beta syncs as usual (its marks are set).
    std::env::set_var(newsmesh::clock::NOW_VAR, T0.to_string());
    a.store_post(GROUP, "before the week", "hello\n", None)
        .expect("post");
    let before = sync_at(&b, T0);
    assert!(before.is_ok(), "{}", before.raw);
    assert_eq!(before.moved().1, 1, "{}", before.raw);
    a.stop();

    // Beta is off; alpha takes 50,000 articles over seven days, each stored at its date.
    let started = std::time::Instant::now();
    let per_step = ARTICLES / STEPS;
    for step in 0..STEPS {
        let now = T0 + 600 + (step as i64) * 7 * DAY / STEPS as i64;
        std::env::set_var(newsmesh::clock::NOW_VAR, now.to_string());
        let raws = articles(step * per_step, per_step);
        let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        let verdicts = a.store(&refs).expect("ingest");
        assert!(
            verdicts
                .iter()
                .all(|v| matches!(v, newsmesh::ingest::Verdict::Stored(_))),
            "step {step}: {:?}",
            verdicts
                .iter()
                .find(|v| !matches!(v, newsmesh::ingest::Verdict::Stored(_)))
        );
    }
    let week_later = T0 + 7 * DAY + 3600;
    assert_eq!(count(&a), ARTICLES as i64 + 1);

    // Beta comes back a week later: one sync brings everything.
    a.start_with_env(&[(newsmesh::clock::NOW_VAR, &week_later.to_string())]);
    eprintln!(
        "stored {ARTICLES} articles on alpha in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let back = sync_at(&b, week_later);
    eprintln!(
        "the one sync took {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        back.raw
    );
    assert!(back.is_ok(), "{}", back.raw);
    assert_eq!(back.moved(), (0, ARTICLES as u64, 0), "{}", back.raw);
    assert_eq!(count(&b), count(&a));
    // And nothing is left to move.
    let again = sync_at(&b, week_later + 60);
    assert!(again.is_ok(), "{}", again.raw);
    assert_eq!(again.moved(), (0, 0, 0), "{}", again.raw);
    a.stop();
}
