//! `newsmesh demo`: meshes of four nodes on 127.0.0.1, in a line so that articles must
//! be relayed (alpha — bravo — charlie — delta). First what the mesh does best: on a
//! line where every node runs `serve` alone (live links, no `sync`), an article posted
//! at one end reaches the far end by live relay, in the time printed; then a newcomer
//! joins that mesh with one invite code. Then the cron-style story on a second line:
//! it posts at one end, syncs round by round until the article is read at the far end
//! with its signature verified, replies from there, and shows a tampered article being
//! refused. Every node is a real node home (config, keys, SQLite spool) with a real
//! NNTP server on a loopback port.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sign;
use crate::testbed::{Link, Mesh};

const NAMES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
const MAX_ROUNDS: usize = 6;

/// How long the live step waits for the article at the far end before it calls the
/// demo failed (live relay takes well under a second on a line of four; a link dialled
/// before its neighbour served is retried with backoff, which this leaves room for).
const LIVE_GIVE_UP: Duration = Duration::from_secs(30);

/// Where the live mesh's homes go, under the demo's directory (the cron-style mesh's
/// homes are the directory's `alpha`..`delta`).
const LIVE_DIR: &str = "live";

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

fn demo(base: &Path) -> Result<()> {
    say(&format!(
        "newsmesh demo: four nodes in a line, alpha - bravo - charlie - delta, under {}",
        base.display()
    ));
    live_part(&base.join(LIVE_DIR))?;
    say("");
    say("Now the same line without live links, as cron would run it: `newsmesh sync` moves articles.");
    // Neighbours only: each node knows the one or two next to it, by name, node key and address.
    let mesh = Mesh::build(base, &NAMES, &[(0, 1), (1, 2), (2, 3)], Link::BothDial)?;
    say("  each node has its own config, ed25519 node key, author key and SQLite spool;");
    say("  each knows only its neighbours' names, node keys and addresses.");
    say(&format!(
        "  started 4 NNTP servers on {}",
        mesh.nodes
            .iter()
            .map(|n| n.addr.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let outcome = story(&mesh);
    mesh.stop();
    outcome
}

/// The live mesh: every node runs `serve` alone, every link live; an article posted at
/// alpha reaches delta with no `sync` run, then echo joins by invite.
fn live_part(dir: &Path) -> Result<()> {
    let mesh = Mesh::build(dir, &NAMES, &[(0, 1), (1, 2), (2, 3)], Link::Live)?;
    say("  each node has its own config, ed25519 node key, author key and SQLite spool;");
    say("  each knows only its neighbours' names, node keys and addresses, and runs `newsmesh serve`.");
    let outcome = live_relay(&mesh).and_then(|id| join_by_invite(&mesh, 3, &id));
    mesh.stop();
    outcome
}

/// Posts at alpha and waits until delta, three hops away, holds the article; prints the
/// time it took. Returns the Message-ID.
fn live_relay(mesh: &Mesh) -> Result<String> {
    let (alpha, delta) = (0, 3);
    let started = Instant::now();
    // The line's links come up as each `serve` finds its neighbour serving (one dialled
    // before its neighbour served retries after a second): wait for them, so the time
    // printed below is the relay's and not the start-up's.
    let links = [1, 2, 2, 1];
    while !mesh
        .nodes
        .iter()
        .zip(links)
        .all(|(node, want)| links_up(node.paths()) >= want)
    {
        if started.elapsed() > LIVE_GIVE_UP {
            return Err(Error::Peer(format!(
                "the live links did not come up within {LIVE_GIVE_UP:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    say(&format!(
        "  the six live links (three each way) are up after {} ms",
        started.elapsed().as_millis()
    ));
    say("");
    say("1. Live relay: alpha posts; `serve` on every node passes it on at once (no `sync` runs).");
    let posted = Instant::now();
    let id = mesh.post(
        alpha,
        "Live from alpha",
        "Hello, mesh! This one travels by live relay.\n",
        None,
    )?;
    say(&format!("  posted {id}"));
    while !mesh.has(delta, &id)? {
        if posted.elapsed() > LIVE_GIVE_UP {
            return Err(Error::Peer(format!(
                "{id} did not reach delta by live relay within {LIVE_GIVE_UP:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    say(&format!(
        "  live relay: delta, three hops away, has {id} after {} ms, with no sync run",
        posted.elapsed().as_millis()
    ));
    show(mesh, delta, &id)?;
    say("");
    Ok(id)
}

/// How many of a node's live links are up, by its `live.state` (read directly: an
/// in-process server holds no `serve.state`, so `records::live_links` believes none).
fn links_up(home: &crate::home::Home) -> usize {
    std::fs::read(home.live_state_path())
        .ok()
        .and_then(|bytes| {
            serde_json::from_slice::<std::collections::BTreeMap<String, crate::records::LinkState>>(
                &bytes,
            )
            .ok()
        })
        .map_or(0, |links| links.values().filter(|l| l.up).count())
}

/// Sync rounds (every node syncs with its neighbours) until node `target` has `id`.
fn rounds_until(mesh: &Mesh, target: usize, id: &str) -> Result<()> {
    for round in 1..=MAX_ROUNDS {
        say(&format!("  sync round {round}:"));
        for (i, report) in mesh.round()? {
            if report.outcome.sent + report.outcome.received + report.outcome.refused > 0
                || !report.outcome.ok()
            {
                say(&format!("    {:<8} {report}", mesh.nodes[i].name));
            }
        }
        if mesh.has(target, id)? {
            return Ok(());
        }
    }
    Err(Error::Peer(format!(
        "{id} did not arrive after {MAX_ROUNDS} rounds"
    )))
}

fn show(mesh: &Mesh, i: usize, id: &str) -> Result<()> {
    let node = mesh.nodes[i].paths().open()?;
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
    say(&format!("    => {}", node.verdict(&article)));
    Ok(())
}

/// A newcomer, echo, joins the mesh at `at` with one invite code: no key copied by hand,
/// no config edited; its first sync brings it what `at` holds, `id` among it.
fn join_by_invite(mesh: &Mesh, at: usize, id: &str) -> Result<()> {
    say(&format!(
        "2. A newcomer, echo, joins by invite: {} runs `newsmesh invite`, echo runs `newsmesh join CODE`.",
        mesh.nodes[at].name
    ));
    let options = crate::invite::make::Options {
        groups: "*".into(),
        uses: 1,
        expires_secs: 3600,
        address: Some(mesh.nodes[at].addr.to_string()),
    };
    let code = crate::invite::make::make(mesh.nodes[at].paths(), &options)?;
    say(&format!("  code: {}...", code.get(..48).unwrap_or(&code)));
    let base = mesh.nodes[at]
        .home()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // A node of the same harness: its port reserved (it does not serve in the demo).
    let echo = crate::testbed::Node::at(&base, "echo")?;
    echo.paths().init("echo", &echo.addr.to_string())?;
    for report in crate::invite::join::join(echo.paths(), &code)? {
        say(&format!("  echo joined by invite; first sync: {report}"));
    }
    let node = echo.paths().open()?;
    say(&format!(
        "  echo has alpha's article {id}: {}",
        if node.spool.article(id)?.is_some() {
            "yes"
        } else {
            "NO (bug!)"
        }
    ));
    Ok(())
}

fn story(mesh: &Mesh) -> Result<()> {
    let (alpha, bravo, delta) = (0, 1, 3);
    say("");
    say("3. alpha posts to mesh.test; its author key signs it and the Message-ID is the hash of the signed content.");
    let id = mesh.post(
        alpha,
        "Hello from alpha",
        "Hello, mesh!\n.a line starting with a dot\n",
        None,
    )?;
    say(&format!("  posted {id}"));
    say("");
    say("4. Nodes sync with their neighbours (cron would do this); the article is relayed hop by hop.");
    rounds_until(mesh, delta, &id)?;
    say("");
    say("5. delta, three hops away, reads it; the Path shows the relays, the signature verifies.");
    show(mesh, delta, &id)?;
    say("");
    say("6. delta replies; the reply travels back the other way.");
    let reply = mesh.post(
        delta,
        "Re: Hello from alpha",
        "Hello back from delta.\n",
        Some(&id),
    )?;
    rounds_until(mesh, alpha, &reply)?;
    show(mesh, alpha, &reply)?;
    say("");
    say("7. A further round moves nothing: every node has every article, duplicates are suppressed.");
    let moved: u64 = mesh
        .round()?
        .iter()
        .map(|(_, r)| r.outcome.sent + r.outcome.received)
        .sum();
    say(&format!("  articles moved in that round: {moved}"));
    say("");
    say("8. alpha turns rogue: it changes one byte of a signed article and pushes it to bravo.");
    let node = mesh.nodes[alpha].paths().open()?;
    let mut forged = mesh
        .post(alpha, "Pay Mallory", "Send 10 coins to Alice.\n", None)
        .and_then(|fid| {
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
    let answers = mesh.runtime().block_on(crate::sync::push_raw(
        &mesh.nodes[alpha].paths().node_key()?,
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
        if mesh.has(bravo, &forged.0)? {
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
    say("Done: signed articles crossed a line of four nodes by live relay and by sync, both ways,");
    say("through neighbours only; a newcomer joined with one code; each node verified every");
    say("article before storing it, and a tampered one was refused.");
    Ok(())
}
