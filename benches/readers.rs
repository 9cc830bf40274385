//! Reader service benchmark: the release `newsmesh serve` as a child process on a spool
//! of a few thousand signed articles, then
//! 1. its RSS at rest and with 100 idle reader connections (target: under 50 MB);
//! 2. 100 concurrent readers looping GROUP / OVER / ARTICLE for a fixed time: requests
//!    per second, bytes, latency, and the server's RSS under load.
//!
//! `cargo bench --bench readers`. Knobs (environment): READERS_ARTICLES (5000),
//! READERS_CLIENTS (100), READERS_SECONDS (10). Everything runs on 127.0.0.1 and stops
//! by itself.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use newsmesh::compose::{compose, Draft};
use newsmesh::home::DEFAULT_AUTHOR;
use newsmesh::ingest::Verdict;
use newsmesh::testbed::Node;

const GROUPS: [&str; 4] = ["mesh.test", "mesh.bench.a", "mesh.bench.b", "mesh.bench.c"];

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A numeric field of /proc/PID/status (kB for the Vm* ones).
fn status_field(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// VmRSS and VmHWM of a process, in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    (status_field(pid, "VmRSS:"), status_field(pid, "VmHWM:"))
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Fills a fresh node with `n` signed ~1 KB articles spread over [`GROUPS`].
fn fill(bench: &Node, n: u64) {
    let mut node = bench.paths().open().expect("open node");
    for g in &GROUPS[1..] {
        node.spool.create_group(g, "benchmark group").unwrap();
    }
    let key = bench.paths().author_key(DEFAULT_AUTHOR).unwrap();
    let name = node.name().to_string();
    let body: String = (0..16)
        .map(|i| format!("line {i:02} of a benchmark article body, some sixty bytes long.\n"))
        .collect();
    let mut done = 0;
    while done < n {
        let batch: Vec<Vec<u8>> = (done..n.min(done + 500))
            .map(|i| {
                let group = GROUPS[(i % GROUPS.len() as u64) as usize];
                let subject = format!("benchmark article {i}");
                compose(
                    &Draft {
                        groups: group,
                        subject: &subject,
                        from: "Bench <bench@example.org>",
                        references: None,
                        body: body.as_bytes(),
                    },
                    &name,
                    &key,
                )
                .to_bytes()
            })
            .collect();
        let raws: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let verdicts = bench.store(&raws).unwrap();
        assert!(verdicts.iter().all(|v| matches!(v, Verdict::Stored(_))));
        done += batch.len() as u64;
    }
}

/// A blocking reader connection.
struct Reader {
    r: BufReader<TcpStream>,
    w: TcpStream,
    line: Vec<u8>,
    bytes: u64,
}

impl Reader {
    fn connect(addr: SocketAddr) -> std::io::Result<Reader> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_nodelay(true)?;
        let mut r = Reader {
            w: s.try_clone()?,
            r: BufReader::with_capacity(64 * 1024, s),
            line: Vec::new(),
            bytes: 0,
        };
        let greeting = r.read_line()?;
        if !greeting.starts_with(b"200") {
            return Err(std::io::Error::other(format!(
                "greeting {:?}",
                String::from_utf8_lossy(&greeting)
            )));
        }
        Ok(r)
    }

    fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        self.line.clear();
        let n = self.r.read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.bytes += n as u64;
        Ok(self.line.clone())
    }

    /// Sends a command; returns its status line, reading the block when `multi`.
    fn cmd(&mut self, command: &str, multi: bool) -> std::io::Result<u16> {
        self.w.write_all(command.as_bytes())?;
        self.w.write_all(b"\r\n")?;
        let status = self.read_line()?;
        let code: u16 = std::str::from_utf8(&status[..3.min(status.len())])
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if multi && (200..300).contains(&code) {
            loop {
                let l = self.read_line()?;
                if l == b".\r\n" {
                    break;
                }
            }
        }
        Ok(code)
    }
}

struct Totals {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    latency_us: std::sync::Mutex<Vec<u32>>,
}

/// One client's loop: GROUP, an OVER window of 50, then ARTICLE of 5 of those.
fn client(addr: SocketAddr, seed: u64, stop: Arc<AtomicBool>, totals: Arc<Totals>, per_group: u64) {
    let mut reader = match Reader::connect(addr) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("connect failed: {e}");
            totals.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut x = seed | 1;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut latencies = Vec::with_capacity(100_000);
    let (mut requests, mut errors) = (0u64, 0u64);
    let mut timed = |reader: &mut Reader, command: &str, multi: bool, ok: u16| {
        let t = Instant::now();
        let code = reader.cmd(command, multi);
        latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        requests += 1;
        match code {
            Ok(c) if c == ok => true,
            Ok(_) => {
                errors += 1;
                true
            }
            Err(_) => {
                errors += 1;
                false
            }
        }
    };
    'run: while !stop.load(Ordering::Relaxed) {
        let group = GROUPS[(rand() % GROUPS.len() as u64) as usize];
        if !timed(&mut reader, &format!("GROUP {group}"), false, 211) {
            break;
        }
        let start = 1 + rand() % per_group.saturating_sub(50).max(1);
        if !timed(
            &mut reader,
            &format!("OVER {start}-{}", start + 49),
            true,
            224,
        ) {
            break;
        }
        for _ in 0..5 {
            let n = start + rand() % 50;
            if !timed(&mut reader, &format!("ARTICLE {n}"), true, 220) {
                break 'run;
            }
        }
    }
    let _ = reader.cmd("QUIT", false);
    totals.requests.fetch_add(requests, Ordering::Relaxed);
    totals.errors.fetch_add(errors, Ordering::Relaxed);
    totals.bytes.fetch_add(reader.bytes, Ordering::Relaxed);
    totals.latency_us.lock().unwrap().extend(latencies);
}

fn main() {
    // `cargo bench` passes --bench; a filter that does not name us means "not this one".
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "readers".contains(a.as_str())) {
        return;
    }
    let articles = knob("READERS_ARTICLES", 5000);
    let clients = knob("READERS_CLIENTS", 100);
    let seconds = knob("READERS_SECONDS", 10);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = Node::at(dir.path(), "bench").expect("a port");
    node.paths()
        .init("bench", &node.addr.to_string())
        .expect("init");
    let addr = node.addr;
    // Every client comes from 127.0.0.1 and the idle ones never authenticate: lift the
    // per-address and unauthenticated limits (sized for strangers) to the client count.
    let lifted = format!("{}", clients + 10);
    node.set_limit("max_unauthenticated_per_address", &lifted);
    node.set_limit("max_unauthenticated_connections", &lifted);
    let t = Instant::now();
    fill(&node, articles);
    println!(
        "readers: spool of {articles} signed articles in {} groups built in {:.1} s",
        GROUPS.len(),
        t.elapsed().as_secs_f64()
    );

    node.start_with_env(&[("RUST_LOG", "warn")]);
    let pid = node.serve_pid();
    std::thread::sleep(Duration::from_millis(200));
    let (rest, _) = rss_kb(pid);
    let threads_rest = status_field(pid, "Threads:");

    // 100 idle reader connections.
    let idle: Vec<Reader> = (0..clients)
        .map(|_| Reader::connect(addr).expect("idle connection"))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let (idle_rss, _) = rss_kb(pid);
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));

    // Load.
    let stop = Arc::new(AtomicBool::new(false));
    let totals = Arc::new(Totals {
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        latency_us: std::sync::Mutex::new(Vec::new()),
    });
    let per_group = articles / GROUPS.len() as u64;
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (stop, totals) = (Arc::clone(&stop), Arc::clone(&totals));
            std::thread::spawn(move || {
                client(
                    addr,
                    0x9e37_79b9_7f4a_7c15 ^ (i + 1),
                    stop,
                    totals,
                    per_group,
                )
            })
        })
        .collect();
    let (mut peak, mut threads_peak) = (0, 0);
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss_kb(pid).0);
        threads_peak = threads_peak.max(status_field(pid, "Threads:"));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let (after, hwm) = rss_kb(pid);
    node.stop();

    let requests = totals.requests.load(Ordering::Relaxed);
    let errors = totals.errors.load(Ordering::Relaxed);
    let bytes = totals.bytes.load(Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *totals.latency_us.lock().unwrap());
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    println!(
        "readers: {clients} clients x {elapsed:.1} s of GROUP + OVER(50) + 5 x ARTICLE: \
         {requests} requests, {:.0} requests/s, {:.1} MB/s, errors={errors}",
        requests as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );
    println!(
        "readers: latency ms p50={:.2} p90={:.2} p99={:.2} max={:.2}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "readers: server RSS at rest {:.1} MB, with {clients} idle connections {:.1} MB \
         (target < 50 MB: {}), peak under load {:.1} MB, after load {:.1} MB (VmHWM {:.1} MB); \
         server threads at rest {threads_rest}, peak under load {threads_peak}",
        mb(rest),
        mb(idle_rss),
        if idle_rss < 50 * 1024 {
            "met"
        } else {
            "MISSED"
        },
        mb(peak),
        mb(after),
        mb(hwm)
    );
    assert_eq!(errors, 0, "some requests failed");
}
