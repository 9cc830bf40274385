//! Articles as tests handle them: stored and refused through `ingest`, read back from the
//! spool, and changed byte by byte or header by header to make forgeries.

use newsmesh::article::{Article, Limits};
use newsmesh::ingest::Verdict;
use newsmesh::testbed::Node;

/// The raw (wire form) article `id` as stored in `node`'s spool.
pub fn stored_raw(node: &Node, id: &str) -> Vec<u8> {
    let open = node.paths().open().expect("open node");
    open.spool
        .article(id)
        .expect("spool query")
        .unwrap_or_else(|| panic!("{id} is not stored on {}", node.name()))
        .raw
}

/// Whether `id` is in `node`'s history (stored or refused).
pub fn history(node: &Node, id: &str) -> Option<(String, String)> {
    let open = node.paths().open().expect("open node");
    open.spool.history(id).expect("history query")
}

/// Offers one raw article to `node` through `ingest`, with the node's own rules.
pub fn ingest_into(node: &Node, raw: &[u8]) -> Verdict {
    let mut verdicts = node.store(&[raw]).expect("ingest");
    assert_eq!(verdicts.len(), 1);
    verdicts.remove(0)
}

#[track_caller]
pub fn assert_refused(verdict: Verdict, because: &str) -> String {
    match verdict {
        Verdict::Refused(refusal) => {
            // The sentence the refusal reads as (the log's and the wire's).
            let why = refusal.to_string();
            assert!(
                why.contains(because),
                "refused, but for {why:?}, not {because:?}"
            );
            why
        }
        other => panic!("expected a refusal ({because}), got {other:?}"),
    }
}

/// Offset of the body in a wire-form article.
pub fn body_start(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator")
        + 4
}

/// `raw` with the first body byte's ASCII case flipped.
pub fn with_body_byte_changed(raw: &[u8]) -> Vec<u8> {
    let mut out = raw.to_vec();
    let at = body_start(raw);
    assert!(out[at].is_ascii_alphabetic(), "body starts with a letter");
    out[at] ^= 0x20;
    out
}

/// `raw` with header `name` set to `value` (re-serialised).
pub fn with_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let mut a = Article::parse(raw, &Limits::default()).expect("parse");
    a.set_header(name, value);
    a.to_bytes()
}

pub fn write_file(node: &Node, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = node.home().parent().expect("tempdir").join(name);
    std::fs::write(&path, bytes).expect("write file");
    path
}

/// Lines `read` prints for the groups: (name, count).
pub fn group_counts(node: &Node) -> Vec<(String, i64)> {
    node.cli(&["read"])
        .success()
        .stdout_text()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "group line {l:?}");
            assert_eq!(f[2], "articles", "group line {l:?}");
            (f[0].to_string(), f[1].parse().expect("count"))
        })
        .collect()
}
