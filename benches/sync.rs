//! Sync benchmark (a harness that prints figures, not a test):
//!
//! 1. throughput: N signed 1 KB articles sync between two nodes on loopback, both ways:
//!    push (A's `sync` offers with CHECK/TAKETHIS to B's `serve`) and pull (B's `sync`
//!    fetches from A's `serve` with MESH SINCE + ARTICLE). The receiving side verifies
//!    every signature and stores every article; articles/s = N / the `ms` of the sync line.
//! 2. no-op: both nodes hold the same M articles; a sync with nothing new, timed and
//!    measured in bytes (the `ms=` and `bytes=` of the sync line).
//! 3. first contact (issue 18): both nodes hold the same S articles and U more each of
//!    their own, and meet for the first time: bytes, rounds and time of a sync that
//!    reconciles (`MESH RECONCILE`), beside the same sync listing instead (`MESH SINCE
//!    none` and CHECK of every arrival: the knob `NEWSMESH_BENCH_NO_RECONCILE`); and
//!    the time to fingerprint a range of 1,000,000 items from the spool's index.
//!
//! Real processes: the release `newsmesh` binary for `init`, `import` (how the articles
//! get into the sending spool), `serve` and `sync`, real SQLite files; the nodes are
//! `newsmesh::testbed` nodes (ports bound from the start, `serve` as a child on them).
//! `serve` can be profiled by attaching to it: `perf record -g -p PID`.
//!
//! Each link kind in `NEWSMESH_BENCH_LINKS` (default `tls+deflate,tls,plain`: the
//! default link, TLS without compression, and a link in clear with neither) is measured
//! in every run, one after the other, so their figures come from the same conditions.
//!
//!     cargo bench --bench sync
//!     NEWSMESH_BENCH_SYNC=20000,100000 NEWSMESH_BENCH_NOOP=1000000 NEWSMESH_BENCH_RUNS=3 cargo bench --bench sync
//!     NEWSMESH_BENCH_LINKS=tls,plain NEWSMESH_BENCH_SYNC=20000 NEWSMESH_BENCH_NOOP=1000 cargo bench --bench sync
//!     NEWSMESH_BENCH_BIN=/path/to/other/newsmesh cargo bench --bench sync   # another build
//!     NEWSMESH_BENCH_DIRECTIONS=push cargo bench --bench sync                 # no pull
//!     NEWSMESH_BENCH_SYNC= NEWSMESH_BENCH_NOOP= NEWSMESH_BENCH_FIRST=10000,100000 \
//!         NEWSMESH_BENCH_UNIQUE=1000 NEWSMESH_BENCH_LINKS=tls+deflate cargo bench --bench sync

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use newsmesh::compose::{compose, Draft};
use newsmesh::rnews::write_article;
use newsmesh::testbed::{clean_env, Node};

/// The `newsmesh` binary that runs `init`, `import`, `serve` and `sync`: this build's,
/// or the one named by `NEWSMESH_BENCH_BIN` (another commit's build, to compare
/// before/after with the same harness in alternating runs).
fn bin() -> PathBuf {
    std::env::var_os("NEWSMESH_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_newsmesh").into())
}

/// Whether `bin()` takes the listener the testbed binds in advance (builds from before
/// `NEWSMESH_LISTEN_FD` bind `[node] listen` themselves).
fn takes_inherited_listener() -> bool {
    let binary = std::fs::read(bin()).expect("read the newsmesh binary");
    memchr::memmem::find(&binary, newsmesh::server::inherited::LISTEN_FD.as_bytes()).is_some()
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// `newsmesh ARGS` on `node`, checked; its stdout.
/// `NEWSMESH_BENCH_WRAP_SYNC="perf record -g -o sync.perf"` runs `sync` under a profiler.
fn nm(node: &Node, args: &[&str]) -> String {
    let wrap = match args.first() {
        Some(&"sync") => std::env::var("NEWSMESH_BENCH_WRAP_SYNC").unwrap_or_default(),
        _ => String::new(),
    };
    if wrap.trim().is_empty() {
        return node.cli(args).ok().stdout_text();
    }
    let mut words = wrap.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or_default());
    command
        .args(words)
        .arg(node.binary())
        .arg("--home")
        .arg(node.home())
        .args(args);
    clean_env(&mut command);
    newsmesh::testbed::run(command, None, newsmesh::testbed::DEFAULT_TIMEOUT)
        .ok()
        .stdout_text()
}

/// Node `name` under `dir`, initialised by the binary under test on its reserved port.
fn node(dir: &Path, name: &str) -> Node {
    let mut node = Node::at(dir, name)
        .expect("reserve a port")
        .with_binary(bin());
    if !takes_inherited_listener() {
        node = node.binding_itself();
    }
    let listen = node.addr.to_string();
    nm(&node, &["init", "--name", name, "--listen", &listen]);
    // One author key moves 100,000 articles here: above the default quota of an open
    // group, so the bench lifts it (a rule with no limits is unlimited). Builds from
    // before quotas have neither the section nor the limit.
    if node.config_text().contains("[admission]") {
        node.append_config("\n[[admission.quota]]\ngroups = \"*\"\n");
    }
    node
}

/// Lists node `other` as a peer of `node`: dialled at its address, or passive. Through
/// the CLI of the binary under test, so that its config stays its own.
fn add_peer(node: &Node, other: &Node, dial: bool) {
    let key = nm(other, &["key", "--node"]);
    let address = other.addr.to_string();
    let mut args = vec!["peer", "add", other.name(), key.trim()];
    if dial {
        args.extend(["--address", address.as_str()]);
    }
    nm(node, &args);
}

/// Two wired nodes: a and b, each listing the other with its address.
fn pair(dir: &Path) -> (Node, Node) {
    let a = node(dir, "a");
    let b = node(dir, "b");
    add_peer(&a, &b, true);
    add_peer(&b, &a, true);
    (a, b)
}

/// What a link runs over: `tls+deflate` (the default), `tls`, or `plain`.
fn link_kinds() -> Vec<String> {
    std::env::var("NEWSMESH_BENCH_LINKS")
        .unwrap_or_else(|_| "tls+deflate,tls,plain".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Which directions a throughput run measures (`NEWSMESH_BENCH_DIRECTIONS`, default
/// `push,pull`): push always runs, `push` alone leaves out the pull.
fn directions() -> Vec<String> {
    std::env::var("NEWSMESH_BENCH_DIRECTIONS")
        .unwrap_or_else(|_| "push,pull".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect()
}

/// Sets every `[[peer]]` of `node` to the link kind `kind` (through `config::edit`).
fn set_link(node: &Node, kind: &str) {
    let doc: toml_edit::DocumentMut = node.config_text().parse().expect("a TOML config");
    let peers: Vec<String> = doc
        .get("peer")
        .and_then(|p| p.as_array_of_tables())
        .into_iter()
        .flat_map(|peers| peers.iter())
        .filter_map(|peer| peer.get("name")?.as_str().map(str::to_string))
        .collect();
    for peer in peers {
        node.set_peer_option(&peer, "tls", kind.starts_with("tls"));
        node.set_peer_option(&peer, "compress", kind.ends_with("deflate"));
    }
}

/// Signs `n` articles with ~1 KB bodies (wire form).
fn articles(n: usize, seed: usize) -> Vec<Vec<u8>> {
    let keys: Vec<_> = (0..16u8)
        .map(|i| {
            ed25519_dalek::SigningKey::from_bytes(
                &[i.wrapping_add(seed as u8).wrapping_mul(7) | 1; 32],
            )
        })
        .collect();
    let line =
        "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n";
    let body: String = line.repeat(12);
    (0..n)
        .map(|i| {
            let subject = format!("bench {seed}/{i}");
            let from = format!("author{} <a{}@bench.invalid>", i % 16, i % 16);
            compose(
                &Draft {
                    groups: "mesh.test",
                    subject: &subject,
                    from: &from,
                    references: None,
                    body: body.as_bytes(),
                },
                "gen",
                &keys[i % keys.len()],
            )
            .to_bytes()
        })
        .collect()
}

/// Stores `raws` at `node` through the binary under test (`newsmesh import` of an
/// rnews batch), so that the spool has the layout that binary makes.
fn load(node: &Node, raws: &[Vec<u8>]) {
    let batch = node.path("load.rnews");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&batch).unwrap());
        for raw in raws {
            write_article(&mut out, raw).unwrap();
        }
        std::io::Write::flush(&mut out).unwrap();
    }
    let batch_arg = batch.to_string_lossy().into_owned();
    let line = nm(node, &["import", &batch_arg]);
    assert!(
        line.contains(&format!("imported={}", raws.len())),
        "import at {}: {line}",
        node.name()
    );
    std::fs::remove_file(&batch).unwrap();
}

/// CPU seconds (user + system) used by finished child processes so far.
fn children_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// INN as `shared/tools/inn-setup.sh` leaves it: innd on 127.0.0.1:119, pathhost
/// inn.localdomain, carrying mesh.test, accepting feeds from localhost.
fn inn_running() -> bool {
    std::net::TcpStream::connect(("127.0.0.1", 119)).is_ok()
}

fn throughput(n: usize, runs: usize) {
    let kinds = link_kinds();
    let mut push = vec![Vec::new(); kinds.len()];
    let mut pull = vec![Vec::new(); kinds.len()];
    let mut bytes = vec![Vec::new(); kinds.len()];
    let mut inn = Vec::new();
    for run in 0..runs {
        // Fresh articles every run (a distinct seed): INN's history outlives the run.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(run, |d| d.as_micros() as usize);
        let raws = articles(n, seed);
        for (k, kind) in kinds.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let (mut a, mut b) = pair(dir.path());
            set_link(&a, kind);
            set_link(&b, kind);
            load(&a, &raws);
            {
                let before = children_cpu();
                b.start();
                let cpu = children_cpu();
                let line = nm(&a, &["sync", "--peer", "b"]);
                let sync_cpu = children_cpu() - cpu;
                b.stop();
                // The receiving `serve` (started, idle, stopped) once it has exited.
                let serve_cpu = children_cpu() - before - sync_cpu;
                println!(
                    "  {kind} push: {} (sync process CPU {sync_cpu:.2} s, serve CPU {serve_cpu:.2} s)",
                    line.trim(),
                );
                assert_eq!(field(&line, "sent") as usize, n, "{line}");
                push[k].push(n as f64 * 1000.0 / field(&line, "ms").max(1) as f64);
                bytes[k].push(field(&line, "bytes") as f64);
            }
            if k == 0 && inn_running() {
                // The same client, the same articles, the same protocol (MODE STREAM,
                // pipelined CHECK/TAKETHIS), into INN instead of a newsmesh node.
                a.append_config(
                    "\n[[nntp_peer]]\nname = \"inn.localdomain\"\naddress = \"127.0.0.1:119\"\ngroups = \"mesh.*\"\n",
                );
                let line = nm(&a, &["sync", "--peer", "inn.localdomain"]);
                println!("  INN:  {}", line.trim());
                assert_eq!(field(&line, "sent") as usize, n, "{line}");
                inn.push(n as f64 * 1000.0 / field(&line, "ms").max(1) as f64);
            }
            if !directions().contains(&"pull".to_string()) {
                continue;
            }
            // Pull: a fresh receiver fetches everything from a's server.
            let c = node(dir.path(), "c");
            add_peer(&a, &c, false);
            add_peer(&c, &a, true);
            set_link(&a, kind);
            set_link(&c, kind);
            let before = children_cpu();
            a.start();
            let cpu = children_cpu();
            let line = nm(&c, &["sync", "--peer", "a"]);
            let sync_cpu = children_cpu() - cpu;
            a.stop();
            // The sending `serve` (started, idle, stopped) once it has exited.
            let serve_cpu = children_cpu() - before - sync_cpu;
            println!(
                "  {kind} pull: {} (sync process CPU {sync_cpu:.2} s, serve CPU {serve_cpu:.2} s)",
                line.trim(),
            );
            assert_eq!(field(&line, "received") as usize, n, "{line}");
            pull[k].push(n as f64 * 1000.0 / field(&line, "ms").max(1) as f64);
        }
    }
    let rounded = |v: &Vec<f64>| v.iter().map(|x| x.round() as u64).collect::<Vec<_>>();
    for (k, kind) in kinds.iter().enumerate() {
        println!(
            "sync {n:>7} signed 1 KB articles over {kind}: push {:>8.0} articles/s, pull {:>8.0} articles/s, push {:.1} MB on the wire (median of {runs}; runs push {:?} pull {:?})",
            median(push[k].clone()),
            median(pull[k].clone()),
            median(bytes[k].clone()) / 1e6,
            rounded(&push[k]),
            rounded(&pull[k])
        );
    }
    if !inn.is_empty() {
        let ratios: Vec<f64> = push[0].iter().zip(&inn).map(|(p, i)| p / i).collect();
        println!(
            "  side by side, same client and articles: INN 2.7 ingests {:>8.0} articles/s; newsmesh ({})/INN = {:.2}x (median of per-run ratios {:?})",
            median(inn.clone()),
            kinds[0],
            median(ratios.clone()),
            ratios.iter().map(|r| (r * 100.0).round() / 100.0).collect::<Vec<_>>()
        );
    } else {
        println!("  (INN is not running on 127.0.0.1:119: no side-by-side figure; see shared/tools/inn-setup.sh)");
    }
}

fn noop(m: usize, runs: usize, kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (a, mut b) = pair(dir.path());
    set_link(&a, kind);
    set_link(&b, kind);
    let started = Instant::now();
    let mut made = 0;
    while made < m {
        let chunk = articles((m - made).min(50_000), made);
        load(&a, &chunk);
        load(&b, &chunk);
        made += chunk.len();
    }
    println!(
        "  (built two spools of {m} articles in {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    b.start();
    // The first sync walks the whole history once (re-offers, all refused as duplicates).
    let first = nm(&a, &["sync", "--peer", "b"]);
    println!("  first sync over identical spools: {}", first.trim());
    let mut ms = Vec::new();
    let mut bytes = Vec::new();
    let mut process = Vec::new();
    for _ in 0..runs.max(3) {
        // Timed around `output()` itself: the deadline runner's polling would add
        // milliseconds to the whole-process figure.
        let started = Instant::now();
        let out = a.command(&["sync", "--peer", "b"]).output().expect("sync");
        process.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(out.status.success(), "{out:?}");
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(field(&line, "sent") + field(&line, "received"), 0, "{line}");
        ms.push(field(&line, "ms") as f64);
        bytes.push(field(&line, "bytes") as f64);
    }
    println!(
        "no-op sync over {kind}, spools of {m} articles: exchange {:.0} ms, whole `newsmesh sync` process {:.1} ms, {:.0} bytes on the wire (median of {}; exchange ms {:?})",
        median(ms.clone()),
        median(process),
        median(bytes),
        ms.len(),
        ms
    );
}

/// `sync` of a (first contact with b), listing instead of reconciling when `listing`;
/// returns the sync line and the rounds of its reconciliation (0 when it listed).
fn first_sync(a: &Node, listing: bool) -> (String, u64) {
    let mut command = a.command(&["sync", "--peer", "b"]);
    command.env("RUST_LOG", "newsmesh=info");
    if listing {
        command.env(newsmesh::sync::NO_RECONCILE_ENV, "1");
    }
    let out = newsmesh::testbed::run(command, None, newsmesh::testbed::DEFAULT_TIMEOUT).ok();
    let stdout = out.stdout_text();
    let rounds = out
        .stderr_text()
        .lines()
        .find_map(|l| {
            let rest = l.split("reconciled with b in ").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0);
    (stdout, rounds)
}

/// First contact of two nodes sharing `shared` articles with `unique` more each.
fn first_contact(shared: usize, unique: usize, kind: &str) {
    let mut made_shared = Vec::new();
    let started = Instant::now();
    let mut made = 0;
    while made < shared {
        made_shared.push(articles((shared - made).min(50_000), 1_000_000 + made));
        made += made_shared.last().map_or(0, Vec::len);
    }
    let only_a = articles(unique, 7_000_000);
    let only_b = articles(unique, 8_000_000);
    for listing in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (a, mut b) = pair(dir.path());
        set_link(&a, kind);
        set_link(&b, kind);
        for chunk in &made_shared {
            load(&a, chunk);
            load(&b, chunk);
        }
        load(&a, &only_a);
        load(&b, &only_b);
        b.start();
        let (line, rounds) = first_sync(&a, listing);
        assert_eq!(field(&line, "sent") as usize, unique, "{line}");
        assert_eq!(field(&line, "received") as usize, unique, "{line}");
        println!(
            "first contact over {kind}, {shared} shared + {unique} unique each, {}: {} bytes, {} rounds, {} ms ({})",
            if listing { "listing (before)" } else { "reconciling" },
            field(&line, "bytes"),
            rounds,
            field(&line, "ms"),
            line.trim()
        );
    }
    println!(
        "  (built the spools in {:.0} s)",
        started.elapsed().as_secs_f64()
    );
}

/// Fingerprint of a range of `n` items read from the spool's reconciliation index (the
/// rows written straight into the index: the articles themselves are not read).
fn fingerprint(n: usize) {
    use newsmesh::reconcile::{Bound, Initiator, Storage};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let spool = newsmesh::spool::Spool::open(&path).unwrap();
    {
        let mut db = rusqlite::Connection::open(&path).unwrap();
        let tx = db.transaction().unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO reconcile_items (ts, id, seq) VALUES (?1, ?2, ?3)")
                .unwrap();
            for i in 0..n as u64 {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
                id[8..16].copy_from_slice(&i.to_le_bytes());
                insert
                    .execute(rusqlite::params![
                        1_800_000_000 + (i / 3) as i64,
                        &id[..],
                        i as i64
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let acc = spool
            .read_with(|s| {
                s.reconcile_items()
                    .fingerprint(&Bound::MIN, &Bound::INFINITY)
            })
            .unwrap()
            .unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(acc.count() as usize, n);
    }
    let started = Instant::now();
    let first = spool
        .read_with(|s| Initiator::new().start(&s.reconcile_items()))
        .unwrap()
        .unwrap();
    let split_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "fingerprint of a {n}-item range from the index: {:.0} ms (median of 3); the first message (count, then 16 fingerprints): {split_ms:.0} ms, {} bytes",
        median(times),
        first.len()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let unique = env_list("NEWSMESH_BENCH_UNIQUE", "1000")
        .first()
        .copied()
        .unwrap_or(1000);
    for shared in env_list("NEWSMESH_BENCH_FIRST", "") {
        for kind in link_kinds() {
            first_contact(shared, unique, &kind);
        }
    }
    for n in env_list("NEWSMESH_BENCH_FINGERPRINT", "") {
        fingerprint(n);
    }
    let runs = env_list("NEWSMESH_BENCH_RUNS", "3")[0];
    for n in env_list("NEWSMESH_BENCH_SYNC", "20000,100000") {
        throughput(n, runs);
    }
    for m in env_list("NEWSMESH_BENCH_NOOP", "1000000") {
        for kind in link_kinds() {
            noop(m, runs, &kind);
        }
    }
}
