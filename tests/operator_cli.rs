//! The operator's command line for a node that runs for months: neighbours of every kind
//! added, listed and removed with `peer` (newsmesh nodes and plain news servers such as
//! INN), and the home chosen by the environment as shells and cron leave it.

mod common;

use common::{Node, DEFAULT_TIMEOUT};

#[test]
fn peer_add_nntp_lists_and_removes_a_plain_news_server() {
    let alpha = Node::init("alpha");
    let beta = Node::init("beta");
    alpha.add_peer(&beta, false, true);
    alpha
        .cli(&[
            "peer",
            "add",
            "inn.example",
            "--nntp",
            "--address",
            "127.0.0.1:119",
            "--hosts",
            "127.0.0.1,::1",
            "--groups",
            "mesh.*",
        ])
        .success();
    alpha
        .cli(&["peer", "add", "feeder", "--nntp", "--hosts", "192.0.2.7"])
        .success();
    let text = alpha.config_text();
    assert!(
        text.contains(
            "[[nntp_peer]]\nname = \"inn.example\"\naddress = \"127.0.0.1:119\"\n\
             hosts = [\"127.0.0.1\", \"::1\"]\ngroups = \"mesh.*\"\n"
        ),
        "{text}"
    );
    assert_eq!(
        alpha.cli(&["peer", "list"]).success().stdout_text(),
        format!(
            "beta passive * {}\n\
             inn.example 127.0.0.1:119 mesh.* nntp hosts=127.0.0.1,::1\n\
             feeder passive * nntp hosts=192.0.2.7\n",
            beta.node_key()
        )
    );

    // Refusals change nothing: names are shared by both kinds, a news server has no key
    // and needs somewhere to talk to, --hosts is for news servers only.
    let before = alpha.config_text();
    alpha
        .cli(&["peer", "add", "beta", "--nntp", "--hosts", "127.0.0.1"])
        .failure()
        .stderr_has("a peer named \"beta\" already exists");
    alpha
        .cli(&["peer", "add", "inn.example", &beta.node_key()])
        .failure()
        .stderr_has("a peer named \"inn.example\" already exists");
    alpha
        .cli(&["peer", "add", "lonely", "--nntp"])
        .failure()
        .stderr_has("needs --address");
    alpha
        .cli(&["peer", "add", "bad", "--nntp", "--address", "nowhere"])
        .failure()
        .stderr_has("not HOST:PORT");
    alpha
        .cli(&["peer", "add", "x", &beta.node_key(), "--nntp"])
        .code(2);
    alpha
        .cli(&["peer", "add", "x", &beta.node_key(), "--hosts", "127.0.0.1"])
        .code(2);
    alpha
        .cli(&["peer", "add", "x", "--nntp", "--hosts", "not-an-ip"])
        .code(2);
    assert_eq!(
        alpha.config_text(),
        before,
        "a refused edit changed the file"
    );

    alpha.cli(&["peer", "remove", "inn.example"]).success();
    alpha.cli(&["peer", "remove", "feeder"]).success();
    assert!(!alpha.config_text().contains("\n[[nntp_peer]]"));
    assert_eq!(
        alpha.cli(&["peer", "list"]).success().stdout_text(),
        format!("beta passive * {}\n", beta.node_key())
    );
    alpha
        .cli(&["peer", "remove", "inn.example"])
        .failure()
        .stderr_has("no peer named");
}

/// `NEWSMESH_HOME=` (set but empty, as a crontab or a shell often leaves it) counts as
/// unset: --home still works, and without it the default home is used.
#[test]
fn an_empty_newsmesh_home_counts_as_unset() {
    let alpha = Node::init("alpha");
    let mut with_home = alpha.command(&["key"]);
    with_home.env("NEWSMESH_HOME", "");
    let run = common::run(with_home, None, DEFAULT_TIMEOUT);
    assert_eq!(run.success().stdout_line(), alpha.author_key());

    // Without --home: the default ~/.newsmesh, here under a HOME that holds alpha.
    let parent = alpha.home().parent().expect("home has a parent");
    std::fs::rename(alpha.home(), parent.join(".newsmesh")).unwrap();
    let mut default_home = std::process::Command::new(common::BIN);
    default_home
        .arg("key")
        .env("NEWSMESH_HOME", "")
        .env("HOME", parent);
    let run = common::run(default_home, None, DEFAULT_TIMEOUT);
    assert!(
        common::is_public_key_text(&run.success().stdout_line()),
        "{run:?}"
    );
}

/// `NEWSMESH_FROM=` (set but empty) counts as unset too: the article gets the default
/// From, not an empty one.
#[test]
fn an_empty_newsmesh_from_counts_as_unset() {
    let alpha = Node::init("alpha");
    let mut post = alpha.command(&["post", "-g", "mesh.test", "-s", "who"]);
    post.env("NEWSMESH_FROM", "").env("USER", "ann");
    let id = common::run(post, Some(b"body\n".to_vec()), DEFAULT_TIMEOUT)
        .success()
        .stdout_line();
    let shown = alpha.cli(&["read", &id]).success().stdout_text();
    assert!(shown.contains("\nFrom: ann@alpha.invalid\n"), "{shown}");
}

/// Subjects and names a newsreader posted as RFC 2047 encoded-words are shown decoded by
/// `read` (list and article); the stored article keeps its raw, signed form.
#[test]
fn read_decodes_encoded_words_for_display() {
    let alpha = Node::init("alpha");
    let id = alpha
        .cli_stdin(
            &[
                "post",
                "-g",
                "mesh.test",
                "-s",
                "=?UTF-8?Q?caf=C3=A9?= =?utf-8?B?w6AgbGEgY2FydGU=?=",
                "--from",
                "=?ISO-8859-1?Q?Ren=E9?= <rene@example.org>",
            ],
            b"body\n",
        )
        .success()
        .stdout_line();
    let list = alpha.cli(&["read", "mesh.test"]).success().stdout_text();
    assert!(list.contains("René <rene@example.org>"), "{list}");
    assert!(list.contains("caféà la carte"), "{list}");
    assert!(!list.contains("=?"), "{list}");
    let shown = alpha.cli(&["read", &id]).success().stdout_text();
    assert!(shown.contains("\nSubject: caféà la carte\n"), "{shown}");
    assert!(
        shown.contains("\nFrom: René <rene@example.org>\n"),
        "{shown}"
    );
    assert!(shown.contains("signature valid"), "{shown}");
}

/// One rule for empty subjects: `post` refuses a blank --subject as an NNTP POST without
/// Subject is refused.
#[test]
fn post_refuses_an_empty_subject() {
    let alpha = Node::init("alpha");
    for subject in ["", "   "] {
        alpha
            .cli_stdin(&["post", "-g", "mesh.test", "-s", subject], b"body\n")
            .failure()
            .stderr_has("--subject is empty");
    }
    alpha.cli(&["read", "mesh.test"]).success().stdout_empty();
}

// ------------------------------------------------------------------ contrib/

/// `contrib/DIR`'s files, by name.
fn contrib_files(dir: &str) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(dir);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    files
}

/// Copies of `units` into a temporary directory, their ExecStart pointing at the binary
/// under test (`systemd-analyze verify` checks that the program exists).
fn units_for_verify(units: &[(String, String)]) -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let paths = units
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text.replace("/usr/local/bin/newsmesh", common::BIN)).unwrap();
            path
        })
        .collect();
    (dir, paths)
}

/// The system and user units pass `systemd-analyze verify` without a warning; system
/// units that wait for the network also pull it in (After= alone orders after a target
/// nothing starts), user units neither wait for it (a user manager has none) nor use
/// system-only settings, and every unit says how to install it.
#[test]
fn contrib_systemd_units_pass_systemd_analyze_verify() {
    let system = contrib_files("systemd/system");
    let user = contrib_files("systemd/user");
    assert_eq!(system.len(), 5, "{system:?}");
    assert_eq!(
        system.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        user.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "the same units for both managers"
    );
    // The settings, without the comments.
    let settings = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for (name, text) in &system {
        assert!(text.starts_with("# "), "{name}: no install comment");
        let text = &settings(text);
        assert!(!text.contains("%h"), "{name}: %h in a system unit");
        if text.contains("After=network-online.target") {
            assert!(text.contains("Wants=network-online.target"), "{name}");
        }
        if name.ends_with(".service") {
            assert!(text.contains("User=newsmesh"), "{name}");
        }
    }
    for (name, text) in &user {
        assert!(text.starts_with("# "), "{name}: no install comment");
        let text = &settings(text);
        assert!(!text.contains("network-online"), "{name}");
        assert!(!text.contains("User="), "{name}");
        if name.ends_with(".service") {
            assert!(text.contains("--home %h/.newsmesh"), "{name}");
        }
    }
    let serve = &user
        .iter()
        .find(|(n, _)| n == "newsmesh-serve.service")
        .unwrap()
        .1;
    assert!(serve.contains("systemctl --user enable"), "{serve}");
    assert!(serve.contains("WantedBy=default.target"), "{serve}");

    let have_analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_analyze {
        println!("SKIPPED systemd-analyze verify: systemd-analyze is not installed (apt-get install systemd)");
        return;
    }
    // The man page installed as contrib/README.md says, so the units' Documentation=
    // resolves (verify runs `man` for it).
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/README.md")).unwrap();
    assert!(
        readme.matches("install -D -m 0644 man/newsmesh.1 ").count() == 2,
        "contrib/README.md installs the man page for both kinds of units"
    );
    let manpath = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(manpath.path().join("man1")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1"),
        manpath.path().join("man1/newsmesh.1"),
    )
    .unwrap();
    let runtime = tempfile::tempdir().unwrap();
    for (units, user_manager) in [(&system, false), (&user, true)] {
        let (_dir, paths) = units_for_verify(units);
        let mut verify = std::process::Command::new("systemd-analyze");
        if user_manager {
            // The user manager needs a runtime directory even to verify.
            verify.arg("--user").env("XDG_RUNTIME_DIR", runtime.path());
        }
        let out = verify
            .env("MANPATH", manpath.path())
            .args(["verify", "--man=yes"])
            .args(&paths)
            .output()
            .expect("systemd-analyze runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze {}verify: {:?}\n{said}",
            if user_manager { "--user " } else { "" },
            out.status
        );
    }
}

/// The crontab's jobs run with cron's own PATH (/usr/bin:/bin) plus what the crontab sets:
/// each job line, run by sh as cron would (the install directory made this test's),
/// succeeds on a node in ~/.newsmesh.
#[test]
fn contrib_crontab_works_with_crons_path() {
    let text = contrib_files("")
        .into_iter()
        .find(|(n, _)| n.ends_with(".crontab"))
        .expect("contrib/*.crontab")
        .1;
    let alpha = Node::init("alpha");
    let home = alpha.home().parent().unwrap().to_path_buf();
    std::fs::rename(alpha.home(), home.join(".newsmesh")).unwrap();
    let bin = home.join("installed");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(common::BIN, bin.join("newsmesh")).unwrap();

    // What cron gives a job: PATH=/usr/bin:/bin, HOME, SHELL=/bin/sh, then the crontab's
    // variable lines.
    let mut env = vec![
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("HOME".to_string(), home.display().to_string()),
    ];
    let mut jobs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.splitn(6, char::is_whitespace).collect();
        if fields.len() == 6 && !fields[0].contains('=') {
            jobs.push(fields[5].to_string());
        } else if let Some((name, value)) = line.split_once('=') {
            let value = value.replace("/usr/local/bin", &bin.display().to_string());
            env.retain(|(n, _)| n != name.trim());
            env.push((name.trim().to_string(), value));
        }
    }
    assert!(jobs.len() >= 2, "{text}");
    for job in &jobs {
        let mut sh = std::process::Command::new("/bin/sh");
        sh.arg("-c").arg(job).env_clear().envs(env.iter().cloned());
        let run = common::run(sh, None, DEFAULT_TIMEOUT);
        run.success();
    }
}

/// A `[[peer]]` that is really a plain news server answers MESH HELLO with 500: the
/// sync line says to make it an `[[nntp_peer]]` instead of only "500 What?".
#[test]
fn a_mesh_peer_that_is_a_plain_news_server_gets_a_hint() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    // A minimal INN look-alike: greets, then answers every command "500 What?".
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut writer = stream.try_clone().expect("clone");
            let _ = writer.write_all(b"200 news.example InterNetNews server ready\r\n");
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let answer: &[u8] = if line.eq_ignore_ascii_case("QUIT") {
                    b"205 bye\r\n"
                } else {
                    b"500 What?\r\n"
                };
                if writer.write_all(answer).is_err() || answer.starts_with(b"205") {
                    break;
                }
            }
        }
    });
    let alpha = Node::init("alpha");
    let some_key = Node::init("other").node_key();
    alpha
        .cli(&["peer", "add", "inn", &some_key, "--address", &address])
        .success();
    let run = alpha.cli(&["sync"]);
    run.failure();
    run.stdout_has("status=failed")
        .stdout_has("[[nntp_peer]]")
        .stdout_has("peer add inn --nntp");
    // The man page quotes this failure (PEERING WITH INN): in the words sync uses today.
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1")).unwrap();
    let section = &page[page.find(".SH PEERING WITH INN").unwrap()..];
    let quoted = &section[section.find("fails with").unwrap()..];
    let quoted = &quoted[..quoted.find(')').unwrap()];
    let fragments: Vec<String> = quoted
        .split("\\fB")
        .skip(1)
        .map(|f| f.split("\\fR").next().unwrap().replace("\\-", "-"))
        .filter(|f| !f.starts_with("peer add"))
        .collect();
    assert!(!fragments.is_empty(), "{quoted}");
    for fragment in fragments {
        run.stdout_has(&fragment);
    }
}
