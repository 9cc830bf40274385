//! ARTICLE, HEAD, BODY and STAT (RFC 3977 §6.2): by Message-ID (the current article is
//! left alone), by number (it becomes the current article) or the current article.
//!
//! A pipelining reader sends many of these at once, and they are answered in batches:
//! the retrievals already waiting in the read buffer behind the first are taken with
//! it (up to [`MAX_BATCH`]), answered under one read transaction in one trip to the
//! spool's thread, each article written from SQLite's row straight into the
//! connection's write queue (dot-stuffed on the way), and the answers sent together.
//! Per command this saves the hand-over to the blocking pool, the spool lock, SQLite's
//! read locks and a copy of the article: ~75 µs a command before (13k/s), see
//! BENCHMARKS.md "Pipelined readers". A batch stops once its answers pass
//! [`BATCH_BYTES`] (plus one article) and they are sent before the next, so what a
//! reader that does not read makes us hold stays bounded; the rest of a batch is
//! answered in the next round, in order. A batch runs under the configuration its
//! first command arrived with.

use crate::net::NetError;
use crate::protocol::{
    parse_command, write_block, ArticleRef, Command, Response, MAX_COMMAND_LINE,
};
use crate::server::session::Session;
use crate::spool::{Lent, Spool};

/// Which part of the article a retrieval command returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// ARTICLE: 220, headers and body.
    Whole,
    /// HEAD: 221, headers.
    Head,
    /// BODY: 222, body.
    Body,
    /// STAT: 223, status line only.
    Stat,
}

/// One retrieval command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Retrieval {
    target: ArticleRef,
    part: Part,
}

impl Retrieval {
    pub(super) fn new(target: ArticleRef, part: Part) -> Retrieval {
        Retrieval { target, part }
    }

    /// The retrieval `command` is, if it is one.
    fn of(command: Command) -> Option<Retrieval> {
        let (target, part) = match command {
            Command::Article(r) => (r, Part::Whole),
            Command::Head(r) => (r, Part::Head),
            Command::Body(r) => (r, Part::Body),
            Command::Stat(r) => (r, Part::Stat),
            _ => return None,
        };
        Some(Retrieval { target, part })
    }
}

/// Most retrievals taken from the read buffer into one batch.
const MAX_BATCH: usize = 512;

/// Bytes of answers after which a round of a batch stops (and they are sent): large
/// enough that the spool trip is paid once per ~200 articles of 1 KB, small enough
/// that the reader gets its first answers early and keeps reading while we look up
/// the next.
const BATCH_BYTES: usize = 256 * 1024;

/// Serves `first` and the retrievals pipelined right behind it.
pub(super) async fn retrieve(s: &mut Session, first: Retrieval) -> Result<(), NetError> {
    let mut batch = gather(s, first);
    let mut done = 0;
    while done < batch.len() {
        let mut round = Round {
            out: std::mem::take(s.conn.out()),
            group: s.group.clone(),
            current: s.current,
        };
        let answered = s
            .shared
            .with_spool(move |_, spool| {
                let n = round.answer(spool, &batch[done..]);
                Ok((round, batch, n))
            })
            .await;
        let n;
        (round, batch, n) = match answered {
            Ok(answered) => answered,
            Err(e) => {
                // The spool's thread failed (a panic): the queued answers went with it,
                // so this connection cannot go on in step with its reader.
                tracing::error!("{}: spool task failed: {e}", s.addr);
                return Err(NetError::Io(std::io::Error::other(e.to_string())));
            }
        };
        *s.conn.out() = round.out;
        s.current = round.current;
        done += n;
        if done < batch.len() {
            s.conn.flush_if_over(BATCH_BYTES).await?;
        }
    }
    Ok(())
}

/// `first`, then the retrievals already buffered behind it (never waiting for more);
/// the first other command is kept for the session's loop.
fn gather(s: &mut Session, first: Retrieval) -> Vec<Retrieval> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        // A line too long is left where it is: the session's loop answers it.
        let Ok(Some(line)) = s.conn.buffered_line(MAX_COMMAND_LINE) else {
            break;
        };
        match parse_command(&line).ok().and_then(Retrieval::of) {
            Some(next) => batch.push(next),
            None => {
                s.leftover = Some(line);
                break;
            }
        }
    }
    batch
}

/// One round of a batch on the spool's thread: the answers so far (the connection's
/// write queue) and the session state the retrievals read and move.
struct Round {
    out: Vec<u8>,
    group: Option<String>,
    current: Option<i64>,
}

impl Round {
    /// Answers `batch` from its start under one read transaction until the answers
    /// pass [`BATCH_BYTES`]; returns how many were answered (at least one).
    fn answer(&mut self, spool: &Spool, batch: &[Retrieval]) -> usize {
        let (start, current) = (self.out.len(), self.current);
        let answered = spool.read_with(|spool| {
            let mut n = 0;
            for retrieval in batch {
                self.one(spool, retrieval);
                n += 1;
                if self.out.len() - start >= BATCH_BYTES {
                    break;
                }
            }
            n
        });
        match answered {
            Ok(n) => n,
            Err(e) => {
                // No read transaction (the answers are not trusted): the first is a
                // fault, the others get their turn in the next round, from where the
                // current article was.
                self.out.truncate(start);
                self.current = current;
                self.fault(&e);
                1
            }
        }
    }

    fn reply(&mut self, code: u16, text: &str) {
        Response::new(code, text).write(&mut self.out);
    }

    fn fault(&mut self, e: &dyn std::fmt::Display) {
        tracing::error!("spool failure: {e}");
        self.reply(403, "internal fault, try again later");
    }

    /// Answers one retrieval.
    fn one(&mut self, spool: &Spool, retrieval: &Retrieval) {
        let part = retrieval.part;
        let out = &mut self.out;
        let (group, current) = (self.group.as_deref(), self.current);
        let found = match &retrieval.target {
            ArticleRef::MessageId(id) => {
                match spool
                    .lend_article(id, group, |lent| send(out, part, lent.number, id, lent.raw))
                {
                    Ok(Some(())) => {}
                    Ok(None) => self.reply(430, &format!("no article with message-id {id}")),
                    Err(e) => self.fault(&e),
                }
                return;
            }
            _ if group.is_none() => return self.reply(412, "no newsgroup selected"),
            ArticleRef::Current => match (group, current) {
                (Some(group), Some(current)) => {
                    spool.lend_article_at(group, current, |lent| send_lent(out, part, lent))
                }
                _ => return self.reply(420, "no current article selected"),
            },
            ArticleRef::Number(n) => {
                let number = i64::try_from(*n).unwrap_or(i64::MAX);
                let group = group.unwrap_or_default();
                match spool.lend_article_at(group, number, |lent| send_lent(out, part, lent)) {
                    Ok(Some(())) => self.current = Some(number),
                    Ok(None) => self.reply(423, &format!("no article number {n} in this group")),
                    Err(e) => self.fault(&e),
                }
                return;
            }
        };
        match found {
            Ok(Some(())) => {}
            Ok(None) => self.reply(420, "the current article is no longer there"),
            Err(e) => self.fault(&e),
        }
    }
}

/// Writes the answer for an article found by number (named by its stored Message-ID).
fn send_lent(out: &mut Vec<u8>, part: Part, lent: Lent<'_>) {
    send(out, part, lent.number, lent.msgid, lent.raw)
}

/// Writes the status line `code number id text` and, but for STAT, the part asked
/// for as a dot-stuffed block.
fn send(out: &mut Vec<u8>, part: Part, number: i64, id: &str, raw: &[u8]) {
    let (head, body) = split(raw);
    let (code, what, data) = match part {
        Part::Whole => (220, "article follows", Some(raw)),
        Part::Head => (221, "headers follow", Some(head)),
        Part::Body => (222, "body follows", Some(body)),
        Part::Stat => (223, "article exists", None),
    };
    Response::new(code, format!("{number} {id} {what}")).write(out);
    if let Some(data) = data {
        write_block(out, data);
    }
}

/// Splits a stored article (wire form) into its header section (each header line with
/// its CRLF, without the empty separator line) and its body.
pub(super) fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memmem::find(raw, b"\r\n\r\n") {
        Some(i) => (&raw[..i + 2], &raw[i + 4..]),
        None => (raw, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_head_and_body() {
        assert_eq!(
            split(b"A: 1\r\nB: 2\r\n\r\nbody\r\n"),
            (&b"A: 1\r\nB: 2\r\n"[..], &b"body\r\n"[..])
        );
        assert_eq!(split(b"A: 1\r\n\r\n"), (&b"A: 1\r\n"[..], &b""[..]));
        assert_eq!(
            split(b"A: 1\r\n\r\n\r\nx\r\n"),
            (&b"A: 1\r\n"[..], &b"\r\nx\r\n"[..])
        );
    }
}
