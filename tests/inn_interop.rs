//! Interoperability with INN 2.7, the reference news server: a newsmesh node feeds INN
//! (MODE STREAM), INN feeds another node with its own feeder, innxmit (streaming, and
//! IHAVE with -s), and every article still verifies after INN's header handling (Path,
//! Xref). Needs innd listening on 127.0.0.1:119 with the group mesh.test (`.ci/run` sets
//! it up with `shared/tools/inn-setup.sh`); without it each test says it is skipped.

#[path = "common/mesh.rs"]
mod mesh;

use std::io::Write;
use std::process::Command;

use mesh::TestNode;

const INN_BIN: &str = "/usr/lib/news/bin";
/// INN's Path identity as `inn-setup.sh` configures it.
const INN_PATH: &str = "inn.localdomain";

fn inn_running() -> bool {
    let up = std::path::Path::new(INN_BIN).join("innxmit").exists()
        && std::net::TcpStream::connect(("127.0.0.1", 119)).is_ok();
    if !up {
        eprintln!("SKIPPED: INN is not running on 127.0.0.1:119 (run shared/tools/inn-setup.sh)");
    }
    up
}

fn append_config(node: &TestNode, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(node.home().join("newsmesh.toml"))
        .expect("config");
    file.write_all(text.as_bytes()).expect("append");
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
    let alpha = TestNode::new("alpha");
    let mut bravo = TestNode::new("bravo");
    append_config(
        &alpha,
        &format!("\n[[nntp_peer]]\nname = \"{INN_PATH}\"\naddress = \"127.0.0.1:119\"\ngroups = \"mesh.*\"\n"),
    );
    append_config(
        &bravo,
        &format!("\n[[nntp_peer]]\nname = \"{INN_PATH}\"\nhosts = [\"127.0.0.1\"]\n"),
    );
    let ids = vec![
        alpha.post("via INN 1", "plain body\n"),
        alpha.post("via INN 2", ".starts with a dot\n..two dots\n.\nend\n"),
        alpha.post("via INN 3", "trailing blank lines\n\n\n"),
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
    if inn_running() {
        relay_through_inn(&[], true);
    }
}

#[test]
fn inn_relays_signed_articles_with_ihave() {
    if inn_running() {
        relay_through_inn(&["-s"], false);
    }
}

#[test]
fn a_host_not_listed_may_not_feed() {
    if !inn_running() {
        return;
    }
    let alpha = TestNode::new("alpha");
    let mut bravo = TestNode::new("bravo");
    append_config(
        &alpha,
        &format!("\n[[nntp_peer]]\nname = \"{INN_PATH}\"\naddress = \"127.0.0.1:119\"\n"),
    );
    let id = alpha.post("not for bravo", "bravo lists no nntp_peer\n");
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
    if !inn_running() {
        return;
    }
    let alpha = TestNode::new("alpha");
    let mut bravo = TestNode::new("bravo");
    append_config(
        &bravo,
        "\n[[nntp_peer]]\nname = \"rnews\"\nhosts = [\"127.0.0.1\"]\n",
    );
    let ids = vec![
        alpha.post("rnews 1", "by sneakernet\n"),
        alpha.post("rnews 2", ".dotted\n..twice\n"),
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
        .run(&["export", "--file", batch.to_str().unwrap()])
        .ok();
    assert!(out.stderr.contains("exported=2"), "{out:?}");
    let into_inn = Command::new("rnews")
        .args(["-r", "127.0.0.1"])
        .arg(&batch)
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
        .arg(&batch)
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
