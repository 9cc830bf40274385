//! ARTICLE, HEAD, BODY and STAT (RFC 3977 §6.2): by Message-ID (the current article is
//! left alone), by number (it becomes the current article) or the current article.

use super::{query, selected};
use crate::protocol::{write_block, ArticleRef};
use crate::server::session::Session;

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

/// Splits a stored article (wire form) into its header section (each header line with
/// its CRLF, without the empty separator line) and its body.
pub(super) fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&raw[..i + 2], &raw[i + 4..]),
        None => (raw, &[]),
    }
}

/// Serves ARTICLE / HEAD / BODY / STAT.
pub(super) async fn retrieve(s: &mut Session, target: ArticleRef, part: Part) {
    match target {
        ArticleRef::MessageId(id) => {
            let group = s.group.clone();
            let probe = id.clone();
            let Some(found) = query(s, move |_, spool| {
                let Some(stored) = spool.article(&probe)? else {
                    return Ok(None);
                };
                // The number in the selected group when it is there, else 0.
                let number = match &group {
                    Some(g) => spool.number_in(g, &probe)?.unwrap_or(0),
                    None => 0,
                };
                Ok(Some((number, stored.raw)))
            })
            .await
            else {
                return;
            };
            match found {
                Some((number, raw)) => send(s, part, number, &id, &raw),
                None => s.reply(430, &format!("no article with message-id {id}")),
            }
        }
        ArticleRef::Current => {
            let Some(group) = selected(s) else {
                return;
            };
            let Some(current) = s.current else {
                s.reply(420, "no current article selected");
                return;
            };
            let Some(found) =
                query(s, move |_, spool| Ok(spool.article_at(&group, current)?)).await
            else {
                return;
            };
            match found {
                Some(stored) => send(s, part, current, &stored.msgid, &stored.raw),
                None => s.reply(420, "the current article is no longer there"),
            }
        }
        ArticleRef::Number(n) => {
            let Some(group) = selected(s) else {
                return;
            };
            let number = i64::try_from(n).unwrap_or(i64::MAX);
            let Some(found) = query(s, move |_, spool| Ok(spool.article_at(&group, number)?)).await
            else {
                return;
            };
            match found {
                Some(stored) => {
                    s.current = Some(number);
                    send(s, part, number, &stored.msgid, &stored.raw)
                }
                None => s.reply(423, &format!("no article number {n} in this group")),
            }
        }
    }
}

fn send(s: &mut Session, part: Part, number: i64, id: &str, raw: &[u8]) {
    let (head, body) = split(raw);
    let (code, what, data) = match part {
        Part::Whole => (220, "article follows", Some(raw)),
        Part::Head => (221, "headers follow", Some(head)),
        Part::Body => (222, "body follows", Some(body)),
        Part::Stat => (223, "article exists", None),
    };
    s.reply(code, &format!("{number} {id} {what}"));
    if let Some(data) = data {
        write_block(s.conn.out(), data);
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
