//! The node home and the command line: `init`, keys, `NEWSMESH_HOME`, and clear errors
//! for a missing home, a corrupt config, a garbage key file and bad usage.

mod common;

use common::*;
use newsmesh::sign;

#[test]
fn a_missing_home_is_a_clear_error() {
    let ghost = Node::uninit("ghost");
    let home = ghost.home().display().to_string();
    for args in [
        vec!["read"],
        vec!["read", "mesh.test"],
        vec!["key"],
        vec!["key", "--node"],
        vec!["peer", "list"],
        vec!["groups"],
    ] {
        ghost
            .cli(&args)
            .failure()
            .stdout_empty()
            .stderr_has("no newsmesh node at")
            .stderr_has(&home)
            .stderr_has("newsmesh init");
    }
    ghost
        .cli_stdin(&["post", "-g", "mesh.test", "-s", "x"], b"body\n")
        .failure()
        .stderr_has("no newsmesh node at");
    assert!(!ghost.home().exists(), "a failed command created the home");
}

#[test]
fn a_corrupt_config_is_reported_with_line_and_column() {
    let alpha = Node::init("alpha");
    let lines = alpha.config_text().lines().count();
    alpha.append_config("[node\n");
    let run = alpha.cli(&["read"]);
    run.failure()
        .stderr_has("newsmesh.toml")
        .stderr_has(&format!("line {}", lines + 1))
        .stderr_has("column");
    assert_eq!(run.stderr_text().lines().count(), 1, "one line on stderr");

    // A well-formed file with a wrong type: the line of the bad value.
    let beta = Node::init("beta");
    let text = beta.config_text();
    let listen_line = text
        .lines()
        .position(|l| l.starts_with("listen ="))
        .expect("listen line")
        + 1;
    // (Written by hand: config::edit refuses to write a file that does not load.)
    let broken = text.replacen(&format!("listen = \"{}\"", beta.addr), "listen = 1119", 1);
    assert_ne!(broken, text);
    std::fs::write(beta.config_path(), broken).unwrap();
    beta.cli_stdin(&["post", "-g", "mesh.test", "-s", "x"], b"x\n")
        .failure()
        .stderr_has(&format!("line {listen_line}"))
        .stderr_has("column");
}

#[test]
fn a_garbage_key_file_is_a_clear_error_naming_the_file() {
    let alpha = Node::init("alpha");
    let author = alpha.path("authors/default.key");
    std::fs::write(&author, "this is not a key\n").unwrap();
    let named = author.display().to_string();
    alpha
        .cli_stdin(&["post", "-g", "mesh.test", "-s", "x"], b"x\n")
        .failure()
        .stdout_empty()
        .stderr_has(&named)
        .stderr_has("not an ed25519 secret key");
    alpha
        .cli(&["key"])
        .failure()
        .stdout_empty()
        .stderr_has(&named);
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);

    let node_key = alpha.path("node.key");
    std::fs::write(&node_key, b"\xff\xfe garbage").unwrap();
    alpha
        .cli(&["key", "--node"])
        .failure()
        .stderr_has(&node_key.display().to_string());

    std::fs::remove_file(&author).unwrap();
    alpha.cli(&["key"]).failure().stderr_has(&named);
}

#[test]
fn init_twice_fails_without_destroying_anything() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test", "Keep me", b"precious\n");
    let files = ["newsmesh.toml", "node.key", "authors/default.key"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(alpha.path(f)).unwrap())
        .collect();
    let keys = (alpha.author_key(), alpha.node_key());

    for args in [
        vec!["init", "--name", "alpha"],
        vec!["init", "--name", "other"],
        vec!["init"],
    ] {
        alpha
            .cli(&args)
            .failure()
            .stderr_has("already holds a newsmesh node");
    }
    for (f, bytes) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(alpha.path(f)).unwrap(), bytes, "{f} changed");
    }
    assert_eq!((alpha.author_key(), alpha.node_key()), keys);
    alpha
        .cli(&["read", &id])
        .success()
        .stdout_has("signature valid");
}

#[test]
fn usage_errors_exit_2() {
    let alpha = Node::init("alpha");
    alpha.cli(&["post", "-s", "no group"]).code(2);
    alpha.cli(&["no-such-command"]).code(2);
    alpha.cli(&["read", "mesh.test", "not-a-number"]).code(2);
}

#[test]
fn key_prints_one_line_and_node_key_differs() {
    let alpha = Node::init("alpha");
    let author = alpha.cli(&["key"]);
    let author_line = author.success().stdout_line();
    assert!(is_public_key_text(&author_line), "{author_line:?}");
    assert_eq!(author.stdout, format!("{author_line}\n").into_bytes());

    let node = alpha.cli(&["key", "--node"]);
    let node_line = node.success().stdout_line();
    assert!(is_public_key_text(&node_line), "{node_line:?}");
    assert_ne!(author_line, node_line);

    // Stable, parseable, and per node.
    assert_eq!(alpha.author_key(), author_line);
    assert!(sign::parse_public_key(&author_line).is_ok());
    let beta = Node::init("beta");
    assert_ne!(beta.author_key(), author_line);
    assert_ne!(beta.node_key(), node_line);
}

#[test]
fn newsmesh_home_env_selects_the_node() {
    let alpha = Node::init("alpha");
    let run = common::cmd_without_home(&["key"], &[("NEWSMESH_HOME", alpha.home().as_os_str())]);
    assert_eq!(run.success().stdout_line(), alpha.author_key());
}
