//! Limits of an in-process `serve`: an idle client and a slowloris are cut off by the
//! idle deadline, the connection limit answers 400, and shutdown tells connected clients
//! 400 — while the server keeps serving everyone else. (`serve_limits.rs` attacks real
//! `serve` processes and measures their memory.)

use std::io::Write;
use std::time::Duration;

mod common;

use common::{Node, RawPeer};

/// A node with a 1-second idle deadline and at most 3 connections, served in-process.
fn node() -> Node {
    let mut node = Node::init("alpha");
    node.set_limit("idle_timeout_secs", "1");
    node.set_limit("max_connections", "3");
    node.serve_in(&newsmesh::testbed::runtime().unwrap())
        .unwrap();
    node
}

#[test]
fn idle_clients_and_slowloris_are_cut_off_and_others_are_served() {
    let mut alpha = node();
    let mut idle = RawPeer::connect(&alpha);
    let mut slow = RawPeer::connect(&alpha);
    // The slowloris trickles a command line a byte at a time (every 200 ms, well inside
    // the deadline), never finishing it: the deadline must cut it off mid-line, not
    // wait for a line that never ends.
    const TRICKLE: &[u8] = b"GROUP mesh.test and on and on";
    let mut slow_w = slow.clone_writer();
    let trickle = std::thread::spawn(move || {
        let mut written = 0;
        for b in TRICKLE {
            if slow_w.write_all(&[*b]).is_err() {
                break;
            }
            written += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        written
    });
    let said = slow.line();
    assert!(said.starts_with("400"), "{said:?}");
    assert!(slow.closed());
    assert!(idle.line().starts_with("400"));
    assert!(idle.closed());
    // Meanwhile the server serves a well-behaved client.
    let mut ok = RawPeer::connect(&alpha);
    assert!(ok.cmd("DATE").starts_with("111 "));
    // The cut came mid-line: the trickler's writes failed before its line was through
    // (the write after the close draws a reset, the next one fails).
    let written = trickle.join().unwrap();
    assert!(written < TRICKLE.len(), "all {written} bytes were taken");
    alpha.stop();
}

#[test]
fn the_connection_limit_answers_400_and_shutdown_says_goodbye() {
    let mut alpha = node();
    let mut held: Vec<RawPeer> = (0..3)
        .map(|_| {
            let mut reader = RawPeer::connect(&alpha);
            assert!(reader.cmd("MODE READER").starts_with("200"));
            reader
        })
        .collect();
    let Err(said) = RawPeer::try_connect(&alpha) else {
        panic!("a fourth connection was welcomed");
    };
    assert!(
        said.starts_with("400") && said.contains("too many"),
        "{said:?}"
    );
    // One leaves; a newcomer gets in (once the server has seen it go).
    let mut leaving = held.pop().unwrap();
    assert!(leaving.cmd("QUIT").starts_with("205"));
    assert!(leaving.closed());
    let mut newcomer = None;
    for _ in 0..50 {
        if let Ok(peer) = RawPeer::try_connect(&alpha) {
            newcomer = Some(peer);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(newcomer.is_some(), "the freed slot was never given out");
    // Shutdown: the connected clients are told, then the port closes.
    alpha.stop();
    for mut reader in held {
        let said = reader.line();
        assert!(said.starts_with("400"), "{said:?}");
    }
}
