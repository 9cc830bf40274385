//! LIST variants (RFC 3977 §7.6; RFC 6048 COUNTS, SUBSCRIPTIONS, MOTD and
//! DISTRIBUTIONS), NEWGROUPS and NEWNEWS (§7.3, §7.4), and RFC 2980's XGTITLE (group
//! descriptions for readers older than LIST NEWSGROUPS).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, TimeZone};

use super::over::OVERVIEW_FMT;
use super::query;
use crate::article::body_from_local;
use crate::net::NetError;
use crate::protocol::{write_block, ListKind};
use crate::server::session::Session;
use crate::spool::GroupInfo;
use crate::wildmat::Wildmat;

/// `high low` for LIST ACTIVE / NEWGROUPS (an empty group reports low = high + 1).
fn marks(g: &GroupInfo) -> (i64, i64) {
    if g.count == 0 {
        (g.high, g.high + 1)
    } else {
        (g.high, g.low)
    }
}

/// The posting status letter of a group for this client.
fn status(s: &Session, group: &str) -> char {
    if s.live.config.reader.posting && s.live.trust.covers(group) {
        'y'
    } else {
        'n'
    }
}

/// The groups matching `wildmat` (all when None), or None after a `403`.
async fn groups(s: &mut Session, wildmat: Option<&str>) -> Option<Vec<GroupInfo>> {
    let all = query(s, |_, spool| Ok(spool.carried_groups()?)).await?;
    let pattern = wildmat.map(Wildmat::new);
    Some(
        all.into_iter()
            .filter(|g| pattern.as_ref().is_none_or(|p| p.matches(&g.name)))
            .collect(),
    )
}

/// The file in the node home whose text LIST MOTD shows (as INN's `motd.nnrpd`).
pub const MOTD_FILE: &str = "motd";

/// The message of the day in wire form (CRLF lines), empty when there is no file. It is
/// read up to the article size limit: a MOTD is never larger than an article.
fn read_motd(path: &std::path::Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    file.take(u64::try_from(max).unwrap_or(u64::MAX))
        .read_to_end(&mut text)?;
    Ok(body_from_local(&text))
}

/// LIST MOTD: the home's `motd` file, or an empty list.
async fn motd(s: &mut Session) {
    let path = s.shared.home.dir().join(MOTD_FILE);
    let max = s.live.config.limits.max_article_bytes;
    let shown = path.display().to_string();
    match tokio::task::spawn_blocking(move || read_motd(&path, max)).await {
        Ok(Ok(text)) => {
            s.reply(215, "message of the day follows");
            write_block(s.conn.out(), &text);
        }
        Ok(Err(e)) => {
            tracing::error!("{}: LIST MOTD: {shown}: {e}", s.addr);
            s.reply(403, "the message of the day cannot be read");
        }
        Err(e) => {
            tracing::error!("{}: LIST MOTD: {e}", s.addr);
            s.reply(403, "internal fault, try again later");
        }
    }
}

/// LIST ...
pub(super) async fn list(s: &mut Session, kind: ListKind) {
    let (wildmat, what) = match &kind {
        ListKind::Motd => return motd(s).await,
        ListKind::Distributions => {
            // Distributions are a USENET-wide convention a private mesh does not use.
            s.reply(215, "no distributions defined here");
            s.conn.queue(b".\r\n");
            return;
        }
        ListKind::OverviewFmt => {
            s.reply(215, "order of fields in overview database");
            s.conn.queue(OVERVIEW_FMT.as_bytes());
            s.conn.queue(b".\r\n");
            return;
        }
        ListKind::Headers => {
            s.reply(215, "headers and metadata items supported");
            s.conn.queue(b":\r\n:bytes\r\n:lines\r\n.\r\n");
            return;
        }
        ListKind::Active(w) => (w.as_deref(), "list of newsgroups follows"),
        ListKind::Newsgroups(w) => (w.as_deref(), "list of newsgroups follows"),
        ListKind::ActiveTimes(w) => (w.as_deref(), "information follows"),
        ListKind::Other(k) if k == "COUNTS" => (None, "list of newsgroups follows"),
        ListKind::Other(k) if k == "SUBSCRIPTIONS" => (None, "default subscriptions follow"),
        ListKind::Other(k) if matches!(k.as_str(), "DISTRIB.PATS" | "MODERATORS") => {
            s.reply(503, &format!("no {k} information on this server"));
            return;
        }
        ListKind::Other(k) => {
            s.reply(501, &format!("unknown LIST keyword {k}"));
            return;
        }
    };
    let wildmat = wildmat.map(str::to_owned);
    let Some(groups) = groups(s, wildmat.as_deref()).await else {
        return;
    };
    let mut text = String::new();
    for g in &groups {
        let (high, low) = marks(g);
        let line = match &kind {
            ListKind::Active(_) => format!("{} {high} {low} {}\r\n", g.name, status(s, &g.name)),
            ListKind::Other(k) if k == "COUNTS" => format!(
                "{} {high} {low} {} {}\r\n",
                g.name,
                g.count,
                status(s, &g.name)
            ),
            ListKind::Newsgroups(_) => {
                format!("{}\t{}\r\n", g.name, super::one_line(&g.description))
            }
            ListKind::ActiveTimes(_) => format!("{} {} {}\r\n", g.name, g.created, s.shared.name()),
            _ => format!("{}\r\n", g.name),
        };
        text.push_str(&line);
    }
    s.reply(215, what);
    s.conn.queue(text.as_bytes());
    s.conn.queue(b".\r\n");
}

/// XGTITLE [wildmat] (RFC 2980): `282` and `name<TAB>description` lines for the groups
/// the wildmat matches (the selected group without one).
pub(super) async fn xgtitle(s: &mut Session, wildmat: Option<String>) {
    let wildmat = match wildmat {
        Some(w) => w,
        None => match super::selected(s) {
            Some(group) => group,
            None => return,
        },
    };
    let Some(groups) = groups(s, Some(&wildmat)).await else {
        return;
    };
    let mut text = String::new();
    for g in &groups {
        text.push_str(&format!(
            "{}\t{}\r\n",
            g.name,
            super::one_line(&g.description)
        ));
    }
    s.reply(282, "list of groups and descriptions follows");
    s.conn.queue(text.as_bytes());
    s.conn.queue(b".\r\n");
}

/// The Unix time of `[yy]yymmdd hhmmss` (UTC with GMT, else the server's local time),
/// None when it is not a real date. A two-digit year is in the current century unless
/// that would be in the future (RFC 3977 §7.3.2).
pub(super) fn parse_since(date: &str, time: &str, gmt: bool) -> Option<i64> {
    let digits = |s: &str| s.parse::<u32>().ok();
    let (year, rest) = if date.len() == 8 {
        (digits(&date[..4])? as i32, &date[4..])
    } else {
        let yy = digits(date.get(..2)?)? as i32;
        let now = chrono::Utc::now().year();
        let century = now - now % 100;
        let year = if century + yy <= now {
            century + yy
        } else {
            century - 100 + yy
        };
        (year, date.get(2..)?)
    };
    let day = NaiveDate::from_ymd_opt(year, digits(rest.get(..2)?)?, digits(rest.get(2..4)?)?)?;
    let at = day.and_hms_opt(
        digits(time.get(..2)?)?,
        digits(time.get(2..4)?)?,
        digits(time.get(4..6)?)?,
    )?;
    if gmt {
        Some(at.and_utc().timestamp())
    } else {
        chrono::Local
            .from_local_datetime(&at)
            .earliest()
            .map(|t| t.timestamp())
    }
}

/// NEWGROUPS date time [GMT]: groups created since then.
pub(super) async fn newgroups(s: &mut Session, date: &str, time: &str, gmt: bool) {
    let Some(since) = parse_since(date, time, gmt) else {
        s.reply(501, &format!("invalid date and time {date} {time}"));
        return;
    };
    let Some(groups) = groups(s, None).await else {
        return;
    };
    let mut text = String::new();
    for g in groups.iter().filter(|g| g.created >= since) {
        let (high, low) = marks(g);
        text.push_str(&format!(
            "{} {high} {low} {}\r\n",
            g.name,
            status(s, &g.name)
        ));
    }
    s.reply(231, "list of new newsgroups follows");
    s.conn.queue(text.as_bytes());
    s.conn.queue(b".\r\n");
}

/// Arrivals NEWNEWS reads from the spool at a time: the answer is sent page by page, so
/// its memory stays bounded however many articles match.
const NEWNEWS_PAGE: usize = 1000;

/// NEWNEWS wildmat date time [GMT]: Message-IDs of articles that arrived here since
/// then in a group the wildmat matches, in arrival order.
pub(super) async fn newnews(
    s: &mut Session,
    wildmat: &str,
    date: &str,
    time: &str,
    gmt: bool,
) -> Result<(), NetError> {
    let Some(since) = parse_since(date, time, gmt) else {
        s.reply(501, &format!("invalid date and time {date} {time}"));
        return Ok(());
    };
    let pattern = Arc::new(Wildmat::new(wildmat));
    let Some(mut next) = query(s, move |_, spool| Ok(spool.first_arrival_since(since)?)).await
    else {
        return Ok(());
    };
    s.reply(230, "list of new articles follows");
    while let Some(from) = next {
        let pattern = Arc::clone(&pattern);
        let page = s
            .shared
            .with_spool(move |_, spool| {
                let page = spool.arrived_since(since, from, NEWNEWS_PAGE)?;
                let mut text = String::new();
                for (_, id, groups) in &page {
                    if pattern.matches_any(groups) {
                        text.push_str(id);
                        text.push_str("\r\n");
                    }
                }
                // A full page may have more after it; a short one is the last.
                let more = page
                    .last()
                    .filter(|_| page.len() == NEWNEWS_PAGE)
                    .map(|(seq, _, _)| seq + 1);
                Ok::<_, crate::Error>((text, more))
            })
            .await
            // The 230 is out: a failure now can only end the connection.
            .map_err(|e| NetError::Io(std::io::Error::other(e.to_string())))?;
        s.conn.queue(page.0.as_bytes());
        next = page.1;
        if next.is_some() {
            s.conn.flush().await?;
        }
    }
    s.conn.queue(b".\r\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn dates() {
        assert_eq!(
            parse_since("19700101", "000000", true),
            Some(0),
            "the epoch"
        );
        assert_eq!(parse_since("20240229", "235959", true), Some(1_709_251_199));
        assert_eq!(parse_since("20230229", "000000", true), None);
        assert_eq!(parse_since("20241301", "000000", true), None);
        assert_eq!(parse_since("20240101", "246000", true), None);
        // Two-digit years: 99 is 1999 (2099 would be in the future), 00 is 2000.
        assert_eq!(
            parse_since("991231", "235959", true),
            parse_since("19991231", "235959", true)
        );
        assert_eq!(
            parse_since("000101", "000000", true),
            parse_since("20000101", "000000", true)
        );
        assert!(parse_since("20240101", "000000", false).is_some());
    }
}
