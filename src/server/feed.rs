//! The feed side of a session: the mesh handshake, the IHAVE/SENDME exchange in its
//! RFC 4644 form (pipelined CHECK = ihave, 238 = sendme, TAKETHIS = the article) and its
//! RFC 3977 form (IHAVE), and the pull side (`MESH SINCE` then pipelined ARTICLE).
//!
//! Pipelined feed commands are taken in batches: everything the peer has already sent
//! is read, the batch's articles are verified together and stored in one transaction,
//! and only then are the answers written. An acknowledgement therefore always follows
//! the commit of what it acknowledges.

use std::collections::HashSet;

use super::session::Session;
use crate::error::Error;
use crate::ingest::{ingest_offered, Rules, Verdict};
use crate::net::NetError;
use crate::protocol::{
    parse_command, write_block, ArticleRef, Command, MeshCommand, MAX_COMMAND_LINE,
};
use crate::sign::handshake::{nonce, Role, Transcript};
use crate::sign::{parse_public_key, public_key_text};
use crate::wildmat::Wildmat;

/// Most commands taken into one batch.
const MAX_BATCH: usize = 1000;
/// Most article bytes taken into one batch.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Most Message-IDs one `MESH SINCE` answer lists.
pub const MAX_SINCE: u32 = 10_000;

/// The answer to one CHECK.
enum Answer {
    /// 238: send it.
    Send,
    /// 431: another session is sending it; offer it again later.
    Later,
    /// 438: already here.
    Have,
}

enum Item {
    Check(String),
    Take(String, Result<Vec<u8>, String>),
    Fetch(String),
}

/// A command that joins a batch.
pub(super) enum Batched {
    /// CHECK <id>.
    Check(String),
    /// TAKETHIS <id> (its article follows on the wire).
    Takethis(String),
    /// ARTICLE <id> from an authenticated peer (the pull side of a sync).
    Fetch(String),
}

/// Whether `command` joins a batch: CHECK, TAKETHIS, and ARTICLE <id> from a peer.
pub(super) fn batchable(command: Command, from_peer: bool) -> Result<Batched, Command> {
    match command {
        Command::Check(id) => Ok(Batched::Check(id)),
        Command::Takethis(id) => Ok(Batched::Takethis(id)),
        Command::Article(ArticleRef::MessageId(id)) if from_peer => Ok(Batched::Fetch(id)),
        other => Err(other),
    }
}

/// Serves a run of pipelined CHECK / TAKETHIS / ARTICLE <id> commands starting with
/// `first`, as one batch.
pub(super) async fn batch(s: &mut Session, first: Batched) -> Result<(), NetError> {
    let max_article = s.shared.config.limits.max_article_bytes;
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut next = Some(first);
    while let Some(command) = next.take() {
        match command {
            Batched::Check(id) => items.push(Item::Check(id)),
            Batched::Takethis(id) => {
                let body = match s.conn.read_block(max_article).await {
                    Ok(body) => Ok(body),
                    Err(NetError::Protocol(e)) => Err(format!("{e}")),
                    Err(e) => return Err(e),
                };
                bytes += body.as_ref().map_or(0, Vec::len);
                items.push(Item::Take(id, body));
            }
            Batched::Fetch(id) => items.push(Item::Fetch(id)),
        }
        if items.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES {
            break;
        }
        let mut line = s.conn.buffered_line(MAX_COMMAND_LINE).ok().flatten();
        while line.is_none() && s.conn.fill_ready()? {
            line = s.conn.buffered_line(MAX_COMMAND_LINE).ok().flatten();
        }
        let Some(line) = line else {
            break;
        };
        match parse_command(&line).map(|c| batchable(c, s.peer.is_some())) {
            Ok(Ok(more)) => next = Some(more),
            _ => s.leftover = Some(line),
        }
    }
    answer(s, items).await
}

async fn answer(s: &mut Session, items: Vec<Item>) -> Result<(), NetError> {
    if !s.may_feed() {
        for item in &items {
            match item {
                Item::Check(id) | Item::Take(id, _) => {
                    s.reply(480, &format!("{id} authenticate first (MESH HELLO)"))
                }
                Item::Fetch(id) => s.reply(480, &format!("{id} authenticate first")),
            }
        }
        return Ok(());
    }
    let session = s.id;
    let result = s
        .shared
        .with_spool(move |shared, spool| {
            let takes: Vec<(&str, &[u8])> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Take(id, Ok(raw)) => Some((id.as_str(), raw.as_slice())),
                    _ => None,
                })
                .collect();
            // Answers to CHECK reflect history before this batch, the TAKETHIS earlier in
            // the same batch, and the bodies other sessions have been asked for.
            let mut offered: HashSet<&str> = HashSet::new();
            let mut checks = Vec::new();
            for item in &items {
                match item {
                    Item::Check(id) => {
                        let answer = if offered.contains(id.as_str()) || spool.seen(id)? {
                            Answer::Have
                        } else {
                            let mut in_flight = shared.in_flight();
                            match in_flight.get(id) {
                                Some(owner) if *owner != session => Answer::Later,
                                _ => {
                                    in_flight.insert(id.clone(), session);
                                    Answer::Send
                                }
                            }
                        };
                        checks.push(answer);
                    }
                    Item::Take(id, _) => {
                        offered.insert(id);
                    }
                    Item::Fetch(_) => {}
                }
            }
            let rules = Rules::new(&shared.config, &shared.trust);
            let verdicts = ingest_offered(spool, &rules, &takes)?;
            {
                let mut in_flight = shared.in_flight();
                for (id, _) in &takes {
                    in_flight.remove(*id);
                }
            }
            let mut verdicts = verdicts.into_iter();
            let mut checks = checks.into_iter();
            let (mut out, mut received, mut refused) = (Vec::new(), 0u64, 0u64);
            for item in &items {
                match item {
                    Item::Check(id) => {
                        let line = match checks.next() {
                            Some(Answer::Send) => format!("238 {id} send it\r\n"),
                            Some(Answer::Later) => {
                                format!("431 {id} another peer is sending it, try later\r\n")
                            }
                            Some(Answer::Have) | None => format!("438 {id} already have it\r\n"),
                        };
                        out.extend_from_slice(line.as_bytes());
                    }
                    Item::Take(id, Err(why)) => {
                        refused += 1;
                        out.extend_from_slice(format!("439 {id} {why}\r\n").as_bytes());
                    }
                    Item::Take(id, Ok(_)) => {
                        let line = match verdicts.next() {
                            Some(Verdict::Stored(_)) => {
                                received += 1;
                                format!("239 {id} stored\r\n")
                            }
                            Some(Verdict::Duplicate) => format!("439 {id} already have it\r\n"),
                            Some(Verdict::Refused(why)) => {
                                refused += 1;
                                tracing::info!("refused {id}: {why}");
                                format!("439 {id} {}\r\n", one_line(&why))
                            }
                            None => format!("431 {id} try again later\r\n"),
                        };
                        out.extend_from_slice(line.as_bytes());
                    }
                    Item::Fetch(id) => match spool.article(id)? {
                        Some(stored) => {
                            out.extend_from_slice(format!("220 0 {id}\r\n").as_bytes());
                            write_block(&mut out, &stored.raw);
                        }
                        None => out
                            .extend_from_slice(format!("430 {id} no such article\r\n").as_bytes()),
                    },
                }
            }
            Ok((out, received, refused))
        })
        .await;
    match result {
        Ok((out, received, refused)) => {
            s.received += received;
            s.refused += refused;
            s.conn.queue(&out);
        }
        Err(e) => {
            tracing::error!("spool failure: {e}");
            s.reply(403, "internal fault, try again later");
        }
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// RFC 3977 IHAVE: one article per round trip.
pub(super) async fn ihave(s: &mut Session, id: String) -> Result<(), NetError> {
    if !s.may_feed() {
        s.reply(480, "authenticate first (MESH HELLO)");
        return Ok(());
    }
    let probe = id.clone();
    let seen = s
        .shared
        .with_spool(move |_, spool| Ok(spool.seen(&probe)?))
        .await;
    let busy = s.shared.in_flight().contains_key(&id);
    match seen {
        Ok(true) => {
            s.reply(435, "already have it");
            return Ok(());
        }
        Ok(false) if busy => {
            s.reply(436, "another peer is sending it, try again later");
            return Ok(());
        }
        Ok(false) => s.reply(335, "send it; end with <CR-LF>.<CR-LF>"),
        Err(e) => {
            tracing::error!("spool failure: {e}");
            s.reply(436, "transfer not possible, try again later");
            return Ok(());
        }
    }
    let body = match s
        .conn
        .read_block(s.shared.config.limits.max_article_bytes)
        .await
    {
        Ok(body) => body,
        Err(NetError::Protocol(e)) => {
            s.refused += 1;
            s.reply(437, &e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let verdict = s
        .shared
        .with_spool(move |shared, spool| {
            let rules = Rules::new(&shared.config, &shared.trust);
            Ok(ingest_offered(spool, &rules, &[(&id, &body)])?.pop())
        })
        .await;
    match verdict {
        Ok(Some(Verdict::Stored(_))) => {
            s.received += 1;
            s.reply(235, "article transferred OK");
        }
        Ok(Some(Verdict::Duplicate)) => s.reply(435, "already have it"),
        Ok(Some(Verdict::Refused(why))) => {
            s.refused += 1;
            s.reply(437, &one_line(&why));
        }
        Ok(None) | Err(_) => s.reply(436, "transfer failed, try again later"),
    }
    Ok(())
}

/// The newsmesh extension commands.
pub(super) async fn mesh(s: &mut Session, command: MeshCommand) -> Result<(), NetError> {
    match command {
        MeshCommand::Hello {
            key,
            nonce: client_nonce,
        } => {
            let Ok(client_key) = parse_public_key(&key) else {
                s.reply(501, "malformed node key");
                return Ok(());
            };
            let transcript = Transcript {
                client_key,
                server_key: s.shared.node_key.verifying_key(),
                client_nonce,
                server_nonce: nonce(),
            };
            let signature = transcript.sign(Role::Server, &s.shared.node_key);
            let line = format!(
                "{} {} {}",
                public_key_text(&transcript.server_key),
                transcript.server_nonce,
                signature
            );
            s.hello = Some(transcript);
            s.reply(291, &line);
        }
        MeshCommand::Prove { signature } => {
            let Some(transcript) = s.hello.take() else {
                s.reply(482, "MESH HELLO first");
                return Ok(());
            };
            let key = public_key_text(&transcript.client_key);
            let peer = s
                .shared
                .config
                .peers
                .iter()
                .find(|p| parse_public_key(&p.key).is_ok_and(|k| k == transcript.client_key))
                .map(|p| p.name.clone());
            match peer {
                Some(name) if transcript.verify(Role::Client, &signature) => {
                    tracing::info!("{}: authenticated as peer {name}", s.addr);
                    s.reply(292, &format!("{name} authenticated"));
                    s.peer = Some(name);
                }
                Some(name) => {
                    tracing::warn!("{}: bad proof for peer {name}'s key; refused", s.addr);
                    s.reply(481, "authentication failed");
                }
                None => {
                    tracing::warn!(
                        "{}: node key {key} is not a configured peer; refused",
                        s.addr
                    );
                    s.reply(481, "node key is not a configured peer");
                }
            }
        }
        MeshCommand::Since { epoch, seq, limit } => {
            let Some(peer) = s.peer.clone() else {
                s.reply(480, "authenticate first (MESH HELLO)");
                return Ok(());
            };
            let feed = s
                .shared
                .config
                .peer(&peer)
                .map(|p| p.feed())
                .unwrap_or_else(|| Wildmat::new(""));
            let limit = limit.clamp(1, MAX_SINCE);
            let answer = s
                .shared
                .with_spool(move |shared, spool| {
                    // "none" asks for a full listing from `seq` (first contact, or the
                    // client's spool was rebuilt): no Path filter, it may have lost
                    // what its Path says it had. A stale epoch means OUR spool was
                    // rebuilt: start over; the client notices the new epoch.
                    let full = epoch == "none";
                    let start = if full || epoch == shared.epoch {
                        seq as i64
                    } else {
                        0
                    };
                    let arrivals = spool.arrivals_since(start, limit as usize)?;
                    let through = arrivals.last().map_or(start, |a| a.seq);
                    let more = arrivals.len() == limit as usize;
                    let mut block = Vec::new();
                    for a in arrivals.iter().filter(|a| {
                        feed_matches(&feed, &a.newsgroups) && (full || !path_names(&a.path, &peer))
                    }) {
                        block.extend_from_slice(a.msgid.as_bytes());
                        block.extend_from_slice(b"\r\n");
                    }
                    Ok::<_, Error>((shared.epoch.clone(), through, more, block))
                })
                .await;
            match answer {
                Ok((epoch, through, more, block)) => {
                    s.reply(293, &format!("{epoch} {through} {}", u8::from(more)));
                    write_block(s.conn.out(), &block);
                }
                Err(e) => {
                    tracing::error!("spool failure: {e}");
                    s.reply(403, "internal fault, try again later");
                }
            }
        }
    }
    Ok(())
}

/// Whether a Path (`a!b!c`) names `node`: it has the article already.
pub fn path_names(path: &str, node: &str) -> bool {
    path.split('!').any(|hop| hop.trim() == node)
}

/// Whether one of an article's groups (comma-separated) matches a peer's feed pattern.
pub fn feed_matches(feed: &Wildmat, newsgroups: &str) -> bool {
    newsgroups.split(',').any(|g| feed.matches(g.trim()))
}
