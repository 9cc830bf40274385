//! OVER/XOVER and HDR (RFC 3977 §8.3, §8.5), and RFC 2980's XHDR and XPAT. Overview
//! fields and the headers the spool indexes (Subject, From, Date, Message-ID, References,
//! `:bytes`, `:lines`) come from the overview index, never from parsing articles; any
//! other header is read by parsing the stored articles. Long ranges are streamed in
//! chunks, flushing between them, so memory stays bounded whatever the range.
//!
//! XHDR and XPAT keep RFC 2980's answers (221; a Message-ID argument's line starts with
//! that Message-ID; a range without articles is an empty list) because the offline
//! readers that use them, suck and slrnpull, stop at anything else; HDR keeps RFC 3977's
//! (225, `0` for a Message-ID, 423 for an empty range).

use std::sync::Arc;

use super::{bounds, query, selected};
use crate::article::{Article, Limits};
use crate::net::NetError;
use crate::protocol::OverArg;
use crate::server::session::Session;
use crate::spool::{Overview, Spool};
use crate::wildmat::Wildmat;

/// Most article numbers read from the spool in one go.
const CHUNK: i64 = 1000;

/// The fields of LIST OVERVIEW.FMT, in OVER order after the article number.
pub(super) const OVERVIEW_FMT: &str =
    "Subject:\r\nFrom:\r\nDate:\r\nMessage-ID:\r\nReferences:\r\n:bytes\r\n:lines\r\nXref:full\r\n";

/// Formats one chunk of a range: (spool, group, first, last) -> lines.
type ChunkFn = dyn Fn(&Spool, &str, i64, i64) -> crate::Result<Vec<u8>> + Send + Sync;

/// Appends `value` with TAB, CR, LF and NUL replaced by spaces (RFC 3977 §8.3.2).
fn put_clean(out: &mut Vec<u8>, value: &str) {
    out.extend(value.bytes().map(|b| match b {
        b'\t' | b'\r' | b'\n' | 0 => b' ',
        b => b,
    }));
}

/// One overview line: number, the five header fields, `:bytes`, `:lines`, and Xref as
/// this node files the article (newsreaders use it to mark crossposts read).
pub(super) fn put_overview(out: &mut Vec<u8>, o: &Overview, node: &str) {
    out.extend_from_slice(o.number.to_string().as_bytes());
    for field in [&o.subject, &o.author, &o.date, &o.msgid, &o.refs] {
        out.push(b'\t');
        put_clean(out, field);
    }
    out.extend_from_slice(format!("\t{}\t{}\tXref: {node} ", o.bytes, o.lines).as_bytes());
    put_clean(out, &o.xref);
    out.extend_from_slice(b"\r\n");
}

/// Which standard's answers a header command gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// HDR: 225, `0 value` for a Message-ID, 423 for a range without articles.
    Rfc3977,
    /// XHDR and XPAT: 221, `<id> value` for a Message-ID, an empty list for a range
    /// without articles.
    Rfc2980,
}

impl Dialect {
    fn ok(self) -> (u16, &'static str) {
        match self {
            Dialect::Rfc3977 => (225, "headers follow"),
            Dialect::Rfc2980 => (221, "headers follow"),
        }
    }
}

/// An HDR field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// One of the overview index's fields (by its position in OVERVIEW.FMT).
    Indexed(usize),
    /// Xref, as this node (named here) files the article.
    Xref(String),
    /// Any other header: parse the stored articles.
    Parsed(String),
}

impl Field {
    fn new(name: &str, node: &str) -> Option<Field> {
        let indexed = [
            "subject",
            "from",
            "date",
            "message-id",
            "references",
            ":bytes",
            ":lines",
        ];
        let lower = name.to_ascii_lowercase();
        match indexed.iter().position(|f| *f == lower) {
            Some(i) => Some(Field::Indexed(i)),
            None if lower == "xref" => Some(Field::Xref(node.to_string())),
            None if name.starts_with(':') => None,
            None => Some(Field::Parsed(name.to_string())),
        }
    }

    fn of_overview(&self, o: &Overview) -> String {
        match self {
            Field::Indexed(0) => o.subject.clone(),
            Field::Indexed(1) => o.author.clone(),
            Field::Indexed(2) => o.date.clone(),
            Field::Indexed(3) => o.msgid.clone(),
            Field::Indexed(4) => o.refs.clone(),
            Field::Indexed(5) => o.bytes.to_string(),
            Field::Indexed(6) => o.lines.to_string(),
            Field::Xref(node) => format!("{node} {}", o.xref),
            _ => String::new(),
        }
    }

    fn of_raw(&self, raw: &[u8]) -> String {
        let Field::Parsed(name) = self else {
            return String::new();
        };
        let limits = Limits {
            max_article: usize::MAX,
            ..Limits::default()
        };
        Article::parse(raw, &limits)
            .ok()
            .and_then(|a| a.header_unfolded(name))
            .unwrap_or_default()
    }

    /// `number value` lines for articles `from..=to` of `group` (with `pattern`, only
    /// those whose value matches it).
    fn chunk(
        &self,
        spool: &Spool,
        group: &str,
        (from, to): (i64, i64),
        pattern: Option<&Wildmat>,
    ) -> crate::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut line = |n: i64, value: &str| {
            if pattern.is_some_and(|p| !p.matches(value)) {
                return;
            }
            out.extend_from_slice(format!("{n} ").as_bytes());
            put_clean(&mut out, value);
            out.extend_from_slice(b"\r\n");
        };
        match self {
            Field::Indexed(_) | Field::Xref(_) => {
                for o in spool.overview(group, from, to)? {
                    line(o.number, &self.of_overview(&o));
                }
            }
            Field::Parsed(_) => {
                for n in spool.numbers(group, from, to)? {
                    if let Some(stored) = spool.article_at(group, n)? {
                        line(n, &self.of_raw(&stored.raw));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The value for one article by Message-ID, None when it is not stored.
    fn by_id(&self, spool: &Spool, id: &str) -> crate::Result<Option<String>> {
        Ok(match self {
            Field::Indexed(_) | Field::Xref(_) => {
                spool.overview_of(id)?.map(|o| self.of_overview(&o))
            }
            Field::Parsed(_) => spool.article(id)?.map(|a| self.of_raw(&a.raw)),
        })
    }
}

/// OVER / XOVER.
pub(super) async fn over(s: &mut Session, arg: OverArg) -> Result<(), NetError> {
    if let OverArg::MessageId(id) = arg {
        let probe = id.clone();
        let Some(found) = query(s, move |_, spool| Ok(spool.overview_of(&probe)?)).await else {
            return Ok(());
        };
        match found {
            Some(o) => {
                s.reply(224, "overview information follows");
                let node = s.shared.name().to_string();
                put_overview(s.conn.out(), &o, &node);
                s.conn.queue(b".\r\n");
            }
            None => s.reply(430, &format!("no article with message-id {id}")),
        }
        return Ok(());
    }
    let node = s.shared.name().to_string();
    let chunk: Arc<ChunkFn> = Arc::new(move |spool, group, from, to| {
        let mut out = Vec::new();
        for o in spool.overview(group, from, to)? {
            put_overview(&mut out, &o, &node);
        }
        Ok(out)
    });
    let ok = (224, "overview information follows");
    stream(s, arg, ok, Empty::Refuse, chunk).await
}

/// HDR (RFC 3977) or XHDR (RFC 2980).
pub(super) async fn hdr(
    s: &mut Session,
    name: String,
    arg: OverArg,
    dialect: Dialect,
) -> Result<(), NetError> {
    headers(s, name, arg, None, dialect).await
}

/// XPAT (RFC 2980): XHDR's lines whose value matches `pattern`.
pub(super) async fn xpat(
    s: &mut Session,
    name: String,
    arg: OverArg,
    pattern: String,
) -> Result<(), NetError> {
    let pattern = Wildmat::new(&pattern);
    headers(s, name, arg, Some(pattern), Dialect::Rfc2980).await
}

/// One header (or metadata item) of the articles `arg` names, filtered by `pattern`.
async fn headers(
    s: &mut Session,
    name: String,
    arg: OverArg,
    pattern: Option<Wildmat>,
    dialect: Dialect,
) -> Result<(), NetError> {
    let Some(field) = Field::new(&name, s.shared.name()) else {
        s.reply(503, &format!("metadata item {name} not supported"));
        return Ok(());
    };
    let (code, what) = dialect.ok();
    if let OverArg::MessageId(id) = arg {
        let (probe, f) = (id.clone(), field.clone());
        let Some(found) = query(s, move |_, spool| f.by_id(spool, &probe)).await else {
            return Ok(());
        };
        let Some(value) = found else {
            s.reply(430, &format!("no article with message-id {id}"));
            return Ok(());
        };
        s.reply(code, &format!("{what} ({name})"));
        let out = s.conn.out();
        if pattern.as_ref().is_none_or(|p| p.matches(&value)) {
            match dialect {
                Dialect::Rfc3977 => out.extend_from_slice(b"0 "),
                Dialect::Rfc2980 => out.extend_from_slice(format!("{id} ").as_bytes()),
            }
            put_clean(out, &value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        return Ok(());
    }
    let chunk: Arc<ChunkFn> = Arc::new(move |spool, group, from, to| {
        field.chunk(spool, group, (from, to), pattern.as_ref())
    });
    let empty = match dialect {
        Dialect::Rfc3977 => Empty::Refuse,
        Dialect::Rfc2980 => Empty::List,
    };
    stream(s, arg, (code, what), empty, chunk).await
}

/// How a range without articles is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Empty {
    /// RFC 3977: `423`.
    Refuse,
    /// RFC 2980: the success code and an empty list.
    List,
}

/// Serves a range (or the current article) of the selected group in chunks: `412` with
/// no group, `420` with no current article, `423` when the range holds no article.
async fn stream(
    s: &mut Session,
    arg: OverArg,
    ok: (u16, &str),
    empty_range: Empty,
    chunk: Arc<ChunkFn>,
) -> Result<(), NetError> {
    let Some(group) = selected(s) else {
        return Ok(());
    };
    let is_range = matches!(arg, OverArg::Range(_));
    let (from, to, empty) = match arg {
        OverArg::Range(r) => {
            let (from, to) = bounds(r);
            (from, to, (423, "no articles in that range"))
        }
        _ => match s.current {
            Some(n) => (n, n, (420, "the current article is no longer there")),
            None => {
                s.reply(420, "no current article selected");
                return Ok(());
            }
        },
    };
    let (g, c) = (group.clone(), Arc::clone(&chunk));
    let Some(first) = query(s, move |_, spool| {
        let high = spool.group(&g)?.map_or(0, |info| info.high);
        let to = to.min(high);
        let first = match spool.next_in(&g, from.saturating_sub(1))? {
            Some((n, _)) if n <= to => n,
            _ => return Ok(None),
        };
        let end = to.min(first.saturating_add(CHUNK - 1));
        Ok(Some((to, end, c(spool, &g, first, end)?)))
    })
    .await
    else {
        return Ok(());
    };
    let Some((to, mut end, lines)) = first else {
        if empty_range == Empty::List && is_range {
            s.reply(ok.0, ok.1);
            s.conn.queue(b".\r\n");
        } else {
            s.reply(empty.0, empty.1);
        }
        return Ok(());
    };
    s.reply(ok.0, ok.1);
    s.conn.queue(&lines);
    while end < to {
        s.conn.flush().await?;
        let (start, stop) = (end + 1, to.min(end.saturating_add(CHUNK)));
        end = stop;
        let (g, c) = (group.clone(), Arc::clone(&chunk));
        let lines = s
            .shared
            .with_spool(move |_, spool| c(spool, &g, start, stop))
            .await
            // Mid-block there is no way to answer an error: drop the connection.
            .map_err(|e| NetError::Io(std::io::Error::other(e.to_string())))?;
        s.conn.queue(&lines);
    }
    s.conn.queue(b".\r\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_lines_have_no_stray_tabs_or_line_ends() {
        let o = Overview {
            number: 7,
            subject: "a\tb\r\nc".into(),
            author: "x\0y".into(),
            date: "d".into(),
            posted: 0,
            msgid: "<m@x>".into(),
            refs: String::new(),
            bytes: 12,
            lines: 3,
            xref: "mesh.test:7 mesh.b:2".into(),
        };
        let mut out = Vec::new();
        put_overview(&mut out, &o, "alpha");
        assert_eq!(
            out,
            b"7\ta b  c\tx y\td\t<m@x>\t\t12\t3\tXref: alpha mesh.test:7 mesh.b:2\r\n"
        );
    }

    #[test]
    fn fields() {
        assert_eq!(Field::new("SUBJECT", "alpha"), Some(Field::Indexed(0)));
        assert_eq!(Field::new(":lines", "alpha"), Some(Field::Indexed(6)));
        assert_eq!(Field::new(":nope", "alpha"), None);
        assert_eq!(
            Field::new("Newsgroups", "alpha"),
            Some(Field::Parsed("Newsgroups".into()))
        );
        let raw = b"Subject: s\r\nX-Long: a\r\n b\r\n\r\nbody\r\n";
        assert_eq!(Field::Parsed("x-long".into()).of_raw(raw), "a b");
        assert_eq!(Field::Parsed("x-none".into()).of_raw(raw), "");
    }
}
