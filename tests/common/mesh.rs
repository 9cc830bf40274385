//! Test harness for multi-node scenarios: real `newsmesh` processes on 127.0.0.1.
//!
//! A [`TestNode`] is a node home in a temporary directory, initialised with `newsmesh init`
//! on a free port. It runs CLI commands against that home, starts `newsmesh serve` as a
//! child process (waiting until the port accepts connections) and kills it on drop.
//! [`link`] and [`link_passive`] wire two nodes together with `key --node` and `peer add`,
//! exactly as an operator would. [`RawPeer`] speaks NNTP by hand, to act as a (possibly
//! malicious) neighbour.
//!
//! Include it with `#[path = "common/mesh.rs"] mod mesh;`. Commands run through the
//! one process runner of `common/mod.rs` (with a deadline, so a hung command fails its
//! test instead of hanging the suite).

#![allow(dead_code)]

#[path = "mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_newsmesh");

/// The group every fresh node carries.
pub const GROUP: &str = "mesh.test";

/// How long `serve` may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long one command may run: generous (some tests sync gigabytes on a debug build),
/// but a hung command still fails its test.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A finished command: exit code and output as text.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from_common(run: common::Run) -> Run {
        Run {
            code: run.code.unwrap_or(-1),
            stdout: run.stdout_text(),
            stderr: run.stderr_text(),
        }
    }

    /// Panics with the whole output unless the exit code is 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }
}

/// One `key=value ...` line of `newsmesh sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLine {
    /// The fields in order of appearance (values unquoted).
    pub fields: BTreeMap<String, String>,
    /// The line as printed.
    pub raw: String,
}

impl SyncLine {
    /// Parses `peer=beta status=ok sent=1 ... error="text with spaces"`.
    pub fn parse(line: &str) -> SyncLine {
        let mut fields = BTreeMap::new();
        let mut rest = line.trim();
        while !rest.is_empty() {
            let (key, after) = rest
                .split_once('=')
                .unwrap_or_else(|| panic!("no key=value in sync line {line:?} at {rest:?}"));
            assert!(
                !key.is_empty() && !key.contains(char::is_whitespace),
                "bad key {key:?} in sync line {line:?}"
            );
            let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .unwrap_or_else(|| panic!("unterminated quote in sync line {line:?}"));
                (&quoted[..end], &quoted[end + 1..])
            } else {
                after.split_once(' ').unwrap_or((after, ""))
            };
            let old = fields.insert(key.to_string(), value.to_string());
            assert!(old.is_none(), "key {key} twice in sync line {line:?}");
            rest = after.trim_start();
        }
        for key in [
            "peer", "status", "sent", "received", "refused", "bytes", "ms", "tls",
        ] {
            assert!(fields.contains_key(key), "no {key}= in sync line {line:?}");
        }
        SyncLine {
            fields,
            raw: line.to_string(),
        }
    }

    /// A field (panics when absent).
    #[track_caller]
    pub fn get(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key}= in {:?}", self.raw))
    }

    /// A numeric field.
    #[track_caller]
    pub fn num(&self, key: &str) -> u64 {
        self.get(key)
            .parse()
            .unwrap_or_else(|_| panic!("{key}= is not a number in {:?}", self.raw))
    }

    /// `peer=`.
    pub fn peer(&self) -> &str {
        self.get("peer")
    }

    /// `status=ok`.
    pub fn is_ok(&self) -> bool {
        self.get("status") == "ok"
    }

    /// (sent, received, refused).
    pub fn moved(&self) -> (u64, u64, u64) {
        (self.num("sent"), self.num("received"), self.num("refused"))
    }
}

/// The outcome of one `newsmesh sync`.
#[derive(Debug, Clone)]
pub struct SyncRun {
    /// Which node ran it.
    pub node: String,
    /// Exit code.
    pub code: i32,
    /// One parsed line per dialled peer.
    pub lines: Vec<SyncLine>,
    /// Standard error.
    pub stderr: String,
}

impl SyncRun {
    /// The line for `peer` (panics when absent).
    #[track_caller]
    pub fn peer(&self, peer: &str) -> &SyncLine {
        self.lines
            .iter()
            .find(|l| l.peer() == peer)
            .unwrap_or_else(|| panic!("{}'s sync printed no line for {peer}: {self:#?}", self.node))
    }

    /// Sum of `received=` over the lines.
    pub fn received(&self) -> u64 {
        self.lines.iter().map(|l| l.num("received")).sum()
    }

    /// Sum of `sent=` over the lines.
    pub fn sent(&self) -> u64 {
        self.lines.iter().map(|l| l.num("sent")).sum()
    }

    /// Panics unless it exited 0 with every line `status=ok`.
    #[track_caller]
    pub fn assert_ok(&self) -> &SyncRun {
        assert_eq!(self.code, 0, "{}'s sync failed: {self:#?}", self.node);
        assert!(
            self.lines.iter().all(SyncLine::is_ok),
            "{}'s sync has a failed line: {self:#?}",
            self.node
        );
        self
    }
}

/// A node home in a temporary directory, with an optional `serve` child.
pub struct TestNode {
    /// Node name (Path identity).
    pub name: String,
    /// `[node] listen`.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    serve: Option<Child>,
    serve_runs: u32,
}

impl TestNode {
    /// `newsmesh init --name NAME --listen 127.0.0.1:<free port>` in a fresh directory.
    pub fn new(name: &str) -> TestNode {
        let dir = tempfile::Builder::new()
            .prefix(&format!("newsmesh-{name}-"))
            .tempdir()
            .expect("temp dir");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let node = TestNode {
            name: name.to_string(),
            addr,
            dir,
            serve: None,
            serve_runs: 0,
        };
        node.run(&["init", "--name", name, "--listen", &addr.to_string()])
            .ok();
        node
    }

    /// The node home.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `spool.db`.
    pub fn spool_path(&self) -> PathBuf {
        self.home().join("spool.db")
    }

    /// `node.key`.
    pub fn node_key_path(&self) -> PathBuf {
        self.home().join("node.key")
    }

    /// `newsmesh --home HOME ARGS...`, stdin empty.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--home").arg(self.home()).args(args);
        common::clean_env(&mut cmd);
        cmd.env_remove("RUST_LOG").env("USER", "tester");
        cmd
    }

    /// Runs a command to completion (stdin empty).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, b"")
    }

    /// Runs a command with `input` on stdin, within [`COMMAND_TIMEOUT`].
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let run = common::run(self.command(args), Some(input.to_vec()), COMMAND_TIMEOUT);
        Run::from_common(run)
    }

    /// `newsmesh key --node`: the node public key, one line.
    pub fn node_key(&self) -> String {
        let run = self.run(&["key", "--node"]).ok();
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "key --node prints one line: {run:?}");
        lines[0].to_string()
    }

    /// `newsmesh post -g GROUP -s SUBJECT` with `body` on stdin; returns the Message-ID.
    #[track_caller]
    pub fn post(&self, subject: &str, body: &str) -> String {
        self.post_to(GROUP, subject, body)
    }

    /// `newsmesh post -g GROUPS -s SUBJECT` (GROUPS: one or a comma-separated list) with
    /// `body` on stdin; returns the Message-ID.
    #[track_caller]
    pub fn post_to(&self, groups: &str, subject: &str, body: &str) -> String {
        let run = self
            .run_with_stdin(&["post", "-g", groups, "-s", subject], body.as_bytes())
            .ok();
        let id = run.stdout.trim().to_string();
        assert!(
            id.starts_with('<') && id.ends_with('>') && !id.contains('\n'),
            "post prints the Message-ID alone: {run:?}"
        );
        id
    }

    /// `newsmesh read '<id>'`: Some(output) when it exits 0, None when it exits 1.
    #[track_caller]
    pub fn read_id(&self, id: &str) -> Option<String> {
        let run = self.run(&["read", id]);
        match run.code {
            0 => Some(run.stdout),
            1 => None,
            _ => panic!("read {id} on {}: unexpected exit {run:#?}", self.name),
        }
    }

    /// Whether `read '<id>'` finds the article.
    pub fn has(&self, id: &str) -> bool {
        self.read_id(id).is_some()
    }

    /// How many lines of `read mesh.test` show this subject.
    pub fn listed(&self, subject: &str) -> usize {
        let run = self.run(&["read", GROUP]).ok();
        run.stdout
            .lines()
            .filter(|l| l.trim_end().ends_with(&format!("  {subject}")))
            .count()
    }

    /// `newsmesh sync ARGS...`, with its lines parsed.
    pub fn sync_args(&self, args: &[&str]) -> SyncRun {
        let mut full = vec!["sync"];
        full.extend_from_slice(args);
        let run = self.run(&full);
        let lines = run
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(SyncLine::parse)
            .collect();
        SyncRun {
            node: self.name.clone(),
            code: run.code,
            lines,
            stderr: run.stderr,
        }
    }

    /// `newsmesh sync`.
    pub fn sync(&self) -> SyncRun {
        self.sync_args(&[])
    }

    /// Sets `[limits] key = value` in `newsmesh.toml`, adding the line under `[limits]`
    /// when the config has none yet.
    pub fn set_limit(&self, key: &str, value: &str) {
        self.edit_config(key, value, Some("[limits]"));
    }

    /// Appends `text` to `newsmesh.toml`.
    pub fn append_config(&self, text: &str) {
        let mut config = std::fs::read_to_string(self.config_path()).expect("read newsmesh.toml");
        config.push('\n');
        config.push_str(text);
        std::fs::write(self.config_path(), config).expect("write newsmesh.toml");
    }

    /// Starts `newsmesh serve` and waits until its port accepts connections.
    pub fn start(&mut self) {
        self.start_with_env(&[]);
    }

    /// Starts `newsmesh serve` with extra environment variables (test knobs).
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) {
        assert!(self.serve.is_none(), "{} is already serving", self.name);
        self.serve_runs += 1;
        let log_path = self
            .dir
            .path()
            .join(format!("serve-{}.log", self.serve_runs));
        let log = std::fs::File::create(&log_path).expect("serve log");
        let mut child = self
            .command(&["serve"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn newsmesh serve");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "{}'s serve exited with {status} before accepting connections:\n{}",
                    self.name,
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{}'s serve did not accept within {START_TIMEOUT:?}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.serve = Some(child);
    }

    /// Whether `serve` runs.
    pub fn serving(&self) -> bool {
        self.serve.is_some()
    }

    /// The serve process id.
    pub fn serve_pid(&self) -> u32 {
        self.serve.as_ref().expect("not serving").id()
    }

    /// Stops `serve` with SIGTERM and waits for it; asserts a clean exit (code 0).
    pub fn stop(&mut self) {
        let mut child = self.serve.take().expect("not serving");
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                assert_eq!(
                    status.code(),
                    Some(0),
                    "{}'s serve exit on SIGTERM",
                    self.name
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{}'s serve ignored SIGTERM for 15 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets `key = value` in `newsmesh.toml` (the first line that assigns `key`, as the
    /// template has every key once), e.g. `set_config("auth_timeout_secs", "1")`.
    #[track_caller]
    pub fn set_config(&self, key: &str, value: &str) {
        self.edit_config(key, value, None);
    }

    /// Replaces the first `key = ...` line; without one, inserts it after the table
    /// header `table` (or fails the test when there is no table to put it in).
    #[track_caller]
    fn edit_config(&self, key: &str, value: &str, table: Option<&str>) {
        let text = std::fs::read_to_string(self.config_path()).expect("read newsmesh.toml");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let setting = format!("{key} = {value}");
        let prefix = format!("{key} =");
        match lines.iter().position(|l| l.starts_with(&prefix)) {
            Some(at) => lines[at] = setting,
            None => {
                let table = table.unwrap_or_else(|| panic!("no `{key} = ` line in newsmesh.toml"));
                let at = lines
                    .iter()
                    .position(|l| l.trim() == table)
                    .unwrap_or_else(|| panic!("no {table} table in newsmesh.toml"));
                lines.insert(at + 1, setting);
            }
        }
        std::fs::write(self.config_path(), lines.join("\n") + "\n").expect("write newsmesh.toml");
    }

    /// Sets `key = value` in the `[[peer]]` entry named `peer` (e.g. `tls`, `compress`).
    #[track_caller]
    pub fn set_peer_option(&self, peer: &str, key: &str, value: bool) {
        let text = std::fs::read_to_string(self.config_path()).expect("read newsmesh.toml");
        let mut doc: toml_edit::DocumentMut = text.parse().expect("a TOML config");
        let peers = doc["peer"]
            .as_array_of_tables_mut()
            .expect("[[peer]] entries");
        let entry = peers
            .iter_mut()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(peer))
            .expect("the peer's entry");
        entry[key] = toml_edit::value(value);
        std::fs::write(self.config_path(), doc.to_string()).expect("write newsmesh.toml");
    }

    /// Sends SIGHUP to `serve` (reload the configuration).
    pub fn sighup(&self) {
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(self.serve_pid() as libc::pid_t, libc::SIGHUP) };
    }

    /// `newsmesh.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.home().join("newsmesh.toml")
    }

    /// SIGKILLs `serve` (kill -9) and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.serve.take().expect("not serving");
        child.kill().expect("SIGKILL serve");
        child.wait().expect("reap serve");
    }

    /// The serve logs so far (all runs), for failure messages.
    pub fn serve_logs(&self) -> String {
        (1..=self.serve_runs)
            .map(|i| {
                std::fs::read_to_string(self.dir.path().join(format!("serve-{i}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    /// A read-only SQLite connection to the spool (safe while `serve` runs: WAL).
    pub fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_with_flags(
            self.spool_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .expect("open spool read-only");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// Rows in `articles`.
    pub fn article_count(&self) -> i64 {
        self.db()
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))
            .expect("count articles")
    }

    /// Rows in `articles` with this Message-ID.
    pub fn copies_of(&self, id: &str) -> i64 {
        self.db()
            .query_row(
                "SELECT COUNT(*) FROM articles WHERE msgid = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("count copies")
    }

    /// Every Message-ID in `articles`.
    pub fn message_ids(&self) -> Vec<String> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT msgid FROM articles ORDER BY seq")
            .unwrap();
        let ids = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        ids
    }

    /// The `history` status of a Message-ID, if any.
    pub fn history_status(&self, id: &str) -> Option<String> {
        use rusqlite::OptionalExtension;
        self.db()
            .query_row("SELECT status FROM history WHERE msgid = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .expect("history")
    }

    /// `peer_marks` row for `peer`: (pull_epoch, pull_seq, push_seq).
    pub fn marks(&self, peer: &str) -> Option<(String, i64, i64)> {
        use rusqlite::OptionalExtension;
        self.db()
            .query_row(
                "SELECT pull_epoch, pull_seq, push_seq FROM peer_marks WHERE peer = ?1",
                [peer],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .expect("peer_marks")
    }

    /// The raw wire form of a stored article (through the library).
    pub fn raw_article(&self, id: &str) -> Vec<u8> {
        newsmesh::spool::Spool::open(&self.spool_path())
            .expect("open spool")
            .article(id)
            .expect("query spool")
            .unwrap_or_else(|| panic!("{} has no {id}", self.name))
            .raw
    }

    /// The node's secret key, loaded from its home.
    pub fn signing_key(&self) -> ed25519_dalek::SigningKey {
        newsmesh::sign::load_secret(&self.node_key_path()).expect("load node.key")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.serve.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Wires `a` and `b` as neighbours both ways, each dialling the other's listen address:
/// `peer add` on each side with the other's `key --node`.
pub fn link(a: &TestNode, b: &TestNode) {
    add_peer(a, b, true);
    add_peer(b, a, true);
}

/// Wires `nat` (behind NAT, never serving) to `hub`: `nat` dials `hub`, and `hub` lists
/// `nat` as a passive peer (no `--address`).
pub fn link_passive(hub: &TestNode, nat: &TestNode) {
    add_peer(hub, nat, false);
    add_peer(nat, hub, true);
}

/// `peer add` on `on` for `other`, with or without its address, live relay off (so
/// that only `sync` moves articles: the scenarios count what each sync moved).
pub fn add_peer(on: &TestNode, other: &TestNode, with_address: bool) {
    add_peer_with(on, other, with_address, false);
}

/// Wires `a` and `b` as neighbours both ways, each dialling the other, with live relay
/// on: their `serve`s offer each new article to the other at once.
pub fn link_live(a: &TestNode, b: &TestNode) {
    add_peer_with(a, b, true, true);
    add_peer_with(b, a, true, true);
}

/// Wires `nat` (behind NAT: `hub` has no address for it) to `hub` with live relay on:
/// `nat`'s serve keeps a link to `hub` that carries both directions (`MESH IDLE`).
pub fn link_passive_live(hub: &TestNode, nat: &TestNode) {
    add_peer_with(hub, nat, false, true);
    add_peer_with(nat, hub, true, true);
}

/// `peer add` on `on` for `other`; `live` false adds `--no-live`.
pub fn add_peer_with(on: &TestNode, other: &TestNode, with_address: bool, live: bool) {
    let key = other.node_key();
    let addr = other.addr.to_string();
    let mut args = vec!["peer", "add", other.name.as_str(), key.as_str()];
    if with_address {
        args.extend(["--address", addr.as_str()]);
    }
    if !live {
        args.push("--no-live");
    }
    on.run(&args).ok();
}

/// Every node runs `sync` once, in order; returns their outcomes.
pub fn sync_round(nodes: &[&TestNode]) -> Vec<SyncRun> {
    nodes.iter().map(|n| n.sync()).collect()
}

/// Asserts that every line of every run is `status=ok sent=0 received=0 refused=0`.
#[track_caller]
pub fn assert_quiet(round: &[SyncRun]) {
    for run in round {
        run.assert_ok();
        for line in &run.lines {
            assert_eq!(
                line.moved(),
                (0, 0, 0),
                "{} -> {}: a further round moved something: {}",
                run.node,
                line.peer(),
                line.raw
            );
        }
    }
}

/// A hand-driven NNTP connection, to act as a neighbour (or an attacker).
pub struct RawPeer {
    reader: BufReader<Box<dyn Duplex>>,
    /// The socket under it (plain, or under TLS after [`RawPeer::start_tls`]).
    tcp: TcpStream,
    /// The node key of the node we connected to (the TLS pin).
    server_key: Option<ed25519_dalek::VerifyingKey>,
    /// The TLS channel binding, once TLS runs.
    binding: Option<[u8; 32]>,
    /// The greeting line.
    pub greeting: String,
}

/// A byte stream both ways: plain TCP or TLS over it.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// The outcome of a MESH HELLO: what the server sent back.
#[derive(Debug, Clone)]
pub struct Hello {
    /// The client nonce we sent.
    pub client_nonce: String,
    /// The server's node key (text).
    pub server_key: String,
    /// The server's nonce.
    pub server_nonce: String,
    /// The server's signature.
    pub server_signature: String,
    /// The TLS channel binding of the connection it was made on.
    pub binding: Option<[u8; 32]>,
}

impl RawPeer {
    /// Connects to `node` and reads its greeting.
    pub fn connect(node: &TestNode) -> RawPeer {
        let stream =
            TcpStream::connect_timeout(&node.addr, Duration::from_secs(5)).expect("connect");
        Self::on(
            stream,
            newsmesh::sign::parse_public_key(&node.node_key()).ok(),
        )
    }

    /// Connects to `addr` (a node's listen address) from the source address `source`
    /// (e.g. 127.0.0.2, to act as another host) and reads its greeting.
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> RawPeer {
        Self::on(connect_from(source, addr), None)
    }

    /// Over `stream`; `server_key` is the node key a TLS handshake must find.
    fn on(stream: TcpStream, server_key: Option<ed25519_dalek::VerifyingKey>) -> RawPeer {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let tcp = stream.try_clone().unwrap();
        let mut peer = RawPeer {
            reader: BufReader::new(Box::new(stream)),
            tcp,
            server_key,
            binding: None,
            greeting: String::new(),
        };
        peer.greeting = peer.line();
        assert!(
            peer.greeting.starts_with("200 ") || peer.greeting.starts_with("201 "),
            "greeting {:?}",
            peer.greeting
        );
        peer
    }

    /// Reads one response line (without CRLF).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a line");
        assert!(n > 0, "connection closed while waiting for a line");
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Reads one response line; None when the connection ends (closed or reset).
    pub fn try_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// The buffered read side, for tests that read answers in bulk.
    pub fn reader(&mut self) -> &mut BufReader<Box<dyn Duplex>> {
        &mut self.reader
    }

    /// A second handle on the socket, for a writer thread (plain TCP only).
    pub fn clone_writer(&self) -> TcpStream {
        assert!(self.binding.is_none(), "a TLS connection has one writer");
        self.tcp.try_clone().expect("clone socket")
    }

    /// `STARTTLS` as the mesh node whose secret key is `key`: 382, then a TLS handshake
    /// that presents `key` and accepts only the node key of the node we connected to.
    /// It names the earlier mesh ALPN protocol, so MESH HELLO/PROVE still authenticate.
    pub fn start_tls(&mut self, key: &ed25519_dalek::SigningKey) {
        self.start_tls_naming(key, newsmesh::tls::MESH_ALPN_HELLO);
    }

    /// STARTTLS naming the mesh ALPN protocol whose TLS handshake authenticates the
    /// session as `key`'s node (no MESH HELLO/PROVE needed), as `sync` does.
    pub fn start_tls_authenticated(&mut self, key: &ed25519_dalek::SigningKey) {
        self.start_tls_naming(key, newsmesh::tls::MESH_ALPN);
    }

    fn start_tls_naming(&mut self, key: &ed25519_dalek::SigningKey, alpn: &[u8]) {
        let line = self.cmd("STARTTLS");
        assert_eq!(Self::code(&line), 382, "STARTTLS answer {line:?}");
        self.handshake_naming(key, alpn).expect("TLS handshake");
    }

    /// The client side of a mesh TLS handshake with `key` (after a 382), naming the
    /// earlier mesh ALPN protocol (MESH HELLO/PROVE follow); the error the handshake
    /// failed with, if it did.
    pub fn handshake(&mut self, key: &ed25519_dalek::SigningKey) -> Result<(), String> {
        self.handshake_naming(key, newsmesh::tls::MESH_ALPN_HELLO)
    }

    fn handshake_naming(
        &mut self,
        key: &ed25519_dalek::SigningKey,
        alpn: &[u8],
    ) -> Result<(), String> {
        use newsmesh::tls;
        let identity = tls::node_identity(key).map_err(|e| e.to_string())?;
        let expected = self.server_key.expect("the node's key");
        let mut config =
            (*tls::mesh_client_config(&identity, expected).map_err(|e| e.to_string())?).clone();
        config.alpn_protocols = vec![alpn.to_vec()];
        let config = std::sync::Arc::new(config);
        let mut conn = tokio_rustls::rustls::ClientConnection::new(config, tls::mesh_server_name())
            .map_err(|e| e.to_string())?;
        let mut tcp = self.tcp.try_clone().expect("clone socket");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        }
        // (A server that refuses our certificate says so only on the next read.)
        let binding = conn
            .export_keying_material([0u8; 32], newsmesh::sign::handshake::BINDING_LABEL, None)
            .map_err(|e| e.to_string())?;
        self.binding = Some(binding);
        self.reader = BufReader::new(Box::new(tokio_rustls::rustls::StreamOwned::new(conn, tcp)));
        Ok(())
    }

    /// The status code of a response line.
    pub fn code(line: &str) -> u16 {
        line.get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not a response line: {line:?}"))
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).expect("write");
        stream.flush().expect("flush");
    }

    /// Sends one command line and reads one response line.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// Reads a dot-terminated block (unstuffed, CRLF kept).
    pub fn block(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            self.reader
                .read_until(b'\n', &mut line)
                .expect("read block");
            assert!(!line.is_empty(), "connection closed inside a block");
            if line == b".\r\n" {
                return out;
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            out.extend_from_slice(line);
        }
    }

    /// `MESH HELLO <key of `key`> <client_nonce>`; asserts 291 and returns its parts.
    pub fn hello(&mut self, key: &ed25519_dalek::SigningKey, client_nonce: &str) -> Hello {
        let text = newsmesh::sign::public_key_text(&key.verifying_key());
        let line = self.cmd(&format!("MESH HELLO {text} {client_nonce}"));
        assert_eq!(Self::code(&line), 291, "MESH HELLO answer {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 4, "291 key nonce signature: {line:?}");
        Hello {
            client_nonce: client_nonce.to_string(),
            server_key: words[1].to_string(),
            server_nonce: words[2].to_string(),
            server_signature: words[3].to_string(),
            binding: self.binding,
        }
    }

    /// The client's proof for a HELLO exchange, signed with `key`.
    pub fn proof(key: &ed25519_dalek::SigningKey, hello: &Hello) -> String {
        use newsmesh::sign::handshake::{Role, Transcript};
        let transcript = Transcript {
            client_key: key.verifying_key(),
            server_key: newsmesh::sign::parse_public_key(&hello.server_key).expect("server key"),
            client_nonce: hello.client_nonce.clone(),
            server_nonce: hello.server_nonce.clone(),
            binding: hello.binding,
        };
        assert!(
            transcript.verify(Role::Server, &hello.server_signature),
            "the server's own proof must verify"
        );
        transcript.sign(Role::Client, key)
    }

    /// Authenticates as the node whose secret key is `key` (STARTTLS unless TLS runs
    /// already, HELLO + PROVE, expects 292).
    pub fn authenticate(&mut self, key: &ed25519_dalek::SigningKey) {
        if self.binding.is_none() {
            self.start_tls(key);
        }
        self.authenticate_plain(key);
    }

    /// HELLO + PROVE as `key` on the connection as it is (plain TCP for a peer with
    /// `tls = false`), expects 292.
    pub fn authenticate_plain(&mut self, key: &ed25519_dalek::SigningKey) {
        let hello = self.hello(key, &newsmesh::sign::handshake::nonce());
        let proof = Self::proof(key, &hello);
        let line = self.cmd(&format!("MESH PROVE {proof}"));
        assert_eq!(Self::code(&line), 292, "MESH PROVE answer {line:?}");
    }

    /// Sends `TAKETHIS <id>` with `article` (wire form), dot-stuffed; does not read.
    pub fn queue_takethis(&mut self, id: &str, article: &[u8]) {
        let mut out = format!("TAKETHIS {id}\r\n").into_bytes();
        newsmesh::protocol::write_block(&mut out, article);
        self.send(&out);
    }

    /// Reads whatever is left until the server closes (after QUIT).
    pub fn drain(mut self) -> String {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        rest
    }
}

/// A TCP connection to `to` from the local address `source` (another 127.x.y.z, to act
/// as a different machine on loopback). Blocking, with a 20 s read timeout.
pub fn connect_from(source: std::net::IpAddr, to: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(source, 0))
            .unwrap_or_else(|e| panic!("bind {source}: {e}"));
        let stream = socket
            .connect(to)
            .await
            .unwrap_or_else(|e| panic!("connect {to} from {source}: {e}"));
        stream.into_std().expect("std stream")
    });
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    stream
}

/// Polls `cond` every 5 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Peak resident memory (VmHWM) of a running process, in MiB.
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"));
    kib / 1024
}

/// Runs `command` to completion (killing it after `timeout`) and returns its exit code
/// (-1 when killed by a signal), its wall time and its peak resident memory in MiB, as the
/// kernel accounted it at exit (`wait4`'s `ru_maxrss`): for short-lived processes such as
/// `sync`, whose `/proc` entry is gone by the time a test could read it.
// The child is reaped by `wait4` below (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_measuring_peak(mut command: Command, timeout: Duration) -> (i32, Duration, u64) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            // SAFETY: signal 0 only checks that our (unreaped) child still exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: our own child, not reaped until wait4 below returns.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills the two out-parameters.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let _ = killer.join();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, started.elapsed(), usage.ru_maxrss as u64 / 1024)
}
