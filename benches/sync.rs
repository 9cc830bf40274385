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
//! Real processes: the release `newsmesh` binary for `serve` and `sync`, real SQLite files.
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

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use newsmesh::compose::{compose, Draft};
use newsmesh::home::Home;
use newsmesh::ingest::{ingest, Rules};
use newsmesh::sign::public_key_text;

/// The `newsmesh` binary that runs `serve` and `sync`: this build's, or the one named
/// by `NEWSMESH_BENCH_BIN` (a copy of another commit's build, to compare before/after
/// with the same harness in alternating runs).
fn bin() -> String {
    std::env::var("NEWSMESH_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_newsmesh").into())
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `NEWSMESH_BENCH_WRAP_SYNC="perf record -g -o sync.perf"` runs `sync` under a profiler.
fn nm(home: &Path, args: &[&str]) -> String {
    let wrap = match args.first() {
        Some(&"sync") => std::env::var("NEWSMESH_BENCH_WRAP_SYNC").unwrap_or_default(),
        _ => String::new(),
    };
    let mut words = wrap.split_whitespace().map(str::to_string).chain([bin()]);
    let program = words.next().unwrap_or_default();
    let out = Command::new(program)
        .args(words)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run newsmesh");
    assert!(
        out.status.success(),
        "newsmesh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        // SIGINT, so a wrapping profiler can write its data.
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `NEWSMESH_BENCH_WRAP="perf record -g -o serve.perf"` runs `serve` under a profiler.
fn serve(home: &Path, port: u16) -> Server {
    let wrap = std::env::var("NEWSMESH_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace().map(str::to_string).chain([bin()]);
    let program = words.next().unwrap_or_default();
    let server = Server(
        Command::new(program)
            .args(words)
            .arg("--home")
            .arg(home)
            .arg("serve")
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("serve did not start");
}

/// `newsmesh init` of node `name` under `dir` on a free port.
fn node(dir: &Path, name: &str) -> (std::path::PathBuf, u16) {
    let (home, port) = (dir.join(name), free_port());
    nm(
        &home,
        &[
            "init",
            "--name",
            name,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    // One author key moves 100,000 articles here: above the default quota of an open
    // group, so the bench lifts it (a rule with no limits is unlimited).
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(home.join("newsmesh.toml"))
        .unwrap();
    std::io::Write::write_all(&mut config, b"\n[[admission.quota]]\ngroups = \"*\"\n").unwrap();
    (home, port)
}

/// Lists node `other` (named `name`) as a peer of `home`: dialled at `port`, or passive.
fn add_peer(home: &Path, name: &str, other: &Path, port: Option<u16>) {
    let key = nm(other, &["key", "--node"]);
    let address = port.map(|p| format!("127.0.0.1:{p}"));
    let mut args = vec!["peer", "add", name, key.trim()];
    if let Some(address) = &address {
        args.extend(["--address", address.as_str()]);
    }
    nm(home, &args);
}

/// Two wired nodes: a and b, each listing the other with its address.
fn pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, u16, u16) {
    let (a, pa) = node(dir, "a");
    let (b, pb) = node(dir, "b");
    add_peer(&a, "b", &b, Some(pb));
    add_peer(&b, "a", &a, Some(pa));
    (a, b, pa, pb)
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

/// Sets every `[[peer]]` of `home` to the link kind `kind`.
fn set_link(home: &Path, kind: &str) {
    let path = home.join("newsmesh.toml");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    if let Some(peers) = doc.get_mut("peer").and_then(|p| p.as_array_of_tables_mut()) {
        for peer in peers.iter_mut() {
            peer["tls"] = toml_edit::value(kind.starts_with("tls"));
            peer["compress"] = toml_edit::value(kind.ends_with("deflate"));
        }
    }
    std::fs::write(&path, doc.to_string()).unwrap();
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

fn load(home: &Path, raws: &[Vec<u8>]) {
    let mut node = Home::new(home).open().unwrap();
    let name = node.name().to_string();
    let rules = Rules {
        node_name: &name,
        limits: node.config.limits.article_limits(),
        trust: &node.trust,
        source: newsmesh::ingest::Source::Local,
        admission: newsmesh::admission::Admission::from_config(&node.config),
    };
    for chunk in raws.chunks(5000) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        ingest(&mut node.spool, &rules, &refs).unwrap();
    }
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
            let (a, b, pa, pb) = pair(dir.path());
            set_link(&a, kind);
            set_link(&b, kind);
            load(&a, &raws);
            {
                let before = children_cpu();
                let server = serve(&b, pb);
                let cpu = children_cpu();
                let line = nm(&a, &["sync", "--peer", "b"]);
                let sync_cpu = children_cpu() - cpu;
                drop(server);
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
                let mut config = std::fs::OpenOptions::new()
                    .append(true)
                    .open(a.join("newsmesh.toml"))
                    .unwrap();
                std::io::Write::write_all(
                    &mut config,
                    b"\n[[nntp_peer]]\nname = \"inn.localdomain\"\naddress = \"127.0.0.1:119\"\ngroups = \"mesh.*\"\n",
                )
                .unwrap();
                let line = nm(&a, &["sync", "--peer", "inn.localdomain"]);
                println!("  INN:  {}", line.trim());
                assert_eq!(field(&line, "sent") as usize, n, "{line}");
                inn.push(n as f64 * 1000.0 / field(&line, "ms").max(1) as f64);
            }
            if !directions().contains(&"pull".to_string()) {
                continue;
            }
            // Pull: a fresh receiver fetches everything from a's server.
            let (c, _) = node(dir.path(), "c");
            add_peer(&a, "c", &c, None);
            add_peer(&c, "a", &a, Some(pa));
            set_link(&a, kind);
            set_link(&c, kind);
            let _server = serve(&a, pa);
            let cpu = children_cpu();
            let line = nm(&c, &["sync", "--peer", "a"]);
            println!(
                "  {kind} pull: {} (sync process CPU {:.2} s)",
                line.trim(),
                children_cpu() - cpu
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
    let (a, b, _pa, pb) = pair(dir.path());
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
    let _server = serve(&b, pb);
    // The first sync walks the whole history once (re-offers, all refused as duplicates).
    let first = nm(&a, &["sync", "--peer", "b"]);
    println!("  first sync over identical spools: {}", first.trim());
    let mut ms = Vec::new();
    let mut bytes = Vec::new();
    let mut process = Vec::new();
    for _ in 0..runs.max(3) {
        let started = Instant::now();
        let line = nm(&a, &["sync", "--peer", "b"]);
        process.push(started.elapsed().as_secs_f64() * 1000.0);
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
    let _ = public_key_text;
}

/// `sync` of a (first contact with b), listing instead of reconciling when `listing`;
/// returns the sync line and the rounds of its reconciliation (0 when it listed).
fn first_sync(a: &Path, listing: bool) -> (String, u64) {
    let mut command = Command::new(bin());
    command
        .arg("--home")
        .arg(a)
        .args(["sync", "--peer", "b"])
        .env("RUST_LOG", "newsmesh=info");
    if listing {
        command.env(newsmesh::sync::NO_RECONCILE_ENV, "1");
    }
    let out = command.output().expect("run sync");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sync: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rounds = String::from_utf8_lossy(&out.stderr)
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
        let (a, b, _pa, pb) = pair(dir.path());
        set_link(&a, kind);
        set_link(&b, kind);
        for chunk in &made_shared {
            load(&a, chunk);
            load(&b, chunk);
        }
        load(&a, &only_a);
        load(&b, &only_b);
        let _server = serve(&b, pb);
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
