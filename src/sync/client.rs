//! One sync with one neighbour, over one connection:
//!
//! 1. authenticate both ways (`MESH HELLO` / `MESH PROVE`, see [`crate::sign::handshake`]);
//! 2. pull: `MESH SINCE <epoch> <mark>` lists what arrived there since our mark; we fetch
//!    the Message-IDs our history lacks with pipelined `ARTICLE`, verify and store them in
//!    one transaction per chunk, and only then advance the mark;
//! 3. push: our arrivals since the peer's push mark, minus those whose Path names the
//!    peer or whose groups its feed pattern excludes, are offered with pipelined CHECK
//!    (ihave); the 238 answers (sendme) get TAKETHIS; the mark advances once every answer
//!    is in (a 239 means the peer has committed the article).
//!
//! Pull runs first so that a rebuilt peer (new epoch) is noticed before we push, and
//! everything is offered to it again; duplicate suppression makes re-offers harmless.

use std::collections::HashSet;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;

use super::PeerReport;
use crate::config::{LimitsConfig, PeerConfig};
use crate::error::{Error, Result};
use crate::home::Node;
use crate::ingest::{ingest_offered, Rules, Verdict};
use crate::net::{Conn, NetError};
use crate::protocol::{
    parse_response, write_block, ArticleRef, Command, MeshCommand, Response, MAX_RESPONSE_LINE,
};
use crate::server::{feed_matches, path_names};
use crate::sign::handshake::{nonce, Role, Transcript};
use crate::sign::{parse_public_key, public_key_text};

/// Arrivals offered per CHECK round.
const PUSH_CHUNK: usize = 1000;
/// Articles fetched per pipelined ARTICLE round: small enough that the commands always
/// fit in the peer's socket buffer, so neither side can block the other.
const FETCH_CHUNK: usize = 500;
/// Fetched articles stored per transaction.
const STORE_BATCH: usize = 2000;
/// Message-IDs asked for per `MESH SINCE`.
const SINCE_LIMIT: u32 = 10_000;
/// The epoch token asking for a full listing from a sequence, with no Path filter:
/// first contact, or after a rebuild on either side.
const FULL_LISTING: &str = "none";

pub(super) fn net(e: NetError) -> Error {
    Error::Network(e.to_string())
}

pub(super) async fn command(conn: &mut Conn, command: &Command) -> Result<Response> {
    command.write(conn.out());
    response(conn).await
}

pub(super) async fn response(conn: &mut Conn) -> Result<Response> {
    let line = conn.read_line(MAX_RESPONSE_LINE).await.map_err(net)?;
    parse_response(&line).map_err(|e| Error::Network(e.to_string()))
}

pub(super) fn expect(r: &Response, code: u16, what: &str) -> Result<()> {
    if r.code == code {
        Ok(())
    } else {
        Err(Error::Network(format!(
            "{what}: peer answered {} {}",
            r.code, r.text
        )))
    }
}

/// Runs the whole exchange with `peer`, filling `report`.
pub async fn exchange(
    node: &mut Node,
    node_key: &SigningKey,
    peer: &PeerConfig,
    report: &mut PeerReport,
) -> Result<()> {
    let mut conn = dial(&peer.name, peer.address.as_deref(), &node.config.limits).await?;
    let result = run(node, node_key, peer, &mut conn, report).await;
    hang_up(conn, result, report).await
}

/// Connects to a neighbour's address within the configured timeouts.
pub(super) async fn dial(name: &str, address: Option<&str>, limits: &LimitsConfig) -> Result<Conn> {
    let address = address.ok_or_else(|| Error::Invalid(format!("peer {name} has no address")))?;
    let connect = Duration::from_secs(limits.connect_timeout_secs);
    let stream = tokio::time::timeout(connect, TcpStream::connect(address))
        .await
        .map_err(|_| {
            Error::Network(format!(
                "connecting to {address}: timed out after {connect:?}"
            ))
        })?
        .map_err(|e| Error::Network(format!("connecting to {address}: {e}")))?;
    Ok(Conn::new(
        stream,
        Duration::from_secs(limits.io_timeout_secs),
    ))
}

/// Ends a session: QUIT when it went well, close, and count the bytes that crossed.
pub(super) async fn hang_up(
    mut conn: Conn,
    result: Result<()>,
    report: &mut PeerReport,
) -> Result<()> {
    if result.is_ok() {
        let _ = command(&mut conn, &Command::Quit).await;
    }
    conn.shutdown().await;
    report.bytes = conn.bytes_in + conn.bytes_out;
    result
}

async fn run(
    node: &mut Node,
    node_key: &SigningKey,
    peer: &PeerConfig,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    let greeting = response(conn).await?;
    if greeting.code != 200 && greeting.code != 201 {
        return Err(Error::Network(format!(
            "peer refused the connection: {} {}",
            greeting.code, greeting.text
        )));
    }
    authenticate(node_key, peer, conn).await?;
    pull(node, peer, conn, report).await?;
    let r = command(conn, &Command::ModeStream).await?;
    expect(&r, 203, "MODE STREAM")?;
    let target = Target {
        name: &peer.name,
        feed: peer.feed(),
    };
    push(node, &target, conn, report).await
}

async fn authenticate(node_key: &SigningKey, peer: &PeerConfig, conn: &mut Conn) -> Result<()> {
    let expected = parse_public_key(&peer.key)?;
    let client_nonce = nonce();
    let hello = Command::Mesh(MeshCommand::Hello {
        key: public_key_text(&node_key.verifying_key()),
        nonce: client_nonce.clone(),
    });
    let r = command(conn, &hello).await?;
    expect(&r, 291, "MESH HELLO")?;
    let mut words = r.text.split_whitespace();
    let (Some(key), Some(server_nonce), Some(signature)) =
        (words.next(), words.next(), words.next())
    else {
        return Err(Error::Network(format!(
            "malformed MESH HELLO answer: {}",
            r.text
        )));
    };
    let server_key = parse_public_key(key)
        .map_err(|_| Error::Network("peer sent a malformed node key".into()))?;
    if server_key != expected {
        return Err(Error::Network(format!(
            "peer presented node key {key}, but the config expects {}",
            public_key_text(&expected)
        )));
    }
    let transcript = Transcript {
        client_key: node_key.verifying_key(),
        server_key,
        client_nonce,
        server_nonce: server_nonce.to_string(),
    };
    if !transcript.verify(Role::Server, signature) {
        return Err(Error::Network("peer failed to prove its node key".into()));
    }
    let prove = Command::Mesh(MeshCommand::Prove {
        signature: transcript.sign(Role::Client, node_key),
    });
    let r = command(conn, &prove).await?;
    expect(&r, 292, "MESH PROVE (is this node listed as a peer there?)")
}

async fn pull(
    node: &mut Node,
    peer: &PeerConfig,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    let mut marks = node.spool.marks(&peer.name)?;
    loop {
        let saved = marks.clone();
        let epoch = if marks.pull_full {
            FULL_LISTING.to_string()
        } else {
            marks.pull_epoch.clone()
        };
        let since = Command::Mesh(MeshCommand::Since {
            epoch,
            seq: marks.pull_seq.max(0) as u64,
            limit: SINCE_LIMIT,
        });
        let r = command(conn, &since).await?;
        expect(&r, 293, "MESH SINCE")?;
        let mut words = r.text.split_whitespace();
        let (Some(epoch), Some(through), Some(more)) = (words.next(), words.next(), words.next())
        else {
            return Err(Error::Network(format!(
                "malformed MESH SINCE answer: {}",
                r.text
            )));
        };
        let through: i64 = through.parse().map_err(|_| {
            Error::Network(format!(
                "malformed sequence in MESH SINCE answer: {through}"
            ))
        })?;
        let listing = conn
            .read_block(MAX_RESPONSE_LINE * SINCE_LIMIT as usize)
            .await
            .map_err(net)?;
        if epoch != marks.pull_epoch {
            let first_contact = marks.pull_epoch.is_empty();
            marks.pull_epoch = epoch.to_string();
            if !first_contact {
                // The peer's spool was rebuilt: list all of it again, and offer it all of
                // ours, even what its Path says it had.
                tracing::warn!(
                    "peer {} has a new spool (epoch {epoch}); syncing everything again",
                    peer.name
                );
                marks.pull_seq = 0;
                marks.pull_full = true;
                marks.push_seq = 0;
                marks.resync_through = node.spool.last_seq()?;
                node.spool.set_marks(&peer.name, &marks)?;
                continue;
            }
        }
        let mut wanted = Vec::new();
        let mut unique = HashSet::new();
        for id in String::from_utf8_lossy(&listing).lines().map(str::trim) {
            if !id.is_empty() && unique.insert(id.to_string()) && !node.spool.seen(id)? {
                wanted.push(id.to_string());
            }
        }
        // One chunk's ARTICLE commands are always in flight while the previous chunk is
        // verified and stored, so the peer is serving while we are checking.
        let chunks: Vec<&[String]> = wanted.chunks(FETCH_CHUNK).collect();
        if let Some(first) = chunks.first() {
            request(first, conn);
        }
        let mut fetched = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            fetched.extend(receive(node, chunk, conn, report).await?);
            let next = chunks.get(i + 1);
            if let Some(next) = next {
                request(next, conn);
                conn.flush().await.map_err(net)?;
            }
            // Bigger transactions write each page of the (random-key) history index
            // fewer times; the peer serves the next chunk meanwhile.
            if fetched.len() >= STORE_BATCH || next.is_none() {
                store(node, &fetched, report)?;
                fetched.clear();
            }
        }
        marks.pull_seq = through;
        if more != "1" {
            marks.pull_full = false;
        }
        if saved != marks {
            node.spool.set_marks(&peer.name, &marks)?;
        }
        if more != "1" {
            return Ok(());
        }
    }
}

/// Queues pipelined ARTICLE commands for `ids`.
fn request(ids: &[String], conn: &mut Conn) {
    for id in ids {
        Command::Article(ArticleRef::MessageId(id.clone())).write(conn.out());
    }
}

/// Reads the answers to [`request`]: the articles the peer still has.
async fn receive<'a>(
    node: &Node,
    ids: &'a [String],
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<Vec<(&'a str, Vec<u8>)>> {
    let max = node.config.limits.max_article_bytes;
    let mut articles = Vec::with_capacity(ids.len());
    for id in ids {
        let r = response(conn).await?;
        match r.code {
            220 => match conn.read_block(max).await {
                Ok(raw) => articles.push((id.as_str(), raw)),
                Err(NetError::Protocol(e)) => {
                    tracing::info!("refused {id} from peer: {e}");
                    report.refused += 1;
                }
                Err(e) => return Err(net(e)),
            },
            430 => {}
            _ => {
                return Err(Error::Network(format!(
                    "ARTICLE {id}: peer answered {} {}",
                    r.code, r.text
                )))
            }
        }
    }
    Ok(articles)
}

/// Verifies and stores fetched articles in one transaction.
fn store(node: &mut Node, articles: &[(&str, Vec<u8>)], report: &mut PeerReport) -> Result<()> {
    let rules = Rules::new(&node.config, &node.trust);
    let offered: Vec<(&str, &[u8])> = articles
        .iter()
        .map(|(id, raw)| (*id, raw.as_slice()))
        .collect();
    for verdict in ingest_offered(&mut node.spool, &rules, &offered)? {
        match verdict {
            Verdict::Stored(_) => report.received += 1,
            Verdict::Duplicate => {}
            Verdict::Refused(why) => {
                tracing::info!("refused an article: {why}");
                report.refused += 1;
            }
        }
    }
    Ok(())
}

/// Where pushed articles go: a neighbour's name (for marks and the Path filter) and
/// its feed pattern.
pub(super) struct Target<'a> {
    pub(super) name: &'a str,
    pub(super) feed: crate::wildmat::Wildmat,
}

/// Pushes our new arrivals with pipelined CHECK/TAKETHIS (after MODE STREAM).
pub(super) async fn push(
    node: &mut Node,
    target: &Target<'_>,
    conn: &mut Conn,
    report: &mut PeerReport,
) -> Result<()> {
    let mut marks = node.spool.marks(target.name)?;
    // The offer of chunk k+1 (CHECK) travels with the articles of chunk k (TAKETHIS), so
    // every round trip carries both and the peer's batches stay full.
    let mut offer = next_offer(node, target, marks.push_seq, marks.resync_through)?;
    for (_, id) in &offer.ids {
        Command::Check(id.clone()).write(conn.out());
    }
    // The first arrival the peer asked us to offer again later (431): the mark must not
    // pass it, so the next sync offers it again.
    let mut deferred: Option<i64> = None;
    while let Some(last) = offer.last_seq {
        let mut send = Vec::new();
        for (seq, id) in &offer.ids {
            let r = response(conn).await?;
            match (r.code, r.first_arg()) {
                (238, Some(got)) if got == id => send.push(id.as_str()),
                (438, Some(got)) if got == id => {}
                (431, Some(got)) if got == id => {
                    deferred = Some(deferred.map_or(*seq, |d| d.min(*seq)));
                }
                _ => {
                    return Err(Error::Network(format!(
                        "CHECK {id}: peer answered {} {}",
                        r.code, r.text
                    )))
                }
            }
        }
        let mut sent_ids = Vec::with_capacity(send.len());
        for id in send {
            if let Some(stored) = node.spool.article(id)? {
                Command::Takethis(id.to_string()).write(conn.out());
                write_block(conn.out(), &stored.raw);
                sent_ids.push(id.to_string());
            }
        }
        let next = next_offer(node, target, last, marks.resync_through)?;
        for (_, id) in &next.ids {
            Command::Check(id.clone()).write(conn.out());
        }
        for id in sent_ids {
            let r = response(conn).await?;
            match (r.code, r.first_arg()) {
                (239, Some(got)) if got == id => report.sent += 1,
                (439, Some(got)) if got == id => {
                    tracing::info!("peer {} refused {id}: {}", target.name, r.text);
                    report.refused += 1;
                }
                _ => {
                    return Err(Error::Network(format!(
                        "TAKETHIS {id}: peer answered {} {}",
                        r.code, r.text
                    )))
                }
            }
        }
        let mark = deferred.map_or(last, |d| last.min(d - 1));
        if mark != marks.push_seq {
            marks.push_seq = mark;
            node.spool.set_marks(target.name, &marks)?;
        }
        offer = next;
    }
    Ok(())
}

/// The next chunk of our arrivals after `after` that `peer` should be offered.
pub(super) struct Offer {
    /// (arrival sequence, Message-ID) to offer.
    pub(super) ids: Vec<(i64, String)>,
    /// Sequence of the last arrival examined (None: nothing new).
    pub(super) last_seq: Option<i64>,
}

/// Arrivals whose Path names the peer are skipped (it has them), except up to
/// `resync_through` (its spool was rebuilt: it may have lost them).
pub(super) fn next_offer(
    node: &Node,
    target: &Target<'_>,
    after: i64,
    resync_through: i64,
) -> Result<Offer> {
    let arrivals = node.spool.arrivals_since(after, PUSH_CHUNK)?;
    Ok(Offer {
        last_seq: arrivals.last().map(|a| a.seq),
        ids: arrivals
            .into_iter()
            .filter(|a| feed_matches(&target.feed, &a.newsgroups))
            .filter(|a| a.seq <= resync_through || !path_names(&a.path, target.name))
            .map(|a| (a.seq, a.msgid))
            .collect(),
    })
}

/// Connects to `peer` as this node, authenticates, and pushes `articles` (wire form)
/// with TAKETHIS as they are, without CHECK or any local verification; returns the
/// peer's answer to each. This is what a misbehaving or compromised neighbour could do:
/// `demo` uses it to show a tampered article being refused.
pub async fn push_raw(
    node_key: &SigningKey,
    peer: &PeerConfig,
    articles: &[(String, Vec<u8>)],
) -> Result<Vec<Response>> {
    let address = peer
        .address
        .as_deref()
        .ok_or_else(|| Error::Invalid(format!("peer {} has no address", peer.name)))?;
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| Error::Network(format!("connecting to {address}: {e}")))?;
    let mut conn = Conn::new(stream, Duration::from_secs(30));
    response(&mut conn).await?;
    authenticate(node_key, peer, &mut conn).await?;
    expect(
        &command(&mut conn, &Command::ModeStream).await?,
        203,
        "MODE STREAM",
    )?;
    for (id, raw) in articles {
        Command::Takethis(id.clone()).write(conn.out());
        write_block(conn.out(), raw);
    }
    let mut answers = Vec::with_capacity(articles.len());
    for _ in articles {
        answers.push(response(&mut conn).await?);
    }
    let _ = command(&mut conn, &Command::Quit).await;
    conn.shutdown().await;
    Ok(answers)
}
