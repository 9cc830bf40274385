//! What `newsmesh sync` printed, parsed: one [`SyncLine`] per dialled peer (`peer=beta
//! status=ok sent=1 ...`) in a [`SyncRun`], and rounds of syncs over several nodes.

use std::collections::BTreeMap;

use newsmesh::testbed::{Node, Run};

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
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// One parsed line per dialled peer.
    pub lines: Vec<SyncLine>,
    /// Standard error.
    pub stderr: String,
}

impl SyncRun {
    /// Runs `newsmesh sync ARGS...` on `node` and parses its lines.
    pub fn of(node: &Node, args: &[&str]) -> SyncRun {
        let mut full = vec!["sync"];
        full.extend_from_slice(args);
        SyncRun::from_run(&node.name, node.cli(&full))
    }

    /// Parses what a `sync` run on node `node` printed.
    pub fn from_run(node: &str, run: Run) -> SyncRun {
        let lines = run
            .stdout_text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(SyncLine::parse)
            .collect();
        SyncRun {
            node: node.to_string(),
            code: run.code,
            lines,
            stderr: run.stderr_text(),
        }
    }

    /// The line for `peer` (panics when absent).
    #[track_caller]
    pub fn peer(&self, peer: &str) -> &SyncLine {
        self.lines
            .iter()
            .find(|l| l.peer() == peer)
            .unwrap_or_else(|| panic!("{}'s sync printed no line for {peer}: {self:#?}", self.node))
    }

    /// Standard error (as [`newsmesh::testbed::Run`] gives it).
    pub fn stderr_text(&self) -> String {
        self.stderr.clone()
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
        assert_eq!(self.code, Some(0), "{}'s sync failed: {self:#?}", self.node);
        assert!(
            self.lines.iter().all(SyncLine::is_ok),
            "{}'s sync has a failed line: {self:#?}",
            self.node
        );
        self
    }
}

/// Every node runs `sync` once, in order; returns their outcomes.
pub fn sync_round(nodes: &[&Node]) -> Vec<SyncRun> {
    nodes.iter().map(|n| SyncRun::of(n, &[])).collect()
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
