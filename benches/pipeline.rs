//! Pipelined reader benchmark, newsmesh beside INN: one reader connection selects a
//! group of 20,000 signed ~1 KB articles and pipelines 2,000 `ARTICLE` commands, by
//! number and (on a fresh connection) by Message-ID, reading every answer; articles per
//! second from the release `newsmesh serve` and from INN's `nnrpd` on the same machine,
//! serving the same articles.
//!
//! The articles are made here, stored in a fresh node through `ingest`, and the node
//! feeds the same articles to INN with its own `sync` to an `[[nntp_peer]]` (streaming
//! CHECK/TAKETHIS, as `benches/sync.rs` does), into a group of their own that the
//! benchmark creates in INN (`ctlinnd newgroup`, as user `news`) and removes at the end
//! (`ctlinnd rmgroup`; INN's spool keeps their files, ~80 MB a run, until its expire
//! runs). INN is expected on 127.0.0.1:119 as
//! `/work/shared/tools/inn-setup.sh` leaves it (readers from localhost read without
//! AUTHINFO); without it (or without root to run `ctlinnd`) the INN column is skipped
//! with a line saying so.
//!
//! Both modes ask for the same 2,000 articles, drawn uniformly at random (fixed seed,
//! with repeats) from the whole group: by number, `ARTICLE <n>` with the article's
//! number in each server's group; by id, `ARTICLE <message-id>`. Each server first
//! answers one untimed pass (another draw) on its own connection, so both are warm.
//! Every run prints articles/s per server and mode and the ratio newsmesh / INN in that
//! run; the last lines give the medians.
//!
//! `PIPELINE_BEFORE=/path/to/newsmesh` adds a second newsmesh column: the same spool
//! served by that binary (e.g. one built from main), restarted in turn within each run,
//! so a change is measured as a ratio in the same run.
//!
//! `cargo bench --bench pipeline`. Knobs (environment): PIPELINE_ARTICLES (20000),
//! PIPELINE_COMMANDS (2000), PIPELINE_RUNS (3), PIPELINE_BEFORE (unset), PIPELINE_INN
//! (1; 0 leaves INN out, e.g. while profiling `serve` with a long pipeline).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use newsmesh::compose::{compose, Draft};
use newsmesh::home::DEFAULT_AUTHOR;
use newsmesh::ingest::Verdict;
use newsmesh::testbed::{default_binary, Node};

const INN: &str = "127.0.0.1:119";
const CTLINND: &str = "/usr/lib/news/bin/ctlinnd";

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64: the same draws for every server.
fn draws(seed: u64, n: usize, below: usize) -> Vec<usize> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % below as u64) as usize
        })
        .collect()
}

/// Makes `n` signed ~1 KB articles in `group`, stores them in `node` (in this order, so
/// article k is number k + 1) and returns their Message-IDs.
fn fill(node: &Node, group: &str, n: usize) -> Vec<String> {
    let home = node.paths();
    home.open()
        .expect("open node")
        .spool
        .create_group(group, "pipelined reader benchmark")
        .expect("create group");
    let key = home.author_key(DEFAULT_AUTHOR).expect("author key");
    let body: String = (0..16)
        .map(|i| format!("line {i:02} of a benchmark article body, some sixty bytes long.\n"))
        .collect();
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(500) {
        let articles: Vec<_> = (start..n.min(start + 500))
            .map(|i| {
                compose(
                    &Draft {
                        groups: group,
                        subject: &format!("pipelined article {i}"),
                        from: "Bench <bench@example.org>",
                        references: None,
                        body: body.as_bytes(),
                    },
                    node.name(),
                    &key,
                )
            })
            .collect();
        let raws: Vec<Vec<u8>> = articles.iter().map(|a| a.to_bytes()).collect();
        let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        let verdicts = node.store(&refs).expect("store");
        assert!(verdicts.iter().all(|v| matches!(v, Verdict::Stored(_))));
        ids.extend(
            articles
                .iter()
                .map(|a| a.message_id().expect("a Message-ID").to_string()),
        );
    }
    ids
}

/// Runs `ctlinnd` as user `news`; whether it succeeded.
fn ctlinnd(args: &str) -> bool {
    Command::new("su")
        .args(["news", "-s", "/bin/sh", "-c", &format!("{CTLINND} {args}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why INN cannot be measured, or None when it can.
fn inn_missing() -> Option<String> {
    if TcpStream::connect(INN).is_err() {
        return Some(format!("nothing listens on {INN}"));
    }
    if !ctlinnd("-t 5 mode") {
        return Some("cannot run ctlinnd as user news (run as root)".into());
    }
    None
}

/// A reader connection in pipelining mode.
struct Reader {
    r: BufReader<TcpStream>,
    w: TcpStream,
    line: Vec<u8>,
}

impl Reader {
    /// Connects, reads the greeting, MODE READER, selects `group`; returns the reader
    /// and the group's low number.
    fn open(addr: SocketAddr, group: &str) -> (Reader, usize, usize) {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.set_nodelay(true).unwrap();
        let mut r = Reader {
            w: s.try_clone().unwrap(),
            r: BufReader::with_capacity(256 * 1024, s),
            line: Vec::new(),
        };
        let greeting = r.status();
        assert!(greeting.starts_with("20"), "greeting {greeting}");
        let mode = r.cmd("MODE READER");
        assert!(mode.starts_with("20"), "MODE READER: {mode}");
        let selected = r.cmd(&format!("GROUP {group}"));
        let fields: Vec<&str> = selected.split_whitespace().collect();
        assert_eq!(fields.first(), Some(&"211"), "GROUP: {selected}");
        let count: usize = fields[1].parse().unwrap();
        let low: usize = fields[2].parse().unwrap();
        (r, count, low)
    }

    fn status(&mut self) -> String {
        self.line.clear();
        let n = self.r.read_until(b'\n', &mut self.line).expect("read");
        assert!(n > 0, "connection closed");
        String::from_utf8_lossy(&self.line).trim_end().to_string()
    }

    fn cmd(&mut self, command: &str) -> String {
        self.w
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        self.status()
    }

    /// Sends all of `commands` at once (from a second thread, so neither side waits for
    /// the other to read) and reads every answer, each a `220` and its article; returns
    /// the seconds from the first command sent to the last answer read, and the bytes.
    fn pipeline(&mut self, commands: &[String]) -> (f64, u64) {
        let text: String = commands.iter().map(|c| format!("{c}\r\n")).collect();
        let mut w = self.w.try_clone().unwrap();
        let started = Instant::now();
        let writer = std::thread::spawn(move || w.write_all(text.as_bytes()));
        let mut bytes = 0u64;
        for command in commands {
            let status = self.status();
            bytes += self.line.len() as u64;
            assert!(status.starts_with("220 "), "{command}: {status}");
            loop {
                self.line.clear();
                let n = self.r.read_until(b'\n', &mut self.line).expect("read");
                assert!(n > 0, "connection closed in an article");
                bytes += n as u64;
                if self.line == b".\r\n" {
                    break;
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        writer.join().unwrap().expect("send commands");
        let _ = self.cmd("QUIT");
        (secs, bytes)
    }
}

/// The two modes measured.
#[derive(Clone, Copy)]
enum Mode {
    Number,
    Id,
}

/// One server under test.
struct Server {
    name: &'static str,
    addr: SocketAddr,
}

/// Measures `server` in both modes (after one warm-up pass); articles/s by number, by
/// id.
fn measure(
    server: &Server,
    group: &str,
    ids: &[String],
    picks: &[usize],
    warm: &[usize],
) -> [f64; 2] {
    let commands = |mode: Mode, low: usize, picks: &[usize]| -> Vec<String> {
        picks
            .iter()
            .map(|&k| match mode {
                Mode::Number => format!("ARTICLE {}", low + k),
                Mode::Id => format!("ARTICLE {}", ids[k]),
            })
            .collect()
    };
    let (mut r, count, low) = Reader::open(server.addr, group);
    assert_eq!(count, ids.len(), "{}: articles in {group}", server.name);
    r.pipeline(&commands(Mode::Number, low, warm));
    let mut rates = [0.0; 2];
    for (i, mode) in [Mode::Number, Mode::Id].into_iter().enumerate() {
        let (mut r, _, low) = Reader::open(server.addr, group);
        let (secs, bytes) = r.pipeline(&commands(mode, low, picks));
        rates[i] = picks.len() as f64 / secs;
        if i == 0 {
            println!("    {}: {} bytes of answers per pass", server.name, bytes);
        }
    }
    rates
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; a filter that does not name us means "not this one".
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "pipeline".contains(a.as_str())) {
        return;
    }
    let n = knob("PIPELINE_ARTICLES", 20_000) as usize;
    let commands = knob("PIPELINE_COMMANDS", 2000) as usize;
    let runs = knob("PIPELINE_RUNS", 3) as usize;
    let before: Option<PathBuf> = std::env::var_os("PIPELINE_BEFORE").map(PathBuf::from);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = Node::at(dir.path(), "pipe").expect("a port");
    node.paths()
        .init("pipe", &node.addr.to_string())
        .expect("init");
    // A group of its own, fresh in INN on every run of the benchmark.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let group = format!("mesh.pipeline.r{stamp}");
    let t = Instant::now();
    let ids = fill(&node, &group, n);
    println!(
        "pipeline: {n} signed articles in {group} built in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let inn = match inn_missing() {
        _ if knob("PIPELINE_INN", 1) == 0 => {
            println!("pipeline: INN skipped: PIPELINE_INN=0");
            false
        }
        Some(why) => {
            println!("pipeline: INN skipped: {why}");
            false
        }
        None if !ctlinnd(&format!("newgroup {group} y")) => {
            println!("pipeline: INN skipped: ctlinnd newgroup {group} failed");
            false
        }
        None => {
            node.append_config(&format!(
                "\n[[nntp_peer]]\nname = \"inn.localdomain\"\naddress = \"{INN}\"\ngroups = \"{group}\"\n"
            ));
            let t = Instant::now();
            let run = node.cli(&["sync", "--peer", "inn.localdomain"]);
            let line = run.stdout_text();
            println!(
                "pipeline: fed INN with newsmesh sync in {:.1} s: {}",
                t.elapsed().as_secs_f64(),
                line.trim()
            );
            assert!(line.contains(&format!("sent={n} ")), "{line}");
            true
        }
    };

    let current = default_binary();
    let mut binaries = vec![("newsmesh", current.clone())];
    if let Some(b) = &before {
        binaries.push(("before", b.clone()));
    }
    let picks = draws(0x5eed_0001, commands, n);
    let warm = draws(0x5eed_0002, commands, n);
    println!(
        "pipeline: {commands} pipelined ARTICLE per pass, numbers drawn uniformly at \
         random (with repeats) from the {n}, the same draws by number and by id on every server"
    );
    let mut figures: Vec<Vec<[f64; 2]>> = Vec::new();
    for run in 1..=runs {
        let mut row = Vec::new();
        for (name, binary) in &binaries {
            node = node.with_binary(binary);
            node.start_with_env(&[("RUST_LOG", "warn")]);
            let server = Server {
                name,
                addr: node.addr,
            };
            row.push(measure(&server, &group, &ids, &picks, &warm));
            node.stop();
        }
        if inn {
            let server = Server {
                name: "INN",
                addr: INN.parse().unwrap(),
            };
            row.push(measure(&server, &group, &ids, &picks, &warm));
        }
        let names: Vec<&str> = binaries
            .iter()
            .map(|(name, _)| *name)
            .chain(inn.then_some("INN"))
            .collect();
        for (m, mode) in ["by number", "by id"].iter().enumerate() {
            let mut text = format!("  run {run} {mode}:");
            for (name, rates) in names.iter().zip(&row) {
                text.push_str(&format!(" {name} {:.0}/s", rates[m]));
            }
            if inn {
                text.push_str(&format!(
                    ", newsmesh/INN {:.2}",
                    row[0][m] / row[row.len() - 1][m]
                ));
            }
            if before.is_some() {
                text.push_str(&format!(", newsmesh/before {:.2}", row[0][m] / row[1][m]));
            }
            println!("{text}");
        }
        figures.push(row);
    }
    let columns = figures[0].len();
    for (m, mode) in ["by number", "by id"].iter().enumerate() {
        let mut text = format!("pipeline: median of {runs} {mode}:");
        let names: Vec<&str> = binaries
            .iter()
            .map(|(name, _)| *name)
            .chain(inn.then_some("INN"))
            .collect();
        for (c, name) in names.iter().enumerate().take(columns) {
            let mut v: Vec<f64> = figures.iter().map(|row| row[c][m]).collect();
            text.push_str(&format!(" {name} {:.0}/s", median(&mut v)));
        }
        if inn {
            let mut v: Vec<f64> = figures
                .iter()
                .map(|row| row[0][m] / row[columns - 1][m])
                .collect();
            text.push_str(&format!(", newsmesh/INN {:.2}", median(&mut v)));
        }
        if before.is_some() {
            let mut v: Vec<f64> = figures.iter().map(|row| row[0][m] / row[1][m]).collect();
            text.push_str(&format!(", newsmesh/before {:.2}", median(&mut v)));
        }
        println!("{text}");
    }
    if inn && !ctlinnd(&format!("rmgroup {group}")) {
        println!("pipeline: could not remove {group} from INN (ctlinnd rmgroup)");
    }
}
