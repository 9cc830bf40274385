//! One finished run of the `newsmesh` binary ([`Run`]) and the one runner that makes
//! it ([`run`]): stdin fed from a thread, stdout and stderr drained by threads (so a
//! chatty command cannot block on a full pipe), and a deadline, so that a hung command
//! fails its test with what it printed so far instead of hanging the suite.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one command may run by default: generous (some tests sync gigabytes on a
/// debug build), but a hung command still fails its test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

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
    #[track_caller]
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

    /// Whether it exited 0.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// Asserts exit code 0 (showing everything on failure).
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    /// Asserts exit code 0 and hands the run on (for `node.cli(..).ok().stdout_text()`).
    #[track_caller]
    pub fn ok(self) -> Run {
        self.code(0);
        self
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

/// Runs `command` to completion with an optional stdin (None: /dev/null) and a deadline;
/// panics (with the output so far) when it cannot start or outlives the deadline.
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
    let feeder = stdin.and_then(|bytes| {
        let mut pipe = child.stdin.take()?;
        // A command may exit before reading all of it; a broken pipe is not our failure.
        Some(std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        }))
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            waited => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
                let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
                panic!(
                    "{what}: still running after {timeout:?} ({waited:?}), killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
                );
            }
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
