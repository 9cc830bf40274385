//! Feeding a plain news server (`[[nntp_peer]]`) with IHAVE: a scripted server on
//! 127.0.0.1 that does not stream, so `sync` offers one IHAVE per article.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;

/// Issue 21, finding 3: an article that expires between the offer and the send goes to
/// the server whole or not at all. The server here expires it in the node's spool as it
/// answers 335 (the race, made certain); before, `sync` then sent an empty article.
#[test]
fn an_article_expired_after_the_offer_is_never_sent_empty() {
    let node = Node::init("alpha");
    let id = node.post(GROUP, "offered", "the body that must arrive\n");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let spool = node.spool_path();
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let got = Arc::clone(&received);
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut out = stream;
        out.write_all(b"200 plain server\r\n").unwrap();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["IHAVE", id] => {
                    expire(&spool, id);
                    out.write_all(b"335 send it\r\n").unwrap();
                    let mut article = String::new();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        article.push_str(&l);
                    }
                    got.lock().unwrap().push(article);
                    out.write_all(b"235 thanks\r\n").unwrap();
                }
                ["QUIT"] => {
                    let _ = out.write_all(b"205 bye\r\n");
                    return;
                }
                _ => out.write_all(b"500 no streaming here\r\n").unwrap(),
            }
            line.clear();
        }
    });
    node.add_nntp_peer("inn.example", Some(&addr.to_string()), &[], "*");
    node.sync();
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "one IHAVE transfer: {received:?}");
    assert!(
        received[0].contains(&format!("Message-ID: {id}"))
            && received[0].contains("the body that must arrive"),
        "the article went out whole: {:?}",
        received[0]
    );
}

/// Expires `id` in the spool at `path` as `expire` does: its row is gone, its history
/// says `expired`.
fn expire(path: &std::path::Path, id: &str) {
    let db = rusqlite::Connection::open(path).expect("open the spool");
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute_batch(&format!(
        "BEGIN;
         DELETE FROM group_articles WHERE seq = (SELECT seq FROM history WHERE msgid = '{id}');
         UPDATE history SET status = 'expired', seq = NULL WHERE msgid = '{id}';
         DELETE FROM articles WHERE msgid = '{id}';
         COMMIT;"
    ))
    .expect("expire the article");
}
