//! Client command lines (RFC 3977, RFC 4644, RFC 4643): parsing on the server
//! side and canonical serialisation on the client side.

use std::fmt;

use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_till1, take_while1, take_while_m_n};
use nom::character::complete::{char, digit1, space0, space1};
use nom::combinator::{all_consuming, opt, recognize, rest, verify};
use nom::multi::separated_list0;
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

use super::args::{full, put_arg, syntax};
use super::mesh::{self, MeshCommand};
use super::MAX_COMMAND_LINE;

/// Max message-id length in octets, brackets included (one definition: the article's).
pub use crate::article::MAX_MESSAGE_ID;
/// Max newsgroup name length (RFC 3977 §4.1 recommends 497).
pub const MAX_GROUP_NAME: usize = 497;
/// Max digits in an article number (RFC 3977 §6).
pub const MAX_ARTICLE_DIGITS: usize = 16;

/// The article a retrieval command refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleRef {
    /// No argument: the currently selected article.
    Current,
    /// An article number in the selected group.
    Number(u64),
    /// A message-id, brackets included.
    MessageId(String),
}

/// An article-number range: `N`, `N-` or `N-M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// `N`: a single article.
    One(u64),
    /// `N-`: article N and all following.
    From(u64),
    /// `N-M`: articles N to M inclusive (empty if M < N).
    Between(u64, u64),
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Range::One(n) => write!(f, "{n}"),
            Range::From(n) => write!(f, "{n}-"),
            Range::Between(n, m) => write!(f, "{n}-{m}"),
        }
    }
}

/// Argument of OVER/XOVER and HDR/XHDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverArg {
    /// No argument: the current article.
    Current,
    /// A range of article numbers.
    Range(Range),
    /// A message-id, brackets included.
    MessageId(String),
}

/// The LIST variants (RFC 3977 §7.6). Keywords are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// `LIST [ACTIVE [wildmat]]`.
    Active(Option<String>),
    /// `LIST NEWSGROUPS [wildmat]`.
    Newsgroups(Option<String>),
    /// `LIST OVERVIEW.FMT`.
    OverviewFmt,
    /// `LIST ACTIVE.TIMES [wildmat]`.
    ActiveTimes(Option<String>),
    /// `LIST HEADERS` (the optional MSGID/RANGE argument is not supported).
    Headers,
    /// `LIST MOTD` (RFC 6048): the server's message of the day.
    Motd,
    /// `LIST DISTRIBUTIONS` (RFC 6048): distributions and what they mean.
    Distributions,
    /// Any other keyword without arguments, upper-cased.
    Other(String),
}

/// A parsed client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPABILITIES [keyword]` (the keyword is ignored).
    Capabilities,
    /// `MODE READER`.
    ModeReader,
    /// `MODE STREAM` (RFC 4644).
    ModeStream,
    /// `QUIT`.
    Quit,
    /// `HELP`.
    Help,
    /// `DATE`.
    Date,
    /// `LIST ...`.
    List(ListKind),
    /// `GROUP newsgroup`.
    Group(String),
    /// `LISTGROUP [newsgroup [range]]`; a range without a group cannot be
    /// written (and is never parsed).
    ListGroup {
        /// Group to select, or the current one.
        group: Option<String>,
        /// Article numbers to list.
        range: Option<Range>,
    },
    /// `ARTICLE [ref]`.
    Article(ArticleRef),
    /// `HEAD [ref]`.
    Head(ArticleRef),
    /// `BODY [ref]`.
    Body(ArticleRef),
    /// `STAT [ref]`.
    Stat(ArticleRef),
    /// `NEXT`.
    Next,
    /// `LAST`.
    Last,
    /// `OVER [arg]`, also parsed from `XOVER`.
    Over(OverArg),
    /// `HDR field [arg]` (RFC 3977: answered 225).
    Hdr {
        /// Header name or `:metadata` item, as sent.
        field: String,
        /// Which articles.
        arg: OverArg,
    },
    /// `XHDR field [arg]` (RFC 2980: answered 221, and a Message-ID argument's line
    /// starts with that Message-ID), kept apart from HDR because old offline readers
    /// (suck, slrnpull) stop at any other code.
    Xhdr {
        /// Header name, as sent.
        field: String,
        /// Which articles.
        arg: OverArg,
    },
    /// `XPAT field range|message-id pattern...` (RFC 2980): the header's lines whose
    /// value matches the wildmat; several pattern words are one pattern joined by spaces.
    Xpat {
        /// Header name, as sent.
        field: String,
        /// Which articles: a range or a message-id (never [`OverArg::Current`]).
        arg: OverArg,
        /// The wildmat, its words joined by single spaces.
        pattern: String,
    },
    /// `XGTITLE [wildmat]` (RFC 2980): group descriptions, like LIST NEWSGROUPS but
    /// answered 282; without a wildmat, the selected group.
    Xgtitle(Option<String>),
    /// `NEWGROUPS date time [GMT]`.
    NewGroups {
        /// `yymmdd` or `yyyymmdd`.
        date: String,
        /// `hhmmss`.
        time: String,
        /// Whether `GMT` was given.
        gmt: bool,
    },
    /// `NEWNEWS wildmat date time [GMT]`.
    NewNews {
        /// Groups to search.
        wildmat: String,
        /// `yymmdd` or `yyyymmdd`.
        date: String,
        /// `hhmmss`.
        time: String,
        /// Whether `GMT` was given.
        gmt: bool,
    },
    /// `POST`.
    Post,
    /// `IHAVE message-id`.
    Ihave(String),
    /// `CHECK message-id` (RFC 4644).
    Check(String),
    /// `TAKETHIS message-id` (RFC 4644).
    Takethis(String),
    /// `AUTHINFO USER name`: the rest of the line, verbatim.
    AuthinfoUser(String),
    /// `AUTHINFO PASS password`: the rest of the line, verbatim.
    AuthinfoPass(String),
    /// `MESH ...`: the newsmesh extension.
    Mesh(MeshCommand),
    /// `STARTTLS` (RFC 4642): TLS from the next byte on.
    StartTls,
    /// `COMPRESS algorithm` (RFC 8054; DEFLATE is the one defined).
    Compress(String),
}

/// Why a command line was rejected.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    /// Unknown verb (reply 500).
    #[error("unknown command: {0}")]
    Unknown(String),
    /// Known verb, bad arguments (reply 501); the text says what was wrong.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// Line longer than [`MAX_COMMAND_LINE`] (reply 500).
    #[error("command line too long")]
    TooLong,
    /// Line is not valid UTF-8 (reply 501).
    #[error("command line is not valid UTF-8")]
    NotUtf8,
}

impl CommandError {
    /// The status code to answer this error with.
    pub fn status(&self) -> u16 {
        match self {
            CommandError::Unknown(_) | CommandError::TooLong => 500,
            CommandError::Syntax(_) | CommandError::NotUtf8 => 501,
        }
    }
}

/// Result of a nom parser over command text.
type Res<'a, T> = IResult<&'a str, T>;

/// Argument separator characters.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Printable ASCII, 0x21..=0x7E.
fn is_printable(c: char) -> bool {
    c.is_ascii_graphic()
}

/// `<...>` with printable ASCII except `>` inside, at most [`MAX_MESSAGE_ID`].
fn message_id(i: &str) -> Res<'_, &str> {
    let inner = take_while_m_n(1, MAX_MESSAGE_ID - 2, |c| is_printable(c) && c != '>');
    recognize(delimited(char('<'), inner, char('>'))).parse(i)
}

/// An article number of at most [`MAX_ARTICLE_DIGITS`] digits.
fn number(i: &str) -> Res<'_, u64> {
    let digits = take_while_m_n(1, MAX_ARTICLE_DIGITS, |c: char| c.is_ascii_digit());
    digits.map_res(str::parse).parse(i)
}

/// `N`, `N-` or `N-M`.
fn range(i: &str) -> Res<'_, Range> {
    (number, opt(preceded(char('-'), opt(number))))
        .map(|(n, tail)| match tail {
            None => Range::One(n),
            Some(None) => Range::From(n),
            Some(Some(m)) => Range::Between(n, m),
        })
        .parse(i)
}

/// Printable ASCII, 1..=[`MAX_GROUP_NAME`] octets.
fn group_name(i: &str) -> Res<'_, &str> {
    take_while_m_n(1, MAX_GROUP_NAME, is_printable).parse(i)
}

/// Any run of non-blank, non-control characters (RFC 3977 §4 wildmats may be UTF-8).
fn wildmat(i: &str) -> Res<'_, &str> {
    take_while1(|c: char| !c.is_control() && !c.is_whitespace()).parse(i)
}

/// `yymmdd` or `yyyymmdd`.
fn date(i: &str) -> Res<'_, &str> {
    verify(digit1, |s: &str| s.len() == 6 || s.len() == 8).parse(i)
}

/// `hhmmss`.
fn time(i: &str) -> Res<'_, &str> {
    take_while_m_n(6, 6, |c: char| c.is_ascii_digit()).parse(i)
}

fn msgid_arg(arg: &str) -> Result<String, CommandError> {
    full(message_id, arg, "message-id").map(str::to_owned)
}

fn group_arg(arg: &str) -> Result<String, CommandError> {
    full(group_name, arg, "group name").map(str::to_owned)
}

fn article_ref(args: &[&str], verb: &str) -> Result<ArticleRef, CommandError> {
    match args {
        [] => Ok(ArticleRef::Current),
        [a] if a.starts_with('<') => msgid_arg(a).map(ArticleRef::MessageId),
        [a] => full(number, a, "article number").map(ArticleRef::Number),
        _ => Err(syntax(format!("usage: {verb} [message-id|number]"))),
    }
}

fn over_arg(args: &[&str], usage: &str) -> Result<OverArg, CommandError> {
    match args {
        [] => Ok(OverArg::Current),
        [a] if a.starts_with('<') => msgid_arg(a).map(OverArg::MessageId),
        [a] => full(range, a, "range").map(OverArg::Range),
        _ => Err(syntax(usage)),
    }
}

/// A header name (or `:metadata` item): printable ASCII.
fn header_name(word: &str) -> Result<String, CommandError> {
    full(take_while1(is_printable), word, "header name").map(str::to_owned)
}

fn opt_wildmat(args: &[&str], usage: &str) -> Result<Option<String>, CommandError> {
    match args {
        [] => Ok(None),
        [w] => full(wildmat, w, "wildmat").map(|w| Some(w.to_owned())),
        _ => Err(syntax(usage)),
    }
}

fn list_kind(args: &[&str]) -> Result<ListKind, CommandError> {
    let Some((keyword, rest)) = args.split_first() else {
        return Ok(ListKind::Active(None));
    };
    let keyword = keyword.to_ascii_uppercase();
    let usage = format!("usage: LIST {keyword}");
    Ok(match keyword.as_str() {
        "ACTIVE" => ListKind::Active(opt_wildmat(rest, &(usage + " [wildmat]"))?),
        "NEWSGROUPS" => ListKind::Newsgroups(opt_wildmat(rest, &(usage + " [wildmat]"))?),
        "ACTIVE.TIMES" => ListKind::ActiveTimes(opt_wildmat(rest, &(usage + " [wildmat]"))?),
        _ if !rest.is_empty() => return Err(syntax(usage)),
        "OVERVIEW.FMT" => ListKind::OverviewFmt,
        "HEADERS" => ListKind::Headers,
        "MOTD" => ListKind::Motd,
        "DISTRIBUTIONS" => ListKind::Distributions,
        _ => ListKind::Other(keyword),
    })
}

fn new_since(args: &[&str], usage: &str) -> Result<(String, String, bool), CommandError> {
    let (d, t, gmt) = match args {
        [d, t] => (d, t, false),
        [d, t, g] if g.eq_ignore_ascii_case("GMT") => (d, t, true),
        _ => return Err(syntax(usage)),
    };
    let d = full(date, d, "date")?.to_owned();
    Ok((d, full(time, t, "time")?.to_owned(), gmt))
}

/// Splits `verb rest-of-line`; the rest starts after the separating blanks.
fn verb_and_rest(i: &str) -> Res<'_, (&str, &str)> {
    let verb = preceded(space0, take_till1(is_blank));
    (verb, preceded(space0, rest)).parse(i)
}

/// Splits arguments on runs of blanks, tolerating trailing blanks.
fn words(i: &str) -> Res<'_, Vec<&str>> {
    terminated(separated_list0(space1, take_till1(is_blank)), space0).parse(i)
}

/// `keyword rest-of-line` for AUTHINFO, the rest non-empty and verbatim.
fn authinfo_arg<'a>(
    keyword: &'static str,
) -> impl Parser<&'a str, Output = &'a str, Error = nom::error::Error<&'a str>> {
    preceded(
        (tag_no_case(keyword), space1),
        verify(rest, |s: &str| !s.is_empty()),
    )
}

/// `AUTHINFO USER|PASS rest-of-line`.
fn authinfo(args: &str) -> Result<Command, CommandError> {
    alt((
        authinfo_arg("USER").map(|u| Command::AuthinfoUser(u.to_owned())),
        authinfo_arg("PASS").map(|p| Command::AuthinfoPass(p.to_owned())),
    ))
    .parse(args)
    .map(|(_, cmd)| cmd)
    .map_err(|_| syntax("usage: AUTHINFO USER name | AUTHINFO PASS password"))
}

/// Parses one command line (without its CRLF). A line holding NUL, CR or LF
/// is refused (RFC 3977 §3.1 forbids them), since [`Command::write`] could not
/// write such a value back.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    if line.len() + 2 > MAX_COMMAND_LINE {
        return Err(CommandError::TooLong);
    }
    if line.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(syntax("command line holds NUL, CR or LF"));
    }
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    let Ok((_, (verb, rest))) = verb_and_rest(line) else {
        return Err(CommandError::Unknown(String::new()));
    };
    let verb = verb.to_ascii_uppercase();
    if verb == "AUTHINFO" {
        return authinfo(rest);
    }
    let (_, args) = all_consuming(words)
        .parse(rest)
        .map_err(|_| syntax("bad arguments"))?;
    let none = |cmd| match args[..] {
        [] => Ok(cmd),
        _ => Err(syntax(format!("{verb} takes no arguments"))),
    };
    let msgid = |cmd: fn(String) -> Command| match args[..] {
        [id] => msgid_arg(id).map(cmd),
        _ => Err(syntax(format!("usage: {verb} message-id"))),
    };
    match verb.as_str() {
        "CAPABILITIES" if args.len() <= 1 => Ok(Command::Capabilities),
        "CAPABILITIES" => Err(syntax("usage: CAPABILITIES [keyword]")),
        "MODE" => match args[..] {
            [m] if m.eq_ignore_ascii_case("READER") => Ok(Command::ModeReader),
            [m] if m.eq_ignore_ascii_case("STREAM") => Ok(Command::ModeStream),
            _ => Err(syntax("usage: MODE READER | MODE STREAM")),
        },
        "QUIT" => none(Command::Quit),
        "HELP" => none(Command::Help),
        "STARTTLS" => none(Command::StartTls),
        "COMPRESS" => match args[..] {
            [algorithm] => Ok(Command::Compress(algorithm.to_string())),
            _ => Err(syntax("usage: COMPRESS DEFLATE")),
        },
        "DATE" => none(Command::Date),
        "NEXT" => none(Command::Next),
        "LAST" => none(Command::Last),
        "POST" => none(Command::Post),
        "LIST" => list_kind(&args).map(Command::List),
        "GROUP" => match args[..] {
            [g] => group_arg(g).map(Command::Group),
            _ => Err(syntax("usage: GROUP newsgroup")),
        },
        "LISTGROUP" => {
            let (group, range) = match args[..] {
                [] => (None, None),
                [g] => (Some(g), None),
                [g, r] => (Some(g), Some(full(range, r, "range")?)),
                _ => return Err(syntax("usage: LISTGROUP [newsgroup [range]]")),
            };
            let group = group.map(group_arg).transpose()?;
            Ok(Command::ListGroup { group, range })
        }
        "ARTICLE" => article_ref(&args, &verb).map(Command::Article),
        "HEAD" => article_ref(&args, &verb).map(Command::Head),
        "BODY" => article_ref(&args, &verb).map(Command::Body),
        "STAT" => article_ref(&args, &verb).map(Command::Stat),
        "OVER" | "XOVER" => over_arg(&args, "usage: OVER [range|message-id]").map(Command::Over),
        "HDR" | "XHDR" => {
            let usage = format!("usage: {verb} field [range|message-id]");
            let Some((field, rest)) = args.split_first() else {
                return Err(syntax(usage));
            };
            let field = header_name(field)?;
            let arg = over_arg(rest, &usage)?;
            Ok(match verb.as_str() {
                "HDR" => Command::Hdr { field, arg },
                _ => Command::Xhdr { field, arg },
            })
        }
        "XPAT" => match args[..] {
            [field, target, ref patterns @ ..] if !patterns.is_empty() => {
                let usage = "usage: XPAT field range|message-id pattern...";
                let arg = over_arg(&[target], usage)?;
                for word in patterns {
                    full(wildmat, word, "pattern")?;
                }
                Ok(Command::Xpat {
                    field: header_name(field)?,
                    arg,
                    pattern: patterns.join(" "),
                })
            }
            _ => Err(syntax("usage: XPAT field range|message-id pattern...")),
        },
        "XGTITLE" => opt_wildmat(&args, "usage: XGTITLE [wildmat]").map(Command::Xgtitle),
        "NEWGROUPS" => {
            let (date, time, gmt) = new_since(&args, "usage: NEWGROUPS date time [GMT]")?;
            Ok(Command::NewGroups { date, time, gmt })
        }
        "NEWNEWS" => match args.split_first() {
            Some((w, rest)) => {
                let (date, time, gmt) = new_since(rest, "usage: NEWNEWS wildmat date time [GMT]")?;
                let wildmat = full(wildmat, w, "wildmat")?.to_owned();
                Ok(Command::NewNews {
                    wildmat,
                    date,
                    time,
                    gmt,
                })
            }
            None => Err(syntax("usage: NEWNEWS wildmat date time [GMT]")),
        },
        "IHAVE" => msgid(Command::Ihave),
        "CHECK" => msgid(Command::Check),
        "TAKETHIS" => msgid(Command::Takethis),
        "MESH" => mesh::parse(&args).map(Command::Mesh),
        _ => Err(CommandError::Unknown(verb)),
    }
}

fn put_opt(out: &mut Vec<u8>, word: Option<&str>) {
    if let Some(w) = word {
        put_arg(out, w);
    }
}

fn put_ref(out: &mut Vec<u8>, r: &ArticleRef) {
    match r {
        ArticleRef::Current => {}
        ArticleRef::Number(n) => put_arg(out, &n.to_string()),
        ArticleRef::MessageId(id) => put_arg(out, id),
    }
}

fn put_over(out: &mut Vec<u8>, a: &OverArg) {
    match a {
        OverArg::Current => {}
        OverArg::Range(r) => put_arg(out, &r.to_string()),
        OverArg::MessageId(id) => put_arg(out, id),
    }
}

impl Command {
    /// Appends the canonical wire form (upper-case verb, single spaces,
    /// CRLF). Arguments are written verbatim except that CR, LF and NUL are
    /// dropped, so a value can never inject a second command.
    pub fn write(&self, out: &mut Vec<u8>) {
        use Command as C;
        let verb: &[u8] = match self {
            C::Capabilities => b"CAPABILITIES",
            C::ModeReader => b"MODE READER",
            C::ModeStream => b"MODE STREAM",
            C::Quit => b"QUIT",
            C::Help => b"HELP",
            C::Date => b"DATE",
            C::List(_) => b"LIST",
            C::Group(_) => b"GROUP",
            C::ListGroup { .. } => b"LISTGROUP",
            C::Article(_) => b"ARTICLE",
            C::Head(_) => b"HEAD",
            C::Body(_) => b"BODY",
            C::Stat(_) => b"STAT",
            C::Next => b"NEXT",
            C::Last => b"LAST",
            C::Over(_) => b"OVER",
            C::Hdr { .. } => b"HDR",
            C::Xhdr { .. } => b"XHDR",
            C::Xpat { .. } => b"XPAT",
            C::Xgtitle(_) => b"XGTITLE",
            C::NewGroups { .. } => b"NEWGROUPS",
            C::NewNews { .. } => b"NEWNEWS",
            C::Post => b"POST",
            C::Ihave(_) => b"IHAVE",
            C::Check(_) => b"CHECK",
            C::Takethis(_) => b"TAKETHIS",
            C::AuthinfoUser(_) => b"AUTHINFO USER",
            C::AuthinfoPass(_) => b"AUTHINFO PASS",
            C::Mesh(_) => b"MESH",
            C::StartTls => b"STARTTLS",
            C::Compress(_) => b"COMPRESS",
        };
        out.extend_from_slice(verb);
        match self {
            C::List(kind) => {
                let (keyword, wildmat) = match kind {
                    ListKind::Active(w) => ("ACTIVE", w.as_deref()),
                    ListKind::Newsgroups(w) => ("NEWSGROUPS", w.as_deref()),
                    ListKind::ActiveTimes(w) => ("ACTIVE.TIMES", w.as_deref()),
                    ListKind::OverviewFmt => ("OVERVIEW.FMT", None),
                    ListKind::Headers => ("HEADERS", None),
                    ListKind::Motd => ("MOTD", None),
                    ListKind::Distributions => ("DISTRIBUTIONS", None),
                    ListKind::Other(k) => (k.as_str(), None),
                };
                put_arg(out, keyword);
                put_opt(out, wildmat);
            }
            C::ListGroup { group, range } => {
                put_opt(out, group.as_deref());
                if let (Some(_), Some(r)) = (group, range) {
                    put_arg(out, &r.to_string());
                }
            }
            C::Article(r) | C::Head(r) | C::Body(r) | C::Stat(r) => put_ref(out, r),
            C::Over(a) => put_over(out, a),
            C::Hdr { field, arg } | C::Xhdr { field, arg } => {
                put_arg(out, field);
                put_over(out, arg);
            }
            C::Xpat {
                field,
                arg,
                pattern,
            } => {
                put_arg(out, field);
                put_over(out, arg);
                put_arg(out, pattern);
            }
            C::Xgtitle(wildmat) => put_opt(out, wildmat.as_deref()),
            C::NewGroups { date, time, gmt }
            | C::NewNews {
                date, time, gmt, ..
            } => {
                if let C::NewNews { wildmat, .. } = self {
                    put_arg(out, wildmat);
                }
                put_arg(out, date);
                put_arg(out, time);
                put_opt(out, gmt.then_some("GMT"));
            }
            C::Group(s) | C::Ihave(s) | C::Check(s) | C::Takethis(s) => put_arg(out, s),
            C::AuthinfoUser(s) | C::AuthinfoPass(s) | C::Compress(s) => put_arg(out, s),
            C::Mesh(m) => m.write_args(out),
            _ => {}
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::{option, sample::select};

    fn p(line: &str) -> Result<Command, CommandError> {
        parse_command(line.as_bytes())
    }

    fn written(cmd: &Command) -> String {
        let mut out = Vec::new();
        cmd.write(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// (input, canonical re-serialisation) pairs covering every command form.
    const GOOD: &[(&str, &str)] = &[
        ("capabilities", "CAPABILITIES"),
        ("CAPABILITIES AUTOUPDATE", "CAPABILITIES"),
        ("mode reader", "MODE READER"),
        ("MODE Stream", "MODE STREAM"),
        ("quit", "QUIT"),
        ("Help", "HELP"),
        ("DATE", "DATE"),
        ("NEXT", "NEXT"),
        ("last", "LAST"),
        ("POST  \t", "POST"),
        ("LIST", "LIST ACTIVE"),
        (
            "list active comp.*,!comp.os.*",
            "LIST ACTIVE comp.*,!comp.os.*",
        ),
        ("LIST newsgroups", "LIST NEWSGROUPS"),
        ("LIST NEWSGROUPS alt.*", "LIST NEWSGROUPS alt.*"),
        ("LIST overview.fmt", "LIST OVERVIEW.FMT"),
        ("LIST ACTIVE.TIMES x.*", "LIST ACTIVE.TIMES x.*"),
        ("LIST headers", "LIST HEADERS"),
        ("LIST distrib.pats", "LIST DISTRIB.PATS"),
        ("group misc.test", "GROUP misc.test"),
        ("LISTGROUP", "LISTGROUP"),
        ("LISTGROUP a.b", "LISTGROUP a.b"),
        ("listgroup  a.b\t3- ", "LISTGROUP a.b 3-"),
        ("ARTICLE", "ARTICLE"),
        ("article 0042", "ARTICLE 42"),
        ("ARTICLE <a.b@c>", "ARTICLE <a.b@c>"),
        ("head 9999999999999999", "HEAD 9999999999999999"),
        ("BODY <x@y>", "BODY <x@y>"),
        ("STAT 1", "STAT 1"),
        ("OVER", "OVER"),
        ("XOVER 1-10", "OVER 1-10"),
        ("over 7-", "OVER 7-"),
        ("OVER <a@b>", "OVER <a@b>"),
        ("hdr Subject 5", "HDR Subject 5"),
        ("XHDR :bytes", "XHDR :bytes"),
        ("xhdr Message-ID 1-30", "XHDR Message-ID 1-30"),
        ("XPAT Subject 1- *x*", "XPAT Subject 1- *x*"),
        (
            "xpat from <a@b> *fred*  *smith*",
            "XPAT from <a@b> *fred* *smith*",
        ),
        ("XGTITLE", "XGTITLE"),
        ("xgtitle mesh.*", "XGTITLE mesh.*"),
        ("LIST motd", "LIST MOTD"),
        ("list Distributions", "LIST DISTRIBUTIONS"),
        ("HDR From <a@b>", "HDR From <a@b>"),
        ("NEWGROUPS 991231 235959", "NEWGROUPS 991231 235959"),
        (
            "newgroups 19991231 235959 gmt",
            "NEWGROUPS 19991231 235959 GMT",
        ),
        (
            "NEWNEWS news.* 20240101 000000 GMT",
            "NEWNEWS news.* 20240101 000000 GMT",
        ),
        ("ihave <a@b>", "IHAVE <a@b>"),
        ("check <a@b>", "CHECK <a@b>"),
        ("TAKETHIS\t<a@b> ", "TAKETHIS <a@b>"),
        ("authinfo user fred", "AUTHINFO USER fred"),
        ("AUTHINFO PASS open sesame ", "AUTHINFO PASS open sesame "),
        ("mesh prove c2ln", "MESH PROVE c2ln"),
    ];

    /// Known verbs with bad arguments, separated by `|`.
    const BAD: &str = "QUIT now|MODE|MODE POSTER|CAPABILITIES a b|LIST OVERVIEW.FMT x|\
        LIST ACTIVE a b|LIST FOO bar|GROUP|GROUP a b|GROUP \u{e9}|LISTGROUP a 1 2|LISTGROUP a x|\
        ARTICLE 1 2|ARTICLE x|ARTICLE -1|ARTICLE 12345678901234567|ARTICLE <>|ARTICLE <a>b>|\
        ARTICLE <a b>|ARTICLE <ab|OVER 1-2-3|OVER -5|OVER 1-x|HDR|HDR a b c|XHDR|XHDR a 1 2|\
        XPAT|XPAT Subject|XPAT Subject 1-|XPAT Subject *x*|XPAT Subject x-y *|XGTITLE a b|\
        LIST MOTD x|LIST DISTRIBUTIONS x|\
        NEWGROUPS 9912 000000|NEWGROUPS 991231 0000|NEWGROUPS 991231 000000 UTC|\
        NEWGROUPS 991231 000000 GMT x|NEWNEWS * 991231|NEWNEWS|IHAVE|IHAVE 5|CHECK <a> <b>|\
        TAKETHIS a@b|MESH|AUTHINFO|AUTHINFO USER|AUTHINFO USER |AUTHINFO USERX a|AUTHINFO SASL";

    #[test]
    fn parses_every_form() {
        for (line, canonical) in GOOD {
            let cmd = p(line);
            assert!(cmd.is_ok(), "{line}: {cmd:?}");
            assert_eq!(cmd.as_ref().map(written), Ok(format!("{canonical}\r\n")));
        }
    }

    #[test]
    fn parsed_values() {
        let id = ArticleRef::MessageId("<a@b>".into());
        assert_eq!(p("ARTICLE <a@b>"), Ok(Command::Article(id)));
        assert_eq!(
            p("XOVER 3-1"),
            Ok(Command::Over(OverArg::Range(Range::Between(3, 1))))
        );
        let range = Some(Range::One(5));
        assert_eq!(
            p("LISTGROUP a 5"),
            Ok(Command::ListGroup {
                group: Some("a".into()),
                range
            })
        );
        assert_eq!(
            p("LIST active.times"),
            Ok(Command::List(ListKind::ActiveTimes(None)))
        );
        let ng = Command::NewGroups {
            date: "991231".into(),
            time: "000000".into(),
            gmt: true,
        };
        assert_eq!(p("NEWGROUPS 991231 000000 GMT"), Ok(ng));
        assert_eq!(p("AUTHINFO PASS  x"), Ok(Command::AuthinfoPass("x".into())));
    }

    #[test]
    fn errors() {
        for bad in BAD.split('|') {
            assert!(
                matches!(p(bad), Err(CommandError::Syntax(_))),
                "{bad}: {:?}",
                p(bad)
            );
        }
        let long_id = format!("ARTICLE <{}>", "x".repeat(249));
        assert!(matches!(p(&long_id), Err(CommandError::Syntax(_))));
        assert!(p(&format!("ARTICLE <{}>", "x".repeat(248))).is_ok());
        assert_eq!(p("FROB x"), Err(CommandError::Unknown("FROB".into())));
        assert_eq!(p(""), Err(CommandError::Unknown(String::new())));
        assert_eq!(p("   "), Err(CommandError::Unknown(String::new())));
        assert_eq!(parse_command(b"GROUP \xff"), Err(CommandError::NotUtf8));
        let g497 = format!("GROUP {}", "g".repeat(497));
        assert!(p(&format!("{g497}       ")).is_ok()); // 510 bytes + CRLF
        assert_eq!(p(&format!("{g497}        ")), Err(CommandError::TooLong));
        assert!(matches!(
            p(&format!("{g497}g")),
            Err(CommandError::Syntax(_))
        ));
        assert_eq!(CommandError::Unknown("X".into()).status(), 500);
        assert_eq!(CommandError::Syntax("X".into()).status(), 501);
    }

    /// Found by fuzzing (fuzz/src/bin/command.rs): a NUL in a LIST keyword or
    /// an AUTHINFO argument was accepted but dropped by `write`, so the command
    /// written back was a different one.
    #[test]
    fn refuses_nul_cr_and_lf() {
        for bad in [
            &b"LIST ISTRIB.PD\0SS"[..],
            b"AUTHINFO PASS a\rb",
            b"AUTHINFO USER a\nQUIT",
            b"\0QUIT",
        ] {
            assert!(
                matches!(parse_command(bad), Err(CommandError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            p("LIST DI\u{b}\u{2}B.PATS"),
            Ok(Command::List(ListKind::Other("DI\u{b}\u{2}B.PATS".into())))
        );
    }

    #[test]
    fn writes_safely() {
        let lg = Command::ListGroup {
            group: None,
            range: Some(Range::One(1)),
        };
        assert_eq!(written(&lg), "LISTGROUP\r\n");
        let injected = written(&Command::Group("a\r\nQUIT".into()));
        assert_eq!(injected, "GROUP aQUIT\r\n");
    }

    fn msgid() -> impl Strategy<Value = String> {
        "<[!-=?-~]{1,60}>"
    }

    fn num() -> impl Strategy<Value = u64> {
        0..=9_999_999_999_999_999u64
    }

    fn range_s() -> impl Strategy<Value = Range> {
        prop_oneof![
            num().prop_map(Range::One),
            num().prop_map(Range::From),
            (num(), num()).prop_map(|(a, b)| Range::Between(a, b)),
        ]
    }

    fn article_ref_s() -> impl Strategy<Value = ArticleRef> {
        prop_oneof![
            Just(ArticleRef::Current),
            num().prop_map(ArticleRef::Number),
            msgid().prop_map(ArticleRef::MessageId),
        ]
    }

    fn over_s() -> impl Strategy<Value = OverArg> {
        prop_oneof![
            Just(OverArg::Current),
            range_s().prop_map(OverArg::Range),
            msgid().prop_map(OverArg::MessageId),
        ]
    }

    fn list_s() -> impl Strategy<Value = ListKind> {
        let wm = option::of("[a-z*?!,.\\[\\]]{1,20}");
        prop_oneof![
            wm.clone().prop_map(ListKind::Active),
            wm.clone().prop_map(ListKind::Newsgroups),
            wm.prop_map(ListKind::ActiveTimes),
            Just(ListKind::OverviewFmt),
            Just(ListKind::Headers),
            Just(ListKind::Motd),
            Just(ListKind::Distributions),
            "X[A-Z.]{0,10}".prop_map(ListKind::Other),
        ]
    }

    fn mesh_s() -> impl Strategy<Value = MeshCommand> {
        let b64 = "[A-Za-z0-9+/=]{1,128}";
        prop_oneof![
            (b64, b64).prop_map(|(key, nonce)| MeshCommand::Hello { key, nonce }),
            b64.prop_map(|signature| MeshCommand::Prove { signature }),
            ("[A-Za-z0-9_-]{1,64}", any::<u64>(), any::<u32>())
                .prop_map(|(epoch, seq, limit)| MeshCommand::Since { epoch, seq, limit }),
            any::<u64>().prop_map(|seq| MeshCommand::Idle { seq }),
        ]
    }

    fn command_s() -> impl Strategy<Value = Command> {
        use Command as C;
        let group = "[a-z][a-z0-9.+_-]{0,30}";
        let date = "[0-9]{6}|[0-9]{8}";
        let time = "[0-9]{6}";
        prop_oneof![
            select(vec![C::Capabilities, C::ModeReader, C::ModeStream, C::Quit]),
            select(vec![
                C::Help,
                C::Date,
                C::Next,
                C::Last,
                C::Post,
                C::StartTls
            ]),
            "[A-Z]{1,10}".prop_map(C::Compress),
            list_s().prop_map(C::List),
            group.prop_map(C::Group),
            (option::of(group), option::of(range_s())).prop_map(|(group, range)| {
                let range = group.as_ref().and(range);
                C::ListGroup { group, range }
            }),
            article_ref_s().prop_map(C::Article),
            article_ref_s().prop_map(C::Head),
            article_ref_s().prop_map(C::Body),
            article_ref_s().prop_map(C::Stat),
            over_s().prop_map(C::Over),
            ("[A-Za-z:][A-Za-z0-9-]{0,20}", over_s())
                .prop_map(|(field, arg)| C::Hdr { field, arg }),
            ("[A-Za-z][A-Za-z0-9-]{0,20}", over_s())
                .prop_map(|(field, arg)| C::Xhdr { field, arg }),
            (
                "[A-Za-z][A-Za-z0-9-]{0,20}",
                over_s().prop_filter("XPAT names its articles", |a| *a != OverArg::Current),
                "[!-~]{1,10}( [!-~]{1,10}){0,3}"
            )
                .prop_map(|(field, arg, pattern)| C::Xpat {
                    field,
                    arg,
                    pattern
                }),
            option::of("[a-z*?!,.]{1,20}").prop_map(C::Xgtitle),
            (date, time, any::<bool>()).prop_map(|(date, time, gmt)| C::NewGroups {
                date,
                time,
                gmt
            }),
            ("[a-z*,!.]{1,20}", date, time, any::<bool>()).prop_map(
                |(wildmat, date, time, gmt)| C::NewNews {
                    wildmat,
                    date,
                    time,
                    gmt
                }
            ),
            msgid().prop_map(C::Ihave),
            msgid().prop_map(C::Check),
            msgid().prop_map(C::Takethis),
            "[!-~][ -~]{0,40}".prop_map(C::AuthinfoUser),
            "[!-~][ -~]{0,40}".prop_map(C::AuthinfoPass),
            mesh_s().prop_map(C::Mesh),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(cmd in command_s()) {
            let mut out = Vec::new();
            cmd.write(&mut out);
            let line = out.strip_suffix(b"\r\n").unwrap_or_default();
            prop_assert!(!line.contains(&b'\n'));
            prop_assert_eq!(parse_command(line), Ok(cmd));
        }

        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_command(&line);
        }

        #[test]
        fn never_panics_on_textish(line in "[A-Za-z]{0,12}( [ -~\\t]{0,30}){0,4}") {
            let _ = parse_command(line.as_bytes());
        }
    }
}
