//! The examples of README.md ("A mesh in five minutes") and of the man page (EXAMPLES)
//! run as written, each `NAME$` machine a node home on this one, with `newsmesh` found
//! on PATH as an operator's shell finds it. What a single machine cannot give is all
//! that is replaced: the keys (`ALPHA-NODE-KEY` is alpha's `key --node`) and the
//! addresses (each `init --listen` address and `NAME.example:PORT` become the node's
//! loopback port). A line that fails fails the test, naming it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One machine of an example: its home and listen address.
struct Machine {
    home: PathBuf,
    listen: String,
}

/// The `NAME$ command` lines of a text block, in order.
fn prompt_lines(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|line| {
            let (who, rest) = line.split_once("$ ")?;
            let who = who.trim();
            (!who.is_empty() && who.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| (who.to_string(), rest.trim().to_string()))
        })
        .collect()
}

/// The README's five-minute mesh: the first ```sh block after its heading.
fn readme_example() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let at = text
        .find("## A mesh in five minutes")
        .expect("the README's example");
    let block = &text[at..];
    let block = &block[block.find("```sh").unwrap() + 5..];
    prompt_lines(&block[..block.find("```").unwrap()])
}

/// The man page's EXAMPLES (roff, unescaped).
fn man_example() -> Vec<(String, String)> {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1")).unwrap();
    let at = page.find(".SH EXAMPLES").expect("EXAMPLES");
    let section = &page[at..];
    let section = &section[..section[1..].find(".SH ").map_or(section.len(), |e| e + 1)];
    let block = &section[section.find(".nf").unwrap()..section.find(".fi").unwrap()];
    prompt_lines(&block.replace("\\-", "-"))
}

/// Runs the lines of one example; returns what each printed (for checks of the docs'
/// sample output).
fn run_example(lines: &[(String, String)]) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(common::BIN).parent().unwrap().to_path_buf();
    let mut machines: BTreeMap<String, Machine> = BTreeMap::new();
    let mut addresses: BTreeMap<String, String> = BTreeMap::new();
    for (who, command) in lines {
        let listen = command
            .split_whitespace()
            .skip_while(|w| *w != "--listen")
            .nth(1)
            .map(str::to_string);
        machines.entry(who.clone()).or_insert_with(|| Machine {
            home: dir.path().join(who),
            listen: format!(
                "127.0.0.1:{}",
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .unwrap()
                    .port()
            ),
        });
        if let Some(listen) = listen {
            // The address a neighbour's `--address` writes for this machine.
            addresses
                .entry(listen)
                .or_insert_with(|| machines[who].listen.clone());
        }
    }
    let mut serving: Vec<Child> = Vec::new();
    let mut outputs = Vec::new();
    for (who, command) in lines {
        let mut line = command.clone();
        let own_listen = command
            .split_whitespace()
            .skip_while(|w| *w != "--listen")
            .nth(1);
        match own_listen {
            // This machine's own address, wherever the docs put it.
            Some(written) => line = line.replace(written, &machines[who].listen),
            None => {
                for (written, real) in &addresses {
                    line = line.replace(written.as_str(), real);
                }
            }
        }
        for (name, machine) in &machines {
            line = line.replace(&format!("{name}.example:1119"), &machine.listen);
            let placeholder = format!("{}-NODE-KEY", name.to_ascii_uppercase());
            if line.contains(&placeholder) {
                let key = std::fs::read_to_string(machine.home.join("newsmesh.toml"))
                    .map(|_| ())
                    .ok()
                    .and_then(|()| {
                        Command::new(common::BIN)
                            .arg("--home")
                            .arg(&machine.home)
                            .args(["key", "--node"])
                            .output()
                            .ok()
                    })
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_else(|| panic!("{placeholder} used before {name} was made"));
                line = line.replace(&placeholder, &key);
            }
        }
        let mut sh = Command::new("sh");
        sh.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("NEWSMESH_HOME", &machines[who].home)
            .env("USER", "tester")
            .env_remove("NEWSMESH_FROM")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if let Some(background) = line.split('#').next().unwrap().trim().strip_suffix('&') {
            let child = sh
                .arg("-c")
                .arg(format!("exec {background}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            serving.push(child);
            let addr = machines[who].listen.clone();
            assert!(
                common::wait_until(Duration::from_secs(15), || std::net::TcpStream::connect(
                    &addr
                )
                .is_ok()),
                "{who}$ {command}: nothing listens on {addr}"
            );
            continue;
        }
        let out = sh.arg("-c").arg(&line).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for child in &mut serving {
            assert!(
                child.try_wait().unwrap().is_none(),
                "a serve died before {who}$ {command}"
            );
        }
        if !out.status.success() {
            for mut child in serving.drain(..) {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!(
                "{who}$ {command}\n(ran: {line})\nfailed: {:?}\n{stdout}\n{stderr}",
                out.status
            );
        }
        outputs.push((format!("{who}$ {command}"), stdout, stderr));
    }
    for mut child in serving {
        let _ = child.kill();
        let _ = child.wait();
    }
    outputs
}

#[test]
fn the_readmes_five_minute_mesh_runs_as_written() {
    let lines = readme_example();
    assert!(lines.len() >= 10, "{lines:?}");
    let outputs = run_example(&lines);
    // The sync line the README shows has the fields sync prints, in the same order.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let sample = readme
        .split('`')
        .find(|s| s.starts_with("peer=") && s.contains("status="))
        .expect("a sample sync line");
    let keys = |line: &str| -> Vec<String> {
        line.split_whitespace()
            .filter_map(|w| w.split_once('=').map(|(k, _)| k.to_string()))
            .collect()
    };
    let (_, printed, _) = outputs
        .iter()
        .find(|(what, _, _)| what.contains("newsmesh sync"))
        .expect("the example syncs");
    let printed = printed.lines().next().expect("sync printed a line");
    assert_eq!(
        keys(sample),
        keys(printed),
        "README: {sample}\nsync: {printed}"
    );
    // What alpha posted reached gamma by its sync.
    let (_, read, _) = outputs.last().unwrap();
    assert!(read.contains("Hello"), "{read}");
}

#[test]
fn the_man_pages_examples_run_as_written() {
    let lines = man_example();
    assert!(lines.len() >= 8, "{lines:?}");
    let outputs = run_example(&lines);
    let (_, read, _) = outputs.last().unwrap();
    assert!(read.contains("hi"), "{read}");
}

/// The newsreader examples (not run: they are interactive) name the node's port, which
/// is not the readers' default 119.
#[test]
fn the_newsreader_examples_give_the_nodes_port() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1"))
        .unwrap()
        .replace("\\-", "-");
    let listen = newsmesh::home::DEFAULT_LISTEN;
    let port = listen.rsplit(':').next().unwrap();
    for reader in ["tin -r", "slrn -h"] {
        let at = page
            .find(reader)
            .unwrap_or_else(|| panic!("no {reader} example"));
        let example = &page[at.saturating_sub(40)..(at + 40).min(page.len())];
        let example = example.split("\\fR").find(|e| e.contains(reader)).unwrap();
        assert!(
            example.contains(port),
            "{example:?} does not give port {port}"
        );
    }
}
