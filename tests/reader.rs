//! The reader side of `newsmesh serve`, end to end: a real node (home, spool, config) and
//! the real server started in-process on 127.0.0.1, spoken to in raw NNTP over TCP; then
//! Python's nntplib and tin as real newsreaders.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

mod common;

use common::{Inspect, Node};
use ed25519_dalek::SigningKey;
use newsmesh::compose::{compose, Draft};
use newsmesh::home::DEFAULT_AUTHOR;
use newsmesh::ingest::Verdict;
use newsmesh::sign::public_key_text;

/// A node serving readers in this process: `configure` edits its config (through
/// `config::edit`) and `fill` stores articles (through `ingest`) before it serves.
fn serving(configure: impl FnOnce(&Node), fill: impl FnOnce(&mut Filler)) -> Node {
    let mut node = Node::init("alpha");
    configure(&node);
    let mut filler = Filler {
        node: node.paths().open().expect("open"),
        key: node.paths().author_key(DEFAULT_AUTHOR).unwrap(),
        ids: Vec::new(),
        target: &node,
    };
    fill(&mut filler);
    drop(filler);
    node.serve_in(&newsmesh::testbed::runtime().unwrap())
        .expect("server starts");
    node
}

/// A node with the default config and `fill`'s articles, serving.
fn with_articles(fill: impl FnOnce(&mut Filler)) -> Node {
    serving(|_| {}, fill)
}

/// A reader connection to `node`.
fn connect(node: &Node) -> Client {
    Client::connect(node.addr)
}

/// The Message-IDs of mesh.test's articles, in number order.
fn ids(node: &Node) -> Vec<String> {
    let node = node.paths().open().unwrap();
    let high = node.spool.group("mesh.test").unwrap().map_or(0, |g| g.high);
    (1..=high)
        .filter_map(|n| node.spool.article_at("mesh.test", n).unwrap())
        .map(|a| a.msgid)
        .collect()
}

/// Stores articles before the server starts.
struct Filler<'a> {
    node: newsmesh::home::Node,
    key: SigningKey,
    ids: Vec<String>,
    target: &'a Node,
}

impl Filler<'_> {
    fn post(&mut self, group: &str, subject: &str, body: &str) -> String {
        let article = compose(
            &Draft {
                groups: group,
                subject,
                from: "Tester <tester@example.org>",
                references: None,
                body: body.as_bytes(),
            },
            "alpha",
            &self.key,
        );
        let raw = article.to_bytes();
        let verdicts = self.target.store(&[&raw]).unwrap();
        assert!(matches!(verdicts[..], [Verdict::Stored(_)]), "{verdicts:?}");
        let id = article.message_id().unwrap().to_string();
        self.ids.push(id.clone());
        id
    }

    /// `n` articles in `group`, stored in one batch; their Message-IDs in order.
    fn post_many(&mut self, group: &str, n: usize) -> Vec<String> {
        let first = self.ids.len();
        let articles: Vec<_> = (first..first + n)
            .map(|i| {
                let subject = format!("number {i}");
                let body = format!("body {i}\n");
                let draft = Draft {
                    groups: group,
                    subject: &subject,
                    from: "Tester <tester@example.org>",
                    references: None,
                    body: body.as_bytes(),
                };
                compose(&draft, "alpha", &self.key)
            })
            .collect();
        let raws: Vec<Vec<u8>> = articles.iter().map(|a| a.to_bytes()).collect();
        let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        let verdicts = self.target.store(&refs).unwrap();
        let refused: Vec<_> = verdicts
            .iter()
            .filter(|v| !matches!(v, Verdict::Stored(_)))
            .collect();
        assert!(refused.is_empty(), "{:?}", refused.first());
        let ids: Vec<String> = articles
            .iter()
            .map(|a| a.message_id().unwrap().to_string())
            .collect();
        self.ids.extend(ids.iter().cloned());
        ids
    }

    /// Three articles in mesh.test, one in mesh.other, an empty mesh.empty.
    fn standard(&mut self) {
        self.post("mesh.test", "first", "one\n");
        self.post("mesh.test", "second", "two\n.dot\n..dots\n");
        self.post("mesh.test", "third", "three\n");
        self.node.spool.create_group("mesh.other", "").unwrap();
        self.post("mesh.other", "elsewhere", "other\n");
        self.node
            .spool
            .create_group("mesh.empty", "nothing here")
            .unwrap();
    }
}

/// A raw NNTP client.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
    greeting: String,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let w = stream.try_clone().unwrap();
        let mut c = Client {
            r: BufReader::new(stream),
            w,
            greeting: String::new(),
        };
        c.greeting = c.line();
        c
    }

    /// One line, without CRLF.
    fn line(&mut self) -> String {
        let mut buf = Vec::new();
        self.r.read_until(b'\n', &mut buf).expect("read");
        assert!(buf.ends_with(b"\r\n"), "line not CRLF-terminated: {buf:?}");
        buf.truncate(buf.len() - 2);
        String::from_utf8(buf).expect("utf-8")
    }

    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("write");
    }

    /// Sends a command line and returns the status line.
    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// The status code of a command's answer.
    fn code(&mut self, line: &str) -> u16 {
        let status = self.cmd(line);
        status[..3]
            .parse()
            .unwrap_or_else(|_| panic!("bad status {status:?}"))
    }

    /// A multi-line block as raw bytes, unstuffed, terminator removed.
    fn block_bytes(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            self.r.read_until(b'\n', &mut buf).expect("read block");
            assert!(buf.ends_with(b"\r\n"), "block line not CRLF: {buf:?}");
            if buf == b".\r\n" {
                return out;
            }
            let line = match buf.strip_prefix(b".") {
                Some(rest) => {
                    assert!(rest.starts_with(b"."), "unstuffed dot line {buf:?}");
                    rest
                }
                None => &buf[..],
            };
            out.extend_from_slice(line);
        }
    }

    /// A multi-line block as lines.
    fn block(&mut self) -> Vec<String> {
        let bytes = self.block_bytes();
        String::from_utf8(bytes)
            .unwrap()
            .split_terminator("\r\n")
            .map(str::to_owned)
            .collect()
    }

    /// Sends a command that must answer `code`, then reads its block.
    fn listing(&mut self, line: &str, code: u16) -> Vec<String> {
        let status = self.cmd(line);
        assert!(status.starts_with(&code.to_string()), "{line}: {status}");
        self.block()
    }

    /// True when the server closes the connection without sending anything more.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.r.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }

    /// POSTs `article` (wire form, CRLF), dot-stuffing it; returns the final status.
    fn post(&mut self, article: &[u8]) -> String {
        let status = self.cmd("POST");
        assert!(status.starts_with("340"), "POST: {status}");
        let mut data = Vec::new();
        newsmesh::protocol::write_block(&mut data, article);
        self.send(&data);
        self.line()
    }
}

fn word(status: &str, n: usize) -> String {
    status.split(' ').nth(n).unwrap_or_default().to_string()
}

#[test]
fn capabilities_mode_reader_date_help() {
    let node = with_articles(|f| f.standard());
    let mut c = connect(&node);
    assert!(c.greeting.starts_with("200 "), "{}", c.greeting);
    let caps = c.listing("CAPABILITIES", 101);
    for want in [
        "VERSION 2",
        "READER",
        "POST",
        "IHAVE",
        "STREAMING",
        "OVER MSGID",
        "HDR",
        "NEWNEWS",
    ] {
        assert!(caps.iter().any(|l| l == want), "{want} missing: {caps:?}");
    }
    let list = caps.iter().find(|l| l.starts_with("LIST ")).unwrap();
    for kw in [
        "ACTIVE",
        "NEWSGROUPS",
        "OVERVIEW.FMT",
        "ACTIVE.TIMES",
        "HEADERS",
    ] {
        assert!(list.split(' ').any(|w| w == kw), "{kw} not in {list}");
    }
    // No [[user]]: AUTHINFO is not offered.
    assert!(!caps.iter().any(|l| l.starts_with("AUTHINFO")), "{caps:?}");
    assert_eq!(c.code("MODE READER"), 200);
    let date = c.cmd("DATE");
    assert!(date.starts_with("111 "), "{date}");
    let stamp = word(&date, 1);
    assert_eq!(stamp.len(), 14, "{date}");
    let then = chrono::NaiveDateTime::parse_from_str(&stamp, "%Y%m%d%H%M%S")
        .expect("DATE is yyyymmddhhmmss")
        .and_utc();
    let skew = (chrono::Utc::now() - then).num_seconds().abs();
    assert!(skew < 60, "{date} is {skew} s away from now (UTC)");
    let help = c.listing("HELP", 100);
    assert!(help.iter().any(|l| l.contains("OVER")), "{help:?}");
    assert!(help.iter().any(|l| l.contains("POST")), "{help:?}");
    assert_eq!(c.code("QUIT"), 205);
    assert!(c.closed());
}

#[test]
fn group_listgroup_next_last() {
    let node = with_articles(|f| f.standard());
    let ids: Vec<String> = {
        let n = node.paths().open().unwrap();
        (1..=3)
            .map(|i| n.spool.article_at("mesh.test", i).unwrap().unwrap().msgid)
            .collect()
    };
    let mut c = connect(&node);
    // Nothing selected yet.
    assert_eq!(c.code("NEXT"), 412);
    assert_eq!(c.code("LAST"), 412);
    assert_eq!(c.code("STAT"), 412);
    assert_eq!(c.code("STAT 1"), 412);
    assert_eq!(c.code("LISTGROUP"), 412);
    assert_eq!(c.code("OVER"), 412);
    assert_eq!(c.code("OVER 1-2"), 412);
    assert_eq!(c.code("HDR Subject 1-2"), 412);
    assert_eq!(c.code("GROUP no.such.group"), 411);
    assert_eq!(c.code("LISTGROUP no.such.group"), 411);
    assert_eq!(c.code("NEXT"), 412, "a failed GROUP selects nothing");

    assert_eq!(c.cmd("GROUP mesh.test"), "211 3 1 3 mesh.test");
    assert_eq!(c.cmd("STAT"), format!("223 1 {} article exists", ids[0]));
    assert_eq!(c.code("LAST"), 422);
    assert_eq!(c.cmd("NEXT"), format!("223 2 {} article selected", ids[1]));
    assert_eq!(word(&c.cmd("NEXT"), 1), "3");
    assert_eq!(c.code("NEXT"), 421);
    assert_eq!(
        word(&c.cmd("STAT"), 1),
        "3",
        "a failed NEXT keeps the current article"
    );
    assert_eq!(word(&c.cmd("LAST"), 2), ids[1]);
    assert_eq!(word(&c.cmd("LAST"), 1), "1");
    assert_eq!(c.code("LAST"), 422);

    let status = c.cmd("LISTGROUP");
    assert!(status.starts_with("211 3 1 3 mesh.test"), "{status}");
    assert_eq!(c.block(), ["1", "2", "3"]);
    assert_eq!(c.listing("LISTGROUP mesh.test 2-", 211), ["2", "3"]);
    assert_eq!(c.listing("LISTGROUP mesh.test 2", 211), ["2"]);
    assert_eq!(c.listing("LISTGROUP mesh.test 1-2", 211), ["1", "2"]);
    assert!(c.listing("LISTGROUP mesh.test 7-9", 211).is_empty());
    assert!(c.listing("LISTGROUP mesh.test 3-1", 211).is_empty());
    // LISTGROUP selects the group and its first article.
    assert_eq!(c.listing("LISTGROUP mesh.other", 211), ["1"]);
    assert_eq!(
        word(&c.cmd("STAT"), 2),
        node.paths()
            .open()
            .unwrap()
            .spool
            .article_at("mesh.other", 1)
            .unwrap()
            .unwrap()
            .msgid
    );

    // An empty group: count 0, low = high + 1, and no current article.
    assert_eq!(c.cmd("GROUP mesh.empty"), "211 0 1 0 mesh.empty");
    assert_eq!(c.code("STAT"), 420);
    assert_eq!(c.code("ARTICLE"), 420);
    assert_eq!(c.code("HEAD"), 420);
    assert_eq!(c.code("BODY"), 420);
    assert_eq!(c.code("NEXT"), 420);
    assert_eq!(c.code("LAST"), 420);
    assert_eq!(c.code("OVER"), 420);
    assert_eq!(c.code("HDR Subject"), 420);
    assert_eq!(c.code("STAT 1"), 423);
    assert!(c.listing("LISTGROUP", 211).is_empty());
}

#[test]
fn article_head_body_stat_and_current_article() {
    let node = with_articles(|f| f.standard());
    let (ids, raws): (Vec<String>, Vec<Vec<u8>>) = {
        let n = node.paths().open().unwrap();
        (1..=3)
            .map(|i| {
                let a = n.spool.article_at("mesh.test", i).unwrap().unwrap();
                (a.msgid, a.raw)
            })
            .unzip()
    };
    let mut c = connect(&node);
    // By Message-ID without a selected group: number 0.
    assert_eq!(
        c.cmd(&format!("STAT {}", ids[1])),
        format!("223 0 {} article exists", ids[1])
    );
    assert_eq!(c.code("STAT <no-such@article>"), 430);
    assert_eq!(c.code("ARTICLE <no-such@article>"), 430);
    assert_eq!(c.code("HEAD <no-such@article>"), 430);
    assert_eq!(c.code("BODY <no-such@article>"), 430);
    // The whole article, byte-exact (its body has lines starting with '.' and '..').
    let status = c.cmd(&format!("ARTICLE {}", ids[1]));
    assert!(status.starts_with(&format!("220 0 {}", ids[1])), "{status}");
    assert_eq!(c.block_bytes(), raws[1]);
    assert_eq!(node.raw_article(&ids[1]), raws[1]);

    assert_eq!(c.code("GROUP mesh.test"), 211);
    // By Message-ID in the selected group: its number; the current article stays.
    let status = c.cmd(&format!("HEAD {}", ids[2]));
    assert_eq!(status, format!("221 3 {} headers follow", ids[2]));
    let head = c.block_bytes();
    let split = raws[2].windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert_eq!(head, &raws[2][..split + 2]);
    assert!(String::from_utf8_lossy(&head).contains("Newsmesh-Signature: "));
    assert_eq!(word(&c.cmd("STAT"), 1), "1");
    // By number: it becomes the current article.
    let status = c.cmd("BODY 2");
    assert_eq!(status, format!("222 2 {} body follows", ids[1]));
    assert_eq!(c.block_bytes(), b"two\r\n.dot\r\n..dots\r\n");
    assert_eq!(word(&c.cmd("STAT"), 1), "2");
    // A missing number: 423 and the current article is unchanged.
    assert_eq!(c.code("ARTICLE 99"), 423);
    assert_eq!(c.code("STAT 0"), 423);
    assert_eq!(c.code("HEAD 9999999999999999"), 423);
    assert_eq!(word(&c.cmd("STAT"), 1), "2");
    // The current article, each form.
    let status = c.cmd("ARTICLE");
    assert!(status.starts_with("220 2 "), "{status}");
    assert_eq!(c.block_bytes(), raws[1]);
    assert!(c.cmd("HEAD").starts_with("221 2 "));
    c.block_bytes();
    assert!(c.cmd("BODY").starts_with("222 2 "));
    assert_eq!(c.block_bytes(), b"two\r\n.dot\r\n..dots\r\n");
    assert_eq!(c.cmd("STAT 3"), format!("223 3 {} article exists", ids[2]));
    assert_eq!(word(&c.cmd("NEXT"), 0), "421");
    // Syntax errors.
    assert_eq!(c.code("ARTICLE abc"), 501);
    assert_eq!(c.code("ARTICLE 12345678901234567890"), 501);
    assert_eq!(c.code("STAT <no-brackets"), 501);
    assert_eq!(c.code("HEAD 1 2"), 501);
}

/// Retrievals a reader pipelines are answered in batches (src/server/reader/article.rs):
/// every command still gets its own answer, in order, byte-exact, and the current
/// article moves as if they had come one at a time, across batch rounds and across the
/// other commands (GROUP, NEXT) mixed in.
#[test]
fn pipelined_retrievals_answer_in_order_and_move_the_current_article() {
    // 1,501 articles (~1 MB, the last one with dot lines): more than one batch's worth
    // of commands and of bytes.
    let body = "a line of a pipelined article, some fifty bytes\n.dot\n".repeat(100);
    let node = with_articles(|f| {
        f.standard();
        f.node.spool.create_group("mesh.many", "").unwrap();
        f.post_many("mesh.many", 1500);
        let last = f.post("mesh.many", "dots", &body);
        assert!(!last.is_empty());
    });
    let spool = node.paths().open().unwrap().spool;
    let raw = |group: &str, n: i64| spool.article_at(group, n).unwrap().unwrap();
    let test1 = raw("mesh.test", 1);

    // Before any GROUP: by id works (number 0), by number and current do not.
    let mut script = vec![
        (
            format!("STAT {}", test1.msgid),
            format!("223 0 {} article exists", test1.msgid),
        ),
        ("ARTICLE 1".into(), "412 no newsgroup selected".into()),
        ("STAT".into(), "412 no newsgroup selected".into()),
        ("GROUP mesh.test".into(), "211 3 1 3 mesh.test".into()),
        (
            "BODY 2".into(),
            format!("222 2 {} body follows", raw("mesh.test", 2).msgid),
        ),
        (
            "ARTICLE 99".into(),
            "423 no article number 99 in this group".into(),
        ),
        (
            "HEAD <nope@nowhere>".into(),
            "430 no article with message-id <nope@nowhere>".into(),
        ),
        // By id the current article stays at 2.
        (
            format!("STAT {}", test1.msgid),
            format!("223 1 {} article exists", test1.msgid),
        ),
        (
            "STAT".into(),
            format!("223 2 {} article exists", raw("mesh.test", 2).msgid),
        ),
        (
            "NEXT".into(),
            format!("223 3 {} article selected", raw("mesh.test", 3).msgid),
        ),
        (
            "ARTICLE".into(),
            format!("220 3 {} article follows", raw("mesh.test", 3).msgid),
        ),
        ("GROUP mesh.many".into(), "211 1501 1 1501 mesh.many".into()),
    ];
    // Then every article of mesh.many, by number and by id in turn.
    for n in 1..=1501 {
        let a = raw("mesh.many", n);
        if n % 2 == 0 {
            script.push((
                format!("ARTICLE {n}"),
                format!("220 {n} {} article follows", a.msgid),
            ));
        } else {
            script.push((
                format!("ARTICLE {}", a.msgid),
                format!("220 {n} {} article follows", a.msgid),
            ));
        }
    }
    script.push((
        "STAT".into(),
        format!("223 1500 {} article exists", raw("mesh.many", 1500).msgid),
    ));
    script.push(("QUIT".into(), "205 closing connection, goodbye".into()));

    let mut c = connect(&node);
    let commands: String = script.iter().map(|(cmd, _)| format!("{cmd}\r\n")).collect();
    let mut w = c.w.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(commands.as_bytes()));
    for (command, expected) in &script {
        assert_eq!(&c.line(), expected, "answer to {command}");
        if expected.starts_with("220 ") {
            let id = word(expected, 2);
            assert_eq!(
                c.block_bytes(),
                spool.article(&id).unwrap().unwrap().raw,
                "{command}"
            );
        } else if expected.starts_with("222 ") {
            assert_eq!(c.block_bytes(), b"two\r\n.dot\r\n..dots\r\n");
        }
    }
    writer.join().unwrap().unwrap();
    assert!(c.closed());
}

#[test]
fn over_and_hdr_from_the_index() {
    let node = with_articles(|f| {
        f.standard();
        f.post("mesh.test", "tab\there", "x\n");
        f.post("mesh.test", "folded\r\n  subject", "a\nb\nc\n");
    });
    let (ids, raws): (Vec<String>, Vec<Vec<u8>>) = {
        let n = node.paths().open().unwrap();
        (1..=5)
            .map(|i| {
                let a = n.spool.article_at("mesh.test", i).unwrap().unwrap();
                (a.msgid, a.raw)
            })
            .unzip()
    };
    let mut c = connect(&node);
    assert_eq!(
        c.listing("LIST OVERVIEW.FMT", 215),
        [
            "Subject:",
            "From:",
            "Date:",
            "Message-ID:",
            "References:",
            ":bytes",
            ":lines",
            "Xref:full"
        ]
    );
    assert_eq!(c.listing("LIST HEADERS", 215), [":", ":bytes", ":lines"]);
    // OVER by Message-ID needs no group; its number field is 0.
    let over = c.listing(&format!("OVER {}", ids[0]), 224);
    assert_eq!(over.len(), 1);
    let fields: Vec<&str> = over[0].split('\t').collect();
    assert_eq!(fields[0], "0");
    assert_eq!(fields[1], "first");
    assert_eq!(c.code("OVER <no-such@article>"), 430);

    assert_eq!(c.code("GROUP mesh.test"), 211);
    let all = c.listing("XOVER 1-", 224);
    assert_eq!(all.len(), 5, "{all:?}");
    for (i, line) in all.iter().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 9, "9 fields, no stray tab: {line:?}");
        assert_eq!(
            f[8],
            format!("Xref: alpha mesh.test:{}", i + 1),
            "Xref as filed here"
        );
        assert_eq!(f[0], (i + 1).to_string());
        assert_eq!(f[2], "Tester <tester@example.org>");
        assert_eq!(f[4], ids[i]);
        assert_eq!(f[6], raws[i].len().to_string(), ":bytes");
        assert!(!line.contains('\r'));
    }
    assert_eq!(all[1].split('\t').nth(7), Some("3"), ":lines");
    assert_eq!(
        all[3].split('\t').nth(1),
        Some("tab here"),
        "TAB became a space"
    );
    assert_eq!(
        all[4].split('\t').nth(1),
        Some("folded  subject"),
        "unfolded"
    );
    assert_eq!(all[4].split('\t').nth(7), Some("3"));
    assert_eq!(c.listing("OVER 2-3", 224).len(), 2);
    assert_eq!(c.listing("OVER 4", 224).len(), 1);
    // The current article (the first after GROUP).
    let cur = c.listing("OVER", 224);
    assert_eq!(cur.len(), 1);
    assert!(cur[0].starts_with("1\tfirst\t"));
    assert_eq!(c.code("OVER 6-9"), 423);
    assert_eq!(c.code("OVER 3-2"), 423);
    assert_eq!(c.code("OVER 1-2-3"), 501);

    // HDR: indexed fields, metadata, and any header by parsing.
    assert_eq!(
        c.listing("HDR Xref 1-2", 225),
        ["1 alpha mesh.test:1", "2 alpha mesh.test:2"]
    );
    assert_eq!(
        c.listing("HDR Subject 1-3", 225),
        ["1 first", "2 second", "3 third"]
    );
    assert_eq!(
        c.listing("HDR from 2", 225),
        ["2 Tester <tester@example.org>"]
    );
    assert_eq!(
        c.listing("HDR message-id 3", 225),
        [format!("3 {}", ids[2])]
    );
    assert_eq!(c.listing("HDR :lines 2", 225), ["2 3"]);
    assert_eq!(
        c.listing("HDR :bytes 1", 225),
        [format!("1 {}", raws[0].len())]
    );
    assert_eq!(
        c.listing("HDR Subject 4-5", 225),
        ["4 tab here", "5 folded  subject"]
    );
    let agents = c.listing("HDR User-Agent 1-", 225);
    assert_eq!(agents.len(), 5);
    assert!(agents[0].starts_with("1 newsmesh/"), "{agents:?}");
    assert_eq!(c.listing("HDR X-Not-There 1-2", 225), ["1 ", "2 "]);
    assert_eq!(c.listing("HDR Subject", 225), ["1 first"]);
    assert_eq!(
        c.listing(&format!("HDR Newsgroups {}", ids[0]), 225),
        ["0 mesh.test"]
    );
    assert_eq!(
        c.listing(&format!("HDR Subject {}", ids[1]), 225),
        ["0 second"]
    );
    assert_eq!(c.code("HDR Subject <no-such@article>"), 430);
    assert_eq!(c.code("HDR Subject 9-"), 423);
    assert_eq!(c.code("HDR :nonsense 1"), 503);
    assert_eq!(c.code("HDR"), 501);
}

/// RFC 2980's XHDR and XPAT answer 221 (suck and slrnpull stop at 225), a Message-ID's
/// line starts with the Message-ID, and a range without articles is an empty list.
#[test]
fn xhdr_and_xpat_answer_as_rfc_2980() {
    let node = with_articles(|f| f.standard());
    let ids = ids(&node);
    let mut c = connect(&node);
    assert_eq!(c.code("GROUP mesh.test"), 211);
    assert_eq!(
        c.listing("XHDR Message-ID 1-30", 221),
        [
            format!("1 {}", ids[0]),
            format!("2 {}", ids[1]),
            format!("3 {}", ids[2])
        ]
    );
    assert_eq!(
        c.listing("XHDR Xref 1-2", 221),
        ["1 alpha mesh.test:1", "2 alpha mesh.test:2"]
    );
    assert_eq!(c.listing("xhdr subject", 221), ["1 first"]);
    assert_eq!(
        c.listing(&format!("XHDR Subject {}", ids[1]), 221),
        [format!("{} second", ids[1])]
    );
    assert!(c.listing("XHDR Subject 7-9", 221).is_empty());
    assert_eq!(c.code("XHDR Subject <no-such@article>"), 430);
    // XPAT: a wildmat over the header's value; pattern words are joined by a space.
    assert_eq!(
        c.listing("XPAT Subject 1- *ir*", 221),
        ["1 first", "3 third"]
    );
    assert_eq!(
        c.listing("XPAT From 1- Tester *", 221).len(),
        3,
        "\"Tester *\" is one pattern"
    );
    assert!(c.listing("XPAT From 1- Tester", 221).is_empty());
    assert_eq!(
        c.listing("XPAT User-Agent 2-3 newsmesh/*", 221).len(),
        2,
        "a header outside the overview index"
    );
    assert_eq!(
        c.listing(&format!("XPAT Subject {} s*", ids[1]), 221),
        [format!("{} second", ids[1])]
    );
    assert!(c
        .listing(&format!("XPAT Subject {} x*", ids[1]), 221)
        .is_empty());
    assert!(c.listing("XPAT Subject 7- *", 221).is_empty());
    assert_eq!(c.code("XPAT Subject <no-such@article> *"), 430);
    assert_eq!(c.code("XPAT Subject 1-"), 501);
    // XOVER keeps 224 (the same in both RFCs).
    assert_eq!(c.listing("XOVER 1-3", 224).len(), 3);
    // Without a group, a range has nothing to refer to.
    let mut fresh = connect(&node);
    assert_eq!(fresh.code("XHDR Subject 1-3"), 412);
    assert_eq!(fresh.code("XPAT Subject 1-3 *"), 412);
}

/// LIST MOTD shows the home's `motd` file, LIST DISTRIBUTIONS an empty list, XGTITLE
/// the group descriptions (282), all listed in CAPABILITIES and HELP.
#[test]
fn list_motd_distributions_and_xgtitle() {
    let node = with_articles(|f| f.standard());
    let mut c = connect(&node);
    assert!(
        c.listing("LIST MOTD", 215).is_empty(),
        "no motd file: an empty message"
    );
    std::fs::write(
        node.paths().dir().join("motd"),
        "Welcome to alpha.\n.dotted line\n\nBe nice.\n",
    )
    .unwrap();
    assert_eq!(
        c.listing("LIST MOTD", 215),
        ["Welcome to alpha.", ".dotted line", "", "Be nice."]
    );
    assert!(c.listing("LIST DISTRIBUTIONS", 215).is_empty());
    let described = c.listing("XGTITLE mesh.e*", 282);
    assert_eq!(described, ["mesh.empty\tnothing here"]);
    assert_eq!(c.listing("XGTITLE mesh.*", 282).len(), 3);
    assert_eq!(c.code("XGTITLE"), 412, "no group selected");
    assert_eq!(c.code("GROUP mesh.empty"), 211);
    assert_eq!(c.listing("XGTITLE", 282), ["mesh.empty\tnothing here"]);
    let caps = c.listing("CAPABILITIES", 101);
    let list = caps.iter().find(|l| l.starts_with("LIST ")).unwrap();
    for kw in ["MOTD", "DISTRIBUTIONS"] {
        assert!(list.split(' ').any(|w| w == kw), "{kw} not in {list}");
    }
    let help = c.listing("HELP", 100);
    for verb in ["XPAT", "XGTITLE", "MOTD"] {
        assert!(help.iter().any(|l| l.contains(verb)), "{verb}: {help:?}");
    }
}

#[test]
fn list_variants_newgroups_newnews() {
    let node = with_articles(|f| f.standard());
    let mut c = connect(&node);
    let active = c.listing("LIST", 215);
    assert_eq!(
        active,
        ["mesh.empty 0 1 y", "mesh.other 1 1 y", "mesh.test 3 1 y"]
    );
    assert_eq!(c.listing("LIST ACTIVE", 215), active);
    assert_eq!(c.listing("LIST ACTIVE mesh.o*", 215), ["mesh.other 1 1 y"]);
    assert_eq!(
        c.listing("LIST ACTIVE mesh.*,!mesh.test", 215),
        ["mesh.empty 0 1 y", "mesh.other 1 1 y"]
    );
    assert!(c.listing("LIST ACTIVE nothing.*", 215).is_empty());
    let newsgroups = c.listing("LIST NEWSGROUPS", 215);
    assert!(
        newsgroups.contains(&"mesh.empty\tnothing here".to_string()),
        "{newsgroups:?}"
    );
    assert_eq!(
        c.listing("LIST NEWSGROUPS mesh.e*", 215),
        ["mesh.empty\tnothing here"]
    );
    let times = c.listing("LIST ACTIVE.TIMES mesh.test", 215);
    assert_eq!(times.len(), 1);
    let created: i64 = word(&times[0], 1).parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - created).abs() < 600,
        "{times:?}"
    );
    assert_eq!(word(&times[0], 2), "alpha");
    let counts = c.listing("LIST COUNTS", 215);
    assert!(
        counts.contains(&"mesh.test 3 1 3 y".to_string()),
        "{counts:?}"
    );
    assert_eq!(c.listing("LIST SUBSCRIPTIONS", 215).len(), 3);
    assert_eq!(c.code("LIST MODERATORS"), 503);
    assert_eq!(c.code("LIST NO.SUCH.LIST"), 501);
    assert_eq!(c.code("LIST ACTIVE a b"), 501);

    // NEWGROUPS / NEWNEWS: yesterday finds everything, tomorrow nothing.
    let day = chrono::Duration::days(1);
    let yesterday = (chrono::Utc::now() - day)
        .format("%Y%m%d %H%M%S GMT")
        .to_string();
    let tomorrow = (chrono::Utc::now() + day)
        .format("%Y%m%d %H%M%S GMT")
        .to_string();
    let short = (chrono::Utc::now() - day)
        .format("%y%m%d %H%M%S GMT")
        .to_string();
    let groups = c.listing(&format!("NEWGROUPS {yesterday}"), 231);
    assert_eq!(groups, active);
    assert_eq!(
        c.listing(&format!("NEWGROUPS {short}"), 231),
        active,
        "two-digit year"
    );
    assert!(c.listing(&format!("NEWGROUPS {tomorrow}"), 231).is_empty());
    let local = (chrono::Local::now() - day)
        .format("%Y%m%d %H%M%S")
        .to_string();
    assert_eq!(
        c.listing(&format!("NEWGROUPS {local}"), 231),
        active,
        "local time"
    );
    let ids = {
        let n = node.paths().open().unwrap();
        let mut ids: Vec<String> = (1..=3)
            .map(|i| n.spool.article_at("mesh.test", i).unwrap().unwrap().msgid)
            .collect();
        ids.push(n.spool.article_at("mesh.other", 1).unwrap().unwrap().msgid);
        ids
    };
    assert_eq!(c.listing(&format!("NEWNEWS * {yesterday}"), 230), ids);
    assert_eq!(
        c.listing(&format!("NEWNEWS mesh.other {yesterday}"), 230),
        &ids[3..]
    );
    assert_eq!(
        c.listing(&format!("NEWNEWS *,!mesh.other {yesterday}"), 230),
        &ids[..3]
    );
    assert!(c.listing(&format!("NEWNEWS * {tomorrow}"), 230).is_empty());
    assert_eq!(c.code("NEWGROUPS 20241301 000000 GMT"), 501);
    assert_eq!(c.code("NEWGROUPS 20240101 250000"), 501);
    assert_eq!(c.code("NEWGROUPS 2024011 000000"), 501);
    assert_eq!(c.code("NEWNEWS * 20240230 000000 GMT"), 501);
    assert_eq!(c.code("NEWNEWS 20240101 000000"), 501);
}

#[test]
fn newnews_answers_page_by_page_every_article_once_in_arrival_order() {
    // More articles than one page of the answer (1,000), in two groups interleaved, so
    // pages hold matches and misses and the last page is partial.
    let mut wanted = Vec::new();
    let mut all = Vec::new();
    let node = with_articles(|f| {
        f.node.spool.create_group("mesh.other", "").unwrap();
        for _ in 0..5 {
            let ids = f.post_many("mesh.test", 450);
            wanted.extend(ids.iter().cloned());
            all.extend(ids);
            all.extend(f.post_many("mesh.other", 50));
        }
    });
    let mut c = connect(&node);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y%m%d %H%M%S GMT")
        .to_string();
    assert_eq!(c.listing(&format!("NEWNEWS * {yesterday}"), 230), all);
    assert_eq!(
        c.listing(&format!("NEWNEWS mesh.test {yesterday}"), 230),
        wanted
    );
    // The connection goes on after a long answer.
    assert_eq!(c.code("DATE"), 111);
}

/// A minimal article as a newsreader would POST it.
fn reader_article(group: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Reader <reader@example.org>\r\nNewsgroups: {group}\r\nSubject: {subject}\r\n\r\n{body}"
    )
    .into_bytes()
}

#[test]
fn post_signs_stores_and_reads_back_byte_exact() {
    let node = serving(
        |n| n.set_limit("max_article_bytes", "4096"),
        |f| f.standard(),
    );
    let default_key = public_key_text(
        &node
            .paths()
            .author_key(DEFAULT_AUTHOR)
            .unwrap()
            .verifying_key(),
    );
    let mut c = connect(&node);
    let body = ".starts with a dot\r\n..two dots\r\n.\r\n\r\nend\r\n";
    let status = c.post(&reader_article("mesh.test", "posted", body));
    assert!(status.starts_with("240 <"), "{status}");
    let id = word(&status, 1);
    // Back through BODY, byte-exact, and through ARTICLE with the signature.
    assert!(c.cmd(&format!("BODY {id}")).starts_with("222 "));
    assert_eq!(c.block_bytes(), body.as_bytes());
    assert!(c.cmd(&format!("ARTICLE {id}")).starts_with("220 "));
    let article = String::from_utf8(c.block_bytes()).unwrap();
    let sig = article
        .lines()
        .find(|l| l.starts_with("Newsmesh-Signature: "))
        .expect("signature header");
    assert!(sig.contains(&format!("k={default_key}")), "{sig}");
    assert!(article.contains(&format!("Message-ID: {id}\r\n")));
    assert!(article.contains("Path: alpha!not-for-mail\r\n"));
    assert!(article.contains("\r\nDate: "), "Date was filled in");
    // It is in the group now, with a number.
    assert_eq!(c.cmd("GROUP mesh.test"), "211 4 1 4 mesh.test");
    assert_eq!(c.listing("HDR Subject 4", 225), ["4 posted"]);
    // Node-supplied headers sent by the poster are replaced.
    let forged = "Message-ID: <mine@example.org>\r\nPath: elsewhere!x\r\nFrom: a@b.c\r\nNewsgroups: mesh.test\r\nSubject: forged\r\n\r\nbody\r\n";
    let status = c.post(forged.as_bytes());
    assert!(status.starts_with("240 <"), "{status}");
    assert_ne!(word(&status, 1), "<mine@example.org>");
    assert_eq!(c.code("STAT <mine@example.org>"), 430);

    // Refusals: 441 with a reason, and the connection goes on.
    let status = c.post(b"From: a@b.c\r\nSubject: no groups\r\n\r\nbody\r\n");
    assert!(
        status.starts_with("441 ") && status.contains("Newsgroups"),
        "{status}"
    );
    let status = c.post(b"this is not an article at all\r\n");
    assert!(status.starts_with("441 "), "{status}");
    let status = c.post(b"From: a@b.c\r\nNewsgroups: no.trust.rule\r\nSubject: s\r\n\r\nbody\r\n");
    assert!(
        status.starts_with("441 ") && status.contains("does not carry no.trust.rule"),
        "{status}"
    );
    let status = c.post(b"From: a@b.c\r\nNewsgroups: bad..group\r\nSubject: s\r\n\r\nbody\r\n");
    assert!(status.starts_with("441 "), "{status}");
    // Over the size limit (4096): refused, the rest of the block is skipped.
    let big = reader_article("mesh.test", "too big", &"0123456789abcdef\r\n".repeat(1000));
    let status = c.post(&big);
    assert!(
        status.starts_with("441 ") && status.contains("4096"),
        "{status}"
    );
    assert_eq!(c.code("DATE"), 111, "connection still usable");
    assert_eq!(c.cmd("GROUP mesh.test"), "211 5 1 5 mesh.test");
    // A POST whose data never ends stays within the size limit too.
    assert!(c.cmd("POST").starts_with("340"));
    c.send(&vec![b'x'; 100_000]);
    c.send(b"\r\n.\r\n");
    let status = c.line();
    assert!(status.starts_with("441 "), "{status}");
    assert_eq!(c.code("MODE READER"), 200);
}

/// Config with AUTHINFO required on loopback and user `ann` (password "open sesame").
fn auth_config(node: &Node) {
    newsmesh::sign::generate_secret(&node.paths().author_key_path("ann")).unwrap();
    let hash = newsmesh::config::hash_password("open sesame");
    node.set("reader", "loopback_without_auth", "false");
    // The entry of an older version (`password_sha256`), which edit no longer writes.
    node.append_config(&format!(
        "\n[[user]]\nname = \"ann\"\npassword_sha256 = \"{hash}\"\nauthor_key = \"authors/ann.key\"\n"
    ));
}

/// Config with user `ann` (password "open sesame") and loopback readers exempt from
/// AUTHINFO (the default).
fn user_ann_config(node: &Node) {
    auth_config(node);
    node.set("reader", "loopback_without_auth", "true");
}

#[test]
fn authinfo_gates_reading_and_posting() {
    let node = serving(auth_config, |f| f.standard());
    let ann_key = public_key_text(&node.paths().author_key("ann").unwrap().verifying_key());
    let mut c = connect(&node);
    assert!(c.greeting.starts_with("201 "), "{}", c.greeting);
    let caps = c.listing("CAPABILITIES", 101);
    assert!(caps.iter().any(|l| l == "AUTHINFO USER"), "{caps:?}");
    // READER before login, as INN: a newsreader that checks CAPABILITIES first (tin)
    // would otherwise give up instead of logging in.
    assert!(caps.iter().any(|l| l == "READER"), "{caps:?}");
    assert!(
        !caps.iter().any(|l| l == "POST" || l == "OVER MSGID"),
        "{caps:?}"
    );
    assert_eq!(c.code("MODE READER"), 201);
    assert_eq!(c.code("DATE"), 111, "DATE needs no authentication");
    assert_eq!(c.code("HELP"), 100);
    c.block();
    for command in [
        "GROUP mesh.test",
        "LISTGROUP mesh.test",
        "LIST",
        "LIST NEWSGROUPS",
        "ARTICLE <x@y>",
        "HEAD 1",
        "BODY",
        "STAT",
        "NEXT",
        "LAST",
        "OVER 1-",
        "HDR Subject 1-",
        "NEWGROUPS 20240101 000000 GMT",
        "NEWNEWS * 20240101 000000 GMT",
        "POST",
    ] {
        assert_eq!(c.code(command), 480, "{command}");
    }
    // Sequence errors and bad credentials.
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 482);
    assert_eq!(c.code("AUTHINFO USER ann"), 381);
    assert_eq!(c.code("AUTHINFO PASS open sesame!"), 481);
    assert_eq!(
        c.code("AUTHINFO PASS open sesame"),
        482,
        "USER is needed again"
    );
    assert_eq!(c.code("AUTHINFO USER nobody"), 381);
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 481);
    assert_eq!(c.code("GROUP mesh.test"), 480);
    // The right password.
    assert_eq!(c.code("AUTHINFO USER ann"), 381);
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 281);
    assert_eq!(c.code("AUTHINFO USER ann"), 502);
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 502);
    let caps = c.listing("CAPABILITIES", 101);
    assert!(caps.iter().any(|l| l == "READER") && caps.iter().any(|l| l == "POST"));
    assert!(!caps.iter().any(|l| l.starts_with("AUTHINFO")), "{caps:?}");
    assert_eq!(c.cmd("GROUP mesh.test"), "211 3 1 3 mesh.test");
    assert_eq!(c.listing("OVER 1-", 224).len(), 3);
    // POST is signed with ann's key.
    let status = c.post(&reader_article("mesh.test", "from ann", "hello\r\n"));
    assert!(status.starts_with("240 "), "{status}");
    let id = word(&status, 1);
    assert!(c.cmd(&format!("HEAD {id}")).starts_with("221 "));
    let head = String::from_utf8(c.block_bytes()).unwrap();
    assert!(head.contains(&format!("k={ann_key};")), "{head}");

    // Three failures close the connection; the server goes on.
    let mut c = connect(&node);
    for attempt in 1..=3 {
        assert_eq!(c.code("AUTHINFO USER ann"), 381);
        let status = c.cmd("AUTHINFO PASS guess");
        assert!(status.starts_with("481"), "{attempt}: {status}");
    }
    assert!(c.closed());
    let mut c = connect(&node);
    assert_eq!(c.code("AUTHINFO USER ann"), 381);
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 281);
}

#[test]
fn loopback_reader_may_authenticate_to_post_as_a_user() {
    let node = serving(user_ann_config, |f| f.standard());
    let ann_key = public_key_text(&node.paths().author_key("ann").unwrap().verifying_key());
    let mut c = connect(&node);
    let caps = c.listing("CAPABILITIES", 101);
    assert!(caps.iter().any(|l| l == "READER") && caps.iter().any(|l| l == "AUTHINFO USER"));
    assert_eq!(c.code("AUTHINFO USER ann"), 381);
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 281);
    let status = c.post(&reader_article("mesh.test", "ann again", "hi\r\n"));
    let id = word(&status, 1);
    let raw = String::from_utf8(node.raw_article(&id)).unwrap();
    assert!(raw.contains(&format!("k={ann_key};")), "{raw}");
}

/// Finding: an anonymous loopback POST signed with the operator's key could cancel the
/// operator's articles mesh-wide (and, where [[control]] trusts that key, remove groups).
#[test]
fn a_loopback_reader_without_authinfo_may_not_cancel_supersede_or_control() {
    let node = serving(user_ann_config, |f| f.standard());
    let operators = node.paths().open().unwrap().spool.groups().unwrap().len();
    let target = {
        let n = node.paths().open().unwrap();
        n.spool.article_at("mesh.test", 1).unwrap().unwrap().msgid
    };
    let mut c = connect(&node);
    for extra in [
        format!("Control: cancel {target}\r\n"),
        format!("Supersedes: {target}\r\n"),
        "Control: rmgroup mesh.test\r\n".to_string(),
        "Approved: moderator@example.org\r\n".to_string(),
    ] {
        let raw =
            format!("From: a@b.c\r\nNewsgroups: mesh.test\r\nSubject: cmsg\r\n{extra}\r\nbye\r\n");
        let status = c.post(raw.as_bytes());
        assert!(
            status.starts_with("441 ") && status.contains("needs AUTHINFO"),
            "{extra}: {status}"
        );
    }
    // The operator's article survives, and so do the groups.
    assert!(c.cmd(&format!("STAT {target}")).starts_with("223 "));
    assert_eq!(c.cmd("GROUP mesh.test"), "211 3 1 3 mesh.test");
    let groups = node.paths().open().unwrap().spool.groups().unwrap().len();
    assert_eq!(groups, operators);
    // An ordinary post from loopback still works (the documented default).
    let status = c.post(&reader_article("mesh.test", "plain", "hi\r\n"));
    assert!(status.starts_with("240 "), "{status}");
    // An AUTHINFO user may send a cancel, but only their own articles yield to it.
    assert_eq!(c.code("AUTHINFO USER ann"), 381);
    assert_eq!(c.code("AUTHINFO PASS open sesame"), 281);
    let raw = format!(
        "From: a@b.c\r\nNewsgroups: mesh.test\r\nSubject: cmsg\r\nControl: cancel {target}\r\n\r\nbye\r\n"
    );
    let status = c.post(raw.as_bytes());
    assert!(
        status.starts_with("441 ") && status.contains("not by the author"),
        "{status}"
    );
    let status = c.post(&reader_article("mesh.test", "ann's", "mine\r\n"));
    let own = word(&status, 1);
    let raw = format!(
        "From: a@b.c\r\nNewsgroups: mesh.test\r\nSubject: cmsg\r\nControl: cancel {own}\r\n\r\nbye\r\n"
    );
    let status = c.post(raw.as_bytes());
    assert!(status.starts_with("240 "), "{status}");
    assert_eq!(c.code(&format!("STAT {own}")), 430);
    assert!(c.cmd(&format!("STAT {target}")).starts_with("223 "));
}

#[test]
fn posting_can_be_disabled() {
    let node = serving(|n| n.set("reader", "posting", "false"), |f| f.standard());
    let mut c = connect(&node);
    assert!(c.greeting.starts_with("201 "), "{}", c.greeting);
    assert_eq!(c.code("MODE READER"), 201);
    let caps = c.listing("CAPABILITIES", 101);
    assert!(caps.iter().any(|l| l == "READER") && !caps.iter().any(|l| l == "POST"));
    assert_eq!(c.code("POST"), 440);
    assert_eq!(c.listing("LIST ACTIVE mesh.test", 215), ["mesh.test 3 1 n"]);
    assert_eq!(
        c.cmd("GROUP mesh.test"),
        "211 3 1 3 mesh.test",
        "reading still works"
    );
}

#[test]
fn bad_input_gets_a_code_and_the_service_goes_on() {
    let node = with_articles(|f| f.standard());
    let mut c = connect(&node);
    assert_eq!(c.code("FROBNICATE"), 500);
    assert_eq!(c.code(""), 500);
    assert_eq!(c.code("XYZZY 1 2 3"), 500);
    assert_eq!(c.code("GROUP"), 501);
    assert_eq!(c.code("GROUP a b"), 501);
    assert_eq!(c.code("LISTGROUP mesh.test x-y"), 501);
    assert_eq!(c.code("NEXT 1"), 501);
    assert_eq!(c.code("OVER abc"), 501);
    assert_eq!(c.code("NEWNEWS"), 501);
    assert_eq!(c.code("MODE SPEEDY"), 501);
    c.send(b"GROUP \xff\xfe\r\n");
    assert!(c.line().starts_with("501"));
    // Feed commands from a reader that is not a neighbour.
    assert_eq!(c.code("IHAVE <a@b>"), 480);
    assert_eq!(c.code("CHECK <a@b>"), 480);
    assert_eq!(
        c.cmd("GROUP mesh.test"),
        "211 3 1 3 mesh.test",
        "still usable"
    );
    assert_eq!(c.code("ARTICLE 3"), 220);
    c.block();

    // A 100 KB command line: 501, the rest of the line is skipped, and this connection
    // and the server go on.
    let mut long = Client::connect(node.addr);
    let mut line = b"GROUP ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 100 * 1024));
    line.extend_from_slice(b"\r\n");
    let _ = long.w.write_all(&line);
    let status = long.line();
    assert!(status.starts_with("501"), "{status}");
    assert_eq!(
        long.cmd("GROUP mesh.test"),
        "211 3 1 3 mesh.test",
        "same connection"
    );
    let mut again = connect(&node);
    assert_eq!(again.cmd("GROUP mesh.test"), "211 3 1 3 mesh.test");
    assert_eq!(c.code("DATE"), 111, "other connections are unaffected");
}

// ------------------------------------------------------------- real newsreaders

/// Whether `program` is installed; when not, says that the calling test is skipped and
/// which Debian package has the program.
fn installed(program: &str, package: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("this test");
        println!("SKIPPED {test}: {program} is not installed (apt-get install {package})");
    }
    found
}

/// A node with the standard group, for a test of `program`; None (and the test says it
/// is skipped) when `program` is not installed.
fn standard_node_for(program: &str, package: &str) -> Option<Node> {
    installed(program, package).then(|| with_articles(|f| f.standard()))
}

/// Runs tests/reader_nntplib.py against `addr` with `mode_args`; checks that what it
/// posted is stored signed with its body byte-exact. False when this Python has no
/// nntplib (the test is then skipped).
fn nntplib_reads_and_posts(node: &Node, addr: SocketAddr, mode_args: &[&str]) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reader_nntplib.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args(mode_args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    if out.status.code() == Some(77) {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("this test");
        println!("SKIPPED {test}: this python3 has no nntplib module");
        return false;
    }
    assert!(
        out.status.success(),
        "nntplib script failed:\n{stdout}\n{stderr}"
    );
    // What nntplib posted is stored, signed, with its body byte-exact.
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("posted "))
        .expect("the script prints the posted Message-ID")
        .trim()
        .to_string();
    let raw = node.raw_article(&id);
    let text = String::from_utf8(raw).unwrap();
    assert!(text.contains("Newsmesh-Signature: "), "{text}");
    assert!(
        text.ends_with("\r\n\r\n.leading dot\r\n..two leading dots\r\n.\r\nlast line\r\n"),
        "{text:?}"
    );
    true
}

#[test]
fn python_nntplib_reads_and_posts() {
    let Some(node) = standard_node_for("python3", "python3") else {
        return;
    };
    nntplib_reads_and_posts(&node, node.addr, &[]);
}

/// A node whose config also opens an NNTPS port; the PEM path of its reader certificate.
fn node_with_nntps() -> (Node, String) {
    let node = serving(
        |n| n.set("tls", "nntps_listen", "\"127.0.0.1:0\""),
        |f| f.standard(),
    );
    let cert = node.paths().reader_tls_paths().0.display().to_string();
    (node, cert)
}

/// The NNTPS address of a node made by [`node_with_nntps`].
fn nntps_addr(node: &Node) -> SocketAddr {
    node.nntps_addr().expect("an NNTPS listener")
}

#[test]
fn python_nntplib_reads_and_posts_over_starttls() {
    if !installed("python3", "python3") {
        return;
    }
    let (node, cert) = node_with_nntps();
    nntplib_reads_and_posts(&node, node.addr, &["starttls", &cert]);
}

#[test]
fn python_nntplib_reads_and_posts_over_nntps() {
    if !installed("python3", "python3") {
        return;
    }
    let (node, cert) = node_with_nntps();
    nntplib_reads_and_posts(&node, nntps_addr(&node), &["nntps", &cert]);
}

#[test]
fn tin_saves_a_group_non_interactively() {
    let Some(node) = standard_node_for("tin", "tin") else {
        return;
    };
    assert_pulled(&tin_saves(&node, |_| {}), "tin");
}

/// A newsreader that asks for COMPRESS DEFLATE (RFC 8054) gets `206` and then reads
/// every article byte-exact through raw DEFLATE both ways (its own compressor here, not
/// the server's code), dot-stuffed lines included.
#[test]
fn a_reader_using_compress_deflate_reads_byte_exact_articles() {
    use flate2::{read::DeflateDecoder, write::DeflateEncoder, Compression};
    let node = with_articles(|f| f.standard());
    let stream = TcpStream::connect(node.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut plain = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    plain.read_line(&mut line).unwrap();
    assert!(line.starts_with("200"), "{line}");
    (&stream).write_all(b"CAPABILITIES\r\n").unwrap();
    let mut caps = Vec::new();
    loop {
        line.clear();
        plain.read_line(&mut line).unwrap();
        if line == ".\r\n" {
            break;
        }
        caps.push(line.trim_end().to_string());
    }
    assert!(caps.iter().any(|c| c == "COMPRESS DEFLATE"), "{caps:?}");
    (&stream).write_all(b"COMPRESS DEFLATE\r\n").unwrap();
    line.clear();
    plain.read_line(&mut line).unwrap();
    assert!(line.starts_with("206 "), "{line}");
    assert!(plain.buffer().is_empty());
    let mut out = DeflateEncoder::new(stream.try_clone().unwrap(), Compression::default());
    let mut input = BufReader::new(DeflateDecoder::new(stream));
    for id in ids(&node) {
        out.write_all(format!("ARTICLE {id}\r\n").as_bytes())
            .unwrap();
        out.flush().unwrap(); // a sync flush: the command goes out whole
        line.clear();
        input.read_line(&mut line).unwrap();
        assert!(line.starts_with("220 "), "{line}");
        let mut article = Vec::new();
        loop {
            let mut l = Vec::new();
            input.read_until(b'\n', &mut l).unwrap();
            if l == b".\r\n" {
                break;
            }
            article.extend_from_slice(l.strip_prefix(b".").unwrap_or(&l));
        }
        assert!(article == node.raw_article(&id), "{id} changed on the way");
    }
    out.write_all(b"COMPRESS DEFLATE\r\n").unwrap();
    out.flush().unwrap();
    line.clear();
    input.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("502 "),
        "compression is on already: {line}"
    );
}

/// tin 2.6 speaks NNTPS (`-T`): it reads the group over implicit TLS, trusting the
/// node's self-signed reader certificate (given as its CA file), with the host name
/// checked (the certificate names `localhost`).
#[test]
fn tin_reads_over_nntps() {
    if !installed("tin", "tin") {
        return;
    }
    let (node, cert) = node_with_nntps();
    let nntps = nntps_addr(&node);
    let tin_home = node.home().with_file_name("tin-home");
    let save = tin_home.join("News");
    std::fs::create_dir_all(&save).unwrap();
    std::fs::write(tin_home.join(".newsrc"), "mesh.test:\n").unwrap();
    let mut tin = std::process::Command::new("tin");
    tin.args(["-4", "-T", "-r", "-S", "-q", "-v"])
        .arg("-p")
        .arg(nntps.port().to_string())
        .arg("-s")
        .arg(&save)
        .env("HOME", &tin_home)
        .env("TIN_HOMEDIR", &tin_home)
        .env("NNTPSERVER", "localhost")
        .env("SSL_CERT_FILE", &cert)
        .env("TERM", "dumb")
        .env("MAILER", "true");
    run_program(tin, "tin over NNTPS");
    assert_pulled(&saved_texts(&save), "tin over NNTPS");
}

/// tin from an address that must log in (here: loopback without its exemption) finds
/// READER in CAPABILITIES, logs in from ~/.newsauth when the server answers 480 and saves
/// the group; it used to quit unless forced to log in first (`tin -A`).
#[test]
fn tin_logs_in_when_reading_needs_authinfo() {
    if !installed("tin", "tin") {
        return;
    }
    let node = serving(auth_config, |f| f.standard());
    let saved = tin_saves(&node, |tin_home| {
        let newsauth = tin_home.join(".newsauth");
        std::fs::write(&newsauth, "127.0.0.1 \"open sesame\" ann\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&newsauth, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    });
    assert_pulled(&saved, "tin logging in");
}

/// Runs tin without a terminal (`-r -S -q -v`: read over NNTP, save the subscribed
/// mesh.test to ~/News) with its home in the node's directory, after `prepare` has added
/// its own files to that home; the texts tin saved.
fn tin_saves(node: &Node, prepare: impl FnOnce(&std::path::Path)) -> Vec<String> {
    let tin_home = node.home().with_file_name("tin-home");
    let save = tin_home.join("News");
    std::fs::create_dir_all(&save).unwrap();
    std::fs::write(tin_home.join(".newsrc"), "mesh.test:\n").unwrap();
    prepare(&tin_home);
    let mut tin = std::process::Command::new("tin");
    tin.args(["-r", "-S", "-q", "-v"])
        .arg("-p")
        .arg(node.addr.port().to_string())
        .arg("-s")
        .arg(&save)
        .env("HOME", &tin_home)
        .env("TIN_HOMEDIR", &tin_home)
        .env("NNTPSERVER", node.addr.ip().to_string())
        .env("TERM", "dumb")
        // The run report tin mails at the end goes nowhere.
        .env("MAILER", "true");
    run_program(tin, "tin");
    saved_texts(&save)
}

/// The text of every file under `dir`.
fn saved_texts(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect()
}

/// Runs an offline-reader program with a deadline, printing what it said.
fn run_program(mut command: std::process::Command, name: &str) -> std::process::Output {
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{name} runs: {e}"));
    println!(
        "{name}: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts the standard group's three articles are among `texts`, bodies intact.
fn assert_pulled(texts: &[String], program: &str) {
    for subject in ["first", "second", "third"] {
        assert!(
            texts
                .iter()
                .any(|t| t.contains(&format!("Subject: {subject}"))),
            "{program} did not pull {subject:?}: {texts:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t.contains("\n.dot\n..dots\n")),
        "{program}: dot lines changed: {texts:?}"
    );
    assert!(
        texts.iter().all(|t| t.contains("Newsmesh-Signature: ")),
        "{program}: {texts:?}"
    );
}

/// suck (Debian package `suck`) takes a group offline: it lists the Message-IDs with
/// `XHDR Message-ID` and stops at any answer but RFC 2980's 221.
#[test]
fn suck_pulls_a_group() {
    let Some(node) = standard_node_for("suck", "suck") else {
        return;
    };
    let work = node.home().with_file_name("suck");
    for sub in ["data", "msgs", "tmp"] {
        std::fs::create_dir_all(work.join(sub)).unwrap();
    }
    std::fs::write(work.join("data/sucknewsrc"), "mesh.test -100\n").unwrap();
    let mut suck = std::process::Command::new("suck");
    suck.current_dir(&work)
        .arg(node.addr.ip().to_string())
        .args(["-N", &node.addr.port().to_string()])
        .args(["-dd", "data", "-dm", "msgs", "-dt", "tmp", "-m", "-H"]);
    let out = run_program(suck, "suck");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("Unexpected response"), "{said}");
    assert_pulled(&saved_texts(&work.join("msgs")), "suck");
}

/// slrnpull (Debian package `slrnpull`) fills an offline spool for slrn with XHDR
/// Message-ID then HEAD/BODY.
#[test]
fn slrnpull_pulls_a_group() {
    let Some(node) = standard_node_for("slrnpull", "slrnpull") else {
        return;
    };
    let spool = node.home().with_file_name("slrnpull");
    for sub in ["news", "data", "out.going", "requests"] {
        std::fs::create_dir_all(spool.join(sub)).unwrap();
    }
    std::fs::write(spool.join("slrnpull.conf"), "default 20 14 0\nmesh.test\n").unwrap();
    let mut slrnpull = std::process::Command::new("slrnpull");
    slrnpull
        .arg("-d")
        .arg(&spool)
        .arg("-h")
        .arg(node.addr.to_string())
        .args(["--no-post", "--logfile"])
        .arg(spool.join("log"))
        .env("HOME", &spool);
    let out = run_program(slrnpull, "slrnpull");
    let log = std::fs::read_to_string(spool.join("log")).unwrap_or_default();
    assert!(out.status.success(), "{log}");
    let texts: Vec<String> = (1..=3)
        .map(|n| {
            std::fs::read_to_string(spool.join(format!("news/mesh/test/{n}"))).unwrap_or_default()
        })
        .collect();
    assert_pulled(&texts, &format!("slrnpull (log: {log})"));
}

/// rpost (from the `suck` package) posts an article read from stdin; it is stored signed
/// with the node's key, its dot lines intact.
#[test]
fn rpost_posts_to_a_node() {
    let Some(node) = standard_node_for("rpost", "suck") else {
        return;
    };
    let mut child = std::process::Command::new("rpost")
        .arg(node.addr.ip().to_string())
        .args(["-N", &node.addr.port().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rpost runs");
    let article = "From: Tester <tester@example.org>\nNewsgroups: mesh.test\n\
        Subject: by rpost\n\nposted offline\n.leading dot\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(article.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    println!(
        "rpost: {:?}\n{said}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let ids = ids(&node);
    assert_eq!(ids.len(), 4, "{said}");
    let raw = String::from_utf8(node.raw_article(&ids[3])).unwrap();
    assert!(raw.contains("Subject: by rpost\r\n"), "{raw}");
    assert!(raw.contains("Newsmesh-Signature: "), "{raw}");
    assert!(
        raw.ends_with("\r\n\r\nposted offline\r\n.leading dot\r\n"),
        "{raw:?}"
    );
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn user_add_cli_then_authinfo_and_post_with_that_key() {
    let mut printed = String::new();
    let node = serving(
        |node| {
            let out = node.cli_stdin(&["user", "add", "bob"], b"correct horse\n");
            printed = out.success().stdout_line();
            // Refusals: the same name again, a bad name, an empty password.
            let again = node.cli_stdin(&["user", "add", "bob"], b"x\n");
            assert_eq!(again.code, Some(1), "{again:?}");
            assert_eq!(
                node.cli_stdin(&["user", "add", "../evil"], b"x\n").code,
                Some(1)
            );
            assert_eq!(
                node.cli_stdin(&["user", "add", "carol"], b"\n").code,
                Some(1)
            );
            let list = node.cli(&["user", "list"]);
            assert_eq!(list.stdout_text(), "bob authors/bob.key\n");
            let text = node.config_text();
            assert!(text.contains("[[user]]\nname = \"bob\""), "{text}");
            assert!(!text.contains("correct horse"), "no clear-text password");
            assert!(
                text.contains("# Local users for AUTHINFO"),
                "comments are kept"
            );
            node.set("reader", "loopback_without_auth", "false");
        },
        |f| f.standard(),
    );
    let key_path = node.paths().author_key_path("bob");
    let bob = public_key_text(&node.paths().author_key("bob").unwrap().verifying_key());
    assert_eq!(printed, bob, "user add prints the user's author public key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut c = connect(&node);
    assert_eq!(c.code("AUTHINFO USER bob"), 381);
    assert_eq!(c.code("AUTHINFO PASS correct horse "), 481);
    assert_eq!(c.code("AUTHINFO USER bob"), 381);
    assert_eq!(c.code("AUTHINFO PASS correct horse"), 281);
    let status = c.post(&reader_article("mesh.test", "from bob", "hi\r\n"));
    assert!(status.starts_with("240 "), "{status}");
    let raw = String::from_utf8(node.raw_article(&word(&status, 1))).unwrap();
    assert!(raw.contains(&format!("k={bob};")), "{raw}");
}
