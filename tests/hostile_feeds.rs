//! The feed side of `serve` against hostile or broken neighbours, with real processes:
//! a peer that CHECKs endless ids and never sends them, TAKETHIS floods before
//! authentication, pipelined ARTICLE requests for big articles, a stalled peer holding a
//! reservation, and a spool that runs out of room. `serve`'s peak memory (VmHWM) stays
//! under 128 MiB, and a fresh client is served after each attack.

mod common;

use std::io::{BufRead, Read, Write};
use std::time::Duration;

use common::*;

/// The memory bound of `serve` under attack (BRIEF: targets).
const MAX_RSS_MIB: u64 = 128;

/// A reader that never authenticated gets the group: the node still serves.
#[track_caller]
fn assert_serves_a_fresh_client(node: &Node) {
    let mut reader = RawPeer::connect(node);
    let answer = reader.cmd(&format!("GROUP {}", common::GROUP));
    assert_eq!(RawPeer::code(&answer), 211, "GROUP answer {answer:?}");
    assert_eq!(RawPeer::code(&reader.cmd("QUIT")), 205);
}

/// A node `hostile` that `node` lists as a (passive) neighbour, and a raw connection to
/// `node` authenticated as it, in streaming mode.
fn authenticated_peer(node: &Node, hostile: &Node) -> RawPeer {
    let mut peer = RawPeer::connect(node);
    peer.authenticate(&hostile.signing_key());
    assert_eq!(RawPeer::code(&peer.cmd("MODE STREAM")), 203);
    peer
}

/// A Message-ID of the longest allowed size (250 octets), numbered `n`.
fn long_id(n: usize) -> String {
    let head = format!("<{n:012}.");
    let tail = "@attack.example>";
    format!("{head}{}{tail}", "x".repeat(250 - head.len() - tail.len()))
}

/// Finding 3: an authenticated peer CHECKs a quarter of a million long ids and never sends
/// one. The reservations it gets are capped, so the in-flight table cannot grow the
/// server, and the answers go out as they are made, not once the peer pauses. (Without
/// the caps, `serve` peaks near 190 MiB here; debug builds make a larger flood slow.)
#[test]
fn a_peer_checking_endless_ids_without_sending_stays_within_its_reservation_cap() {
    const CHECKS: usize = 250_000;
    let mut alpha = Node::init("alpha");
    let mallory = Node::init("mallory");
    // The flood goes out from a second thread, which needs plain TCP: alpha lists
    // mallory without TLS (what is tested is the feed, not the link).
    alpha
        .cli(&["peer", "add", "mallory", &mallory.node_key(), "--no-tls"])
        .ok();
    // Reservations outlive the test, so the count of 238 answers is exactly the cap.
    alpha.set_limit("in_flight_timeout_secs", "3600");
    alpha.start();
    let mut peer = RawPeer::connect(&alpha);
    peer.authenticate_plain(&mallory.signing_key());
    assert_eq!(RawPeer::code(&peer.cmd("MODE STREAM")), 203);
    let mut writer = peer.clone_writer();
    let flood = std::thread::spawn(move || {
        let mut out = Vec::new();
        for n in 0..CHECKS {
            out.extend_from_slice(format!("CHECK {}\r\n", long_id(n)).as_bytes());
            if out.len() > 1 << 20 {
                writer.write_all(&out).expect("send CHECKs");
                out.clear();
            }
        }
        writer.write_all(&out).expect("send CHECKs");
    });
    let (mut send, mut later) = (0, 0);
    let mut line = String::new();
    for _ in 0..CHECKS {
        line.clear();
        if let Err(e) = peer.reader().read_line(&mut line) {
            panic!(
                "no answer after {send} + {later}: {e}\n{}",
                alpha.serve_logs()
            );
        }
        match RawPeer::code(&line) {
            238 => send += 1,
            431 => later += 1,
            other => panic!("unexpected answer {other}: {line:?}"),
        }
    }
    flood.join().expect("writer");
    let peak = peak_rss_mib(alpha.serve_pid());
    assert!(peak < MAX_RSS_MIB, "serve peaked at {peak} MiB");
    assert_eq!(send, 10_000, "the default cap per session");
    assert_eq!(later, CHECKS - 10_000);
    assert_serves_a_fresh_client(&alpha);
}

/// Finding 6: TAKETHIS before authentication is answered 480 without its article being
/// held: ten connections each send fifteen articles of ~1 MB and start a sixteenth,
/// which never ends until the test says so.
#[test]
fn takethis_before_authentication_gets_480_without_the_articles_being_held() {
    const CONNECTIONS: usize = 10;
    const ARTICLES: usize = 15;
    let mut alpha = Node::init("alpha");
    alpha.start();
    let line = format!("{}\r\n", "y".repeat(998));
    let article = line.repeat(1000);
    // From several source addresses: one address may hold only a few unauthenticated
    // connections ([limits] max_unauthenticated_per_address).
    let mut peers: Vec<RawPeer> = (0..CONNECTIONS)
        .map(|i| RawPeer::connect_from(alpha.addr, [127, 0, 1, 2 + i as u8].into()))
        .collect();
    let senders: Vec<_> = peers
        .iter()
        .map(|peer| {
            let mut writer = peer.clone_writer();
            let article = article.clone();
            std::thread::spawn(move || {
                for n in 0..ARTICLES {
                    let mut out = format!("TAKETHIS <{n}@flood.example>\r\n").into_bytes();
                    out.extend_from_slice(article.as_bytes());
                    out.extend_from_slice(b".\r\n");
                    writer.write_all(&out).expect("send an article");
                }
                // An article that goes on: 12 MB, more than the socket buffers hold, so by
                // the time this returns the server has read all the articles above.
                writer
                    .write_all(b"TAKETHIS <endless@flood.example>\r\n")
                    .unwrap();
                for _ in 0..12 {
                    writer.write_all(article.as_bytes()).expect("send more");
                }
                writer
            })
        })
        .collect();
    let writers: Vec<_> = senders
        .into_iter()
        .map(|s| s.join().expect("sender"))
        .collect();
    let peak = peak_rss_mib(alpha.serve_pid());
    for (mut writer, peer) in writers.into_iter().zip(peers.iter_mut()) {
        writer.write_all(b".\r\n").expect("end the article");
        for _ in 0..=ARTICLES {
            let answer = peer.line();
            assert_eq!(RawPeer::code(&answer), 480, "{answer:?}");
        }
    }
    assert!(peak < MAX_RSS_MIB, "serve peaked at {peak} MiB");
    assert_eq!(alpha.article_count(), 0);
    assert_serves_a_fresh_client(&alpha);
}

/// Finding 1 (authenticated side): pipelined ARTICLE requests for a ~1 MB article are
/// answered in bounded parts, not all built in memory before the first is sent.
#[test]
fn pipelined_article_requests_are_answered_in_bounded_memory() {
    const REQUESTS: usize = 160;
    let mut alpha = Node::init("alpha");
    let mallory = Node::init("mallory");
    alpha.add_peer(&mallory, false, false);
    let body = format!("{}\n", "z".repeat(99)).repeat(10_000);
    let id = alpha.post(GROUP, "big", &body);
    alpha.start();
    let mut peer = authenticated_peer(&alpha, &mallory);
    let mut out = String::new();
    for _ in 0..REQUESTS {
        out.push_str(&format!("ARTICLE {id}\r\n"));
    }
    out.push_str("QUIT\r\n");
    peer.send(out.as_bytes());
    // Give a server that builds every answer first the time to do so; one that answers in
    // parts waits for us to read.
    let pid = alpha.serve_pid();
    wait_until(Duration::from_secs(3), || peak_rss_mib(pid) >= MAX_RSS_MIB);
    let mut answers = Vec::new();
    peer.reader()
        .read_to_end(&mut answers)
        .expect("read the answers");
    let peak = peak_rss_mib(pid);
    let mut rest = &answers[..];
    for _ in 0..REQUESTS {
        let (response, used) = newsmesh::protocol::take_response(rest, true, 2 << 20)
            .expect("a well-formed answer")
            .expect("a whole answer");
        assert_eq!(response.code, 220, "{response:?}");
        assert_eq!(response.first_arg(), Some("0"));
        assert!(response.block.is_some_and(|b| b.len() > 1_000_000));
        rest = &rest[used..];
    }
    assert!(rest.starts_with(b"205"), "then QUIT's answer");
    assert!(peak < MAX_RSS_MIB, "serve peaked at {peak} MiB");
    assert_serves_a_fresh_client(&alpha);
}

/// A peer that CHECKs an id, gets 238 and stalls: once its reservation is past its
/// deadline, another neighbour's push of that article is stored within one sync.
#[test]
fn a_stalled_peer_holding_a_reservation_does_not_keep_the_article_out() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    let mallory = Node::init("mallory");
    link(&alpha, &beta, Link::BothDial);
    alpha.add_peer(&mallory, false, false);
    alpha.set_limit("in_flight_timeout_secs", "1");
    let id = beta.post(GROUP, "wanted", "everyone should get this\n");
    alpha.start();
    let mut stalled = authenticated_peer(&alpha, &mallory);
    let answer = stalled.cmd(&format!("CHECK {id}"));
    assert_eq!(RawPeer::code(&answer), 238, "{answer:?}");
    // Mallory never sends the article and keeps its connection open.
    std::thread::sleep(Duration::from_millis(1500));
    let run = beta.sync();
    run.assert_ok();
    assert!(alpha.has(&id), "not stored within one sync: {run:#?}");
    assert_eq!(run.peer("alpha").num("sent"), 1);
    // Mallory's late article is a duplicate now, and mallory is still answered.
    stalled.queue_takethis(&id, &beta.raw_article(&id));
    let late = stalled.line();
    assert_eq!(RawPeer::code(&late), 439, "{late:?}");
    assert_eq!(alpha.copies_of(&id), 1);
    assert_serves_a_fresh_client(&alpha);
}

/// Spool pages (16 KiB) now in use.
fn pages(node: &Node) -> u64 {
    node.db()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page_count")
}

/// Disk full: when the spool cannot grow, a neighbour's push is told to try later and
/// nothing of it is stored, POST fails, reads work; once room returns (expire), the next
/// sync delivers everything, with nothing restarted.
#[test]
fn a_full_spool_refuses_feeds_keeps_serving_reads_and_recovers_when_room_returns() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    // Alpha's spool holds one big article, and room for two pages (32 KiB) more: none of
    // beta's articles (40 KB each) fits.
    let filler = alpha.post(
        GROUP,
        "filler",
        format!("{}\n", "f".repeat(79)).repeat(10_000),
    );
    let cap = pages(&alpha) + 2;
    let ids: Vec<String> = (0..10)
        .map(|n| {
            beta.post(
                GROUP,
                &format!("news {n}"),
                format!("{n:>79}\n").repeat(500),
            )
        })
        .collect();
    alpha.start_with_env(&[("NEWSMESH_TEST_SPOOL_MAX_PAGES", cap.to_string().as_str())]);

    let refused = beta.sync();
    assert!(
        ids.iter().all(|id| !alpha.has(id)),
        "stored past the cap: {refused:#?}"
    );
    assert!(
        !refused.peer("alpha").is_ok(),
        "a push that was told to try later is not reported ok: {refused:#?}"
    );
    assert!(
        alpha.serve_logs().contains("spool is full"),
        "{}",
        alpha.serve_logs()
    );
    // Every article of a pushed batch is told "try later" (431), one answer each; IHAVE
    // gets 436.
    let mut feeder = authenticated_peer(&alpha, &beta);
    for id in &ids {
        feeder.queue_takethis(id, &beta.raw_article(id));
    }
    for id in &ids {
        let answer = feeder.line();
        assert_eq!(
            answer.split(' ').take(2).collect::<Vec<_>>(),
            ["431", id.as_str()]
        );
    }
    let answer = feeder.cmd(&format!("IHAVE {}", ids[0]));
    let answer = if RawPeer::code(&answer) == 335 {
        let mut article = Vec::new();
        newsmesh::protocol::write_block(&mut article, &beta.raw_article(&ids[0]));
        feeder.send(&article);
        feeder.line()
    } else {
        answer
    };
    assert_eq!(RawPeer::code(&answer), 436, "{answer:?}");
    // Reads work; POST fails cleanly.
    let mut reader = RawPeer::connect(&alpha);
    let answer = reader.cmd(&format!("ARTICLE {filler}"));
    assert_eq!(RawPeer::code(&answer), 220, "{answer:?}");
    assert!(reader.block().len() > 800_000);
    assert_eq!(RawPeer::code(&reader.cmd("POST")), 340);
    // An article bigger than the room left (about 200 KB).
    let body = format!("{}\r\n", "p".repeat(70)).repeat(3000);
    reader.send(
        format!(
            "From: ann@example.org\r\nNewsgroups: {}\r\nSubject: full\r\n\r\n{body}.\r\n",
            common::GROUP
        )
        .as_bytes(),
    );
    let posted = reader.line();
    assert!(
        matches!(RawPeer::code(&posted), 400..=599),
        "POST into a full spool: {posted:?}"
    );
    assert_eq!(alpha.article_count(), 1);

    // Room returns: the filler expires (another process; serve is not told).
    alpha.append_config("[[expire.rule]]\ngroups = \"mesh.test\"\ndays = 0\n");
    std::thread::sleep(Duration::from_millis(1100));
    alpha.cli(&["expire"]).ok();
    assert!(!alpha.has(&filler));
    // The node notices by itself at its next attempt (about a second later).
    let recovered = wait_until(Duration::from_secs(20), || {
        let run = beta.sync();
        run.code == Some(0) && ids.iter().all(|id| alpha.has(id))
    });
    assert!(recovered, "{}", alpha.serve_logs());
    for id in &ids {
        assert_eq!(alpha.copies_of(id), 1);
    }
    assert!(alpha.serve_logs().contains("room again"));
    assert_serves_a_fresh_client(&alpha);
}
