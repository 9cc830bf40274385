//! One node for tests, benchmarks and the demo: a node home (in a temporary directory
//! or under a given one) with its listening port bound from the start and kept until a
//! server takes it, so no other process can take the port between choosing and binding
//! it. Configured through `config::edit` (the editing code operators use), stored into
//! through `ingest`, driven through the real binary with a deadline ([`Node::cli`]),
//! and served either in this process ([`Node::serve_in`]) or as a child `newsmesh serve`
//! that inherits the bound listener ([`Node::start`]).
//!
//! This is harness code: a command that hangs or a setup step that fails panics with
//! everything it knows, which fails the test that asked.

use std::ffi::OsStr;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::compose::{compose, Draft};
use crate::config::{edit, Authors, NntpPeerConfig, NodeKey, PeerConfig, TrustRuleConfig};
use crate::error::{Error, Result};
use crate::home::{Home, DEFAULT_AUTHOR};
use crate::ingest::{ingest, Refusal, Rules, Verdict};
use crate::server::Running;

use super::run::{run, Run, DEFAULT_TIMEOUT};

/// How long a child `serve` may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a child `serve` may take to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The fd a child `serve` finds its listener on.
const CHILD_LISTEN_FD: i32 = 3;

/// A node home and, while it serves, its server.
pub struct Node {
    /// Node name (its Path identity once initialised).
    pub name: String,
    /// Its listen address (`[node] listen`), bound from creation.
    pub addr: SocketAddr,
    home: Home,
    /// The port, bound but not listening (so dialling a node that does not serve is
    /// refused, as for a stopped server), while no server holds it.
    reserved: Option<tokio::net::TcpSocket>,
    serving: Option<Serving>,
    binary: PathBuf,
    /// The binary binds `[node] listen` itself (it predates `NEWSMESH_LISTEN_FD`).
    binds_itself: bool,
    serve_runs: u32,
    /// Where the serve logs go (beside the home).
    logs: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

enum Serving {
    InProcess {
        runtime: Arc<tokio::runtime::Runtime>,
        running: Running,
    },
    Child(Child),
}

/// A multi-threaded runtime for in-process servers (several nodes may share one).
pub fn runtime() -> Result<Arc<tokio::runtime::Runtime>> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| Error::io("tokio runtime", e))
}

/// The `newsmesh` binary beside (or one above) the running executable: what cargo
/// builds for integration tests and benchmarks (`target/debug/deps/x` → `target/debug`).
pub fn default_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("newsmesh")
}

impl Node {
    /// `dir/name` as a home that is not initialised yet (and does not exist), with a
    /// port on 127.0.0.1 reserved for it (bound; listening only once a server takes it).
    pub fn at(dir: &Path, name: &str) -> Result<Node> {
        let net = |source| Error::Listen {
            address: "127.0.0.1:0".into(),
            source,
            hint: String::new(),
        };
        let reserved = tokio::net::TcpSocket::new_v4().map_err(net)?;
        reserved.set_reuseaddr(true).map_err(net)?;
        reserved
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(net)?;
        let addr = reserved.local_addr().map_err(net)?;
        Ok(Node {
            name: name.to_string(),
            addr,
            home: Home::new(dir.join(name)),
            reserved: Some(reserved),
            serving: None,
            binary: default_binary(),
            binds_itself: false,
            serve_runs: 0,
            logs: dir.to_path_buf(),
            _temp: None,
        })
    }

    /// A home that is not initialised (and does not exist yet) in its own temporary
    /// directory, removed when the node is dropped: for "missing home" tests and for
    /// `newsmesh init` itself.
    #[track_caller]
    pub fn uninit(name: &str) -> Node {
        let temp = tempfile::Builder::new()
            .prefix(&format!("newsmesh-{name}-"))
            .tempdir()
            .expect("create a temporary directory");
        let mut node = Node::at(temp.path(), name).expect("bind a port");
        node._temp = Some(temp);
        node
    }

    /// A node initialised (name, keys, config listening on its bound port, spool) in its
    /// own temporary directory.
    #[track_caller]
    pub fn init(name: &str) -> Node {
        let node = Node::uninit(name);
        node.home
            .init(name, &node.addr.to_string())
            .unwrap_or_else(|e| panic!("init {name}: {e}"));
        node
    }

    /// Uses `binary` for [`Node::cli`] and [`Node::start`] (tests pass
    /// `env!("CARGO_BIN_EXE_newsmesh")`).
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Node {
        self.binary = binary.into();
        self
    }

    /// Marks the binary as one built before `serve` took an inherited listener
    /// (`NEWSMESH_LISTEN_FD`): [`Node::start`] then gives the reserved port up just
    /// before the child binds `[node] listen` itself. Only for before/after benchmarks
    /// that run an older build: another process could take the port in between, the
    /// race the inherited listener closes.
    pub fn binding_itself(mut self) -> Node {
        self.binds_itself = true;
        self
    }

    /// The binary this node's CLI and child `serve` run.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        self.home.dir()
    }

    /// The home's file layout (and `open()` for the library's view of the node).
    pub fn paths(&self) -> &Home {
        &self.home
    }

    /// A path inside the home.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.home().join(relative)
    }

    /// `newsmesh.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.home.config_path()
    }

    /// `spool.db`.
    pub fn spool_path(&self) -> PathBuf {
        self.home.spool_path()
    }

    /// `node.key`.
    pub fn node_key_path(&self) -> PathBuf {
        self.home.node_key_path()
    }

    /// The text of `newsmesh.toml`.
    #[track_caller]
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).expect("read newsmesh.toml")
    }

    // ---- configuration, through config::edit ----

    /// Sets `key` in `[table]` to `value` (TOML: `1`, `true`, `"text"`), as an operator's
    /// edit would; the edit is refused (and the test fails) if the result would not load.
    #[track_caller]
    pub fn set(&self, table: &str, key: &str, value: &str) {
        let value: toml_edit::Value = value
            .parse()
            .unwrap_or_else(|e| panic!("{value:?} is not a TOML value: {e}"));
        edit::set(&self.config_path(), table, key, value)
            .unwrap_or_else(|e| panic!("set [{table}] {key} on {}: {e}", self.name));
    }

    /// Sets `[limits] key = value`.
    #[track_caller]
    pub fn set_limit(&self, key: &str, value: &str) {
        self.set("limits", key, value);
    }

    /// Sets `key = value` in whichever table of the config has `key` (the template has
    /// every key once), e.g. `set_config("auth_timeout_secs", "1")`.
    #[track_caller]
    pub fn set_config(&self, key: &str, value: &str) {
        let doc: toml_edit::DocumentMut = self.config_text().parse().expect("a TOML config");
        let table = doc
            .iter()
            .find(|(_, item)| item.as_table().is_some_and(|t| t.contains_key(key)))
            .map(|(name, _)| name.to_string())
            .unwrap_or_else(|| panic!("no table of newsmesh.toml has `{key}`"));
        self.set(&table, key, value);
    }

    /// Sets `key = value` in the `[[peer]]` entry named `peer` (e.g. `tls`, `compress`).
    #[track_caller]
    pub fn set_peer_option(&self, peer: &str, key: &str, value: bool) {
        edit::set_peer(&self.config_path(), peer, key, value)
            .unwrap_or_else(|e| panic!("set {key} of peer {peer} on {}: {e}", self.name));
    }

    /// Adds a plain news server (`[[nntp_peer]]`) named `name` (its Path identity) that
    /// `sync` feeds at `address` (when given) with `groups`, and that may feed us from
    /// `hosts`.
    #[track_caller]
    pub fn add_nntp_peer(&self, name: &str, address: Option<&str>, hosts: &[&str], groups: &str) {
        self.add_nntp_peer_unsigned(name, address, hosts, groups, "");
    }

    /// [`Node::add_nntp_peer`], whose unsigned articles are taken in `unsigned_groups`
    /// (when `[policy] accept_unsigned` is on).
    #[track_caller]
    pub fn add_nntp_peer_unsigned(
        &self,
        name: &str,
        address: Option<&str>,
        hosts: &[&str],
        groups: &str,
        unsigned_groups: &str,
    ) {
        let peer = NntpPeerConfig {
            name: name.into(),
            address: address.map(str::to_string),
            hosts: hosts
                .iter()
                .map(|host| host.parse().unwrap_or_else(|e| panic!("host {host}: {e}")))
                .collect(),
            groups: groups.into(),
            unsigned_groups: unsigned_groups.into(),
        };
        edit::add_nntp_peer(&self.config_path(), &peer)
            .unwrap_or_else(|e| panic!("add nntp peer {name} on {}: {e}", self.name));
    }

    /// Appends a `[[trust]]` rule: `authors` (keys, or `["any"]`) may post to `groups`.
    #[track_caller]
    pub fn add_trust(&self, groups: &str, authors: &[&str]) {
        self.add_rule(groups, authors, false);
    }

    /// Appends a `[[control]]` rule: `authors` (keys) administer the hierarchy `groups`.
    #[track_caller]
    pub fn add_control(&self, groups: &str, authors: &[&str]) {
        self.add_rule(groups, authors, true);
    }

    #[track_caller]
    fn add_rule(&self, groups: &str, authors: &[&str], control: bool) {
        let rule = TrustRuleConfig {
            groups: groups.into(),
            authors: match authors {
                ["any"] => Authors::Word("any".into()),
                keys => Authors::Keys(keys.iter().map(|k| k.to_string()).collect()),
            },
        };
        let (trust, controls) = if control {
            (&[][..], std::slice::from_ref(&rule))
        } else {
            (std::slice::from_ref(&rule), &[][..])
        };
        edit::add_rules(&self.config_path(), trust, controls)
            .unwrap_or_else(|e| panic!("add a rule for {groups} on {}: {e}", self.name));
    }

    /// Appends raw `text` to `newsmesh.toml`, unchecked: only for tests of what a node
    /// does with a config an edit would refuse (broken, or with sections edit cannot
    /// write); everything else goes through [`Node::set`] and [`Node::add_peer`].
    #[track_caller]
    pub fn append_config(&self, text: &str) {
        let mut config = self.config_text();
        if !config.ends_with('\n') {
            config.push('\n');
        }
        config.push_str(text);
        std::fs::write(self.config_path(), config).expect("write newsmesh.toml");
    }

    /// Lists `other` as a `[[peer]]` of this node (its node key, all groups, TLS and
    /// compression on), with its address when `dial`, live relay as `live` says.
    #[track_caller]
    pub fn add_peer(&self, other: &Node, dial: bool, live: bool) {
        let key = other
            .home
            .node_key()
            .unwrap_or_else(|e| panic!("{}'s node key: {e}", other.name));
        let peer = PeerConfig {
            name: other.name.clone(),
            key: NodeKey::from(key.verifying_key()),
            address: dial.then(|| other.addr.to_string()),
            groups: "*".into(),
            tls: true,
            compress: true,
            live,
        };
        edit::add_peer(&self.config_path(), &peer)
            .unwrap_or_else(|e| panic!("add peer {} on {}: {e}", other.name, self.name));
    }

    // ---- articles, through ingest ----

    /// Composes an article to `groups` signed with the default author key and stores it
    /// through `ingest` (as a local post); returns its Message-ID, or the verdict when
    /// it was not stored.
    pub fn store_post(
        &self,
        groups: &str,
        subject: &str,
        body: &str,
        references: Option<&str>,
    ) -> Result<String> {
        let mut node = self.home.open()?;
        let key = self.home.author_key(DEFAULT_AUTHOR)?;
        let from = format!("{0} <{0}@{0}.invalid>", node.name());
        let draft = Draft {
            groups,
            subject,
            from: &from,
            references,
            body: body.as_bytes(),
        };
        let article = compose(&draft, node.name(), &key);
        let rules = Rules::new(&node.config, &node.trust, Some(&node.log));
        let verdict = ingest(&mut node.spool, &rules, &[&article.to_bytes()])?.pop();
        verdict
            .unwrap_or(Verdict::Refused(Refusal::NoVerdict))
            .into_stored()?;
        Ok(article.message_id().unwrap_or_default().to_string())
    }

    /// Stores wire-form articles through `ingest` as a local submission; one verdict each.
    pub fn store(&self, articles: &[&[u8]]) -> Result<Vec<Verdict>> {
        let mut node = self.home.open()?;
        let rules = Rules::new(&node.config, &node.trust, Some(&node.log));
        Ok(ingest(&mut node.spool, &rules, articles)?)
    }

    /// Stores `n` signed ~200-byte articles to `mesh.test` by the node's default author
    /// ([`signed_articles`](super::signed_articles) labelled "bulk"), 500 a transaction;
    /// returns their ids. Panics unless every one is stored.
    #[track_caller]
    pub fn fill(&self, n: u64) -> Vec<String> {
        let key = self
            .home
            .author_key(DEFAULT_AUTHOR)
            .unwrap_or_else(|e| panic!("{}'s author key: {e}", self.name));
        let mut ids = Vec::new();
        for start in (0..n).step_by(500) {
            let batch =
                super::signed_articles(&key, &self.name, "bulk", start..n.min(start + 500), 200);
            let raws: Vec<&[u8]> = batch.iter().map(|(_, raw)| raw.as_slice()).collect();
            let verdicts = self
                .store(&raws)
                .unwrap_or_else(|e| panic!("store on {}: {e}", self.name));
            for ((id, _), verdict) in batch.into_iter().zip(verdicts) {
                assert!(matches!(verdict, Verdict::Stored(_)), "{id}: {verdict:?}");
                ids.push(id);
            }
        }
        ids
    }

    /// Whether the spool holds `id`.
    pub fn holds(&self, id: &str) -> Result<bool> {
        Ok(self.home.open()?.spool.article(id)?.is_some())
    }

    // ---- the CLI, with a deadline ----

    /// A `Command` for the binary with `--home` set and a clean environment (no
    /// NEWSMESH_HOME, author, editor or log filter; USER=tester); for processes the
    /// test manages itself.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--home").arg(self.home()).args(args);
        clean_env(&mut c);
        c
    }

    /// Runs `newsmesh --home HOME ARGS...` to completion, stdin from /dev/null.
    pub fn cli<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        run(self.command(args), None, DEFAULT_TIMEOUT)
    }

    /// Runs `newsmesh --home HOME ARGS...` with `stdin` piped in.
    pub fn cli_stdin<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Run {
        run(self.command(args), Some(stdin.to_vec()), DEFAULT_TIMEOUT)
    }

    /// `newsmesh key` (the author key), checked.
    #[track_caller]
    pub fn author_key(&self) -> String {
        self.cli(&["key"]).ok().stdout_line()
    }

    /// `newsmesh key --node`, checked.
    #[track_caller]
    pub fn node_key(&self) -> String {
        self.cli(&["key", "--node"]).ok().stdout_line()
    }

    /// The node's secret key, loaded from its home.
    #[track_caller]
    pub fn signing_key(&self) -> ed25519_dalek::SigningKey {
        self.home.node_key().expect("load node.key")
    }

    /// `newsmesh post -g GROUPS -s SUBJECT` (GROUPS: one or a comma-separated list) with
    /// `body` on stdin, checked; returns the Message-ID it prints.
    #[track_caller]
    pub fn post(&self, groups: &str, subject: &str, body: impl AsRef<[u8]>) -> String {
        let run = self.cli_stdin(&["post", "-g", groups, "-s", subject], body.as_ref());
        let id = run.success().stdout_line();
        assert!(
            id.starts_with('<') && id.ends_with('>'),
            "post prints the Message-ID alone: {run:?}"
        );
        id
    }

    /// `newsmesh read '<id>'`: Some(output) when it exits 0, None when it exits 1.
    #[track_caller]
    pub fn read_id(&self, id: &str) -> Option<String> {
        let run = self.cli(&["read", id]);
        match run.code {
            Some(0) => Some(run.stdout_text()),
            Some(1) => None,
            _ => panic!("read {id} on {}: unexpected exit {run:#?}", self.name),
        }
    }

    /// Whether `read '<id>'` finds the article.
    #[track_caller]
    pub fn has(&self, id: &str) -> bool {
        self.read_id(id).is_some()
    }

    // ---- serving ----

    /// Serves in this process on `runtime`, on the port bound from the start.
    pub fn serve_in(&mut self, runtime: &Arc<tokio::runtime::Runtime>) -> Result<()> {
        if self.serving.is_some() {
            return Err(Error::Invalid(format!("{} is already serving", self.name)));
        }
        let listener = self.take_listener()?;
        let running = runtime.block_on(crate::server::start_on(&self.home, listener))?;
        self.serving = Some(Serving::InProcess {
            runtime: Arc::clone(runtime),
            running,
        });
        Ok(())
    }

    /// Starts `newsmesh serve` as a child on the port bound from the start (handed down
    /// as a descriptor) and waits until it accepts connections.
    #[track_caller]
    pub fn start(&mut self) {
        self.start_with_env(&[]);
    }

    /// [`Node::start`] with extra environment variables (test knobs).
    #[track_caller]
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) {
        assert!(self.serving.is_none(), "{} is already serving", self.name);
        if self.binds_itself {
            return self.start_binding_itself(env);
        }
        let listener = self
            .take_listener()
            .unwrap_or_else(|e| panic!("{}'s port: {e}", self.name));
        self.serve_runs += 1;
        let log_path = self.serve_log_path(self.serve_runs);
        let log = std::fs::File::create(&log_path).expect("create the serve log");
        let fd = listener.as_raw_fd();
        let mut command = self.command(&["serve"]);
        command
            .envs(env.iter().copied())
            .env(
                crate::server::inherited::LISTEN_FD,
                CHILD_LISTEN_FD.to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        // SAFETY: between fork and exec only async-signal-safe calls: dup2 (or fcntl
        // when the listener is fd 3 already) clears close-on-exec on fd 3 so the child
        // inherits the listener there; `fd` stays open in the parent until spawn returns.
        unsafe {
            command.pre_exec(move || {
                let done = if fd == CHILD_LISTEN_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, CHILD_LISTEN_FD)
                };
                if done < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn newsmesh serve");
        // The child owns the port now; ours closes, so that once the child stops,
        // dialling this node fails as it would for a stopped server.
        drop(listener);
        self.await_greeting(child);
    }

    /// [`Node::start`] for a binary that binds `[node] listen` itself.
    #[track_caller]
    fn start_binding_itself(&mut self, env: &[(&str, &str)]) {
        // Released just before the child binds it (see `binding_itself`).
        self.reserved = None;
        self.serve_runs += 1;
        let log = std::fs::File::create(self.serve_log_path(self.serve_runs))
            .expect("create the serve log");
        let mut command = self.command(&["serve"]);
        command
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let child = command.spawn().expect("spawn newsmesh serve");
        self.await_greeting(child);
    }

    /// Waits until the child `serve` greets on the node's address, then keeps it.
    #[track_caller]
    fn await_greeting(&mut self, mut child: Child) {
        let deadline = Instant::now() + START_TIMEOUT;
        // The listener was bound before the child started, so a connection would be
        // queued even before it accepts: wait for its greeting instead.
        while !greets(self.addr) {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "{}'s serve exited with {status} before accepting connections:\n{}",
                    self.name,
                    self.serve_logs()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{}'s serve did not greet within {START_TIMEOUT:?}:\n{}",
                    self.name,
                    self.serve_logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.serving = Some(Serving::Child(child));
    }

    /// Whether a server runs.
    pub fn serving(&self) -> bool {
        self.serving.is_some()
    }

    /// The NNTPS address of an in-process server, when `[tls] nntps_listen` opened one
    /// (with port 0, where it landed).
    pub fn nntps_addr(&self) -> Option<SocketAddr> {
        match &self.serving {
            Some(Serving::InProcess { running, .. }) => running.nntps_addr,
            _ => None,
        }
    }

    /// The child serve's process id.
    #[track_caller]
    pub fn serve_pid(&self) -> u32 {
        match &self.serving {
            Some(Serving::Child(child)) => child.id(),
            _ => panic!("{} has no serve process", self.name),
        }
    }

    /// Asks the server to read its configuration again (SIGHUP to a child).
    #[track_caller]
    pub fn reload(&self) {
        match &self.serving {
            Some(Serving::InProcess { running, .. }) => running.reload(),
            Some(Serving::Child(child)) => signal(child, libc::SIGHUP),
            None => panic!("{} is not serving", self.name),
        }
    }

    /// Stops the server: an in-process one is stopped and awaited; a child gets SIGTERM
    /// and must exit 0.
    #[track_caller]
    pub fn stop(&mut self) {
        match self.serving.take() {
            Some(Serving::InProcess { runtime, running }) => runtime.block_on(running.stop()),
            Some(Serving::Child(mut child)) => {
                signal(&child, libc::SIGTERM);
                let deadline = Instant::now() + STOP_TIMEOUT;
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
                        panic!("{}'s serve ignored SIGTERM for {STOP_TIMEOUT:?}", self.name);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            None => panic!("{} is not serving", self.name),
        }
    }

    /// SIGKILLs the child serve (kill -9) and reaps it.
    #[track_caller]
    pub fn kill9(&mut self) {
        match self.serving.take() {
            Some(Serving::Child(mut child)) => {
                child.kill().expect("SIGKILL serve");
                child.wait().expect("reap serve");
            }
            _ => panic!("{} has no serve process", self.name),
        }
    }

    /// The serve logs so far (all runs of the child), for failure messages.
    pub fn serve_logs(&self) -> String {
        (1..=self.serve_runs)
            .map(|i| std::fs::read_to_string(self.serve_log_path(i)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    fn serve_log_path(&self, run: u32) -> PathBuf {
        self.logs.join(format!("{}-serve-{run}.log", self.name))
    }

    /// The port reserved from the start, now listening; or, after a server gave the
    /// port back, the same port bound again (a restart; SO_REUSEADDR lets it past
    /// TIME_WAIT).
    fn take_listener(&mut self) -> Result<TcpListener> {
        let net = |source| Error::Listen {
            address: self.addr.to_string(),
            source,
            hint: String::new(),
        };
        let Some(reserved) = self.reserved.take() else {
            return TcpListener::bind(self.addr).map_err(net);
        };
        let fd = reserved.into_raw_fd();
        // SAFETY: `fd` is the bound socket just released by `reserved`; it is owned by
        // the listener made from it, and listen(2) only changes its state.
        let listener = unsafe { TcpListener::from_raw_fd(fd) };
        if unsafe { libc::listen(fd, 1024) } != 0 {
            return Err(net(std::io::Error::last_os_error()));
        }
        Ok(listener)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        match self.serving.take() {
            Some(Serving::InProcess { runtime, running }) => runtime.block_on(running.stop()),
            Some(Serving::Child(mut child)) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {}
        }
    }
}

/// Keeps the caller's environment from steering the binary (its home, author, editor,
/// log filter).
pub fn clean_env(c: &mut Command) {
    c.env_remove("NEWSMESH_HOME")
        .env_remove("NEWSMESH_FROM")
        .env_remove("VISUAL")
        .env_remove("EDITOR")
        .env_remove("RUST_LOG")
        .env_remove(crate::server::inherited::LISTEN_FD)
        .env("USER", "tester")
        .env("RUST_BACKTRACE", "0");
}

/// Whether a server at `addr` sends its greeting line.
fn greets(addr: SocketAddr) -> bool {
    use std::io::Read;
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(1))
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}
