//! The reader side of a session (RFC 3977 with the common extensions): the commands
//! newsreaders use. Split by topic:
//! - `group`: GROUP, LISTGROUP, NEXT, LAST (the selected group and current article);
//! - `article`: ARTICLE, HEAD, BODY, STAT;
//! - `over`: OVER/XOVER, HDR, and RFC 2980's XHDR and XPAT, streamed from the spool's
//!   overview index;
//! - `list`: LIST variants, NEWGROUPS, NEWNEWS, XGTITLE;
//! - `post`: POST (signed here, then the one way in: `ingest`);
//! - `auth`: AUTHINFO USER/PASS (RFC 4643).
//!
//! Every spool call runs on the blocking pool through [`Shared::with_spool`]; a spool
//! failure is answered `403` and the connection goes on.

mod article;
mod auth;
mod group;
mod list;
mod over;
mod post;

use super::session::{Flow, Session};
use super::Shared;
use crate::net::NetError;
use crate::protocol::{Command, Range};
use crate::spool::Spool;
use article::{Part, Retrieval};

/// Serves one reader command.
pub(super) async fn handle(s: &mut Session, command: Command) -> Result<Flow, NetError> {
    match command {
        Command::Capabilities => capabilities(s),
        Command::ModeReader => {
            if s.may_post() {
                s.reply(200, "posting allowed")
            } else if s.may_read() {
                s.reply(201, "posting prohibited")
            } else {
                s.reply(201, "authentication required to read or post")
            }
        }
        Command::Date => {
            let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
            s.reply(111, &now)
        }
        Command::Help => help(s),
        Command::AuthinfoUser(name) => auth::user(s, name),
        Command::AuthinfoPass(password) => return auth::pass(s, password).await,
        _ if !s.may_read() => s.reply(480, "authentication required (AUTHINFO USER, then PASS)"),
        Command::List(kind) => list::list(s, kind).await,
        Command::NewGroups { date, time, gmt } => list::newgroups(s, &date, &time, gmt).await,
        Command::NewNews {
            wildmat,
            date,
            time,
            gmt,
        } => list::newnews(s, &wildmat, &date, &time, gmt).await?,
        Command::Group(name) => group::group(s, name).await,
        Command::ListGroup { group, range } => group::listgroup(s, group, range).await?,
        Command::Next => group::step(s, true).await,
        Command::Last => group::step(s, false).await,
        Command::Article(r) => article::retrieve(s, Retrieval::new(r, Part::Whole)).await?,
        Command::Head(r) => article::retrieve(s, Retrieval::new(r, Part::Head)).await?,
        Command::Body(r) => article::retrieve(s, Retrieval::new(r, Part::Body)).await?,
        Command::Stat(r) => article::retrieve(s, Retrieval::new(r, Part::Stat)).await?,
        Command::Over(arg) => over::over(s, arg).await?,
        Command::Hdr { field, arg } => over::hdr(s, field, arg, over::Dialect::Rfc3977).await?,
        Command::Xhdr { field, arg } => over::hdr(s, field, arg, over::Dialect::Rfc2980).await?,
        Command::Xpat {
            field,
            arg,
            pattern,
        } => over::xpat(s, field, arg, pattern).await?,
        Command::Xgtitle(wildmat) => list::xgtitle(s, wildmat).await,
        Command::Post => post::post(s).await?,
        _ => s.reply(500, "command not available on a reader connection"),
    }
    Ok(Flow::Continue)
}

/// Runs `f` on the spool; on failure logs it, answers `403` and returns None.
pub(super) async fn query<R, F>(s: &mut Session, f: F) -> Option<R>
where
    F: FnOnce(&Shared, &mut Spool) -> crate::Result<R> + Send + 'static,
    R: Send + 'static,
{
    match s.shared.with_spool(f).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!("{}: spool failure: {e}", s.addr);
            s.reply(403, "internal fault, try again later");
            None
        }
    }
}

/// Text safe on a status line: CR, LF and NUL become spaces.
pub(super) fn one_line(text: &str) -> String {
    text.replace(['\r', '\n', '\0'], " ")
}

/// A range argument as inclusive `i64` bounds (numbers beyond `i64::MAX` exist nowhere).
pub(super) fn bounds(range: Range) -> (i64, i64) {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    match range {
        Range::One(a) => (n(a), n(a)),
        Range::From(a) => (n(a), i64::MAX),
        Range::Between(a, b) => (n(a), n(b)),
    }
}

/// The selected group, or a `412` answer and None.
pub(super) fn selected(s: &mut Session) -> Option<String> {
    let group = s.group.clone();
    if group.is_none() {
        s.reply(412, "no newsgroup selected");
    }
    group
}

fn capabilities(s: &mut Session) {
    let mut text = String::from("101 capability list follows\r\nVERSION 2\r\n");
    text.push_str(concat!(
        "IMPLEMENTATION newsmesh ",
        env!("CARGO_PKG_VERSION"),
        "\r\n"
    ));
    text.push_str("IHAVE\r\nSTREAMING\r\nX-NEWSMESH 1\r\n");
    // MESH JOIN: a newcomer redeems an invite here (`newsmesh join`, src/invite/).
    text.push_str("X-NEWSMESH-JOIN 1\r\n");
    // Set reconciliation (`MESH RECONCILE`, negentropy V1 messages): `sync` asks for it
    // on first contact and after an epoch change, and lists (`MESH SINCE`) without it.
    text.push_str("X-NEWSMESH-RECONCILE V1\r\n");
    // READER and LIST whether or not this client may read yet, as INN does: a newsreader
    // that finds no READER before AUTHINFO gives up instead of logging in (RFC 4643 §2.2
    // lets the list change after authentication; the commands answer 480 until then).
    text.push_str(concat!(
        "READER\r\n",
        "LIST ACTIVE NEWSGROUPS OVERVIEW.FMT ACTIVE.TIMES HEADERS COUNTS SUBSCRIPTIONS ",
        "MOTD DISTRIBUTIONS\r\n",
    ));
    if s.may_read() {
        text.push_str(concat!("OVER MSGID\r\n", "HDR\r\n", "NEWNEWS\r\n",));
    }
    if s.may_post() {
        text.push_str("POST\r\n");
    }
    if s.user.is_none() && !s.live.config.users.is_empty() && s.may_send_password() {
        text.push_str("AUTHINFO USER\r\n");
    }
    if s.offers_starttls() {
        text.push_str("STARTTLS\r\n");
    }
    if !s.conn.is_compressed() {
        text.push_str("COMPRESS DEFLATE\r\n");
    }
    text.push_str(".\r\n");
    s.conn.queue(text.as_bytes());
}

const HELP: &str = "\
100 help text follows\r
  ARTICLE|HEAD|BODY|STAT [message-id|number]\r
  AUTHINFO USER name / AUTHINFO PASS password\r
  CAPABILITIES [keyword]\r
  DATE\r
  GROUP newsgroup\r
  HDR|XHDR field [message-id|range]\r
  HELP\r
  LAST\r
  LIST [ACTIVE [wildmat]|ACTIVE.TIMES [wildmat]|NEWSGROUPS [wildmat]|OVERVIEW.FMT|HEADERS|COUNTS|SUBSCRIPTIONS|MOTD|DISTRIBUTIONS]\r
  LISTGROUP [newsgroup [range]]\r
  MODE READER\r
  NEWGROUPS [yy]yymmdd hhmmss [GMT]\r
  NEWNEWS wildmat [yy]yymmdd hhmmss [GMT]\r
  NEXT\r
  OVER|XOVER [message-id|range]\r
  POST\r
  QUIT\r
  XGTITLE [wildmat]\r
  XPAT field message-id|range pattern...\r
Posts are signed by this node with your author key (see newsmesh(1)).\r
.\r
";

fn help(s: &mut Session) {
    s.conn.queue(HELP.as_bytes());
}
