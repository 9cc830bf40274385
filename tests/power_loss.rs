//! Power loss (issue 22): cuts under a node's spool with the "powercut" VFS
//! (`common/powercut.rs`): every write not yet synced is dropped, torn or kept at random
//! at a random point of an ingest (what a push into `serve` or a pull does per batch) or
//! an expire; then the node opens again, `PRAGMA integrity_check` must say ok, and
//! every article whose ingest returned (what `serve` acknowledges with 239/235 and what a
//! pull's mark passes) must be there. Deterministic: the cut points come from a seed.

#[path = "common/powercut.rs"]
mod powercut;

use std::collections::HashSet;

use newsmesh::home::Home;
use newsmesh::ingest::{ingest, Rules, Source, Verdict};

/// Cuts per run: the issue asks for at least 100.
const CUTS: u64 = 120;

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// `n` fresh signed articles (wire form) with their ids, numbered from `first`; their
/// sizes vary from batch to batch (a torn write has pages of different fill to tear).
fn articles(key: &ed25519_dalek::SigningKey, first: u64, n: u64) -> Vec<(String, Vec<u8>)> {
    let body_bytes = 6 * (1 + (first % 40) as usize);
    newsmesh::testbed::signed_articles(key, "victim", "power", first..first + n, body_bytes)
}

#[test]
fn acknowledged_articles_survive_power_cuts_during_ingest_and_expire() {
    cut_ingests_and_expires(CUTS, 1, 30, 120);
}

/// Batches of [`newsmesh::spool`]'s bulk size and more: the spool checkpoints on a
/// thread of its own after each commit (issue 17), and cuts land in those checkpoints
/// as well as in the ingests.
#[test]
fn acknowledged_articles_survive_power_cuts_during_bulk_ingest_and_its_checkpoints() {
    cut_ingests_and_expires(BULK_CUTS, 256, 64, 400);
}

/// Cuts per run of the bulk variant (each run stores hundreds of articles).
const BULK_CUTS: u64 = 30;

/// `cuts` runs of ingests (batches of `smallest` to `smallest + spread - 1` articles) and
/// expires, each cut at a random operation below `budgets`; after each, the spool is
/// intact and holds every acknowledged article.
fn cut_ingests_and_expires(cuts: u64, smallest: u64, spread: u64, budgets: u64) {
    powercut::install();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("victim"));
    home.init("victim", "127.0.0.1:1").unwrap();
    // One key feeds thousands of articles here: lift the open group's daily quota.
    let config = home.dir().join("newsmesh.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[admission.quota]]\ngroups = \"*\"\n");
    std::fs::write(&config, text).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    // Acknowledged (ingest returned Stored), and of those the ones no expire may have
    // removed since.
    let (mut acked, mut live) = (HashSet::<String>::new(), HashSet::<String>::new());
    let (mut landed, mut in_ingest, mut in_expire, mut made) = (0, 0, 0, 0u64);
    let mut lost_writes = powercut::CutReport::default();
    for cut in 0..cuts {
        let budget = rng(&mut seed) % budgets;
        {
            let mut node = home.open().expect("open after restart");
            powercut::arm(home.dir(), budget);
            for _ in 0..8 {
                if rng(&mut seed).is_multiple_of(5) {
                    let result = node.spool.expire(|_| Some(newsmesh::clock::now() + 1), 0);
                    if result.is_ok() {
                        live.clear();
                    } else {
                        in_expire += 1;
                        // Committed or not: the cut came in the middle.
                        live.clear();
                        break;
                    }
                } else {
                    let n = smallest + rng(&mut seed) % spread;
                    let batch = articles(&key, made, n);
                    made += n;
                    let raws: Vec<&[u8]> = batch.iter().map(|(_, r)| r.as_slice()).collect();
                    let rules = Rules::new(&node.config, &node.trust, Some(&node.log))
                        .for_source(Source::Peer("feeder"));
                    match ingest(&mut node.spool, &rules, &raws) {
                        Ok(verdicts) => {
                            for ((id, _), v) in batch.iter().zip(verdicts) {
                                assert!(matches!(v, Verdict::Stored(_)), "{v:?}");
                                acked.insert(id.clone());
                                live.insert(id.clone());
                            }
                        }
                        Err(_) => {
                            in_ingest += 1;
                            break;
                        }
                    }
                }
            }
            // The node goes down with the power: its connection is dropped, and nothing
            // it tries to write on the way out reaches the disk.
        }
        if powercut::is_cut() {
            landed += 1;
        }
        let report = powercut::restore_power(seed ^ cut);
        lost_writes.dropped += report.dropped;
        lost_writes.garbled += report.garbled;
        lost_writes.kept += report.kept;
        let node = home.open().expect("the node opens after a power cut");
        let check = rusqlite::Connection::open(home.dir().join("spool.db")).unwrap();
        let integrity: String = check
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "cut {cut} (budget {budget})");
        for id in &acked {
            let history = node.spool.history(id).unwrap();
            assert!(
                history.is_some(),
                "cut {cut}: acknowledged {id} lost from history"
            );
            if live.contains(id) {
                assert!(
                    node.spool.article(id).unwrap().is_some(),
                    "cut {cut}: acknowledged {id} lost"
                );
            }
        }
    }
    println!(
        "power cuts: {cuts} runs, {landed} cuts landed ({in_ingest} mid-ingest, {in_expire} \
         mid-expire); unsynced writes dropped {}, torn {}, kept {}; {} acknowledged articles \
         all there",
        lost_writes.dropped,
        lost_writes.garbled,
        lost_writes.kept,
        acked.len()
    );
    assert!(
        landed >= cuts * 5 / 6,
        "at least {} cuts must land: {landed}",
        cuts * 5 / 6
    );
    assert!(in_ingest > 0 && in_expire > 0);
}

/// Rows of `t` after `commits` one-row transactions under `synchronous`, a cut, and a
/// restart.
fn rows_after_a_cut(synchronous: &str, commits: i64) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
    }
    powercut::arm(dir.path(), u64::MAX);
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "synchronous", synchronous).unwrap();
        for i in 0..commits {
            c.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
        }
        powercut::cut_now();
    }
    powercut::restore_power(7);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .unwrap_or(-1)
}

#[test]
fn the_harness_loses_what_was_never_synced_and_keeps_what_was() {
    // Guards the harness itself: without fsync, committed rows are lost in the cut;
    // with synchronous=FULL every commit survives.
    powercut::install();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    assert!(rows_after_a_cut("OFF", 50) < 50);
    assert_eq!(rows_after_a_cut("FULL", 50), 50);
}

/// The cut state is process-wide: tests that arm it run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Node `name` in `dir`, listening on a free port, with the open group's quota lifted.
fn node_home(dir: &std::path::Path, name: &str) -> (Home, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let home = Home::new(dir.join(name));
    home.init(name, &listener.local_addr().unwrap().to_string())
        .unwrap();
    let config = home.dir().join("newsmesh.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[admission.quota]]\ngroups = \"*\"\n");
    std::fs::write(&config, text).unwrap();
    (home, listener)
}

/// Lists `other` as a peer of `on` (dialled at `address`, or passive), live relay off.
fn list_peer(on: &Home, other: &Home, name: &str, address: Option<String>) {
    let key = newsmesh::config::NodeKey::from(other.node_key().unwrap().verifying_key());
    let peer = newsmesh::config::PeerConfig {
        name: name.into(),
        key,
        address,
        groups: "*".into(),
        tls: true,
        compress: true,
        live: false,
    };
    newsmesh::config::edit::add_peer(&on.config_path(), &peer).unwrap();
}

/// Posts `n` articles at `home` (acknowledged: stored when this returns).
fn post_many(home: &Home, first: u64, n: u64) {
    let mut node = home.open().unwrap();
    let key = home.author_key(newsmesh::home::DEFAULT_AUTHOR).unwrap();
    let batch = articles(&key, first, n);
    let raws: Vec<&[u8]> = batch.iter().map(|(_, r)| r.as_slice()).collect();
    let rules = Rules::new(&node.config, &node.trust, Some(&node.log));
    for v in ingest(&mut node.spool, &rules, &raws).unwrap() {
        assert!(matches!(v, Verdict::Stored(_)), "{v:?}");
    }
}

/// Every arrival of `from` up to `through` is in `to`'s history: what a mark says was
/// acknowledged is there.
fn holds_through(from: &Home, to: &Home, through: i64, what: &str) {
    let (from_node, to_node) = (from.open().unwrap(), to.open().unwrap());
    let mut after = 0;
    loop {
        let arrivals = from_node.spool.arrivals_since(after, 1000).unwrap();
        let Some(last) = arrivals.last().map(|a| a.seq) else {
            return;
        };
        for a in arrivals.iter().filter(|a| a.seq <= through) {
            assert!(
                to_node.spool.history(&a.msgid).unwrap().is_some(),
                "{what}: {} (arrival {} <= mark {through}) is missing",
                a.msgid,
                a.seq
            );
        }
        if last >= through {
            return;
        }
        after = last;
    }
}

fn integrity_ok(home: &Home) {
    let check = rusqlite::Connection::open(home.dir().join("spool.db")).unwrap();
    let integrity: String = check
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{}", home.dir().display());
}

#[test]
fn acknowledged_articles_survive_power_cuts_during_push_and_pull() {
    powercut::install();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // `client` dials `server` (served in this process) and pushes and pulls in one sync.
    let (client, _unused) = node_home(dir.path(), "client");
    let (server, listener) = node_home(dir.path(), "server");
    let address = listener.local_addr().unwrap();
    drop(listener);
    list_peer(&client, &server, "server", Some(address.to_string()));
    list_peer(&server, &client, "client", None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (mut landed, mut mid_transfer, mut bodies_crossed, mut made) = (0, 0, 0, 1_000_000u64);
    let cuts = CUTS / 2;
    for cut in 0..cuts {
        // New articles on both sides, so that the sync pushes and pulls.
        let n = 1 + rng(&mut seed) % 40;
        post_many(&client, made, n);
        post_many(&server, made + n, n);
        made += 2 * n;
        let victim = if cut % 2 == 0 { &server } else { &client };
        let listener = std::net::TcpListener::bind(address).unwrap();
        let running = runtime
            .block_on(async { newsmesh::server::start_on(&server, listener).await })
            .unwrap();
        powercut::arm(victim.dir(), rng(&mut seed) % 80);
        let reports = newsmesh::sync::sync_all(&client, None);
        // Cut before the sync ended (not in the server's records on the way down).
        let during_sync = powercut::is_cut();
        let crossed = match &reports {
            Ok(r) => r.iter().any(|r| r.outcome.sent + r.outcome.received > 0),
            Err(_) => false,
        };
        runtime.block_on(running.stop());
        if powercut::is_cut() {
            landed += 1;
        }
        if during_sync {
            mid_transfer += 1;
            if crossed {
                bodies_crossed += 1;
            }
        }
        powercut::restore_power(seed ^ cut);
        integrity_ok(&client);
        integrity_ok(&server);
        // The client's marks for the server say what was acknowledged both ways.
        let marks = client.open().unwrap().spool.marks("server").unwrap();
        holds_through(
            &client,
            &server,
            marks.push_seq,
            "pushed and acknowledged (239)",
        );
        holds_through(&server, &client, marks.pull_seq, "pulled past the mark");
    }
    println!(
        "power cuts during sync: {cuts} runs, {landed} landed, {mid_transfer} of them \
         mid-transfer ({bodies_crossed} after some bodies crossed); victims alternate \
         between the serving side (push into it) and the syncing side (pull into it)"
    );
    assert!(
        landed * 2 >= cuts,
        "most cuts must land: {landed} of {cuts}"
    );
}
