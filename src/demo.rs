//! `newsmesh demo`: a mesh of four nodes on 127.0.0.1, in a line so that articles must
//! be relayed (alpha — bravo — charlie — delta). It posts at one end, syncs round by
//! round until the article is read at the far end with its signature verified, replies
//! from there, and shows a tampered article being refused. Every node is a real node
//! home (config, keys, SQLite spool) with a real NNTP server on a loopback port.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::compose::{compose, Draft};
use crate::config::{edit, PeerConfig};
use crate::error::{Error, Result};
use crate::home::{Home, DEFAULT_AUTHOR, DEFAULT_GROUP};
use crate::ingest::{ingest, Rules, Verdict};
use crate::sign::{self, public_key_text};

const NAMES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
const MAX_ROUNDS: usize = 6;

/// Runs the demo in `dir` (a fresh temporary directory when None, removed afterwards).
pub fn run(dir: Option<&Path>) -> Result<()> {
    let temp;
    let base: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            temp = std::env::temp_dir().join(format!("newsmesh-demo-{}", std::process::id()));
            temp
        }
    };
    let result = demo(&base);
    if dir.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Network(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Network(e.to_string()))
}

fn demo(base: &Path) -> Result<()> {
    say(&format!(
        "newsmesh demo: four nodes in a line, alpha - bravo - charlie - delta, under {}",
        base.display()
    ));
    let mut homes = Vec::new();
    let mut addresses = Vec::new();
    for name in NAMES {
        let home = Home::new(base.join(name));
        let address = format!("127.0.0.1:{}", free_port()?);
        home.init(name, &address)?;
        homes.push(home);
        addresses.push(address);
    }
    // Neighbours only: each node knows the one or two next to it, by name, node key and address.
    for i in 0..NAMES.len() - 1 {
        link(&homes[i], &homes[i + 1], &addresses[i + 1])?;
        link(&homes[i + 1], &homes[i], &addresses[i])?;
    }
    say("  each node has its own config, ed25519 node key, author key and SQLite spool;");
    say("  each knows only its neighbours' names, node keys and addresses.");

    let runtime = tokio::runtime::Runtime::new().map_err(|e| Error::io("tokio runtime", e))?;
    let mut servers = Vec::new();
    for home in &homes {
        servers.push(runtime.block_on(crate::server::start(home, None))?);
    }
    say(&format!(
        "  started {} NNTP servers on {}",
        servers.len(),
        addresses.join(", ")
    ));

    let outcome = story(&homes, &runtime);
    for server in servers {
        runtime.block_on(server.stop());
    }
    outcome
}

fn link(home: &Home, neighbour: &Home, address: &str) -> Result<()> {
    let peer = PeerConfig {
        name: neighbour.open()?.name().to_string(),
        key: public_key_text(&neighbour.node_key()?.verifying_key()),
        address: Some(address.to_string()),
        groups: "*".into(),
    };
    Ok(edit::add_peer(&home.config_path(), &peer)?)
}

fn post(home: &Home, subject: &str, body: &str, references: Option<&str>) -> Result<String> {
    let mut node = home.open()?;
    let key = home.author_key(DEFAULT_AUTHOR)?;
    let from = format!("{0} <{0}@{0}.invalid>", node.name());
    let article = compose(
        &Draft {
            groups: DEFAULT_GROUP,
            subject,
            from: &from,
            references,
            body: body.as_bytes(),
        },
        node.name(),
        &key,
    );
    let name = node.name().to_string();
    let rules = Rules {
        node_name: &name,
        limits: node.config.limits.article_limits(),
        trust: &node.trust,
    };
    match ingest(&mut node.spool, &rules, &[&article.to_bytes()])?.pop() {
        Some(Verdict::Stored(_)) => Ok(article.message_id().unwrap_or_default().to_string()),
        other => Err(Error::Refused(format!("{other:?}"))),
    }
}

fn has(home: &Home, id: &str) -> Result<bool> {
    Ok(home.open()?.spool.article(id)?.is_some())
}

/// Sync rounds (every node syncs with its neighbours) until `target` has `id`.
fn rounds_until(homes: &[Home], target: &Home, id: &str) -> Result<()> {
    for round in 1..=MAX_ROUNDS {
        say(&format!("  sync round {round}:"));
        for home in homes {
            let name = home.open()?.name().to_string();
            for report in crate::sync::sync_all(home, None)? {
                if report.sent + report.received + report.refused > 0 || !report.ok() {
                    say(&format!("    {name:<8} {report}"));
                }
            }
        }
        if has(target, id)? {
            return Ok(());
        }
    }
    Err(Error::Network(format!(
        "{id} did not arrive after {MAX_ROUNDS} rounds"
    )))
}

fn show(home: &Home, id: &str) -> Result<()> {
    let node = home.open()?;
    let stored = node
        .spool
        .article(id)?
        .ok_or_else(|| Error::NotFound(format!("{id} is not at {}", node.name())))?;
    let article =
        crate::article::Article::parse(&stored.raw, &node.config.limits.article_limits())?;
    say(&format!("  {} reads {id}:", node.name()));
    for name in ["Path", "From", "Subject"] {
        say(&format!(
            "    {name}: {}",
            article.header_unfolded(name).unwrap_or_default()
        ));
    }
    let body = String::from_utf8_lossy(&crate::article::body_to_local(&article.body)).into_owned();
    for line in body.lines() {
        say(&format!("    | {line}"));
    }
    say(&format!(
        "    => {}",
        crate::cli::status_line(&node, &article)
    ));
    Ok(())
}

fn story(homes: &[Home], runtime: &tokio::runtime::Runtime) -> Result<()> {
    let (alpha, bravo, delta) = (&homes[0], &homes[1], &homes[3]);
    say("");
    say("1. alpha posts to mesh.test; its author key signs it and the Message-ID is the hash of the signed content.");
    let id = post(
        alpha,
        "Hello from alpha",
        "Hello, mesh!\n.a line starting with a dot\n",
        None,
    )?;
    say(&format!("  posted {id}"));
    say("");
    say("2. Nodes sync with their neighbours (cron would do this); the article is relayed hop by hop.");
    rounds_until(homes, delta, &id)?;
    say("");
    say("3. delta, three hops away, reads it; the Path shows the relays, the signature verifies.");
    show(delta, &id)?;
    say("");
    say("4. delta replies; the reply travels back the other way.");
    let reply = post(
        delta,
        "Re: Hello from alpha",
        "Hello back from delta.\n",
        Some(&id),
    )?;
    rounds_until(homes, alpha, &reply)?;
    show(alpha, &reply)?;
    say("");
    say("5. A further round moves nothing: every node has every article, duplicates are suppressed.");
    let mut moved = 0;
    for home in homes {
        for report in crate::sync::sync_all(home, None)? {
            moved += report.sent + report.received;
        }
    }
    say(&format!("  articles moved in that round: {moved}"));
    say("");
    say("6. alpha turns rogue: it changes one byte of a signed article and pushes it to bravo.");
    let node = alpha.open()?;
    let mut forged =
        post(alpha, "Pay Mallory", "Send 10 coins to Alice.\n", None).and_then(|fid| {
            Ok((
                fid.clone(),
                node.spool.article(&fid)?.map(|s| s.raw).unwrap_or_default(),
            ))
        })?;
    if let Some(pos) = forged.1.windows(5).position(|w| w == b"Alice") {
        forged.1[pos..pos + 5].copy_from_slice(b"Malle");
    }
    let peer = node
        .config
        .peer("bravo")
        .cloned()
        .ok_or_else(|| Error::NotFound("bravo".into()))?;
    let answers = runtime.block_on(crate::sync::push_raw(
        &alpha.node_key()?,
        &peer,
        &[forged.clone()],
    ))?;
    for answer in &answers {
        say(&format!(
            "  bravo answered: {} {}",
            answer.code, answer.text
        ));
    }
    say(&format!(
        "  bravo stored the tampered article: {}",
        if has(bravo, &forged.0)? {
            "YES (bug!)"
        } else {
            "no"
        }
    ));
    let tampered = crate::article::Article::parse(&forged.1, &node.config.limits.article_limits())?;
    say(&format!(
        "  its verdict anywhere in the mesh: {}",
        sign::check(&tampered).describe()
    ));
    say("");
    say("Done: signed articles crossed a line of four nodes both ways through neighbours only,");
    say("each node verified every article before storing it, and a tampered one was refused.");
    Ok(())
}
