//! Multi-node sync scenarios with real `newsmesh serve` / `newsmesh sync` processes:
//! a line of five, a node behind NAT, a diamond (one copy per node), kill -9 of a
//! node in the middle of a transfer, and a Path at the line limit relayed onwards.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;

/// Sync rounds allowed before a scenario counts as "not delivered".
const MAX_ROUNDS: usize = 6;

/// Runs sync rounds over `nodes` until `done()` holds; every sync must succeed. Returns
/// all the rounds run.
#[track_caller]
fn sync_until(nodes: &[&Node], mut done: impl FnMut() -> bool) -> Vec<Vec<SyncRun>> {
    let mut rounds = Vec::new();
    while !done() {
        assert!(
            rounds.len() < MAX_ROUNDS,
            "not delivered after {MAX_ROUNDS} sync rounds: {rounds:#?}"
        );
        let round = sync_round(nodes);
        for run in &round {
            run.assert_ok();
        }
        rounds.push(round);
    }
    rounds
}

/// The body of `read '<id>'` output (after the first blank line) and its first line.
fn verified_and_body(shown: &str) -> (&str, &str) {
    let first = shown.lines().next().unwrap_or("");
    let body = shown.split_once("\n\n").map_or("", |(_, b)| b);
    (first, body)
}

fn header<'a>(shown: &'a str, name: &str) -> Option<&'a str> {
    let headers = shown.split_once("\n\n").map_or(shown, |(h, _)| h);
    headers
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[test]
fn a_line_of_five_delivers_end_to_end_both_ways_then_goes_quiet() {
    let names = ["n0", "n1", "n2", "n3", "n4"];
    let mut nodes: Vec<Node> = names.iter().map(|n| Node::init(n)).collect();
    for pair in nodes.windows(2) {
        link(&pair[0], &pair[1], Link::BothDial);
    }
    for node in &mut nodes {
        node.start();
    }
    let west_body = "posted at the west end\n  indented line\n.leading dot\n";
    let east_body = "posted at the east end\n";
    let west = nodes[0].post(GROUP, "from the west", west_body);
    let east = nodes[4].post(GROUP, "from the east", east_body);
    let all: Vec<&Node> = nodes.iter().collect();

    let rounds = sync_until(&all, || nodes[4].has(&west) && nodes[0].has(&east));

    // Each sync dialled exactly its neighbours: one line at the ends, two in the middle.
    for round in &rounds {
        for (i, run) in round.iter().enumerate() {
            let mut peers: Vec<&str> = run.lines.iter().map(|l| l.peer()).collect();
            peers.sort();
            let expected: Vec<&str> = [i.checked_sub(1), Some(i + 1).filter(|&j| j < 5)]
                .into_iter()
                .flatten()
                .map(|j| names[j])
                .collect();
            assert_eq!(peers, expected, "{} dialled {peers:?}", names[i]);
        }
    }
    // Each article crossed each of the 4 links exactly once: 8 bodies in all, counted
    // once by whichever side dialled (sent when it pushed, received when it pulled).
    let lines = rounds.iter().flatten().flat_map(|r| &r.lines);
    let (moved, refused): (u64, u64) = lines.fold((0, 0), |(m, r), l| {
        (m + l.num("sent") + l.num("received"), r + l.num("refused"))
    });
    assert_eq!(moved, 8, "bodies moved over the whole line: {rounds:#?}");
    assert_eq!(refused, 0);

    // Every node holds both articles, once, verified and byte-exact.
    for node in &nodes {
        assert_eq!(node.article_count(), 2, "{} spool", node.name);
        for (id, body) in [(&west, west_body), (&east, east_body)] {
            let shown = node.read_id(id).unwrap();
            let (verified, shown_body) = verified_and_body(&shown);
            assert!(
                verified.starts_with("Verified: signature valid"),
                "{}: {verified}",
                node.name
            );
            assert_eq!(shown_body, body, "{}: body of {id}", node.name);
        }
    }
    // Path records the whole journey.
    let far = nodes[4].read_id(&west).unwrap();
    assert_eq!(
        header(&far, "Path"),
        Some("n4!n3!n2!n1!n0!not-for-mail"),
        "{far}"
    );
    let far = nodes[0].read_id(&east).unwrap();
    assert_eq!(header(&far, "Path"), Some("n0!n1!n2!n3!n4!not-for-mail"));

    // A further round moves nothing, and a quiet sync is cheap.
    let quiet = sync_round(&all);
    assert_quiet(&quiet);
    let quiet = sync_round(&all);
    assert_quiet(&quiet);
    for line in quiet.iter().flat_map(|r| &r.lines) {
        // A few hundred bytes of NNTP, after the TLS handshake (two certificates: about
        // 1.8 KB, the price of an encrypted link).
        assert_eq!(line.get("tls"), "yes", "{}", line.raw);
        assert!(
            line.num("bytes") < 2048 + 2048,
            "a no-op sync should cost the handshake and a few hundred bytes: {}",
            line.raw
        );
    }
}

#[test]
fn a_node_behind_nat_gets_and_gives_everything_through_its_own_sync() {
    // far <-> hub <- nat: hub and far serve; nat never serves and hub never dials it.
    let mut hub = Node::init("hub");
    let mut far = Node::init("far");
    let nat = Node::init("nat");
    link(&hub, &far, Link::BothDial);
    link(&nat, &hub, Link::FirstDials);
    hub.start();
    far.start();
    let from_nat = nat.post(GROUP, "from behind the NAT", "nat body\n");
    let from_hub = hub.post(GROUP, "from the hub", "hub body\n");
    let from_far = far.post(GROUP, "from far away", "far body\n");

    // nat dials hub: pulls hub's article, pushes its own.
    let run = nat.sync();
    run.assert_ok();
    assert_eq!(run.lines.len(), 1, "{run:#?}");
    assert_eq!(run.peer("hub").moved(), (1, 1, 0), "{run:#?}");
    assert!(nat.has(&from_hub) && hub.has(&from_nat));

    // hub dials only far; the passive nat gets no line at all.
    let run = hub.sync();
    run.assert_ok();
    assert_eq!(
        run.lines.len(),
        1,
        "passive peers are not dialled: {run:#?}"
    );
    assert_eq!(run.peer("far").moved(), (2, 1, 0), "{run:#?}");
    let run = hub.sync_args(&["--peer", "nat"]);
    assert_eq!(
        run.code,
        Some(1),
        "sync --peer with a passive peer: {run:#?}"
    );
    assert!(run.lines.is_empty(), "{run:#?}");
    assert!(
        run.stderr_text().contains("passive"),
        "{}",
        run.stderr_text()
    );

    // nat picks up far's article on its next sync.
    let run = nat.sync();
    run.assert_ok();
    assert_eq!(run.peer("hub").moved(), (0, 1, 0), "{run:#?}");

    for node in [&hub, &far, &nat] {
        assert_eq!(node.article_count(), 3, "{}", node.name);
        for id in [&from_nat, &from_hub, &from_far] {
            assert!(node.has(id), "{} lacks {id}", node.name);
        }
    }
    let shown = far.read_id(&from_nat).unwrap();
    assert_eq!(header(&shown, "Path"), Some("far!hub!nat!not-for-mail"));
    assert!(
        std::net::TcpStream::connect_timeout(&nat.addr, Duration::from_millis(300)).is_err(),
        "nat never listens"
    );
    assert_quiet(&sync_round(&[&nat, &hub, &far]));
}

#[test]
fn a_diamond_stores_each_article_once_at_the_far_corner() {
    //     b
    //   /   \
    //  a     d
    //   \   /
    //     c
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    let mut c = Node::init("c");
    let mut d = Node::init("d");
    link(&a, &b, Link::BothDial);
    link(&a, &c, Link::BothDial);
    link(&b, &d, Link::BothDial);
    link(&c, &d, Link::BothDial);
    for node in [&mut a, &mut b, &mut c, &mut d] {
        node.start();
    }
    let id = a.post(GROUP, "diamond", "one article, two ways to d\n");

    let run = a.sync();
    run.assert_ok();
    assert_eq!(run.peer("b").moved(), (1, 0, 0));
    assert_eq!(run.peer("c").moved(), (1, 0, 0));

    // d pulls from both b and c; both list the article, d fetches it once.
    let run = d.sync();
    run.assert_ok();
    assert_eq!(run.lines.len(), 2, "{run:#?}");
    assert_eq!(run.received(), 1, "d received the body once: {run:#?}");
    assert_eq!(run.sent(), 0);
    assert_eq!(d.copies_of(&id), 1);
    assert_eq!(d.article_count(), 1);
    assert_eq!(d.listed("diamond"), 1, "read mesh.test lists it once");

    // b and c still offer it to d; d says it has it.
    for node in [&b, &c] {
        let run = node.sync();
        run.assert_ok();
        assert_eq!(run.peer("d").moved(), (0, 0, 0), "{run:#?}");
    }
    assert_quiet(&sync_round(&[&a, &b, &c, &d]));
    assert_eq!(d.copies_of(&id), 1);

    // Now b and c push the same 20 new articles to d at the same time.
    let ids: Vec<String> = (0..20)
        .map(|i| a.post(GROUP, &format!("race {i}"), format!("race body {i}\n")))
        .collect();
    a.sync().assert_ok();
    let (rb, rc) = std::thread::scope(|s| {
        let tb = s.spawn(|| b.sync_args(&["--peer", "d"]));
        let tc = s.spawn(|| c.sync_args(&["--peer", "d"]));
        (tb.join().unwrap(), tc.join().unwrap())
    });
    rb.assert_ok();
    rc.assert_ok();
    let (lb, lc) = (rb.peer("d"), rc.peer("d"));
    // Whatever the interleaving, each body crossed into d once (a CHECK for a body
    // another peer is sending gets 431, not 238) and nothing was refused.
    assert_eq!(
        lb.num("sent") + lc.num("sent"),
        20,
        "d stored each body once: {lb:?} {lc:?}"
    );
    assert_eq!(lb.num("refused") + lc.num("refused"), 0, "{lb:?} {lc:?}");
    assert_eq!(lb.num("received") + lc.num("received"), 0);
    assert_eq!(d.article_count(), 21);
    for id in &ids {
        assert_eq!(d.copies_of(id), 1, "{id}");
    }
    assert_eq!(d.listed("race 7"), 1);
}

#[test]
fn concurrent_offers_of_one_article_send_its_body_once() {
    // b and c both hold an article d lacks and offer it to d at the same moment (the
    // race the diamond exposes, made deterministic by speaking NNTP by hand).
    let a = Node::init("a");
    let b = Node::init("b");
    let c = Node::init("c");
    let mut d = Node::init("d");
    link(&b, &d, Link::BothDial);
    link(&c, &d, Link::BothDial);
    d.start();
    let id = a.post(GROUP, "offered twice", "one body is enough\n");
    let raw = a.raw_article(&id);
    let mut from_b = RawPeer::connect(&d);
    from_b.authenticate(&b.signing_key());
    let mut from_c = RawPeer::connect(&d);
    from_c.authenticate(&c.signing_key());
    for peer in [&mut from_b, &mut from_c] {
        assert_eq!(RawPeer::code(&peer.cmd("MODE STREAM")), 203);
    }
    assert_eq!(RawPeer::code(&from_b.cmd(&format!("CHECK {id}"))), 238);
    // b was asked for the body and has not sent it yet: c must not be asked too
    // (RFC 4644 / INN: 431 "try again later" while another peer is sending it).
    let second = from_c.cmd(&format!("CHECK {id}"));
    assert_eq!(
        RawPeer::code(&second),
        431,
        "d asked a second peer for a body already on its way: {second:?}"
    );
    from_b.queue_takethis(&id, &raw);
    assert_eq!(RawPeer::code(&from_b.line()), 239);
    assert_eq!(RawPeer::code(&from_c.cmd(&format!("CHECK {id}"))), 438);
    assert_eq!(d.copies_of(&id), 1);
}

/// COMPRESS DEFLATE (negotiated by default) cuts the bytes a sync puts on the wire: the
/// same 300 articles cross one link compressed and one not.
#[test]
fn compress_deflate_cuts_the_bytes_of_a_sync() {
    let bytes = |compress: bool| {
        let a = Node::init("a");
        let mut b = Node::init("b");
        link(&a, &b, Link::BothDial);
        a.set_peer_option("b", "compress", compress);
        a.fill(300);
        b.start();
        let run = a.sync();
        let line = run.peer("b");
        assert!(line.is_ok() && line.num("sent") == 300, "{}", line.raw);
        assert_eq!(b.article_count(), 300);
        line.num("bytes")
    };
    let (compressed, plain) = (bytes(true), bytes(false));
    assert!(
        compressed * 2 < plain,
        "compressed {compressed} bytes, uncompressed {plain}"
    );
}

/// Articles in the kill -9 tests: several of `serve`'s transactions (2,000 articles at
/// most, the push client's offer size), so that a kill can fall after some are
/// acknowledged and before the last.
const BULK: usize = 6000;

#[test]
fn kill_9_mid_sync_loses_nothing_acknowledged() {
    let a = Node::init("a");
    let mut b = Node::init("b");
    link(&a, &b, Link::BothDial);
    let t = Instant::now();
    let ids = a.fill(BULK as u64);
    eprintln!("filled {BULK} articles in {:?}", t.elapsed());
    assert_eq!(a.article_count(), BULK as i64);
    b.start();

    // a pushes everything to b; b is killed with part of it stored.
    let sync = a
        .command(&["sync", "--peer", "b"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut seen_partial, mut acked_seq) = (0, 0);
    let caught = common::wait_until(Duration::from_secs(60), || {
        // a's push mark moves once b has acknowledged (239) a whole offer: from then on,
        // and until b has everything, a kill loses nothing acknowledged only if each
        // committed transaction survives it.
        acked_seq = a.marks("b").map_or(0, |(_, _, push_seq)| push_seq);
        let n = b
            .db()
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get::<_, i64>(0));
        seen_partial = n.unwrap_or(0);
        acked_seq > 0 && seen_partial < BULK as i64
    });
    assert!(
        caught,
        "never saw a partial transfer with a's push mark moved (b has {seen_partial}, mark {acked_seq})"
    );
    b.kill9();
    let out = sync.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "sync to a killed peer: {stdout}"
    );
    let line = common::SyncLine::parse(stdout.trim());
    assert_eq!(line.peer(), "b");
    assert_eq!(line.get("status"), "failed", "{}", line.raw);

    // Everything up to a's push mark for b was acknowledged by b, so b has it.
    b.start();
    let (_, _, push_seq) = a.marks("b").expect("a has marks for b");
    assert!(push_seq > 0, "a's push mark moved before the kill");
    let acked: Vec<String> = {
        let db = a.db();
        let mut stmt = db
            .prepare("SELECT msgid FROM articles WHERE seq <= ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([push_seq], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert!(!acked.is_empty());
    let at_b: HashSet<String> = b.message_ids().into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !at_b.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged articles lost by kill -9, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let survived = at_b.len() as u64;
    assert!(survived >= acked.len() as u64);

    // A new sync completes the transfer, sending only what b lacks.
    let run = a.sync_args(&["--peer", "b"]);
    run.assert_ok();
    assert_eq!(
        run.peer("b").moved(),
        (BULK as u64 - survived, 0, 0),
        "{run:#?}"
    );
    assert_eq!(b.article_count(), BULK as i64);
    let distinct: i64 = b
        .db()
        .query_row("SELECT COUNT(DISTINCT msgid) FROM articles", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(distinct, BULK as i64);
    let at_b: HashSet<String> = b.message_ids().into_iter().collect();
    assert!(ids.iter().all(|id| at_b.contains(id)));
    let group_count: i64 = b
        .db()
        .query_row(
            "SELECT count FROM groups WHERE name = 'mesh.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(group_count, BULK as i64);
}

#[test]
fn a_pusher_offers_its_next_chunk_before_the_first_is_answered() {
    // The test plays a streaming news server (an [[nntp_peer]]: no MESH handshake) that
    // answers nothing until the pusher stops sending. A pusher that waited for the
    // answers to one offer before making the next stops after one offer (1,000 ids
    // before issue 12); with two offers in flight, a receiver busy storing one offer
    // already has the next one's CHECKs, so it never waits for the pusher.
    use std::io::{BufRead, BufReader, Write};
    const ARTICLES: usize = 3000;
    let a = Node::init("a");
    a.fill(ARTICLES as u64);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    a.add_nntp_peer("fake", Some(&format!("127.0.0.1:{port}")), &[], "*");
    let sync = a
        .command(&["sync", "--peer", "fake"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    stream.write_all(b"200 fake news server\r\n").unwrap();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), "MODE STREAM");
    stream.write_all(b"203 streaming permitted\r\n").unwrap();
    // Everything the pusher sends before it needs an answer: it has stopped once the
    // line stays quiet (a generous pause: what comes is written in one go).
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut checks = Vec::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => match line.trim_end().strip_prefix("CHECK ") {
                Some(id) => checks.push(id.to_string()),
                None => panic!("unexpected {line:?} before any answer"),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("reading the pusher: {e}"),
        }
    }
    assert_eq!(
        checks.len(),
        ARTICLES,
        "ids offered before the first answer (both offers)"
    );
    // "Have them all": nothing is sent, and the pusher says goodbye.
    stream.set_read_timeout(None).unwrap();
    for id in &checks {
        stream
            .write_all(format!("438 {id} already have it\r\n").as_bytes())
            .unwrap();
    }
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), "QUIT");
    stream.write_all(b"205 bye\r\n").unwrap();
    drop(stream);
    let out = sync.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let synced = common::SyncLine::parse(stdout.trim());
    assert_eq!(synced.get("status"), "ok", "{stdout}");
    assert_eq!(synced.num("sent"), 0, "{stdout}");
}

#[test]
fn every_takethis_acknowledged_before_kill_9_survives_it() {
    // The test itself is the peer: it streams TAKETHIS, records every 239, and kills b
    // mid-stream. Each acknowledged id must be in b's spool after restart.
    let a = Node::init("a");
    let mut b = Node::init("b");
    // The articles go out from a second thread, which needs plain TCP: b lists a
    // without TLS (what is tested here is the spool, not the link).
    b.cli(&["peer", "add", "a", &a.node_key(), "--no-tls"]).ok();
    let ids = a.fill(BULK as u64);
    let raws: Vec<Vec<u8>> = {
        let spool = newsmesh::spool::Spool::open(&a.spool_path()).unwrap();
        ids.iter()
            .map(|id| spool.article(id).unwrap().unwrap().raw)
            .collect()
    };
    b.start();
    let mut peer = RawPeer::connect(&b);
    peer.authenticate_plain(&a.signing_key());
    assert_eq!(RawPeer::code(&peer.cmd("MODE STREAM")), 203);

    let mut acked = Vec::new();
    std::thread::scope(|s| {
        let mut writer = peer.clone_writer();
        let raws = &raws;
        let ids = &ids;
        s.spawn(move || {
            for (id, raw) in ids.iter().zip(raws) {
                let mut out = format!("TAKETHIS {id}\r\n").into_bytes();
                newsmesh::protocol::write_block(&mut out, raw);
                if std::io::Write::write_all(&mut writer, &out).is_err() {
                    return; // b is gone
                }
            }
        });
        let mut killed = false;
        while let Some(line) = peer.try_line() {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[0], "239", "unexpected answer {line:?}");
            acked.push(words[1].to_string());
            if !killed && acked.len() >= 700 {
                b.kill9();
                killed = true;
            }
        }
        assert!(
            killed,
            "the stream ended before the kill: {} acked",
            acked.len()
        );
    });
    assert!(acked.len() >= 700 && acked.len() < BULK, "{}", acked.len());

    b.start();
    let at_b: HashSet<String> = b.message_ids().into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !at_b.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged articles lost by kill -9, e.g. {:?}",
        lost.len(),
        acked.len(),
        lost.first()
    );
}

#[test]
fn a_peer_gets_only_the_groups_its_feed_pattern_names() {
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    // a feeds b only mesh.* minus mesh.private; b feeds a everything. Cron-style links
    // (no live relay): a's serve must not push a post to b before b's pull counts it.
    b.add_peer(&a, true, false);
    let (kb, ab) = (b.node_key(), b.addr.to_string());
    a.cli(&[
        "peer",
        "add",
        "b",
        &kb,
        "--address",
        &ab,
        "--groups",
        "mesh.*,!mesh.private",
        "--no-live",
    ])
    .ok();
    a.cli(&["groups", "--add", "mesh.private"]).ok();
    a.start();
    b.start();
    let public = a.post(GROUP, "public", "for everyone\n");
    let private = a.post("mesh.private", "private", "ours\n");
    let crossposted = a.post("mesh.private,mesh.test", "both", "crossposted\n");

    // Pull (b dials a): a lists only what b's pattern admits.
    let run = b.sync();
    run.assert_ok();
    assert_eq!(run.peer("a").moved(), (0, 2, 0), "{run:#?}");
    // Push (a dials b): nothing more to send, the private one is not offered.
    let run = a.sync();
    run.assert_ok();
    assert_eq!(run.peer("b").moved(), (0, 0, 0), "{run:#?}");
    assert!(b.has(&public) && b.has(&crossposted));
    assert!(!b.has(&private));
    assert_eq!(b.history_status(&private), None);
    assert_eq!(b.article_count(), 2);
}

#[test]
fn a_rebuilt_spool_gets_everything_back() {
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    link(&a, &b, Link::BothDial);
    a.start();
    b.start();
    let from_a = a.post(GROUP, "from a", "a's article\n");
    let from_b = b.post(GROUP, "from b", "b's article\n");
    a.sync().assert_ok();
    assert!(a.has(&from_b) && b.has(&from_a));

    // b loses its spool (disk replaced): same home, key and name, new spool and epoch.
    b.stop();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", b.spool_path().display());
        let _ = std::fs::remove_file(path);
    }
    b.start();
    assert_eq!(b.article_count(), 0);

    // a notices the new epoch and offers everything again; b pulls from a too.
    a.sync().assert_ok();
    b.sync().assert_ok();
    assert!(b.has(&from_a), "a's own article is offered again");
    assert!(
        b.has(&from_b),
        "b's own article, which a holds with b in its Path, never comes back"
    );
}

#[test]
fn a_cancel_by_the_author_withdraws_the_article_across_the_mesh() {
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    let mut c = Node::init("c");
    link(&a, &b, Link::BothDial);
    link(&b, &c, Link::BothDial);
    for node in [&mut a, &mut b, &mut c] {
        node.start();
    }
    let id = a.post(GROUP, "regrettable", "I take it back\n");
    for _ in 0..2 {
        sync_round(&[&a, &b, &c]);
    }
    assert!(c.has(&id));
    // Another node's author key cannot cancel it.
    let forged = c.cli(&["cancel", &id]);
    assert_eq!(forged.code, Some(1), "{forged:?}");
    assert!(
        forged.stderr_text().contains("not by the author"),
        "{forged:?}"
    );
    assert!(c.has(&id));
    // Its author can; the cancel travels like an article and every node honours it.
    let cancel = a.cli(&["cancel", &id]).ok();
    let cancel_id = cancel.stdout_text().trim().to_string();
    assert!(!a.has(&id));
    for _ in 0..2 {
        sync_round(&[&a, &b, &c]);
    }
    for node in [&a, &b, &c] {
        assert!(!node.has(&id), "{} still has it", node.name);
        assert!(node.has(&cancel_id), "{} lacks the cancel", node.name);
        assert_eq!(node.history_status(&id).as_deref(), Some("cancelled"));
    }
    assert_quiet(&sync_round(&[&a, &b, &c]));
}

/// Finding (fuzzing the article parser): a Path that arrived just within the 998-octet
/// line limit went over it when the relay prepended its name, and the next node refused
/// the article as "header Path exceeds 998 octets". The relay now folds Path before a `!`.
#[test]
fn a_path_at_the_line_limit_still_crosses_the_next_link() {
    let alpha = Node::init("alpha");
    let mut bravo = Node::init("bravo");
    let charlie = Node::init("charlie");
    link(&charlie, &bravo, Link::FirstDials);
    bravo.start();

    // alpha's article as if it had come a long way: `Path: ` + hops is 998 octets.
    let id = alpha.post(GROUP, "a long way", "many hops\n");
    let raw = String::from_utf8(alpha.raw_article(&id)).unwrap();
    let tail = "alpha!not-for-mail";
    let room = 998 - "Path: ".len() - tail.len();
    let mut hops: String = (1..=room / 8).map(|n| format!("far{n:04}!")).collect();
    hops.insert_str(0, &"x".repeat(room % 8));
    let long_path = format!("Path: {hops}{tail}");
    assert_eq!(long_path.len(), 998);
    let text = raw
        .replace(&format!("Path: {tail}\r\n"), &format!("{long_path}\r\n"))
        .replace("\r\n", "\n");
    assert!(text.contains(&long_path), "alpha's Path is {tail:?}");
    let batch = format!("#! rnews {}\n{text}", text.len());
    let run = bravo.cli_stdin(&["import"], batch.as_bytes()).ok();
    assert!(run.stdout_text().contains("imported=1 "), "{run:?}");

    let run = charlie.sync();
    run.assert_ok();
    assert_eq!(run.peer("bravo").num("refused"), 0, "{run:#?}");
    assert!(charlie.has(&id), "charlie refused the article: {run:#?}");
    let stored = charlie.raw_article(&id);
    let longest = stored.split(|&b| b == b'\n').map(<[u8]>::len).max();
    assert!(longest <= Some(998 + 2), "a line over the limit at charlie");
    let article = newsmesh::article::Article::parse(&stored, &Default::default()).unwrap();
    let mut want = vec!["charlie".to_string(), "bravo".to_string()];
    want.extend(hops.split('!').filter(|h| !h.is_empty()).map(String::from));
    want.extend(["alpha".to_string(), "not-for-mail".to_string()]);
    assert_eq!(article.path_entries(), want);
}
