//! Netnews article format (RFC 5536): the [`Article`] type, its header
//! accessors and validation, and the size [`Limits`] applied when parsing.
//!
//! Articles are held in *wire form*, i.e. what NNTP carries after
//! dot-unstuffing: header lines, an empty line, then the body, every line
//! ending in CRLF. Parsing lives in `parse` (nom), serialising and the
//! local/wire body conversions in `write`.

mod parse;
pub mod rfc2047;
mod write;

pub use write::{body_from_local, body_to_local};

// ---------------------------------------------------------------- limits

/// Default maximum number of header fields in one article.
pub const MAX_HEADERS: usize = 256;
/// Maximum length of one physical header line in octets, excluding the CRLF
/// (RFC 5322 §2.1.1).
pub const MAX_HEADER_LINE: usize = 998;
/// Default maximum size of one header field (name, colon and value,
/// including folded continuation lines).
pub const MAX_HEADER_FIELD: usize = 16 * 1024;
/// Default maximum size of a whole article in octets.
pub const DEFAULT_MAX_ARTICLE: usize = 1024 * 1024;
/// Maximum length of a message-id in octets (RFC 5536 §3.1.3).
pub const MAX_MESSAGE_ID: usize = 250;

/// Size limits applied by [`Article::parse`]; the configuration may override
/// the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in octets; checked before any parsing.
    pub max_article: usize,
    /// Largest accepted number of header fields.
    pub max_headers: usize,
    /// Largest accepted header field (see [`MAX_HEADER_FIELD`]).
    pub max_header_field: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_article: DEFAULT_MAX_ARTICLE,
            max_headers: MAX_HEADERS,
            max_header_field: MAX_HEADER_FIELD,
        }
    }
}

// ---------------------------------------------------------------- types

/// One header field.
///
/// `value` is the field body as it appears after `Name:`, with one leading
/// space removed if present. Folding is preserved as `"\r\n"` followed by
/// the continuation line's leading whitespace. `name` keeps its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Field name, original case, printable ASCII without `:`.
    pub name: String,
    /// Raw (possibly folded) field body.
    pub value: String,
}

impl Header {
    /// Builds a header from a name and a raw value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A netnews article in wire form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Article {
    /// Header fields in order of appearance.
    pub headers: Vec<Header>,
    /// Body octets, CRLF line ends, exactly as on the wire (not dot-stuffed).
    pub body: Vec<u8>,
}

/// Errors from parsing or validating an article.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ArticleError {
    /// The input is larger than the configured maximum.
    #[error("article of {size} octets exceeds the limit of {limit}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// Limit in force.
        limit: usize,
    },
    /// More header fields than allowed.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// Limit in force.
        limit: usize,
    },
    /// A header field, or one physical line of it, is too long.
    #[error("header {name} exceeds {limit} octets")]
    HeaderTooLong {
        /// Name of the offending field.
        name: String,
        /// Limit in force ([`MAX_HEADER_LINE`] or the field limit).
        limit: usize,
    },
    /// A header field is not valid UTF-8 (RFC 5536 requires UTF-8 headers).
    #[error("header {name} is not valid UTF-8")]
    NotUtf8 {
        /// Name of the offending field.
        name: String,
    },
    /// A header line is syntactically wrong.
    #[error("malformed header on line {line}: {reason}")]
    MalformedHeader {
        /// 1-based physical line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No empty line separates the headers from the body.
    #[error("no empty line after the header section")]
    NoBody,
    /// A mandatory header is absent.
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// A header that must appear once appears more often.
    #[error("duplicate header {0}")]
    DuplicateHeader(&'static str),
    /// The Message-ID is not syntactically valid.
    #[error("bad message-id {0:?}")]
    BadMessageId(String),
    /// The Newsgroups header is empty or names an invalid group.
    #[error("bad newsgroups {0:?}")]
    BadNewsgroups(String),
}

/// Headers RFC 5536 §3.1 requires exactly once, in checking order.
pub const MANDATORY_HEADERS: [&str; 6] = [
    "From",
    "Newsgroups",
    "Subject",
    "Date",
    "Message-ID",
    "Path",
];

/// RFC 5322 unfolding (drop CRLFs, which are always followed by WSP here)
/// plus trimming.
fn unfold(value: &str) -> String {
    // Most fields are one line: no search for a two-byte pattern, one copy.
    if !value.as_bytes().contains(&b'\r') {
        return value.trim().to_string();
    }
    value.replace("\r\n", "").trim().to_string()
}

impl Article {
    /// Parses an article in wire form (bare LF line ends are accepted and
    /// normalised to CRLF). Never panics; every input gives `Ok` or an error.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Article, ArticleError> {
        parse::parse_article(bytes, limits)
    }

    /// Serialises to wire form: `Name: value\r\n` per header (`Name:\r\n`
    /// for an empty value), an empty line, then the body verbatim.
    pub fn to_bytes(&self) -> Vec<u8> {
        write::article_to_bytes(self)
    }

    /// Raw value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Value of the first header named `name`, unfolded and trimmed.
    pub fn header_unfolded(&self, name: &str) -> Option<String> {
        self.header(name).map(unfold)
    }

    /// All headers named `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }

    /// Replaces the first header named `name` in place (name and value), or
    /// appends one; later headers of that name are removed.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let mut new = Some(Header::new(name, value));
        let mut seen = false;
        self.headers.retain_mut(|h| {
            if !h.name.eq_ignore_ascii_case(name) {
                return true;
            }
            if let Some(n) = new.take() {
                *h = n;
            }
            !std::mem::replace(&mut seen, true)
        });
        self.headers.extend(new);
    }

    /// Removes every header named `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
    }

    /// The Message-ID header value, trimmed (not validated).
    pub fn message_id(&self) -> Option<&str> {
        self.header("Message-ID").map(str::trim)
    }

    /// Newsgroups split on `,`, each trimmed of whitespace and folding;
    /// empty and repeated entries dropped (first occurrence kept), so an
    /// article naming a group twice is filed there once.
    pub fn newsgroups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for g in self
            .header_unfolded("Newsgroups")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
        {
            if !g.is_empty() && !groups.iter().any(|seen| seen == g) {
                groups.push(g.to_string());
            }
        }
        groups
    }

    /// Prepends `identity!` to the Path header (`a!b` becomes
    /// `identity!a!b`), or creates `identity!not-for-mail` if there is none.
    /// The result is folded before a `!` when its first line would otherwise
    /// exceed [`MAX_HEADER_LINE`].
    pub fn path_prepend(&mut self, identity: &str) {
        let value = match self.header("Path") {
            Some(old) => format!("{identity}!{}", old.trim_start()),
            None => format!("{identity}!not-for-mail"),
        };
        self.set_header("Path", &fold_path(&value));
    }

    /// Path entries split on `!`, trimmed; empty entries (as in the `!!`
    /// diagnostic) are dropped.
    pub fn path_entries(&self) -> Vec<String> {
        self.header_unfolded("Path")
            .map(|v| {
                v.split('!')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of body lines (a final line without CRLF counts too).
    pub fn body_line_count(&self) -> usize {
        let lf = self.body.iter().filter(|&&b| b == b'\n').count();
        match self.body.last() {
            Some(b'\n') | None => lf,
            Some(_) => lf + 1,
        }
    }

    /// RFC 5536 §3.1 check for relaying: [`validate`](Self::validate) with
    /// a mandatory Path.
    pub fn validate_for_transit(&self) -> Result<(), ArticleError> {
        self.validate(true)
    }

    /// Checks that each of [`MANDATORY_HEADERS`] appears exactly once (Path
    /// may be absent when `require_path` is false), that the Message-ID is
    /// valid and that Newsgroups lists at least one valid group name.
    pub fn validate(&self, require_path: bool) -> Result<(), ArticleError> {
        for name in MANDATORY_HEADERS {
            match self.headers_named(name).count() {
                0 if name == "Path" && !require_path => {}
                0 => return Err(ArticleError::MissingHeader(name)),
                1 => {}
                _ => return Err(ArticleError::DuplicateHeader(name)),
            }
        }
        let id = self.message_id().unwrap_or_default();
        if !is_valid_message_id(id) {
            return Err(ArticleError::BadMessageId(id.to_string()));
        }
        let groups = self.newsgroups();
        if groups.is_empty() || !groups.iter().all(|g| is_valid_group_name(g)) {
            let raw = self.header_unfolded("Newsgroups").unwrap_or_default();
            return Err(ArticleError::BadNewsgroups(raw));
        }
        Ok(())
    }
}

/// Octets written before a Path value on its first line: `Path: `.
const PATH_FIELD_PREFIX: usize = "Path: ".len();

/// Folds a Path value so that, written as `Path: value`, no physical line is
/// longer than [`MAX_HEADER_LINE`]: a line too long is broken just before a
/// `!`, where RFC 5536 §3.1.5 allows folding white space after a
/// path-identity. Without this, a Path that arrived near the limit went over
/// it once this node prepended its name, and the next node refused the
/// article. Lines that fit are left exactly as they are, so an unfolded Path
/// stays unfolded; readers unfold and trim each entry ([`Article::path_entries`]),
/// so the folded form names the same hops. Path is a transit header, outside
/// the signed canonical form, so folding it never breaks a signature. A `!!`
/// is never split, and a line with no `!` to break at is left as it is.
fn fold_path(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for (n, line) in value.split("\r\n").enumerate() {
        // A continuation line is written as is; its leading white space counts.
        let (mut budget, mut rest) = if n == 0 {
            (MAX_HEADER_LINE - PATH_FIELD_PREFIX, line)
        } else {
            out.push_str("\r\n");
            (MAX_HEADER_LINE, line)
        };
        while rest.len() > budget {
            let Some((head, tail)) =
                path_fold_point(rest, budget).and_then(|at| rest.split_at_checked(at))
            else {
                break;
            };
            out.push_str(head);
            out.push_str("\r\n ");
            // The new continuation line starts with the space just written.
            budget = MAX_HEADER_LINE - 1;
            rest = tail;
        }
        out.push_str(rest);
    }
    out
}

/// Where to break `line` for [`fold_path`]: the last `!` (not the second of a
/// `!!`, not before the line's first non-blank octet, so no line is left
/// blank) whose head fits in `budget` octets, or failing that the first such
/// `!`, which at least shortens the line.
fn path_fold_point(line: &str, budget: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let indent = bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let mut points = line
        .match_indices('!')
        .map(|(at, _)| at)
        .filter(|&at| at > indent && bytes.get(at - 1) != Some(&b'!'));
    let first = points.next()?;
    Some(
        std::iter::once(first)
            .chain(points)
            .take_while(|&at| at <= budget)
            .last()
            .unwrap_or(first),
    )
}

/// Validates a message-id (RFC 5536 §3.1.3): `<` id-left `@` id-right `>`,
/// non-empty sides, printable ASCII only, no `>` inside, at most
/// [`MAX_MESSAGE_ID`] octets. Lenient about dot-atom details, as servers are.
pub fn is_valid_message_id(id: &str) -> bool {
    if id.len() > MAX_MESSAGE_ID {
        return false;
    }
    let Some(inner) = id.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else {
        return false;
    };
    if !inner.bytes().all(|b| (33..=126).contains(&b) && b != b'>') {
        return false;
    }
    matches!(inner.split_once('@'), Some((l, r)) if !l.is_empty() && !r.is_empty())
}

/// Validates a newsgroup name (RFC 5536 §3.1.4): dot-separated non-empty
/// components of `[a-z0-9+_-]` (uppercase accepted too).
pub fn is_valid_group_name(name: &str) -> bool {
    name.split('.').all(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Article {
        let raw = b"From: a@example.org\r\nNewsgroups: comp.lang.rust, alt.test\r\n\
            Subject: hi\r\n there\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
            Message-ID: <x1@example.org>\r\nPath: b!a\r\n\r\nbody\r\n";
        Article::parse(raw, &Limits::default()).expect("sample parses")
    }

    #[test]
    fn lookup_is_case_insensitive_and_raw() {
        let a = sample();
        assert_eq!(a.header("subject"), Some("hi\r\n there"));
        assert_eq!(a.header_unfolded("SUBJECT").as_deref(), Some("hi there"));
        assert_eq!(a.headers_named("message-id").count(), 1);
        assert_eq!(a.header("X-None"), None);
    }

    #[test]
    fn set_and_remove_headers() {
        let mut a = sample();
        a.headers.push(Header::new("subject", "dup"));
        a.set_header("Subject", "new");
        assert_eq!(a.headers_named("Subject").count(), 1);
        assert_eq!(a.headers.get(2), Some(&Header::new("Subject", "new")));
        a.set_header("X-Trace", "t");
        assert_eq!(a.headers.last(), Some(&Header::new("X-Trace", "t")));
        a.remove_header("x-trace");
        assert_eq!(a.header("X-Trace"), None);
    }

    #[test]
    fn newsgroups_and_path() {
        let mut a = sample();
        assert_eq!(a.newsgroups(), ["comp.lang.rust", "alt.test"]);
        a.set_header("Newsgroups", "a.b,\r\n c.d,,");
        assert_eq!(a.newsgroups(), ["a.b", "c.d"]);
        a.set_header("Newsgroups", "a.b,c.d,a.b, c.d");
        assert_eq!(a.newsgroups(), ["a.b", "c.d"]);
        a.path_prepend("me");
        assert_eq!(a.header("Path"), Some("me!b!a"));
        assert_eq!(a.path_entries(), ["me", "b", "a"]);
        a.remove_header("Path");
        a.path_prepend("me");
        assert_eq!(a.header("Path"), Some("me!not-for-mail"));
        a.set_header("Path", "x!!y ! z");
        assert_eq!(a.path_entries(), ["x", "y", "z"]);
    }

    /// Longest line of an article's written form, CRLF excluded.
    fn longest_line(a: &Article) -> usize {
        let bytes = a.to_bytes();
        bytes
            .split(|&b| b == b'\n')
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0)
            - 1
    }

    /// A Path of `hop0001!hop0002!...!not-for-mail` whose `Path: ` line is
    /// exactly `MAX_HEADER_LINE` octets, and its entries.
    fn path_at_the_limit() -> (String, Vec<String>) {
        let room = MAX_HEADER_LINE - "Path: ".len() - "!not-for-mail".len();
        let mut hops: Vec<String> = (1..).map(|n| format!("hop{n:04}")).take(room / 8).collect();
        let used = hops.len() * 8 - 1;
        if let Some(last) = hops.last_mut() {
            last.push_str(&"x".repeat(room - used));
        }
        hops.push("not-for-mail".into());
        (hops.join("!"), hops)
    }

    /// The next node refused our articles: a Path that arrived just within the
    /// line limit went over it once this node prepended its name (`Path: me!...`
    /// of 1001 octets), and `Article::parse` there said HeaderTooLong.
    #[test]
    fn prepending_to_a_path_at_the_line_limit_stays_within_it() {
        let (path, hops) = path_at_the_limit();
        let mut a = sample();
        a.set_header("Path", &path);
        assert_eq!(longest_line(&a), MAX_HEADER_LINE);
        let limits = Limits::default();
        let mut a = Article::parse(&a.to_bytes(), &limits).expect("at the limit parses");
        for (relay, name) in ["me", "next", "third"].into_iter().enumerate() {
            a.path_prepend(name);
            assert!(longest_line(&a) <= MAX_HEADER_LINE, "after {name}");
            a = Article::parse(&a.to_bytes(), &limits).expect("the next node accepts it");
            let mut want: Vec<String> = ["third", "next", "me"]
                .iter()
                .skip(2 - relay)
                .map(|s| s.to_string())
                .collect();
            want.extend(hops.iter().cloned());
            assert_eq!(a.path_entries(), want);
            assert_eq!(a.validate_for_transit(), Ok(()));
        }
        // Folded before a `!`, never inside a name; short Paths stay on one line.
        let folded = a.header("Path").unwrap_or_default();
        assert!(folded.contains("\r\n !"), "{folded:?}");
        assert!(!folded.replace("\r\n !", "!").contains("\r\n"));
        a.set_header("Path", "b!a");
        a.path_prepend("me");
        assert_eq!(a.header("Path"), Some("me!b!a"));
    }

    #[test]
    fn path_folding_keeps_double_bang_and_unbreakable_lines() {
        let long = format!("{}!!{}", "a".repeat(980), "b".repeat(20));
        assert_eq!(
            fold_path(&long),
            format!("{}\r\n !!{}", "a".repeat(980), "b".repeat(20))
        );
        let unbreakable = "c".repeat(1200);
        assert_eq!(fold_path(&unbreakable), unbreakable);
        let folded = format!("{}\r\n !x", "a".repeat(900));
        assert_eq!(fold_path(&folded), folded);
        // A continuation line too long breaks after its first entry, not before it.
        let long_continuation = format!("me\r\n !{}!{}", "d".repeat(990), "e".repeat(20));
        let want = format!("me\r\n !{}\r\n !{}", "d".repeat(990), "e".repeat(20));
        assert_eq!(fold_path(&long_continuation), want);
    }

    /// Path is outside the signed canonical form: folding it keeps a
    /// signature valid.
    #[test]
    fn folding_the_path_keeps_the_signature_valid() {
        use crate::sign::{check, sign_article, SigStatus};
        let mut a = sample();
        a.remove_header("Message-ID");
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        sign_article(&mut a, &key);
        a.set_header("Path", &path_at_the_limit().0);
        a.path_prepend("me");
        assert!(a.header("Path").unwrap_or_default().contains("\r\n"));
        let relayed = Article::parse(&a.to_bytes(), &Limits::default()).expect("parses");
        assert!(matches!(check(&relayed), SigStatus::Valid { .. }));
    }

    #[test]
    fn body_lines() {
        let mut a = sample();
        assert_eq!(a.body_line_count(), 1);
        a.body = b"a\r\nb".to_vec();
        assert_eq!(a.body_line_count(), 2);
        a.body.clear();
        assert_eq!(a.body_line_count(), 0);
    }

    #[test]
    fn message_id_validity() {
        for ok in ["<a@b>", "<x.y$1@news.example>", "<\"q@x\"@[1.2.3.4]>"] {
            assert!(is_valid_message_id(ok), "{ok}");
        }
        let long = format!("<{}@b>", "a".repeat(247));
        for bad in [
            "a@b", "<ab>", "<@b>", "<a@>", "<a b@c>", "<a>b@c>", "<é@b>", &long,
        ] {
            assert!(!is_valid_message_id(bad), "{bad}");
        }
        assert!(is_valid_message_id(&format!("<{}@b>", "a".repeat(246))));
    }

    #[test]
    fn group_name_validity() {
        for ok in ["comp.lang.rust", "alt.2600", "a+b_c-d", "Misc.Test"] {
            assert!(is_valid_group_name(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "a b", "a,b", "ä"] {
            assert!(!is_valid_group_name(bad), "{bad}");
        }
    }

    #[test]
    fn validation_errors() {
        assert_eq!(sample().validate_for_transit(), Ok(()));
        let mut a = sample();
        a.remove_header("Path");
        assert_eq!(a.validate(false), Ok(()));
        assert_eq!(a.validate(true), Err(ArticleError::MissingHeader("Path")));
        a.remove_header("Date");
        assert_eq!(a.validate(false), Err(ArticleError::MissingHeader("Date")));
        let mut a = sample();
        a.headers.push(Header::new("FROM", "b@c"));
        assert_eq!(a.validate(true), Err(ArticleError::DuplicateHeader("From")));
        let mut a = sample();
        a.set_header("Message-ID", "nope");
        assert_eq!(
            a.validate(true),
            Err(ArticleError::BadMessageId("nope".into()))
        );
        a.set_header("Message-ID", "<ok@x>");
        a.set_header("Newsgroups", "good.group, bad group");
        let want = ArticleError::BadNewsgroups("good.group, bad group".into());
        assert_eq!(a.validate(true), Err(want));
        a.set_header("Newsgroups", " , ");
        assert!(matches!(
            a.validate(true),
            Err(ArticleError::BadNewsgroups(_))
        ));
    }
}
