//! Migrations move an existing spool to the current layout (issue 17): a spool made by
//! the release before issue 17's storage work (`tests/fixtures/spool-010.sqlite`, schema
//! 010, made by `tests/fixtures/make-spool.sh`; see its README) is copied into a node
//! home and opened by this build, which migrates it. What it held is read from the
//! fixture in its own (frozen) layout first, then through this build's spool API and the
//! node's CLI and `serve` after: every article (bytes and arrival sequence), every group
//! number, every history row (stored, cancelled, refused), the groups' counters, the
//! governance record, the invite, the epoch and the arrival order must survive.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use newsmesh::spool::Spool;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/spool-010.sqlite"
);

/// What the fixture holds, read in schema 010's layout.
#[derive(Debug)]
struct Held {
    /// seq -> (msgid, raw)
    articles: BTreeMap<i64, (String, Vec<u8>)>,
    /// (group, number) -> seq
    numbers: BTreeMap<(String, i64), i64>,
    /// msgid -> (status, reason, seen)
    history: BTreeMap<String, (String, String, i64)>,
    /// name -> (low, high, count)
    groups: BTreeMap<String, (i64, i64, i64)>,
    governance: usize,
    invites: i64,
    epoch: String,
}

fn held_by_fixture(path: &Path) -> Held {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the fixture");
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 10, "the fixture is a schema 010 spool");
    let rows = |sql: &str| -> Vec<Vec<rusqlite::types::Value>> {
        let mut s = db.prepare(sql).unwrap();
        let n = s.column_count();
        s.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    use rusqlite::types::Value::{Blob, Integer, Text};
    let mut held = Held {
        articles: BTreeMap::new(),
        numbers: BTreeMap::new(),
        history: BTreeMap::new(),
        groups: BTreeMap::new(),
        governance: 0,
        invites: db
            .query_row("SELECT count(*) FROM invites", [], |r| r.get(0))
            .unwrap(),
        epoch: db
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .unwrap(),
    };
    for row in rows("SELECT seq, msgid, raw FROM articles") {
        let [Integer(seq), Text(id), Blob(raw)] = &row[..] else {
            panic!("{row:?}")
        };
        held.articles.insert(*seq, (id.clone(), raw.clone()));
    }
    for row in rows("SELECT grp, num, seq FROM group_articles") {
        let [Text(g), Integer(num), Integer(seq)] = &row[..] else {
            panic!("{row:?}")
        };
        held.numbers.insert((g.clone(), *num), *seq);
    }
    for row in rows("SELECT msgid, status, reason, seen FROM history") {
        let [Text(id), Text(status), Text(reason), Integer(seen)] = &row[..] else {
            panic!("{row:?}")
        };
        held.history
            .insert(id.clone(), (status.clone(), reason.clone(), *seen));
    }
    for row in rows("SELECT name, low, high, count FROM groups") {
        let [Text(name), Integer(low), Integer(high), Integer(count)] = &row[..] else {
            panic!("{row:?}")
        };
        held.groups.insert(name.clone(), (*low, *high, *count));
    }
    held.governance = rows("SELECT * FROM governance").len();
    held
}

/// A node whose spool is a copy of the fixture.
fn node_on_fixture() -> Node {
    let node = Node::init("fixture");
    let spool = node.spool_path();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", spool.display()));
    }
    std::fs::copy(FIXTURE, &spool).expect("copy the fixture");
    node
}

#[test]
fn a_spool_made_before_issue_17_keeps_everything_through_the_migrations() {
    let held = held_by_fixture(Path::new(FIXTURE));
    // The fixture has what the test claims to check.
    assert!(held.articles.len() >= 15, "{held:?}");
    assert!(held.numbers.len() > held.articles.len(), "a crosspost");
    for status in ["stored", "cancelled", "refused"] {
        assert!(
            held.history.values().any(|(s, _, _)| s == status),
            "a {status} history row"
        );
    }
    assert!(held.governance > 0 && held.invites > 0);

    let node = node_on_fixture();
    let spool = Spool::open(&node.spool_path()).expect("open (and migrate) the fixture");
    assert_eq!(spool.epoch().unwrap(), held.epoch);
    for (seq, (id, raw)) in &held.articles {
        let article = spool.article(id).unwrap().unwrap_or_else(|| panic!("{id}"));
        assert_eq!((article.seq, &article.raw), (*seq, raw), "{id}");
    }
    for ((group, num), seq) in &held.numbers {
        let (id, _) = &held.articles[seq];
        let at = spool.article_at(group, *num).unwrap().expect("numbered");
        assert_eq!(&at.msgid, id, "{group} {num}");
        assert_eq!(spool.number_in(group, id).unwrap(), Some(*num));
    }
    for (id, (status, reason, seen)) in &held.history {
        assert_eq!(
            spool.history_seen(id).unwrap(),
            Some((status.clone(), reason.clone(), *seen)),
            "{id}"
        );
    }
    let groups: BTreeMap<_, _> = spool
        .groups()
        .unwrap()
        .into_iter()
        .map(|g| (g.name, (g.low, g.high, g.count)))
        .collect();
    assert_eq!(groups, held.groups);
    assert_eq!(spool.governance_rows().unwrap().len(), held.governance);
    let arrivals: Vec<i64> = spool
        .arrivals_since(0, 1000)
        .unwrap()
        .into_iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(arrivals, held.articles.keys().copied().collect::<Vec<_>>());
    drop(spool);

    // The node reads and serves it.
    let (seq, (id, _)) = held.articles.iter().next().unwrap();
    let text = node
        .read_id(id)
        .unwrap_or_else(|| panic!("read {id} (seq {seq})"));
    assert!(text.contains(id.as_str()), "{text}");
    let mut node = node;
    node.start();
    let mut peer = RawPeer::connect(&node);
    let ((group, num), seq) = held.numbers.iter().next().unwrap();
    let (low, high, count) = held.groups[group];
    let answer = peer.cmd(&format!("GROUP {group}"));
    assert_eq!(answer, format!("211 {count} {low} {high} {group}"));
    let answer = peer.cmd(&format!("ARTICLE {num}"));
    assert!(
        answer.starts_with("220") && answer.contains(held.articles[seq].0.as_str()),
        "{answer}"
    );
    assert_eq!(
        peer.block(),
        held.articles[seq].1,
        "ARTICLE {num} in {group}"
    );
    node.stop();
}
