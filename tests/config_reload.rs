//! A running `serve` follows `newsmesh.toml` (issue 13, finding 1): a peer or user
//! added with the CLI works within seconds without a restart, a broken edit leaves the
//! node running on its previous configuration with the error logged, and SIGHUP
//! reloads a change the file watcher cannot see. Real `serve` and `sync` processes.

mod common;

use std::time::Duration;

use common::*;

/// Generous: the watcher looks every second; a loaded CI box may be slow.
const APPLIES: Duration = Duration::from_secs(15);

/// Whether `from`'s `sync` with `to` succeeds now.
fn syncs(from: &Node, to: &Node) -> bool {
    let run = from.sync_args(&["--peer", &to.name]);
    run.code == Some(0) && run.lines.first().is_some_and(|l| l.is_ok())
}

#[test]
fn a_peer_added_while_serving_syncs_without_a_restart() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    beta.add_peer(&alpha, true, false);
    alpha.start();
    assert!(!syncs(&beta, &alpha), "alpha does not know beta yet");

    let added = alpha.cli(&["peer", "add", "beta", &beta.node_key()]).ok();
    assert!(
        added.stdout_text().is_empty(),
        "stdout is for scripts: {}",
        added.stdout_text()
    );
    assert!(
        added.stderr_text().contains("applies it within"),
        "peer add says when it applies: {}",
        added.stderr_text()
    );
    let id = beta.post(GROUP, "reload", "carried without a restart\n");
    assert!(
        wait_until(APPLIES, || syncs(&beta, &alpha)),
        "beta's sync still refused after {APPLIES:?}:\n{}",
        alpha.serve_logs()
    );
    assert!(alpha.has(&id));
    assert!(alpha.serve_logs().contains("config reloaded"));
    // Over TLS: alpha's handshake pinned beta's key from the reloaded config.
    let run = beta.sync_args(&["--peer", "alpha"]);
    assert_eq!(
        run.lines
            .first()
            .and_then(|l| l.fields.get("tls"))
            .map(String::as_str),
        Some("yes"),
        "{run:#?}"
    );
    alpha.stop();
}

#[test]
fn a_user_added_while_serving_logs_in() {
    let mut alpha = Node::init("alpha");
    alpha.start();
    let added = alpha
        .cli_stdin(&["user", "add", "ann"], b"open sesame\n")
        .ok();
    assert_eq!(
        added.stdout_text().lines().count(),
        1,
        "only the author key: {}",
        added.stdout_text()
    );
    assert!(
        added.stderr_text().contains("applies it within"),
        "{}",
        added.stderr_text()
    );
    let logs_in = || {
        let mut reader = RawPeer::connect(&alpha);
        RawPeer::code(&reader.cmd("AUTHINFO USER ann")) == 381
            && RawPeer::code(&reader.cmd("AUTHINFO PASS open sesame")) == 281
    };
    assert!(
        wait_until(APPLIES, logs_in),
        "ann cannot log in after {APPLIES:?}:\n{}",
        alpha.serve_logs()
    );
    alpha.stop();
}

#[test]
fn a_broken_edit_keeps_the_running_config_and_is_logged() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    common::link(&alpha, &beta, Link::BothDial);
    alpha.start();
    assert!(syncs(&beta, &alpha));

    let path = alpha.config_path();
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{good}\n[limits\nmax_connections = 1\n")).unwrap();
    assert!(
        wait_until(APPLIES, || alpha
            .serve_logs()
            .contains("config not reloaded")),
        "no error logged:\n{}",
        alpha.serve_logs()
    );
    let logs = alpha.serve_logs();
    let error = logs
        .lines()
        .find(|l| l.contains("config not reloaded"))
        .unwrap_or_default();
    assert!(
        error.contains("line") && error.contains("column"),
        "the error names line and column: {error}"
    );
    // Still serving, on the old configuration: beta is still a peer.
    assert!(syncs(&beta, &alpha), "{}", alpha.serve_logs());

    // Well-formed TOML that does not validate (a malformed key) is refused the same way,
    // and located too.
    let key = format!("key = \"{}\"", beta.node_key());
    assert!(good.contains(&key), "{good}");
    let bad_key = good.replace(&key, "key = \"not-a-key\"");
    std::fs::write(&path, &bad_key).unwrap();
    let line = bad_key[..bad_key.find("not-a-key").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert!(
        wait_until(APPLIES, || alpha.serve_logs().lines().any(|l| {
            l.contains("config not reloaded") && l.contains(&format!("line {line}, column"))
        })),
        "the malformed key is not reported at line {line}:\n{}",
        alpha.serve_logs()
    );
    assert!(syncs(&beta, &alpha), "{}", alpha.serve_logs());

    // Mended (with a peer removed), it applies.
    std::fs::write(&path, &good).unwrap();
    alpha.cli(&["peer", "remove", "beta"]).ok();
    assert!(
        wait_until(APPLIES, || !syncs(&beta, &alpha)),
        "the mended file was not applied:\n{}",
        alpha.serve_logs()
    );
    alpha.stop();
}

#[test]
fn sighup_reloads_a_change_the_watcher_cannot_see() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    beta.add_peer(&alpha, true, false);
    // alpha lists beta under a wrong key of the same length...
    let stranger = Node::init("gamma");
    let (wrong, right) = (stranger.node_key(), beta.node_key());
    assert_eq!(wrong.len(), right.len());
    alpha.cli(&["peer", "add", "beta", &wrong]).ok();
    alpha.start();
    assert!(!syncs(&beta, &alpha));

    // ...then the key is corrected in place, size and time stamp kept (as `cp -p` or
    // `rsync -t` would leave them): the watcher sees nothing, SIGHUP applies it.
    let path = alpha.config_path();
    let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&wrong, &right);
    std::fs::write(&path, text).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(stamp).unwrap();
    drop(file);
    alpha.reload();
    assert!(
        wait_until(APPLIES, || syncs(&beta, &alpha)),
        "SIGHUP did not reload:\n{}",
        alpha.serve_logs()
    );
    assert!(alpha.serve_logs().contains("SIGHUP"));
    alpha.stop();
}

#[test]
fn a_peer_removed_while_connected_is_disconnected_at_its_next_command() {
    let mut alpha = Node::init("alpha");
    let beta = Node::init("beta");
    alpha.add_peer(&beta, false, false);
    alpha.start();
    let mut session = RawPeer::connect(&alpha);
    session.authenticate(&beta.signing_key());
    assert_eq!(RawPeer::code(&session.cmd("DATE")), 111);

    alpha.cli(&["peer", "remove", "beta"]).ok();
    assert!(
        wait_until(APPLIES, || alpha.serve_logs().contains("config reloaded")),
        "{}",
        alpha.serve_logs()
    );
    let answer = session.cmd("DATE");
    assert!(
        answer.starts_with("400 ") && answer.contains("no longer configured"),
        "{answer}"
    );
    alpha.stop();
}

#[test]
fn new_connection_limits_apply_without_a_restart() {
    use std::io::BufRead;
    let mut alpha = Node::init("alpha");
    alpha.start();
    let source = std::net::IpAddr::from([127, 0, 0, 7]);
    let _held = [
        RawPeer::connect_from(alpha.addr, source),
        RawPeer::connect_from(alpha.addr, source),
    ];
    let greeting = || {
        let stream = common::connect_from(source, alpha.addr);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut line = String::new();
        let _ = std::io::BufReader::new(stream).read_line(&mut line);
        line
    };
    assert!(greeting().starts_with("20"), "the default admits a third");

    alpha.set_limit("max_unauthenticated_per_address", "2");
    assert!(
        wait_until(APPLIES, || greeting().starts_with("400 ")),
        "a third unauthenticated connection is still admitted:\n{}",
        alpha.serve_logs()
    );
    alpha.stop();
}

#[test]
fn the_article_log_follows_a_reload() {
    let mut alpha = Node::init("alpha");
    alpha.start();
    let log = alpha.home().join("news.log");
    let lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let post = |subject: &str| {
        let mut reader = RawPeer::connect(&alpha);
        assert!(reader.cmd("POST").starts_with("340"));
        reader.send(
            format!(
                "From: ann@example.org\r\nNewsgroups: mesh.test\r\nSubject: {subject}\r\n\r\nbody\r\n.\r\n"
            )
            .as_bytes(),
        );
        let answer = reader.line();
        assert!(answer.starts_with("240"), "{answer}");
    };
    post("logged");
    assert_eq!(lines(), 1, "the default logs the POST");

    // news_log_bytes = 0 turns the log off, in the running serve.
    alpha.set_limit("news_log_bytes", "0");
    assert!(
        wait_until(APPLIES, || alpha.serve_logs().contains("config reloaded")),
        "{}",
        alpha.serve_logs()
    );
    post("not logged");
    assert_eq!(lines(), 1, "{}", std::fs::read_to_string(&log).unwrap());
    alpha.stop();
}
