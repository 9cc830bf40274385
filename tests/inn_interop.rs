//! Interoperability with INN 2.7, the reference news server: a newsmesh node feeds INN
//! (MODE STREAM), INN feeds another node with its own feeder, innxmit (streaming, and
//! IHAVE with -s), and every article still verifies after INN's header handling (Path,
//! Xref). Needs innd listening on 127.0.0.1:119 with the group mesh.test (`.ci/run` sets
//! it up with `shared/tools/inn-setup.sh`); without it each test says it is skipped.
//! The man page's PEERING WITH INN lines are applied to INN as written (names and
//! addresses made local) and must pass `inncheck` and carry articles both ways.

mod common;

use std::process::Command;

use common::*;

const INN_BIN: &str = "/usr/lib/news/bin";
/// INN's Path identity as `inn-setup.sh` configures it.
const INN_PATH: &str = "inn.localdomain";

/// INN is one server for the whole machine, and some tests here reconfigure it (its
/// newsfeeds, nntpsend.ctl) and reload it: the tests of this file take turns, and so do
/// two runs of them at once (two checkouts tested on one machine), through an flock on
/// a file in the temp directory. Without that, two runs sent each other's outgoing/alpha
/// batches to the wrong node and one waited in vain ("alpha never got bravo's article").
fn inn_lock() -> InnTurn {
    static INN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let process = INN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = std::env::temp_dir().join("newsmesh-inn-tests.lock");
    let host = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    host.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    InnTurn {
        _host: host,
        _process: process,
    }
}

/// This test's turn on INN; it ends when dropped (declared first in a test, it is
/// dropped last, after INN's files are restored).
struct InnTurn {
    _host: std::fs::File,
    _process: std::sync::MutexGuard<'static, ()>,
}

fn inn_running() -> bool {
    let up = std::path::Path::new(INN_BIN).join("innxmit").exists()
        && std::net::TcpStream::connect(("127.0.0.1", 119)).is_ok();
    if !up {
        eprintln!("SKIPPED: INN is not running on 127.0.0.1:119 (run shared/tools/inn-setup.sh)");
    }
    up
}

/// INN's storage token for a Message-ID (grephistory), once INN has it.
fn inn_token(id: &str) -> Option<String> {
    let out = Command::new(format!("{INN_BIN}/grephistory"))
        .arg(id)
        .output()
        .ok()?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && token.starts_with('@')).then_some(token)
}

/// Feeds `ids` from INN to `port` with innxmit (`extra` flags, e.g. -s for IHAVE).
fn innxmit(ids: &[String], port: u16, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = dir.path().join("batch");
    let lines: String = ids
        .iter()
        .map(|id| format!("{} {id}\n", inn_token(id).expect("INN stored the article")))
        .collect();
    std::fs::write(&batch, lines).expect("batch");
    let out = Command::new(format!("{INN_BIN}/innxmit"))
        .args(["-d", "-P", &port.to_string()])
        .args(extra)
        .arg("127.0.0.1")
        .arg(&batch)
        .output()
        .expect("innxmit");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// alpha feeds INN; INN feeds bravo with innxmit; bravo verifies every signature.
fn relay_through_inn(extra: &[&str], streaming: bool) {
    let alpha = Node::init("alpha");
    let mut bravo = Node::init("bravo");
    alpha.add_nntp_peer(INN_PATH, Some("127.0.0.1:119"), &[], "mesh.*");
    bravo.add_nntp_peer(INN_PATH, None, &["127.0.0.1"], "*");
    let ids = vec![
        alpha.post(GROUP, "via INN 1", "plain body\n"),
        alpha.post(
            GROUP,
            "via INN 2",
            ".starts with a dot\n..two dots\n.\nend\n",
        ),
        alpha.post(GROUP, "via INN 3", "trailing blank lines\n\n\n"),
    ];
    let run = alpha.sync();
    run.assert_ok();
    assert_eq!(run.peer(INN_PATH).moved(), (3, 0, 0), "{run:#?}");
    // A second sync offers nothing new.
    assert_eq!(alpha.sync().peer(INN_PATH).moved(), (0, 0, 0));

    bravo.start();
    let log = innxmit(&ids, bravo.addr.port(), extra);
    let expected = if streaming { "TAKETHIS" } else { "IHAVE" };
    assert!(
        log.contains(expected),
        "innxmit did not use {expected}:\n{log}"
    );
    for id in &ids {
        let shown = bravo
            .read_id(id)
            .unwrap_or_else(|| panic!("bravo lacks {id}; innxmit said:\n{log}"));
        assert!(shown.contains("signature valid"), "{shown}");
        assert!(
            shown.contains(&format!("Path: bravo!{INN_PATH}!alpha!not-for-mail")),
            "{shown}"
        );
        assert!(!shown.contains("Xref:"), "INN's Xref is not kept: {shown}");
    }
    let dotted = bravo.read_id(&ids[1]).unwrap_or_default();
    assert!(
        dotted.ends_with("\n.starts with a dot\n..two dots\n.\nend\n"),
        "{dotted}"
    );
    // Offered again, INN's articles are duplicates now.
    let again = innxmit(&ids, bravo.addr.port(), extra);
    assert!(
        !again.contains(" 239 ") && !again.contains("235 "),
        "{again}"
    );
    assert_eq!(bravo.article_count(), 3);
}

#[test]
fn inn_relays_signed_articles_with_streaming() {
    let _inn = inn_lock();
    if inn_running() {
        relay_through_inn(&[], true);
    }
}

#[test]
fn inn_relays_signed_articles_with_ihave() {
    let _inn = inn_lock();
    if inn_running() {
        relay_through_inn(&["-s"], false);
    }
}

#[test]
fn a_host_not_listed_may_not_feed() {
    let _inn = inn_lock();
    if !inn_running() {
        return;
    }
    let alpha = Node::init("alpha");
    let mut bravo = Node::init("bravo");
    alpha.add_nntp_peer(INN_PATH, Some("127.0.0.1:119"), &[], "*");
    let id = alpha.post(GROUP, "not for bravo", "bravo lists no nntp_peer\n");
    alpha.sync().assert_ok();
    bravo.start();
    let log = innxmit(std::slice::from_ref(&id), bravo.addr.port(), &[]);
    assert!(log.contains("480"), "{log}");
    assert!(!bravo.has(&id));
}

/// Sneakernet both ways with INN's own tools: a batch from `newsmesh export` is read by
/// INN's `rnews` into INN, and INN's `rnews` feeds the same batch to a node (IHAVE).
#[test]
fn rnews_batches_are_inn_compatible() {
    let _inn = inn_lock();
    if !inn_running() {
        return;
    }
    let alpha = Node::init("alpha");
    let mut bravo = Node::init("bravo");
    bravo.add_nntp_peer("rnews", None, &["127.0.0.1"], "*");
    let ids = vec![
        alpha.post(GROUP, "rnews 1", "by sneakernet\n"),
        alpha.post(GROUP, "rnews 2", ".dotted\n..twice\n"),
    ];
    // Not in the node home: that is private (0700), and INN's rnews runs as `news`.
    let shared = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        shared.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let batch = shared.path().join("batch");
    let out = alpha
        .cli(&["export", "--file", batch.to_str().unwrap()])
        .ok();
    assert!(out.stderr_text().contains("exported=2"), "{out:?}");
    // On stdin: the batch is private (0600, as `export` writes it) and INN's rnews
    // runs as `news`, so it is handed over open, as `rnews < batch` would.
    let into_inn = Command::new("rnews")
        .args(["-r", "127.0.0.1"])
        .stdin(std::fs::File::open(&batch).expect("open the batch"))
        .output()
        .expect("rnews");
    assert!(into_inn.status.success(), "{into_inn:?}");
    for id in &ids {
        assert!(
            inn_token(id).is_some(),
            "INN did not take {id} from the batch"
        );
    }
    bravo.start();
    let into_node = Command::new("rnews")
        .args(["-r", "127.0.0.1", "-P", &bravo.addr.port().to_string()])
        .stdin(std::fs::File::open(&batch).expect("open the batch"))
        .output()
        .expect("rnews");
    assert!(into_node.status.success(), "{into_node:?}");
    for id in &ids {
        let shown = bravo
            .read_id(id)
            .unwrap_or_else(|| panic!("bravo lacks {id}: {into_node:?}"));
        assert!(shown.contains("signature valid"), "{shown}");
    }
}

// ------------------------------------------------- the man page's INN setup, as written

/// The `.nf` ... `.fi` blocks of the man page's PEERING WITH INN section, unescaped.
fn man_inn_blocks() -> Vec<String> {
    let roff = include_str!("../src/cli/man_sections.roff");
    let section = roff
        .split(".SH PEERING WITH INN\n")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .expect("the man page has a PEERING WITH INN section");
    section
        .split("\n.nf\n")
        .skip(1)
        .filter_map(|b| b.split("\n.fi").next())
        .map(|b| b.replace("\\-", "-"))
        .collect()
}

/// The man page block that starts with `start` (the test fails when the page lacks it),
/// with the example's names and addresses replaced by this machine's.
fn man_block(start: &str, node_port: u16) -> String {
    let block = man_inn_blocks()
        .into_iter()
        .find(|b| b.starts_with(start))
        .unwrap_or_else(|| panic!("no man page block starts with {start:?}"));
    block
        .replace("1119", &node_port.to_string())
        .replace("192.0.2.1", "127.0.0.1")
        .replace("192.0.2.9", "127.0.0.1")
        .replace("news.example.org", INN_PATH)
}

/// Runs a `newsmesh peer add ...` line from the man page on `node`.
fn run_man_command(node: &Node, line: &str) {
    let words: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    node.cli(&args).ok();
}

/// An INN configuration file changed for one test, restored (and reloaded) afterwards.
struct InnFile {
    path: std::path::PathBuf,
    original: String,
    reload: Option<&'static str>,
}

impl InnFile {
    /// Appends `text` to `/etc/news/NAME` (dropping lines of an earlier run that start
    /// with `stale`), then reloads it in innd when it is reloadable.
    fn append(name: &str, stale: &str, text: &str, reload: Option<&'static str>) -> InnFile {
        let path = std::path::Path::new("/etc/news").join(name);
        let original = std::fs::read_to_string(&path).expect("INN config file");
        let kept: String = original
            .lines()
            .filter(|l| stale.is_empty() || !l.starts_with(stale))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, format!("{kept}{text}\n")).expect("write INN config");
        let file = InnFile {
            path,
            original,
            reload,
        };
        file.reload();
        file
    }

    fn reload(&self) {
        if let Some(what) = self.reload {
            let out = Command::new(format!("{INN_BIN}/ctlinnd"))
                .args(["-t", "20", "reload", what, "newsmesh test"])
                .output()
                .expect("ctlinnd");
            assert!(out.status.success(), "ctlinnd reload {what}: {out:?}");
        }
    }
}

impl Drop for InnFile {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.original);
        self.reload();
    }
}

/// What `inncheck` says about INN's files (with `files` as `name=path` overrides).
fn inncheck(files: &[String]) -> String {
    let out = Command::new(format!("{INN_BIN}/inncheck"))
        .args(files)
        .output()
        .expect("inncheck runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The man page's lines, as written: bravo feeds INN (`peer add --nntp --address`), INN
/// feeds alpha through nntpsend (newsfeeds, nntpsend.ctl) and never sends alpha's own
/// article back; the incoming.conf and innfeed variants pass `inncheck`.
#[test]
fn the_man_pages_inn_lines_work() {
    let _inn = inn_lock();
    if !inn_running() {
        return;
    }
    let mut alpha = Node::init("alpha");
    let bravo = Node::init("bravo");
    let port = alpha.addr.port();
    let feed_inn = man_block("newsmesh peer add", port);
    run_man_command(&bravo, &feed_inn);
    let both_ways = man_inn_blocks()
        .into_iter()
        .filter(|b| b.starts_with("newsmesh peer add"))
        .nth(1)
        .expect("a second peer add line (both directions)");
    let both_ways = both_ways
        .replace("192.0.2.9", "127.0.0.1")
        .replace("news.example.org", INN_PATH);
    assert!(both_ways.contains("--hosts"), "{both_ways}");
    run_man_command(&alpha, &both_ways);
    let listed = alpha.cli(&["peer", "list"]).ok().stdout_text();
    assert!(
        listed.contains(&format!(
            "{INN_PATH} 127.0.0.1:119 mesh.* nntp hosts=127.0.0.1"
        )),
        "{listed}"
    );

    // INN's side, as the page writes it.
    let newsfeeds = man_block("alpha/alpha:", port);
    let nntpsend = man_block("alpha:", port);
    let incoming = man_block("peer alpha {\n    hostname:", port);
    let innfeed_feeds = man_block("innfeed!:", port);
    let innfeed_conf = man_block("peer alpha {\n    ip-name:", port);
    // inncheck (and innfeed's own check) on copies holding each variant.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = |name: &str, variant: &str, extra: &str| {
        let original = std::fs::read_to_string(format!("/etc/news/{name}")).unwrap_or_default();
        let path = dir.path().join(format!("{variant}-{name}"));
        std::fs::write(&path, format!("{original}\n{extra}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::Permissions::from_mode(0o640);
            std::fs::set_permissions(&path, mode).unwrap();
        }
        format!("{name}={}", path.display())
    };
    for files in [
        vec![
            copy("newsfeeds", "nntpsend", &newsfeeds),
            copy("nntpsend.ctl", "nntpsend", &nntpsend),
            copy("incoming.conf", "nntpsend", &incoming),
        ],
        vec![
            copy("newsfeeds", "innfeed", &innfeed_feeds),
            copy("innfeed.conf", "innfeed", &innfeed_conf),
        ],
    ] {
        let checked = inncheck(&files);
        assert!(
            !checked.contains(&dir.path().display().to_string()),
            "inncheck complains about the man page's lines:\n{checked}"
        );
    }
    let innfeed = Command::new(format!("{INN_BIN}/innfeed"))
        .args(["-C", "-c"])
        .arg(dir.path().join("innfeed-innfeed.conf"))
        .output()
        .expect("innfeed -C");
    assert!(innfeed.status.success(), "{innfeed:?}");

    // Applied for real: the newsfeeds entry and nntpsend.ctl line carry bravo's article
    // to alpha. (incoming.conf is left alone: on one host ME already lets the nodes feed.)
    let _feeds = InnFile::append("newsfeeds", "alpha/alpha:", &newsfeeds, Some("newsfeeds"));
    let _send = InnFile::append("nntpsend.ctl", "alpha:", &nntpsend, None);
    alpha.start();
    let from_bravo = bravo.post(GROUP, "man page: bravo to INN to alpha", "via nntpsend\n");
    let from_alpha = alpha.post(GROUP, "man page: alpha's own", "not sent back\n");
    assert_eq!(bravo.sync().peer(INN_PATH).moved(), (1, 0, 0));
    assert_eq!(alpha.sync().peer(INN_PATH).moved(), (1, 0, 0));

    let flush = Command::new(format!("{INN_BIN}/ctlinnd"))
        .args(["-t", "20", "flush", "alpha"])
        .output()
        .expect("ctlinnd flush");
    assert!(flush.status.success(), "{flush:?}");
    let batch = std::fs::read_to_string("/var/spool/news/outgoing/alpha").unwrap_or_default();
    assert!(batch.contains(&from_bravo), "INN queued {batch:?}");
    assert!(
        !batch.contains(&from_alpha),
        "/alpha must keep alpha's own article: {batch:?}"
    );
    let sent = Command::new("su")
        .args(["news", "-s", "/bin/sh", "-c"])
        .arg(format!("{INN_BIN}/nntpsend"))
        .output()
        .expect("nntpsend");
    assert!(sent.status.success(), "{sent:?}");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || alpha
            .has(&from_bravo)),
        "alpha never got bravo's article; nntpsend: {sent:?}\n{}",
        std::fs::read_to_string("/var/log/news/nntpsend.log").unwrap_or_default()
    );
    let shown = alpha.read_id(&from_bravo).unwrap_or_default();
    assert!(shown.contains("signature valid"), "{shown}");
    assert!(
        shown.contains(&format!("Path: alpha!{INN_PATH}!bravo!not-for-mail")),
        "{shown}"
    );
}
