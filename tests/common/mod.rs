//! Shared helpers for the integration tests: a [`Node`] is a node home in a temporary
//! directory, and [`Node::cmd`] runs the real `newsmesh` binary on it with `--home`,
//! capturing exit code, stdout and stderr in a [`Run`].
//!
//! Every run has a deadline ([`DEFAULT_TIMEOUT`]): a hung command fails the test with what
//! it printed so far instead of hanging the suite. Long-running commands (`serve`) can be
//! started with [`Node::command`] and managed by the test itself.

// Each test file compiles this module separately and uses a different part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_newsmesh");

/// How long one command may run before the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A node home in its own temporary directory (removed when the `Node` is dropped).
///
/// The home is `<tempdir>/<name>`; it does not exist until `init` creates it, so
/// [`Node::new`] also gives a "missing home" to test against.
pub struct Node {
    name: String,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    /// A home directory path that is not initialised (and does not exist yet).
    pub fn new(name: &str) -> Node {
        let dir = tempfile::Builder::new()
            .prefix(&format!("newsmesh-{name}-"))
            .tempdir()
            .expect("create temporary directory");
        Node {
            name: name.to_string(),
            home: dir.path().join(name),
            _dir: dir,
        }
    }

    /// A node initialised with `newsmesh init --name NAME` (the test fails if init does).
    pub fn init(name: &str) -> Node {
        let node = Node::new(name);
        node.cmd(&["init", "--name", name]).success();
        node
    }

    /// The node's name (its Path identity when initialised with [`Node::init`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A path inside the home.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.home.join(relative)
    }

    /// `newsmesh.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path("newsmesh.toml")
    }

    /// `spool.db`.
    pub fn spool_path(&self) -> PathBuf {
        self.path("spool.db")
    }

    /// The text of `newsmesh.toml`.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).expect("read newsmesh.toml")
    }

    /// Appends `text` to `newsmesh.toml`.
    pub fn append_config(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.config_path())
            .expect("open newsmesh.toml");
        f.write_all(text.as_bytes())
            .expect("append to newsmesh.toml");
    }

    /// A `Command` for the binary with `--home` set and a clean environment (no
    /// NEWSMESH_HOME, no editor, stdin from /dev/null); for processes the test manages
    /// itself.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--home").arg(&self.home).args(args);
        clean_env(&mut c);
        c
    }

    /// Runs `newsmesh --home HOME ARGS...` to completion with stdin from /dev/null.
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        run(self.command(args), None, DEFAULT_TIMEOUT)
    }

    /// Runs `newsmesh --home HOME ARGS...` with `stdin` piped in.
    pub fn cmd_stdin<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Run {
        run(self.command(args), Some(stdin.to_vec()), DEFAULT_TIMEOUT)
    }

    /// `newsmesh key` (the author key), checked.
    pub fn author_key(&self) -> String {
        self.cmd(&["key"]).success().stdout_line()
    }

    /// `newsmesh key --node`, checked.
    pub fn node_key(&self) -> String {
        self.cmd(&["key", "--node"]).success().stdout_line()
    }

    /// `peer add` for `other` with its node key and no address (passive), checked.
    pub fn add_passive_peer(&self, other: &Node) {
        self.cmd(&["peer", "add", other.name(), &other.node_key()])
            .success();
    }

    /// Posts `body` to `group` (body on stdin); returns the Message-ID.
    pub fn post(&self, group: &str, subject: &str, body: &[u8]) -> String {
        self.cmd_stdin(&["post", "-g", group, "-s", subject], body)
            .success()
            .stdout_line()
    }
}

/// Runs the binary without a home (`--home` not given): for NEWSMESH_HOME and usage tests.
pub fn cmd_without_home<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &OsStr)]) -> Run {
    let mut c = Command::new(BIN);
    c.args(args);
    clean_env(&mut c);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c, None, DEFAULT_TIMEOUT)
}

/// Keeps the caller's environment from steering the binary (its home, author, editor).
pub fn clean_env(c: &mut Command) {
    c.env_remove("NEWSMESH_HOME")
        .env_remove("NEWSMESH_FROM")
        .env_remove("VISUAL")
        .env_remove("EDITOR")
        .env("RUST_BACKTRACE", "0");
}

/// The outcome of one run of the binary.
#[derive(Debug, Clone)]
pub struct Run {
    /// What was run (for messages).
    pub what: String,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// Raw stderr.
    pub stderr: Vec<u8>,
}

impl Run {
    /// stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// stdout, which must be exactly one line; the line without its newline.
    pub fn stdout_line(&self) -> String {
        let text = self.stdout_text();
        let line = text
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("{}: stdout does not end in a newline: {text:?}", self.what));
        assert!(
            !line.contains('\n'),
            "{}: expected one line on stdout, got {text:?}",
            self.what
        );
        line.to_string()
    }

    /// Asserts exit code 0 (showing everything on failure).
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    /// Asserts exactly this exit code.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "{}: expected exit code {expected}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout_text(),
            self.stderr_text()
        );
        self
    }

    /// Asserts a failure with exit code 1 and a non-empty stderr.
    #[track_caller]
    pub fn failure(&self) -> &Run {
        self.code(1);
        assert!(
            !self.stderr_text().trim().is_empty(),
            "{}: failed without saying why on stderr",
            self.what
        );
        self
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        let err = self.stderr_text();
        assert!(
            err.contains(needle),
            "{}: stderr does not contain {needle:?}:\n{err}",
            self.what
        );
        self
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Run {
        let out = self.stdout_text();
        assert!(
            out.contains(needle),
            "{}: stdout does not contain {needle:?}:\n{out}",
            self.what
        );
        self
    }

    /// Asserts that stdout does not contain `needle`.
    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Run {
        let out = self.stdout_text();
        assert!(
            !out.contains(needle),
            "{}: stdout contains {needle:?}:\n{out}",
            self.what
        );
        self
    }

    /// Asserts that stdout is empty.
    #[track_caller]
    pub fn stdout_empty(&self) -> &Run {
        assert!(
            self.stdout.is_empty(),
            "{}: expected nothing on stdout, got {:?}",
            self.what,
            self.stdout_text()
        );
        self
    }
}

/// Runs `command` to completion with an optional stdin and a deadline.
pub fn run(mut command: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Run {
    let what = format!("{command:?}");
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let feeder = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        // A command may exit before reading all of it; a broken pipe is not our failure.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
                let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
                panic!(
                    "{what}: still running after {timeout:?}, killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
                );
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Run {
        what,
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// True when `id` is a content-derived newsmesh Message-ID:
/// `^<[a-z2-7]{52}@newsmesh>$`.
pub fn is_newsmesh_id(id: &str) -> bool {
    let Some(inner) = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix("@newsmesh>"))
    else {
        return false;
    };
    inner.len() == 52
        && inner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// True when `key` is 44 characters of standard base64 encoding 32 bytes (`...=`).
pub fn is_public_key_text(key: &str) -> bool {
    key.len() == 44
        && key.ends_with('=')
        && !key[..43].contains('=')
        && key[..43]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// What `read` prints after the blank line that ends the header block: the body.
pub fn shown_body(read_stdout: &[u8]) -> &[u8] {
    let at = read_stdout
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("`read` output has a blank line after the headers");
    &read_stdout[at + 2..]
}
