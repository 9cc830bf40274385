//! Set reconciliation (`MESH RECONCILE`) against peers that do not play by its rules,
//! with real processes, beside `hostile_feeds.rs`: garbage, a frame far beyond the
//! limit and endless splits are cut off within the limits of `crate::reconcile`, and
//! `serve` stays small and serves the next client; a `sync` whose neighbour answers
//! with garbage or never agrees fails within its limits instead of hanging.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::fake_peer::FakePeer;
use common::*;
use newsmesh::reconcile::wire::{to_block, MAX_BLOCK_BYTES};
use newsmesh::reconcile::{Bound, Encoder, Mode, MAX_ROUNDS};

/// The memory bound of `serve` under attack (BRIEF: targets).
const MAX_RSS_MIB: u64 = 128;

/// A serving node with articles, its neighbour `mallory`, and a connection to it
/// authenticated as mallory.
fn target() -> (Node, Node, RawPeer) {
    let mut alpha = Node::init("alpha");
    let mallory = Node::init("mallory");
    alpha.add_peer(&mallory, false, false);
    alpha.fill(300);
    alpha.start();
    let peer = as_peer(&alpha, &mallory);
    (alpha, mallory, peer)
}

fn as_peer(node: &Node, peer: &Node) -> RawPeer {
    let mut raw = RawPeer::connect(node);
    raw.authenticate(&peer.signing_key());
    raw
}

/// A message block that never agrees: a fingerprint of everything that matches nothing.
fn disagreeing(round: u32) -> Vec<u8> {
    let mut message = Encoder::default();
    message.push(
        &Bound::INFINITY,
        &Mode::Fingerprint([(round % 251) as u8; 16]),
    );
    let mut block = Vec::new();
    newsmesh::protocol::write_block(&mut block, &to_block(&message.finish()));
    block
}

#[track_caller]
fn assert_cut_off_and_still_serving(node: &Node, peer: &mut RawPeer, line: &str) {
    assert_eq!(RawPeer::code(line), 501, "{line}");
    assert_eq!(peer.try_line(), None, "the connection ends after {line:?}");
    let mut reader = RawPeer::connect(node);
    let answer = reader.cmd(&format!("GROUP {}", GROUP));
    assert_eq!(RawPeer::code(&answer), 211, "GROUP answer {answer:?}");
    assert!(peak_rss_mib(node.serve_pid()) < MAX_RSS_MIB);
}

#[test]
fn a_reconciliation_peer_sending_garbage_is_cut_off() {
    let (alpha, mallory, mut peer) = target();
    peer.send(b"MESH RECONCILE\r\nthis is no base64 message!\r\n.\r\n");
    let line = peer.line();
    assert_cut_off_and_still_serving(&alpha, &mut peer, &line);
    // Good base64 of something that is no reconciliation message.
    let mut peer = as_peer(&alpha, &mallory);
    peer.send(b"MESH RECONCILE\r\nbm90IGEgbWVzc2FnZQ==\r\n.\r\n");
    let line = peer.line();
    assert_cut_off_and_still_serving(&alpha, &mut peer, &line);
}

#[test]
fn a_reconciliation_peer_sending_a_huge_frame_is_cut_off() {
    let (alpha, _mallory, mut peer) = target();
    peer.send(b"MESH RECONCILE\r\n");
    // Four times the largest block, in valid base64 lines.
    let line = [b'A'; 76];
    let mut sent = 0;
    let mut chunk = Vec::new();
    for _ in 0..1000 {
        chunk.extend_from_slice(&line);
        chunk.extend_from_slice(b"\r\n");
    }
    while sent < 4 * MAX_BLOCK_BYTES {
        peer.send(&chunk);
        sent += chunk.len();
    }
    peer.send(b".\r\n");
    let line = peer.line();
    assert!(line.contains("too large"), "{line}");
    assert_cut_off_and_still_serving(&alpha, &mut peer, &line);
}

#[test]
fn a_reconciliation_peer_that_never_agrees_is_cut_off_after_max_rounds() {
    let (alpha, _mallory, mut peer) = target();
    peer.send(b"MESH RECONCILE\r\n");
    let mut answered = 0;
    let last = loop {
        peer.send(&disagreeing(answered));
        let line = peer.line();
        if RawPeer::code(&line) != 295 {
            break line;
        }
        answered += 1;
        assert!(
            answered <= MAX_ROUNDS,
            "still answering after {answered} rounds"
        );
        peer.block();
    };
    assert_eq!(answered, MAX_ROUNDS, "{last}");
    assert!(last.contains("rounds"), "{last}");
    assert_cut_off_and_still_serving(&alpha, &mut peer, &last);
}

/// A fake neighbour that offers reconciliation and answers each of our messages with
/// `answer` (after `295 epoch 5`).
/// `blocks` counts the message blocks it was sent.
fn reconciling_fake(answer: &'static [u8], blocks: Arc<AtomicU32>) -> FakePeer {
    FakePeer::start(move |words| match words {
        ["CAPABILITIES"] => {
            Some(b"101 list\r\nVERSION 2\r\nX-NEWSMESH-RECONCILE V1\r\n.\r\n".to_vec())
        }
        ["MESH", "RECONCILE"] => Some(Vec::new()),
        ["."] => {
            blocks.fetch_add(1, Ordering::SeqCst);
            let mut reply = b"295 epoch 5\r\n".to_vec();
            reply.extend_from_slice(answer);
            Some(reply)
        }
        // The lines of our message blocks.
        [line] if !["QUIT", "DATE", "MODE"].contains(line) => Some(Vec::new()),
        _ => None,
    })
}

fn sync_with(fake: &FakePeer) -> SyncRun {
    let node = Node::init("alpha");
    node.cli(&[
        "peer",
        "add",
        "fake",
        &fake.key_text(),
        "--address",
        &fake.addr.to_string(),
        "--no-tls",
    ])
    .ok();
    node.sync_args(&[])
}

#[test]
fn sync_fails_cleanly_when_the_reconciling_neighbour_sends_garbage() {
    let fake = reconciling_fake(b"!!! not base64 !!!\r\n.\r\n", Arc::default());
    let run = sync_with(&fake);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let error = run.peer("fake").get("error").to_string();
    assert!(error.contains("RECONCILE"), "{error}");
}

#[test]
fn sync_gives_up_on_a_reconciling_neighbour_that_never_agrees() {
    // Base64 of [0x61, 0x00, 0x00, 0x01, 16 x 0x07]: a fingerprint over everything.
    let blocks = Arc::new(AtomicU32::new(0));
    let fake = reconciling_fake(b"YQAAAQcHBwcHBwcHBwcHBwcHBwc=\r\n.\r\n", blocks.clone());
    let run = sync_with(&fake);
    assert_eq!(run.code, Some(1), "{run:#?}");
    // Its rounds, then the empty block that ends the exchange (which it answers wrongly).
    assert_eq!(blocks.load(Ordering::SeqCst), MAX_ROUNDS + 1);
    let error = run.peer("fake").get("error").to_string();
    assert!(error.contains("RECONCILE"), "{error}");
}
