//! The operator's experience (issue 20): what a new operator meets following the docs
//! literally. One test (or a few) per numbered finding.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::*;

/// A finished command with its output as text (what these tests look at).
#[derive(Debug, Clone)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Panics with everything unless the exit code is 0.
    #[track_caller]
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }
}

/// The binary run on a node, its output as text.
trait Cli {
    fn run(&self, args: &[&str]) -> Out;
    fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Out;
}

impl Cli for Node {
    fn run(&self, args: &[&str]) -> Out {
        text(self.cli(args))
    }
    fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        text(self.cli_stdin(args, stdin))
    }
}

fn text(run: Run) -> Out {
    Out {
        code: run.code.unwrap_or(-1),
        stdout: run.stdout_text(),
        stderr: run.stderr_text(),
    }
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Finding 1: a second `serve` of a node is refused, whatever its `listen` says, and the
/// refusal names the process that serves it.
#[test]
fn a_second_serve_of_a_node_is_refused_naming_the_first() {
    let mut node = Node::init("solo");
    node.start();
    let pid = node.serve_pid();
    // Same port: not "Address already in use" but who serves the node.
    let same = node.run(&["serve"]);
    assert_eq!(same.code, 1, "{same:#?}");
    assert!(
        same.stderr
            .contains(&format!("already served by pid {pid}")),
        "{same:#?}"
    );
    // Another port: refused all the same (two serves on one spool would relay twice).
    let other = format!("127.0.0.1:{}", free_port());
    node.set_config("listen", &format!("{other:?}"));
    let moved = node.run(&["serve"]);
    assert_eq!(moved.code, 1, "{moved:#?}");
    assert!(
        moved
            .stderr
            .contains(&format!("already served by pid {pid}")),
        "{moved:#?}"
    );
    assert!(
        std::net::TcpStream::connect(&other).is_err(),
        "the refused serve listened on {other}"
    );
    node.stop();
}

/// Runs `newsmesh ARGS` with its stdout a pipe whose reading end is closed at once (what
/// `| head -c1` does once it has its byte); returns its exit status and stderr.
fn with_closed_stdout(node: &Node, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = node
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap(), stderr)
}

/// Finding 2: every command that prints ends quietly on a closed pipe, as Unix tools do
/// (killed by SIGPIPE, or exit 0), never a panic (exit 101).
#[test]
fn printing_commands_end_quietly_on_a_closed_pipe() {
    use std::os::unix::process::ExitStatusExt;
    let a = Node::init("a");
    let b = Node::init("b");
    link(&a, &b, Link::BothDial);
    a.post("mesh.test", "piped", "a body\n");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["peer", "list"],
        &["groups"],
        &["read", "mesh.test"],
        &["key", "--node"],
        &["user", "list"],
        &["export"],
        &["sync"],
    ] {
        let (status, stderr) = with_closed_stdout(&a, args);
        let quiet = status.code() == Some(0) || status.signal() == Some(libc::SIGPIPE);
        assert!(
            quiet && !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?} on a closed pipe: {status:?}, stderr {stderr:?}"
        );
    }
}

/// Finding 6: `sync` on a missing home says what every other command says.
#[test]
fn sync_on_a_missing_home_says_there_is_no_node() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothere");
    let out = Command::new(BIN)
        .arg("--home")
        .arg(&missing)
        .arg("sync")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no newsmesh node at") && stderr.contains("newsmesh init"),
        "{stderr}"
    );
    assert!(!missing.exists(), "sync created {}", missing.display());
}

/// Finding 4: `post --supersedes` of another author's article, or of an id this node has
/// not got, fails clearly (no node would honour it) and posts nothing; its own works.
#[test]
fn post_supersedes_only_its_own_authors_article() {
    let node = Node::init("solo");
    let old = node.post("mesh.test", "original", "first version\n");
    node.run(&["key", "--author", "bob", "--generate"]).ok();
    let before = node.article_count();
    let post = |args: &[&str]| {
        let mut all = vec!["post", "-g", "mesh.test", "-s", "second"];
        all.extend_from_slice(args);
        node.run_with_stdin(&all, b"second version\n")
    };
    let stranger = post(&["--supersedes", &old, "--author", "bob"]);
    assert_eq!(stranger.code, 1, "{stranger:#?}");
    assert!(
        stranger.stderr.contains("only its author can supersede it"),
        "{stranger:#?}"
    );
    let unknown = post(&["--supersedes", "<nothere@newsmesh>"]);
    assert_eq!(unknown.code, 1, "{unknown:#?}");
    assert!(
        unknown
            .stderr
            .contains("no article <nothere@newsmesh> on this node"),
        "{unknown:#?}"
    );
    assert_eq!(
        node.article_count(),
        before,
        "a refused post stored something"
    );
    let new = post(&["--supersedes", &old]).ok().stdout.trim().to_string();
    assert!(node.has(&new) && !node.has(&old));
}

/// Finding 5: `peer add` refuses a key another peer has, the node's own key and an
/// empty or spaced `--groups`, changing nothing; a neighbour that calls itself by
/// another name gets a warning at sync.
#[test]
fn peer_add_refuses_keys_and_groups_it_cannot_use() {
    let a = Node::init("a");
    let b = Node::init("b");
    link(&a, &b, Link::BothDial);
    let before = std::fs::read_to_string(a.config_path()).unwrap();
    let refused = |args: &[&str], says: &str| {
        let run = a.run(args);
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        assert!(run.stderr.contains(says), "{args:?}: {run:#?}");
    };
    let b_key = b.node_key();
    let own = a.node_key();
    refused(
        &["peer", "add", "b2", &b_key],
        "peer b already has this key",
    );
    refused(&["peer", "add", "me", &own], "this node's own key");
    refused(
        &[
            "peer",
            "add",
            "c",
            &Node::init("c").node_key(),
            "--groups",
            "",
        ],
        "--groups",
    );
    refused(
        &[
            "peer",
            "add",
            "c",
            &Node::init("c").node_key(),
            "--groups",
            "mesh.* local.*",
        ],
        "without spaces",
    );
    assert_eq!(std::fs::read_to_string(a.config_path()).unwrap(), before);
    assert!(a.run(&["peer", "list"]).ok().stdout.lines().count() == 1);

    // A neighbour added under another name than its own: the sync works and warns.
    let mut c = Node::init("gamma");
    a.run(&[
        "peer",
        "add",
        "c",
        &c.node_key(),
        "--address",
        &c.addr.to_string(),
    ])
    .ok();
    c.run(&["peer", "add", "a", &a.node_key()]).ok();
    c.start();
    let sync = a.run(&["sync", "--peer", "c"]);
    assert_eq!(sync.code, 0, "{sync:#?}");
    assert!(
        sync.stderr.contains("peer c calls itself \"gamma\""),
        "{sync:#?}"
    );
    c.stop();
}

/// Also expected: `peer edit NAME` changes one neighbour in place (comments kept), with
/// the checks of `peer add`.
#[test]
fn peer_edit_changes_a_neighbour_in_place() {
    let a = Node::init("a");
    let b = Node::init("b");
    a.run(&["peer", "add", "b", &b.node_key()]).ok();
    a.run(&["peer", "add", "inn", "--nntp", "--hosts", "192.0.2.1"])
        .ok();
    a.append_config("# a note the operator keeps\n");
    a.run(&[
        "peer",
        "edit",
        "b",
        "--address",
        &b.addr.to_string(),
        "--groups",
        "mesh.*",
        "--live",
        "false",
    ])
    .ok();
    a.run(&[
        "peer",
        "edit",
        "inn",
        "--hosts",
        "192.0.2.1,192.0.2.2",
        "--name",
        "inn.example",
    ])
    .ok();
    let list = a.run(&["peer", "list"]).ok().stdout;
    assert_eq!(
        list,
        format!(
            "b {} mesh.* {}\ninn.example passive * nntp hosts=192.0.2.1,192.0.2.2\n",
            b.addr,
            b.node_key()
        )
    );
    let text = std::fs::read_to_string(a.config_path()).unwrap();
    assert!(text.contains("# a note the operator keeps") && text.contains("live = false"));
    // The checks of `peer add`, and nothing changes.
    for (args, says) in [
        (
            &["peer", "edit", "b", "--groups", "a b"][..],
            "without spaces",
        ),
        (&["peer", "edit", "b", "--key", &a.node_key()], "own key"),
        (&["peer", "edit", "nobody", "--passive"], "no peer named"),
        (&["peer", "edit", "b"], "nothing to change"),
        (
            &["peer", "edit", "b", "--hosts", "192.0.2.9"],
            "--hosts is for",
        ),
    ] {
        let run = a.run(args);
        assert!(
            run.code == 1 && run.stderr.contains(says),
            "{args:?}: {run:#?}"
        );
    }
    assert_eq!(std::fs::read_to_string(a.config_path()).unwrap(), text);
    a.run(&["peer", "edit", "b", "--passive"]).ok();
    assert!(a
        .run(&["peer", "list"])
        .ok()
        .stdout
        .starts_with("b passive mesh.* "));
}

/// Finding 7: control messages live in internal `control.*` pseudo-groups that neither
/// `groups`, `read` nor LIST ACTIVE show; `post`'s list of groups is `groups`'s.
#[test]
fn control_pseudo_groups_are_never_listed() {
    let mut node = Node::init("solo");
    let key = node.run(&["key"]).ok().stdout.trim().to_string();
    node.add_control("mesh.*", &[&key]);
    node.run(&["newgroup", "mesh.new"]).ok();
    let id = node.post("mesh.test", "doomed", "to be cancelled\n");
    node.run(&["cancel", &id]).ok();
    assert!(
        node.db()
            .query_row(
                "SELECT count(*) FROM groups WHERE name LIKE 'control.%'",
                [],
                |r| r.get::<_, i64>(0)
            )
            .unwrap()
            >= 2
    );
    let groups = node.run(&["groups"]).ok().stdout;
    let names: Vec<&str> = groups.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(names, ["mesh.new", "mesh.test"], "{groups}");
    let read = node.run(&["read"]).ok().stdout;
    assert!(!read.contains("control."), "{read}");
    let refused = node.run_with_stdin(&["post", "-g", "mesh.typo", "-s", "x"], b"x\n");
    assert!(
        refused
            .stderr
            .contains("its groups: mesh.new, mesh.test (create"),
        "{refused:#?}"
    );
    node.start();
    let mut reader = RawPeer::connect(&node);
    reader.send(b"LIST ACTIVE\r\n");
    assert!(reader.line().starts_with("215"));
    let listed = String::from_utf8(reader.block()).unwrap();
    assert!(
        listed.contains("mesh.new") && !listed.contains("control."),
        "{listed}"
    );
    node.stop();
}

/// The FILES section of the man page (generated page, as shipped).
fn man_files_section() -> String {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1")).unwrap();
    let start = page.find(".SH FILES").expect("a FILES section");
    let end = page[start + 1..]
        .find(".SH ")
        .map_or(page.len(), |e| start + 1 + e);
    page[start..end].to_string()
}

/// Finding 8: the `export` batch is private (0600); `init` into a directory that holds
/// other files leaves its mode and says so; every file a serving node keeps in its home
/// is in the man page's FILES.
#[test]
fn files_are_private_and_all_documented() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut hub = Node::init("hub");
    let mut nat = Node::init("nat");
    link(&nat, &hub, Link::FirstDialsLive);
    hub.post("mesh.test", "exported", "on a stick\n");
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("stick.batch");
    hub.run(&["export", "--to", "nat", "--file", batch.to_str().unwrap()])
        .ok();
    assert_eq!(mode(&batch), 0o600);

    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("notes.txt"), "mine\n").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let init = Command::new(BIN)
        .arg("--home")
        .arg(&shared)
        .args(["init", "--name", "shared"])
        .output()
        .unwrap();
    assert!(init.status.success());
    assert_eq!(
        mode(&shared),
        0o755,
        "init changed the mode of a directory it shares"
    );
    let said = String::from_utf8_lossy(&init.stderr);
    assert!(said.contains("mode 0755 was left as it is"), "{said}");
    assert_eq!(mode(&shared.join("newsmesh.toml")), 0o600);

    hub.start();
    nat.start();
    let files = || {
        let mut names = std::collections::BTreeSet::new();
        for home in [hub.home(), nat.home()] {
            for entry in std::fs::read_dir(home).unwrap() {
                names.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names
    };
    assert!(
        wait_until(std::time::Duration::from_secs(30), || {
            let f = files();
            f.contains("live.state") && f.contains("live-in.state") && f.contains("serve.state")
        }),
        "{:?}",
        files()
    );
    let section = man_files_section();
    for name in files() {
        // SQLite's own companions of spool.db, and the temporary files of replacements
        // in progress (`files::write_atomically`).
        if name.starts_with("spool.db-")
            || (name.starts_with(".newsmesh-") && name.ends_with(".tmp"))
        {
            continue;
        }
        let shown = name.replace('-', "\\-");
        let listed = section
            .lines()
            .filter(|l| l.starts_with(".I "))
            .any(|l| l.contains(&name) || l.contains(&shown));
        assert!(
            listed,
            "{name} is in a node home but not in the man page's FILES"
        );
    }
    hub.stop();
    nat.stop();
}

/// Whether `node`'s status says its live link to `peer` is up.
fn live_link_up(node: &Node, peer: &str) -> bool {
    let json = node.run(&["status", "--json"]).ok().stdout;
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == peer)
        .is_some_and(|p| p["live"]["up"] == true)
}

/// Finding 9: `status` notices a live link whose neighbour was killed with -9 within
/// seconds (the link watches the quiet connection), not at the next keepalive (100 s
/// with the default idle timeout).
#[test]
fn status_notices_a_dead_live_link_at_once() {
    let mut a = Node::init("a");
    let mut b = Node::init("b");
    link(&a, &b, Link::Live);
    a.start();
    b.start();
    assert!(
        wait_until(std::time::Duration::from_secs(30), || live_link_up(&a, "b")),
        "the live link never came up"
    );
    b.kill9();
    // Far below the keepalive interval (idle_timeout_secs / 3 = 100 s).
    assert!(
        wait_until(std::time::Duration::from_secs(30), || !live_link_up(
            &a, "b"
        )),
        "status still says the link to a killed neighbour is up"
    );
    a.stop();
}

/// Finding 11 and "also expected": `user add` says what the config holds (Argon2id, as
/// written) and refuses a password shorter than 8 characters.
#[test]
fn user_add_documents_its_hash_and_wants_a_real_password() {
    let node = Node::init("solo");
    let help = node.run(&["user", "add", "--help"]).ok().stdout;
    assert!(
        help.contains("Argon2id") && !help.contains("SHA-256"),
        "{help}"
    );
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1")).unwrap();
    assert!(!man.contains("salted SHA\\-256 hash. Prints"), "man page");
    let short = node.run_with_stdin(&["user", "add", "ann"], b"ab\n");
    assert_eq!(short.code, 1, "{short:#?}");
    assert!(short.stderr.contains("at least 8"), "{short:#?}");
    let users = |text: String| text.lines().filter(|l| *l == "[[user]]").count();
    assert_eq!(
        users(std::fs::read_to_string(node.config_path()).unwrap()),
        0
    );
    node.run_with_stdin(&["user", "add", "ann"], b"correct horse\n")
        .ok();
    let text = std::fs::read_to_string(node.config_path()).unwrap();
    assert!(text.contains("password_hash = \"$argon2id$"), "{text}");
}

/// Finding 14: the man page's SYNOPSIS shows the value of every global option, its
/// ENVIRONMENT every variable an option reads (as `--help` shows it), and `demo` refuses
/// a `--home` it would not use. (The contrib units' man page install step is checked by
/// `contrib_systemd_units_pass_systemd_analyze_verify`.)
#[test]
fn the_man_page_shows_what_help_shows() {
    use clap::CommandFactory;
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1")).unwrap();
    let synopsis = &page[page.find(".SH SYNOPSIS").unwrap()..page.find(".SH DESCRIPTION").unwrap()];
    let command = newsmesh::cli::Cli::command();
    for arg in command.get_arguments() {
        if let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) {
            let shown = format!("\\-\\-{long}\\fR \\fI{}", names[0]);
            assert!(
                synopsis.contains(&shown),
                "SYNOPSIS lacks {shown}: {synopsis}"
            );
        }
    }
    let environment = &page[page.find(".SH ENVIRONMENT").expect("ENVIRONMENT")..];
    let environment = &environment[..environment[1..].find(".SH ").unwrap()];
    let mut vars = vec!["NEWSMESH_HOME".to_string()];
    for sub in command.get_subcommands() {
        for arg in sub.get_arguments() {
            if let Some(env) = arg.get_env() {
                vars.push(env.to_string_lossy().into_owned());
            }
        }
    }
    assert!(vars.iter().any(|v| v == "NEWSMESH_FROM"));
    for var in vars {
        assert!(
            environment.contains(&format!(".B {var}")),
            "{var} is not in the man page's ENVIRONMENT"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = Command::new(BIN)
        .arg("--home")
        .arg(dir.path())
        .arg("demo")
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&demo.stderr).contains("leave out --home"));
}

/// Finding 15: feedback where there was none or a wrong one: `sync` with nobody to dial,
/// `read` of an empty group, an edit when no serve runs, a sync refused at connect.
#[test]
fn commands_say_what_happened_when_nothing_did() {
    let mut a = Node::init("a");
    let sync = a.run(&["sync"]).ok();
    assert!(sync.stderr.contains("no neighbour to dial"), "{sync:#?}");
    assert!(a.run(&["sync", "-q"]).ok().stderr.is_empty());
    let read = a.run(&["read", "mesh.test"]).ok();
    assert!(
        read.stdout.is_empty() && read.stderr.contains("no articles"),
        "{read:#?}"
    );
    let b = Node::init("b");
    // Nothing listens at b's address: refused at connect.
    let added = a
        .run(&[
            "peer",
            "add",
            "b",
            &b.node_key(),
            "--address",
            &b.addr.to_string(),
        ])
        .ok();
    assert!(
        added.stderr.contains("no `newsmesh serve` runs"),
        "{added:#?}"
    );
    let refused = a.run(&["sync"]);
    assert_eq!(refused.code, 1, "{refused:#?}");
    let line = SyncLine::parse(refused.stdout.lines().next().unwrap());
    assert_eq!(line.get("status"), "failed");
    assert_eq!(line.get("tls"), "no", "{}", line.raw);
    a.start();
    let pid = a.serve_pid();
    let removed = a.run(&["peer", "remove", "b"]).ok();
    assert!(
        removed
            .stderr
            .contains(&format!("running `newsmesh serve` (pid {pid}) applies it")),
        "{removed:#?}"
    );
    a.stop();
}

/// Finding 16: errors that say what to do.
#[test]
fn errors_say_what_to_do() {
    let a = Node::init("a");
    let mut b = Node::init("b");
    let failed = |run: Out, says: &str| {
        assert!(
            run.code != 0 && run.stderr.contains(says),
            "{says}: {run:#?}"
        );
    };
    // An author key where a node key belongs: ours is refused at once...
    let own_author = a.run(&["key"]).ok().stdout.trim().to_string();
    failed(
        a.run(&["peer", "add", "b", &own_author]),
        "newsmesh key --node",
    );
    // ... a neighbour's shows at the sync, with the same hint.
    let b_author = b.run(&["key"]).ok().stdout.trim().to_string();
    a.run(&[
        "peer",
        "add",
        "b",
        &b_author,
        "--address",
        &b.addr.to_string(),
        "--no-live",
    ])
    .ok();
    b.run(&["peer", "add", "a", &a.node_key()]).ok();
    b.start();
    let sync = a.run(&["sync"]);
    assert!(sync.stdout.contains("newsmesh key --node"), "{sync:#?}");
    // A missing author identity.
    failed(
        a.run(&["key", "--author", "ann"]),
        "newsmesh key --author ann --generate",
    );
    // A newgroup no [[control]] rule allows: the rule to add.
    let newgroup = a.run(&["newgroup", "mesh.new"]);
    failed(newgroup.clone(), "[[control]] groups = \"mesh.new\"");
    assert!(newgroup.stderr.contains(&own_author), "{newgroup:#?}");
    // The port taken by another program: where to change it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    a.set_config("listen", &format!("\"{}\"", taken.local_addr().unwrap()));
    failed(a.run(&["serve"]), "[node] listen");
    drop(taken);
    // An IHAVE from an address no [[nntp_peer]] lists: the peer add that would.
    let mut feeder = RawPeer::connect(&b);
    let answer = feeder.cmd("IHAVE <x@example>");
    assert!(
        answer.starts_with("480") && answer.contains("--nntp --hosts 127.0.0.1"),
        "{answer}"
    );
    b.stop();
}

/// Finding 17: `read '<id>'` of an article that is gone says what happened to it.
#[test]
fn read_of_a_gone_article_says_what_happened() {
    let node = Node::init("solo");
    let cancelled = node.post("mesh.test", "regretted", "oops\n");
    node.run(&["cancel", &cancelled]).ok();
    let run = node.run(&["read", &cancelled]);
    assert!(
        run.code == 1 && run.stderr.contains("was cancelled by its author"),
        "{run:#?}"
    );
    let expired = node.post("mesh.test", "old news", "soon gone\n");
    node.append_config("\n[[expire.rule]]\ngroups = \"mesh.test\"\ndays = 0\n");
    // It arrived a day ago (expire removes what arrived before now minus the days).
    rusqlite::Connection::open(node.spool_path())
        .unwrap()
        .execute(
            "UPDATE articles SET arrived = arrived - 86400 WHERE msgid = ?1",
            [&expired],
        )
        .unwrap();
    node.run(&["expire"]).ok();
    let run = node.run(&["read", &expired]);
    assert!(
        run.code == 1 && run.stderr.contains("expired here"),
        "{run:#?}"
    );
    let run = node.run(&["read", "<never@example>"]);
    assert!(
        run.code == 1 && run.stderr.contains("never seen here"),
        "{run:#?}"
    );
}

/// Runs `newsmesh ARGS` on `node` under a pseudo-terminal (`script`), as a person at a
/// terminal would; everything it wrote, stdout and stderr together.
fn on_a_terminal(node: &Node, args: &str) -> String {
    let shell = format!("{} --home {} {args}", BIN, node.home().display());
    let out = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .env("USER", "tester")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Also expected: long `sync`, `import` and `export` show progress on a terminal, and
/// nothing of it under cron (no terminal) or `-q`.
#[test]
fn progress_shows_on_a_terminal_only() {
    let a = Node::init("a");
    let mut b = Node::init("b");
    link(&a, &b, Link::BothDial);
    for i in 0..3 {
        a.post("mesh.test", &format!("article {i}"), "body\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("all.batch");
    let batch_arg = batch.display().to_string();
    let export = on_a_terminal(&a, &format!("export --file {batch_arg}"));
    assert!(export.contains("export: 1 articles"), "{export:?}");
    let import = on_a_terminal(&b, &format!("import {batch_arg}"));
    assert!(import.contains("import: imported=3"), "{import:?}");
    b.start();
    let sync = on_a_terminal(&a, "sync");
    assert!(sync.contains("sync: b (1 of 1)..."), "{sync:?}");
    let quiet = on_a_terminal(&a, "sync -q");
    assert!(!quiet.contains("sync: b"), "{quiet:?}");
    // Without a terminal (cron, scripts): none of it.
    let piped = a.run(&["sync"]).ok();
    assert!(
        !piped.stderr.contains("sync: b") && !piped.stderr.contains('\x1b'),
        "{piped:#?}"
    );
    let piped = a.run(&["export", "--file", &batch_arg]).ok();
    assert!(!piped.stderr.contains("export: "), "{piped:#?}");
    b.stop();
}
