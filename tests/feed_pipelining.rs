//! A peer that pipelines its whole feed in one go: several TAKETHIS runs longer than one
//! of `serve`'s batches, CHECKs between them, a duplicate, then other commands. `serve`
//! stores a batch while it reads the commands after it; every command still gets its
//! answer in the order sent, and every acknowledged article is stored.

mod common;

use std::io::Write;

use common::*;
use newsmesh::testbed::signed_articles;

#[test]
fn a_feed_pipelined_past_several_batches_is_answered_in_order_and_stored() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    // The feed is written from a second thread (the answers are read meanwhile), which
    // needs plain TCP: alpha lists beta without TLS (what is tested is the feed).
    alpha
        .cli(&["peer", "add", "beta", &beta.node_key(), "--no-tls"])
        .ok();
    alpha.start();
    let articles = signed_articles(&beta.signing_key(), "beta", "ahead", 0..2250, 300);
    let mut peer = RawPeer::connect(&alpha);
    peer.authenticate_plain(&beta.signing_key());
    assert_eq!(RawPeer::code(&peer.cmd("MODE STREAM")), 203);

    // The feed, and the (code, id) of every answer, in order.
    let mut feed = Vec::new();
    let mut expected: Vec<(u16, Option<String>)> = Vec::new();
    let check = |feed: &mut Vec<u8>, expected: &mut Vec<_>, range: std::ops::Range<usize>| {
        for (id, _) in &articles[range] {
            feed.extend_from_slice(format!("CHECK {id}\r\n").as_bytes());
            expected.push((238, Some(id.clone())));
        }
    };
    check(&mut feed, &mut expected, 0..10);
    let takethis = |feed: &mut Vec<u8>, expected: &mut Vec<_>, n: usize, code: u16| {
        let (id, raw) = &articles[n];
        feed.extend_from_slice(format!("TAKETHIS {id}\r\n").as_bytes());
        newsmesh::protocol::write_block(feed, raw);
        expected.push((code, Some(id.clone())));
    };
    let mut first_run = Vec::new();
    for n in 0..2050 {
        takethis(&mut first_run, &mut expected, n, 239);
    }
    feed.extend(first_run);
    check(&mut feed, &mut expected, 2050..2100);
    let mut second_run = Vec::new();
    for n in 2050..2250 {
        takethis(&mut second_run, &mut expected, n, 239);
    }
    // Sent again in the second run: a duplicate by then.
    takethis(&mut second_run, &mut expected, 5, 439);
    feed.extend(second_run);
    feed.extend_from_slice(b"DATE\r\nQUIT\r\n");
    expected.push((111, None));
    expected.push((205, None));

    let mut writer = peer.clone_writer();
    let sender = std::thread::spawn(move || writer.write_all(&feed).expect("send the feed"));
    for (n, (code, id)) in expected.iter().enumerate() {
        let line = peer.line();
        assert_eq!(RawPeer::code(&line), *code, "answer {n}: {line:?}");
        if let Some(id) = id {
            assert_eq!(line.split(' ').nth(1), Some(id.as_str()), "answer {n}");
        }
    }
    sender.join().expect("writer");
    assert_eq!(alpha.article_count(), 2250);
    for n in [0, 1999, 2000, 2049, 2050, 2249] {
        assert!(alpha.has(&articles[n].0), "article {n}");
    }
}
