//! Limits of `serve`: an idle client and a slowloris are cut off by the deadline, the
//! connection limit answers 400, and shutdown tells connected clients 400 — while the
//! server keeps serving everyone else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;

use common::Node;

/// A node with a 1-second idle deadline and at most 3 connections, served in-process.
fn node() -> Node {
    let mut node = Node::init("alpha");
    node.set_limit("idle_timeout_secs", "1");
    node.set_limit("max_connections", "3");
    node.serve_in(&newsmesh::testbed::runtime().unwrap())
        .unwrap();
    node
}

fn connect(addr: std::net::SocketAddr) -> (BufReader<TcpStream>, TcpStream) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (BufReader::new(stream.try_clone().unwrap()), stream)
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    l
}

fn closed(r: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).is_ok()
}

#[test]
fn idle_clients_and_slowloris_are_cut_off_and_others_are_served() {
    let mut alpha = node();
    let (mut idle, _idle_w) = connect(alpha.addr);
    assert!(line(&mut idle).starts_with("200"));
    let (mut slow, mut slow_w) = connect(alpha.addr);
    assert!(line(&mut slow).starts_with("200"));
    let started = Instant::now();
    // The slowloris trickles a command line a byte at a time, never finishing it.
    let trickle = std::thread::spawn(move || {
        for b in b"GROUP mesh.test and on and on".iter() {
            if slow_w.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let said = line(&mut slow);
    assert!(said.starts_with("400"), "{said:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(closed(&mut slow));
    assert!(line(&mut idle).starts_with("400"));
    assert!(closed(&mut idle));
    // Meanwhile the server serves a well-behaved client.
    let (mut ok, mut ok_w) = connect(alpha.addr);
    assert!(line(&mut ok).starts_with("200"));
    ok_w.write_all(b"DATE\r\n").unwrap();
    assert!(line(&mut ok).starts_with("111 "));
    let _ = trickle.join();
    alpha.stop();
}

#[test]
fn the_connection_limit_answers_400_and_shutdown_says_goodbye() {
    let mut alpha = node();
    let mut held = Vec::new();
    for _ in 0..3 {
        let (mut r, mut w) = connect(alpha.addr);
        assert!(line(&mut r).starts_with("200"));
        w.write_all(b"MODE READER\r\n").unwrap();
        assert!(line(&mut r).starts_with("200"));
        held.push((r, w));
    }
    let (mut fourth, _w) = connect(alpha.addr);
    let said = line(&mut fourth);
    assert!(
        said.starts_with("400") && said.contains("too many"),
        "{said:?}"
    );
    // One leaves; a newcomer gets in.
    let (_, mut w) = held.pop().unwrap();
    w.write_all(b"QUIT\r\n").unwrap();
    drop(w);
    std::thread::sleep(Duration::from_millis(200));
    let (mut newcomer, _nw) = connect(alpha.addr);
    assert!(line(&mut newcomer).starts_with("200"));
    // Shutdown: the connected clients are told, then the port closes.
    alpha.stop();
    for (mut r, _) in held {
        let said = line(&mut r);
        assert!(said.starts_with("400"), "{said:?}");
    }
}
