//! Set reconciliation between real nodes (issue 18): two spools that share most of their
//! articles meet for the first time and end equal, moving the few that differ and far
//! fewer bytes than listing every shared article; `sync --reconcile` finds an article a
//! neighbour lost although the marks say it was sent.

mod common;

use std::collections::BTreeSet;

use common::*;

/// `n` signed articles (wire form) with short bodies, distinct per `seed`.
fn articles(n: usize, seed: u8) -> Vec<Vec<u8>> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed | 1; 32]);
    let label = format!("reconcile {seed}");
    newsmesh::testbed::signed_articles(&key, "gen", &label, 0..n as u64, 40)
        .into_iter()
        .map(|(_, raw)| raw)
        .collect()
}

/// Stores `raws` in `node`'s spool directly (as `import` would), before it serves.
fn load(node: &Node, raws: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
    node.store(&refs).expect("ingest");
}

fn ids(node: &Node) -> BTreeSet<String> {
    node.message_ids().into_iter().collect()
}

/// Finding: first contact between spools sharing N articles listed all N (`MESH SINCE
/// none`, ~60 bytes an id before compression) and offered all N back with CHECK. Now
/// they reconcile: the sync moves exactly the unique articles both ways and the bytes
/// stay far below one listing of the shared ids.
#[test]
fn two_nodes_sharing_most_articles_reconcile_on_first_contact_and_end_equal() {
    const SHARED: usize = 3000;
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    let shared = articles(SHARED, 2);
    load(&alpha, &shared);
    load(&beta, &shared);
    load(&alpha, &articles(5, 4));
    load(&beta, &articles(7, 6));
    assert_ne!(ids(&alpha), ids(&beta));
    beta.start();
    let run = alpha.sync();
    let line = run.assert_ok().peer("beta");
    assert_eq!((line.num("received"), line.num("sent")), (7, 5), "{line:?}");
    let bytes = line.num("bytes");
    // What today's first contact costs at the least: every shared id listed once.
    let listing = SHARED as u64 * 60;
    println!("first contact, {SHARED} shared, 5/7 unique: {bytes} bytes reconciling; a listing of the shared ids alone is {listing} bytes");
    assert!(
        bytes * 10 < listing,
        "{bytes} bytes is not far below {listing}"
    );
    beta.stop();
    assert_eq!(ids(&alpha), ids(&beta));
    assert_eq!(ids(&alpha).len(), SHARED + 12);
    // Arrival marks take over: the next sync has nothing to move, and stays small.
    beta.start();
    let again = alpha.sync();
    let line = again.assert_ok().peer("beta");
    assert_eq!(line.moved(), (0, 0, 0), "{line:?}");
    assert!(line.num("bytes") < 4096, "{line:?}");
}

/// Finding: once the marks say everything was offered, an article the neighbour lost
/// (a restored backup, a deleted row) was never offered again. `sync --reconcile`
/// compares the whole sets and offers it.
#[test]
fn sync_reconcile_finds_what_the_marks_say_was_sent() {
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    load(&alpha, &articles(200, 8));
    beta.start();
    assert_eq!(alpha.sync().assert_ok().sent(), 200);
    beta.stop();
    let lost = beta.message_ids()[17].clone();
    let db = rusqlite::Connection::open(beta.spool_path()).unwrap();
    db.execute(
        "DELETE FROM group_articles WHERE seq = (SELECT seq FROM articles WHERE msgid = ?1)",
        [&lost],
    )
    .unwrap();
    db.execute("DELETE FROM articles WHERE msgid = ?1", [&lost])
        .unwrap();
    db.execute("DELETE FROM history WHERE msgid = ?1", [&lost])
        .unwrap();
    drop(db);
    assert!(!beta.has(&lost));
    beta.start();
    assert_eq!(
        alpha.sync().assert_ok().sent(),
        0,
        "the marks say it was sent"
    );
    let run = alpha.sync_args(&["--reconcile"]);
    assert_eq!(run.assert_ok().sent(), 1);
    assert!(beta.has(&lost));
}

/// Finding: a neighbour whose spool was rebuilt (a new epoch: restored from an older
/// backup, say) was listed in full and offered every article again with CHECK. Now the
/// pull stops at the new epoch and the two sets are reconciled: only the articles the
/// backup lacks go back, and the bytes stay far below a listing.
#[test]
fn a_neighbour_with_a_rebuilt_spool_is_reconciled_not_listed() {
    const ARTICLES: usize = 2000;
    let alpha = Node::init("alpha");
    let mut beta = Node::init("beta");
    link(&alpha, &beta, Link::BothDial);
    let all = articles(ARTICLES, 10);
    load(&alpha, &all);
    beta.start();
    assert_eq!(alpha.sync().assert_ok().sent(), ARTICLES as u64);
    beta.stop();
    // Beta comes back from an older backup: a new spool holding all but ten, and three
    // articles of its own.
    for suffix in ["", "-wal", "-shm"] {
        let mut path = beta.spool_path().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    load(&beta, &all[10..]);
    load(&beta, &articles(3, 12));
    beta.start();
    let run = alpha.sync();
    let line = run.assert_ok().peer("beta");
    assert_eq!(
        (line.num("sent"), line.num("received")),
        (10, 3),
        "{line:?}"
    );
    let bytes = line.num("bytes");
    let listing = ARTICLES as u64 * 60;
    println!("rebuilt neighbour, {ARTICLES} shared, 10/3 missing: {bytes} bytes; a listing of the ids alone is {listing} bytes");
    assert!(
        bytes * 4 < listing,
        "{bytes} bytes is not far below {listing}"
    );
    beta.stop();
    assert_eq!(ids(&alpha), ids(&beta));
}
