//! Spool benchmark (a harness, not a test): `cargo bench --bench spool`.
//!
//! Measures, and prints as a small table:
//! 1. `post` latency: the release `newsmesh post` binary run N times (one process each, 1 KB
//!    body from a file) on a fresh home; median and p90 wall-clock ms. `newsmesh key` is
//!    timed the same way as the floor: process start, config load, no spool write.
//! 2. Bulk ingest throughput: 50,000 signed 1 KB articles (several author keys, several
//!    groups), generated in memory before timing, ingested into a fresh spool through
//!    `newsmesh::ingest::ingest` in batches of 1,000 (one transaction each, signatures
//!    verified); articles/s, median of 3 runs, each on a fresh spool.
//! 3. `newsmesh import` of one rnews batch of the same articles (the whole process),
//!    articles/s, median of the runs.
//! 4. Where ingest time goes: the same articles through each phase alone (parse, prepare =
//!    canonical form + SHA-256, history lookups, batch verification, SQLite store).
//!
//! The homes are `newsmesh::testbed` nodes. `cargo bench` builds the `newsmesh` binary
//! in the bench (release) profile and passes its path as `CARGO_BIN_EXE_newsmesh`; set
//! NEWSMESH_BIN to time another binary.
//!
//! Environment (all optional):
//! - NEWSMESH_BENCH_N        articles for the ingest benchmark (default 50000)
//! - NEWSMESH_BENCH_POSTS    `post` runs (default 50)
//! - NEWSMESH_BENCH_RUNS     ingest runs, the median is reported (default 3)
//! - NEWSMESH_BENCH_BATCH    articles per ingest call / transaction (default 1000)
//! - NEWSMESH_BENCH_AUTHORS  distinct author keys (default 8)
//! - NEWSMESH_BENCH_DIR      where the temporary homes go (default: the system temp dir)
//! - NEWSMESH_BIN            the binary timed for `post` (default: the one cargo built)
//! - NEWSMESH_BENCH_ONLY     comma list of sections to run: post, ingest, import, phases (default all)
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it only does a quick smoke run
//! with tiny counts, so the harness keeps compiling and working.
//!
//! Everything it does is deterministic (fixed keys, dates and bodies); only the timings vary.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use newsmesh::article::{Article, Header, Limits};
use newsmesh::ingest::{ingest, Rules, Verdict};
use newsmesh::sign::{self, batch::verify_many, Prepared, SigStatus};
use newsmesh::spool::NewArticle;
use newsmesh::testbed::Node;

/// Target size of one generated article (wire form, headers included).
const ARTICLE_BYTES: usize = 1024;
/// Groups the generated articles are spread over (all under the open `mesh.*` rule).
const GROUPS: usize = 4;

struct Settings {
    articles: usize,
    posts: usize,
    runs: usize,
    batch: usize,
    authors: usize,
    dir: PathBuf,
    bin: PathBuf,
    smoke: bool,
    only: Option<String>,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        // `cargo bench` passes --bench; `cargo test --benches` does not.
        let smoke = !std::env::args().any(|a| a == "--bench");
        let (n, posts, runs) = if smoke { (100, 3, 1) } else { (50_000, 50, 3) };
        Settings {
            articles: env_usize("NEWSMESH_BENCH_N", n),
            posts: env_usize("NEWSMESH_BENCH_POSTS", posts),
            runs: env_usize("NEWSMESH_BENCH_RUNS", runs).max(1),
            batch: env_usize("NEWSMESH_BENCH_BATCH", 1000).max(1),
            authors: env_usize("NEWSMESH_BENCH_AUTHORS", 8).clamp(1, 255),
            dir: std::env::var_os("NEWSMESH_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
            bin: std::env::var_os("NEWSMESH_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_newsmesh"))),
            smoke,
            only: std::env::var("NEWSMESH_BENCH_ONLY").ok(),
        }
    }

    /// Whether a section (post, ingest, phases) is to run.
    fn wants(&self, section: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|s| s.trim() == section))
    }
}

fn main() {
    let s = Settings::from_env();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "newsmesh spool benchmark{}: {} ({} threads available)",
        if s.smoke {
            " (SMOKE RUN: tiny counts; use `cargo bench --bench spool` for figures)"
        } else {
            ""
        },
        cpu_model(),
        threads
    );
    println!("binary: {}", s.bin.display());
    println!("temporary homes under: {}", s.dir.display());
    println!();

    if s.wants("post") {
        bench_post(&s);
        println!();
    }
    if s.wants("ingest") || s.wants("phases") || s.wants("import") {
        let articles = if s.wants("ingest") {
            bench_ingest(&s)
        } else {
            generate(s.articles, s.authors)
        };
        println!();
        if s.wants("import") {
            bench_import(&s, &articles);
            println!();
        }
        if s.wants("phases") {
            phases(&s, &articles);
        }
    }
}

// ------------------------------------------------------------------ import

/// `newsmesh import` of one rnews batch holding `articles` into a fresh home, timed as
/// the whole process (start, parse, verify, store, exit); median of the runs.
fn bench_import(s: &Settings, articles: &[Vec<u8>]) {
    let dir = tempfile::tempdir_in(&s.dir).expect("temp dir");
    let batch = dir.path().join("batch.rnews");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&batch).expect("batch"));
        for raw in articles {
            newsmesh::rnews::write_article(&mut out, raw).expect("write batch");
        }
        std::io::Write::flush(&mut out).expect("write batch");
    }
    let batch_arg = batch.to_str().expect("utf-8 temp path").to_string();
    println!(
        "import: one rnews batch of {} articles ({} MB) into a fresh home, `newsmesh import FILE`",
        articles.len(),
        std::fs::metadata(&batch).map_or(0, |m| m.len()) / 1_000_000
    );
    let mut rates = Vec::with_capacity(s.runs);
    for run in 1..=s.runs {
        let home = Node::at(dir.path(), &format!("importer{run}"))
            .expect("reserve a port")
            .with_binary(&s.bin);
        run_ok(&home, &["init", "--name", "importer"]);
        for g in 0..GROUPS {
            run_ok(&home, &["groups", "--add", &format!("mesh.bench.g{g}")]);
        }
        let t = Instant::now();
        let out = home
            .command(&["import", &batch_arg])
            .stdin(Stdio::null())
            .output()
            .expect("run import");
        let d = t.elapsed();
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && line.contains(&format!("imported={}", articles.len())),
            "import: {line} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rate = articles.len() as f64 / d.as_secs_f64();
        println!(
            "  run {run}: {:>8.3} s  {:>9} articles/s",
            d.as_secs_f64(),
            thousands(rate)
        );
        rates.push(rate);
        std::fs::remove_dir_all(home.home()).expect("remove the home");
    }
    print_median_against_target(s.runs, rates);
}

// ------------------------------------------------------------------ post latency

fn bench_post(s: &Settings) {
    let dir = tempfile::tempdir_in(&s.dir).expect("temp dir");
    let home = Node::at(dir.path(), "poster")
        .expect("reserve a port")
        .with_binary(&s.bin);
    run_ok(&home, &["init", "--name", "poster"]);
    let body_file = dir.path().join("body.txt");
    std::fs::write(&body_file, text_lines(0, 900, b"\n")).expect("write body");
    let body = body_file.to_str().expect("utf-8 temp path").to_string();

    // One untimed post and key first, so the page cache holds the binary and the spool.
    run_ok(&home, &post_args(&body, "warm-up"));
    run_ok(&home, &["key"]);

    let mut post = Vec::with_capacity(s.posts);
    let mut key = Vec::with_capacity(s.posts);
    for i in 0..s.posts {
        let subject = format!("bench post {i}");
        let t = Instant::now();
        run_ok(&home, &post_args(&body, &subject));
        post.push(t.elapsed());
        let t = Instant::now();
        run_ok(&home, &["key"]);
        key.push(t.elapsed());
    }
    println!(
        "post latency: {} runs of one process each, 1 KB body via --file, fresh home",
        s.posts
    );
    println!(
        "  {:<34} {:>9} {:>9} {:>9} {:>9}",
        "command", "median", "p90", "min", "max"
    );
    for (name, times) in [
        ("newsmesh post", &mut post),
        ("newsmesh key (startup floor)", &mut key),
    ] {
        times.sort();
        println!(
            "  {:<34} {:>9} {:>9} {:>9} {:>9}",
            name,
            ms(percentile(times, 50)),
            ms(percentile(times, 90)),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    let median = percentile(&post, 50);
    println!(
        "  target: post < 20 ms -> {}",
        verdict(median < Duration::from_millis(20))
    );
}

fn post_args<'a>(body: &'a str, subject: &'a str) -> [&'a str; 7] {
    ["post", "-g", "mesh.test", "-s", subject, "--file", body]
}

/// Runs the node's binary once, checked. Through `Node::command` and `output()` rather
/// than `Node::cli`, whose deadline polling would add milliseconds to the latency timed.
fn run_ok(home: &Node, args: &[&str]) {
    let out = home
        .command(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", home.binary().display()));
    assert!(
        out.status.success(),
        "newsmesh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------------ bulk ingest

/// Exactly `len` bytes (at least `sep.len() + 1`) of deterministic text in lines of at most
/// 62 characters, each ended by `sep` (LF for a local file, CRLF for wire form).
fn text_lines(seed: usize, len: usize, sep: &[u8]) -> Vec<u8> {
    let words = [
        "mesh", "node", "signed", "article", "history", "spool", "peer", "sync", "path", "group",
        "reader", "flood", "ihave", "sendme", "epoch", "batch",
    ];
    let mut out = Vec::with_capacity(len + 64);
    let mut line = 0;
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = words[x % words.len()].as_bytes();
        if line > 0 && line + 1 + w.len() > 62 {
            out.extend_from_slice(sep);
            line = 0;
        }
        if line > 0 {
            out.push(b' ');
            line += 1;
        }
        out.extend_from_slice(w);
        line += w.len();
    }
    out.truncate(len - sep.len());
    // Never end on a bare CR of a split CRLF.
    if out.last() == Some(&b'\r') {
        out.pop();
        out.push(b'x');
    }
    out.extend_from_slice(sep);
    out
}

fn build_article(i: usize, key: &SigningKey, author: usize, body: Vec<u8>) -> Article {
    let h = |n: &str, v: String| Header {
        name: n.into(),
        value: v,
    };
    // Dated within the last day: ingest refuses what is older than its window.
    let date =
        chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 86_400 + i as i64, 0)
            .expect("date")
            .format("%a, %d %b %Y %H:%M:%S +0000")
            .to_string();
    let mut a = Article {
        headers: vec![
            h("Path", "gen!not-for-mail".into()),
            h(
                "From",
                format!("Author {author} <author{author}@bench.invalid>"),
            ),
            h("Newsgroups", format!("mesh.bench.g{}", i % GROUPS)),
            h("Subject", format!("bench article {i}")),
            h("Date", date),
        ],
        body,
    };
    sign::sign_article(&mut a, key);
    a
}

/// `n` signed articles of exactly [`ARTICLE_BYTES`] each (wire form), round-robin over
/// `authors` keys.
fn generate(n: usize, authors: usize) -> Vec<Vec<u8>> {
    let keys: Vec<SigningKey> = (0..authors)
        .map(|a| SigningKey::from_bytes(&[a as u8 + 1; 32]))
        .collect();
    (0..n)
        .map(|i| {
            let a = i % authors;
            // The header size does not depend on the body (fixed-size id and signature).
            let head = build_article(i, &keys[a], a, Vec::new()).to_bytes().len();
            let body = text_lines(i, ARTICLE_BYTES - head, b"\r\n");
            let raw = build_article(i, &keys[a], a, body).to_bytes();
            debug_assert_eq!(raw.len(), ARTICLE_BYTES);
            raw
        })
        .collect()
}

fn fresh_home(s: &Settings) -> (tempfile::TempDir, newsmesh::home::Node) {
    let dir = tempfile::tempdir_in(&s.dir).expect("temp dir");
    let bench = Node::at(dir.path(), "bench").expect("reserve a port");
    let mut node = bench
        .paths()
        .init("bench", &bench.addr.to_string())
        .expect("init bench home");
    // Groups are made deliberately, not by posting: create the ones the articles use.
    for g in 0..GROUPS {
        node.spool
            .create_group(&format!("mesh.bench.g{g}"), "benchmark group")
            .expect("create bench group");
    }
    (dir, node)
}

fn ingest_once(s: &Settings, articles: &[Vec<u8>]) -> Duration {
    let (_dir, mut node) = fresh_home(s);
    let rules = Rules::new(&node.config, &node.trust, Some(&node.log));
    let start = Instant::now();
    let mut stored = 0;
    for chunk in articles.chunks(s.batch) {
        let raws: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        for v in ingest(&mut node.spool, &rules, &raws).expect("ingest") {
            match v {
                Verdict::Stored(_) => stored += 1,
                other => panic!("generated article not stored: {other:?}"),
            }
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(stored, articles.len());
    assert_eq!(
        node.spool.article_count().expect("count"),
        articles.len() as i64
    );
    elapsed
}

fn bench_ingest(s: &Settings) -> Vec<Vec<u8>> {
    let t = Instant::now();
    let articles = generate(s.articles, s.authors);
    let mean = articles.iter().map(Vec::len).sum::<usize>() / articles.len().max(1);
    println!(
        "bulk ingest: {} signed articles (mean {} bytes, {} authors, {} groups), batches of {}, \
         verification included (generated in {:.1} s, untimed)",
        s.articles,
        mean,
        s.authors,
        GROUPS,
        s.batch,
        t.elapsed().as_secs_f64()
    );
    let mut rates = Vec::with_capacity(s.runs);
    for run in 1..=s.runs {
        let d = ingest_once(s, &articles);
        let rate = s.articles as f64 / d.as_secs_f64();
        println!(
            "  run {run}: {:>8.3} s  {:>9} articles/s",
            d.as_secs_f64(),
            thousands(rate)
        );
        rates.push(rate);
    }
    print_median_against_target(s.runs, rates);
    articles
}

// ------------------------------------------------------------------ phases

/// Each ingest phase alone over the same articles, to show where the time goes.
fn phases(s: &Settings, articles: &[Vec<u8>]) {
    let limits = Limits::default();
    let n = articles.len();
    let mut rows: Vec<(&str, Duration)> = Vec::new();

    let t = Instant::now();
    let parsed: Vec<Article> = articles
        .iter()
        .map(|r| Article::parse(r, &limits).expect("parse"))
        .collect();
    rows.push(("parse (nom)", t.elapsed()));

    let t = Instant::now();
    for a in &parsed {
        a.validate(false).expect("valid");
    }
    rows.push(("validate headers", t.elapsed()));

    let t = Instant::now();
    let prepared: Vec<Prepared> = parsed
        .iter()
        .map(|a| sign::prepare(a).expect("prepare"))
        .collect();
    rows.push(("prepare (canonical + sha256)", t.elapsed()));

    let t = Instant::now();
    for chunk in prepared.chunks(s.batch) {
        for st in verify_many(chunk) {
            assert!(matches!(st, SigStatus::Valid { .. }));
        }
    }
    rows.push(("verify_many (batch, threads)", t.elapsed()));

    let t = Instant::now();
    for p in &prepared {
        assert!(matches!(
            sign::signature::verify_prepared(p),
            SigStatus::Valid { .. }
        ));
    }
    let single_verify = t.elapsed();

    // Part of prepare: decoding (decompressing) the author key from k= for every article.
    let key_texts: Vec<String> = prepared
        .iter()
        .map(|p| sign::public_key_text(&p.key))
        .collect();
    let t = Instant::now();
    for k in &key_texts {
        sign::parse_public_key(k).expect("key");
    }
    let key_decode = t.elapsed();

    let (_dir, mut node) = fresh_home(s);
    let t = Instant::now();
    for a in &parsed {
        let id = a.message_id().expect("id");
        assert!(!node.spool.seen(id).expect("seen"));
    }
    rows.push(("history lookups (seen)", t.elapsed()));

    let t = Instant::now();
    let rows_to_store: Vec<NewArticle> = parsed
        .into_iter()
        .zip(&prepared)
        .map(|(mut a, p)| {
            a.path_prepend("bench");
            to_new_article(a, p)
        })
        .collect();
    rows.push(("path + index fields + to_bytes", t.elapsed()));

    let t = Instant::now();
    for chunk in rows_to_store.chunks(s.batch) {
        node.spool.store_batch(chunk).expect("store");
    }
    rows.push(("store_batch (SQLite, fsync)", t.elapsed()));
    let commits = n.div_ceil(s.batch);

    let total: Duration = rows.iter().map(|(_, d)| *d).sum();
    println!("where ingest time goes: each phase alone, one pass over the same {n} articles");
    println!(
        "  {:<32} {:>10} {:>12} {:>7}",
        "phase", "total ms", "µs/article", "share"
    );
    for (name, d) in &rows {
        println!(
            "  {:<32} {:>10.1} {:>12.2} {:>6.1}%",
            name,
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e6 / n as f64,
            100.0 * d.as_secs_f64() / total.as_secs_f64()
        );
    }
    println!(
        "  {:<32} {:>10.1} {:>12.2} {:>7}",
        "sum",
        total.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e6 / n as f64,
        ""
    );
    println!(
        "  (for reference: one-by-one verify on one thread {:.1} ms = {:.2} µs/article; \
         {} commits of {} articles)",
        single_verify.as_secs_f64() * 1e3,
        single_verify.as_secs_f64() * 1e6 / n as f64,
        commits,
        s.batch
    );
    println!(
        "  (part of prepare: decoding the k= author key {:.1} ms = {:.2} µs/article)",
        key_decode.as_secs_f64() * 1e3,
        key_decode.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "  sum of phases alone -> {} articles/s",
        thousands(n as f64 / total.as_secs_f64())
    );
}

fn to_new_article(a: Article, p: &Prepared) -> NewArticle {
    let field = |name: &str| a.header_unfolded(name).unwrap_or_default();
    let date = field("Date");
    NewArticle {
        msgid: a.message_id().unwrap_or_default().to_string(),
        path: field("Path"),
        newsgroups: a.newsgroups(),
        subject: field("Subject"),
        author: field("From"),
        posted: chrono::DateTime::parse_from_rfc2822(&date).map_or(0, |d| d.timestamp()),
        date,
        refs: field("References"),
        lines: a.body_line_count(),
        signer: Some(sign::public_key_text(&p.key)),
        raw: a.to_bytes(),
        delivered_by: None,
    }
}

// ------------------------------------------------------------------ formatting

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let idx = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Prints the median of `rates` (articles/s over `runs` runs) against the bulk-ingest
/// target of 50,000/s.
fn print_median_against_target(runs: usize, mut rates: Vec<f64>) {
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    println!(
        "  median of {runs}: {} articles/s; target >= 50,000/s -> {}",
        thousands(median),
        verdict(median >= 50_000.0)
    );
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
