//! `sync` against neighbours that would keep it busy forever or fill its memory: real
//! `newsmesh sync` processes dialling a fake neighbour (`common/fake_peer.rs`) that
//! authenticates correctly and then misbehaves.
//!
//! - a listing that always says "more": the session deadline ends it, with a failed
//!   line saying why, and the lock is free for the next run;
//! - "more" without progress, or a new spool epoch at every answer: the pull gives up at
//!   once, saying why;
//! - 1,200 articles of ~900 KB: `sync` verifies and stores as it goes, in bounded memory.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fake_peer::FakePeer;
use common::*;

/// A node "alpha" listing `fake` as a dialled neighbour named "fake".
fn node_dialling(fake: &FakePeer) -> Node {
    let node = Node::init("alpha");
    let addr = fake.addr.to_string();
    // The fake speaks no TLS: the opt-out a test (or an older node) needs.
    node.cli(&[
        "peer",
        "add",
        "fake",
        &fake.key_text(),
        "--address",
        &addr,
        "--no-tls",
    ])
    .ok();
    node
}

/// Runs `sync`, failing the test (instead of hanging) when it outlives `limit`.
#[track_caller]
fn sync_within(node: &Node, limit: Duration) -> (SyncRun, Duration) {
    let started = Instant::now();
    // The one runner: it kills the sync and fails the test when it outlives `limit`.
    let run = common::run(node.command(&["sync"]), None, limit);
    let run = SyncRun::from_run(&node.name, run);
    (run, started.elapsed())
}

/// Asserts a failed run whose line for "fake" has an error containing `why`.
#[track_caller]
fn assert_failed_because(run: &SyncRun, why: &str) {
    assert_eq!(run.code, Some(1), "{run:#?}");
    let line = run.peer("fake");
    assert_eq!(line.get("status"), "failed", "{}", line.raw);
    let error = line.get("error");
    assert!(error.contains(why), "the error says why ({why}): {error}");
}

#[test]
fn a_peer_that_always_has_more_is_cut_off_at_the_deadline_and_the_lock_is_released() {
    // Every answer moves on by one and says there is more: progress, but never an end.
    let fake = FakePeer::start(|words| match words {
        ["MESH", "SINCE", _, seq, _] => {
            let seq: u64 = seq.parse().ok()?;
            Some(format!("293 endless {} 1\r\n.\r\n", seq + 1).into_bytes())
        }
        _ => None,
    });
    let node = node_dialling(&fake);
    node.set_limit("sync_deadline_secs", "2");

    let (first, took) = sync_within(&node, Duration::from_secs(60));
    assert_failed_because(&first, "deadline");
    assert!(
        took < Duration::from_secs(30),
        "ended within its deadline: {took:?}"
    );
    // The lock went with the process: the next cron run is not "busy" (exit 3).
    let (second, _) = sync_within(&node, Duration::from_secs(60));
    assert_failed_because(&second, "deadline");
}

#[test]
fn a_peer_whose_listing_says_more_but_does_not_move_is_given_up_at_once() {
    let fake = FakePeer::start(|words| match words {
        ["MESH", "SINCE", _, seq, _] => Some(format!("293 stuck {seq} 1\r\n.\r\n").into_bytes()),
        _ => None,
    });
    let node = node_dialling(&fake);
    node.set_limit("sync_deadline_secs", "20");
    let (run, _) = sync_within(&node, Duration::from_secs(60));
    assert_failed_because(&run, "no progress");
}

#[test]
fn a_peer_with_a_new_epoch_at_every_answer_is_restarted_once_only() {
    let answers = AtomicU64::new(0);
    let fake = FakePeer::start(move |words| match words {
        ["MESH", "SINCE", _, seq, _] => {
            let n = answers.fetch_add(1, Ordering::SeqCst);
            let seq: u64 = seq.parse().ok()?;
            Some(format!("293 epoch{n} {} 1\r\n.\r\n", seq + 1).into_bytes())
        }
        _ => None,
    });
    let node = node_dialling(&fake);
    node.set_limit("sync_deadline_secs", "20");
    let (run, _) = sync_within(&node, Duration::from_secs(60));
    assert_failed_because(&run, "epoch twice");
}

/// Articles the giant peer offers, and the size of each.
const GIANTS: u64 = 1200;
const GIANT_BYTES: usize = 900 * 1024;

/// The answer to `ARTICLE <id>`: about [`GIANT_BYTES`] of garbage (refused as soon as
/// it is parsed: what matters is how much `sync` holds before it gets that far). `body`
/// is already in wire form (no line starts with a dot).
fn giant(id: &str, body: &[u8]) -> Vec<u8> {
    let mut reply = format!("220 0 {id}\r\n").into_bytes();
    reply.extend_from_slice(body);
    reply.extend_from_slice(b".\r\n");
    reply
}

#[test]
fn a_peer_offering_a_gigabyte_of_articles_leaves_sync_memory_bounded() {
    let line = [b'x'; 900];
    let mut body = Vec::with_capacity(GIANT_BYTES + 80);
    while body.len() < GIANT_BYTES {
        body.extend_from_slice(&line);
        body.extend_from_slice(b"\r\n");
    }
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let fake = FakePeer::start(move |words| match words {
        ["MESH", "SINCE", ..] => {
            let mut r = format!("293 giant {GIANTS} 0\r\n").into_bytes();
            for i in 0..GIANTS {
                r.extend_from_slice(format!("<{i}@giant.invalid>\r\n").as_bytes());
            }
            r.extend_from_slice(b".\r\n");
            Some(r)
        }
        ["ARTICLE", id] => {
            counter.fetch_add(1, Ordering::SeqCst);
            Some(giant(id, &body))
        }
        _ => None,
    });
    let node = node_dialling(&fake);

    let mut sync = node.command(&["sync"]);
    sync.env_remove("RUST_LOG");
    let (code, took, peak_mib) = run_measuring_peak(sync, Duration::from_secs(300));
    eprintln!("sync took {took:?}, peak {peak_mib} MiB");
    assert_eq!(
        code, 0,
        "sync against the giant peer succeeds (refusing them all)"
    );
    assert_eq!(
        served.load(Ordering::SeqCst),
        GIANTS,
        "every article crossed the link"
    );
    assert!(
        peak_mib < 256,
        "sync peaked at {peak_mib} MiB while fetching {GIANTS} articles of {GIANT_BYTES} bytes"
    );
    assert_eq!(node.article_count(), 0, "unsigned articles are not stored");
}
