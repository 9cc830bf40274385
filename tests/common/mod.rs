//! Shared helpers for the integration tests. Nodes come from the one harness,
//! [`newsmesh::testbed`]: a [`Node`] is a node home with its port bound from the start,
//! configured through `config::edit`, driven through the real binary with a deadline
//! ([`Node::cli`] gives a [`Run`]), served in-process or as a child `newsmesh serve`; a
//! [`Mesh`] links and serves several. What lives here is only what tests look at:
//! parsed `sync` output ([`SyncRun`]), the spool read-only ([`Inspect`]), a hand-driven
//! NNTP connection ([`RawPeer`]), a fake neighbour ([`fake_peer::FakePeer`]) and process
//! measurements.
//!
//! Include it with `mod common;` and `use common::*;`.

// Each test file compiles this module separately and uses a different part of it.
#![allow(dead_code, unused_imports)]

mod articles;
pub mod fake_peer;
mod inspect;
mod measure;
mod raw_peer;
mod sync_run;

use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};

pub use articles::{
    assert_refused, body_start, group_counts, history, ingest_into, stored_raw,
    with_body_byte_changed, with_header, write_file,
};
pub use inspect::{Inspect, GROUP};
pub use measure::{peak_rss_mib, run_measuring_peak};
pub use newsmesh::testbed::{clean_env, link, run, Link, Mesh, Node, Run, DEFAULT_TIMEOUT};
pub use raw_peer::{connect_from, Duplex, Hello, RawPeer};
pub use sync_run::{assert_quiet, sync_round, SyncLine, SyncRun};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_newsmesh");

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
