//! The article log, `news.log` in the node home, like INN's news log: one line per
//! article this node accepted or refused, and per article a neighbour refused when we
//! sent it, so an operator can answer "where did that article go, and why?" months
//! later. `ingest` writes it after the transaction holding its verdicts has committed;
//! `sync` adds what neighbours refused. Every line is also a tracing event (refusals at
//! info, acceptances at debug), which `serve` sends to stderr and so to journald.
//!
//! One line per article, fields separated by one space (the format is documented in the
//! man page, FILES, and [`LogLine::parse`] reads it back for `newsmesh status`):
//!
//! ```text
//! 2026-11-28T14:11:16.123Z accepted id=<x@newsmesh> peer=beta
//! 2026-11-28T14:11:16.125Z refused id=<y@newsmesh> peer=reader:ann reason="..."
//! 2026-11-28T14:11:17.002Z peer-refused id=<z@newsmesh> peer=inn reason="..."
//! ```
//!
//! The log is bounded: when it would pass `[limits] news_log_bytes` it is renamed
//! `news.log.1` (`.1` to `.2` ... up to `news_log_files`, the oldest dropped). `serve` and
//! `sync` may append at once: each append is one `write` on an `O_APPEND` file under an
//! advisory lock, so lines never interleave and a rotation happens once. Writing the log
//! never fails an ingest: the articles are stored already; a failure is a warning.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// What became of one article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVerdict {
    /// Stored here.
    Accepted,
    /// Refused here.
    Refused,
    /// Sent by us and refused by the neighbour.
    PeerRefused,
}

impl LogVerdict {
    /// The word in the log.
    pub fn word(self) -> &'static str {
        match self {
            LogVerdict::Accepted => "accepted",
            LogVerdict::Refused => "refused",
            LogVerdict::PeerRefused => "peer-refused",
        }
    }

    fn from_word(word: &str) -> Option<LogVerdict> {
        [
            LogVerdict::Accepted,
            LogVerdict::Refused,
            LogVerdict::PeerRefused,
        ]
        .into_iter()
        .find(|v| v.word() == word)
    }
}

/// One article's line, before it is written.
#[derive(Debug, Clone, Copy)]
pub struct LogEntry<'a> {
    /// What became of it.
    pub verdict: LogVerdict,
    /// Its Message-ID, when known (an article that does not parse has none).
    pub id: Option<&'a str>,
    /// Where it came from, or the neighbour that refused it (see `ingest::Source`).
    pub peer: &'a str,
    /// Why it was refused (empty when accepted).
    pub reason: &'a str,
}

/// Longest Message-ID written (RFC 5536 allows 250 octets).
pub const MAX_ID: usize = 250;
/// Longest reason written; longer ones are cut (a reason may quote what a peer sent).
pub const MAX_REASON: usize = 400;

/// An article log: where it is and how large it may grow. Clones share their bounds:
/// `serve` keeps one beside its spool and applies a reload's `[limits]` to it with
/// [`NewsLog::set_limits`], without waiting for the spool (a transaction may hold it).
#[derive(Debug, Clone)]
pub struct NewsLog {
    path: PathBuf,
    bounds: Arc<Bounds>,
}

/// How large a log may grow (see [`NewsLog::new`]).
#[derive(Debug)]
struct Bounds {
    max_bytes: AtomicU64,
    files: AtomicU32,
}

impl NewsLog {
    /// The log at `path`, rotated when it would pass `max_bytes` (0 turns it off), keeping
    /// `files` rotated files besides it.
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64, files: u32) -> NewsLog {
        NewsLog {
            path: path.into(),
            bounds: Arc::new(Bounds {
                max_bytes: AtomicU64::new(max_bytes),
                files: AtomicU32::new(files),
            }),
        }
    }

    /// New bounds for this log and every clone of it (a reload's `[limits]`).
    pub fn set_limits(&self, max_bytes: u64, files: u32) {
        self.bounds.max_bytes.store(max_bytes, Ordering::Relaxed);
        self.bounds.files.store(files, Ordering::Relaxed);
    }

    fn max_bytes(&self) -> u64 {
        self.bounds.max_bytes.load(Ordering::Relaxed)
    }

    fn files(&self) -> u32 {
        self.bounds.files.load(Ordering::Relaxed)
    }

    /// The current log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line per entry (and emits them as tracing events). Never fails: the
    /// articles are stored already; a log that cannot be written is a warning.
    pub fn append(&self, entries: &[LogEntry<'_>]) {
        if entries.is_empty() {
            return;
        }
        for e in entries {
            let id = e.id.unwrap_or("?");
            match e.verdict {
                LogVerdict::Accepted => {
                    tracing::debug!(target: "newsmesh::news", "accepted {id} from {}", e.peer)
                }
                LogVerdict::Refused => {
                    tracing::info!(target: "newsmesh::news", "refused {id} from {}: {}", e.peer, e.reason)
                }
                LogVerdict::PeerRefused => {
                    tracing::info!(target: "newsmesh::news", "{} refused {id}: {}", e.peer, e.reason)
                }
            }
        }
        if self.max_bytes() == 0 {
            return;
        }
        let time = timestamp(chrono::Utc::now());
        let mut text = String::with_capacity(entries.len() * 96);
        for e in entries {
            write_line(&mut text, &time, e);
        }
        if let Err(e) = self.write(text.as_bytes()) {
            tracing::warn!("article log {}: {e}", self.path.display());
        }
    }

    /// Appends `text` (whole lines) in one write, rotating first when it would pass the
    /// bound.
    fn write(&self, text: &[u8]) -> std::io::Result<()> {
        loop {
            let mut file = open_append(&self.path)?;
            // An exclusive flock (waiting for it), released when the file closes.
            file.lock()?;
            // Another process may have rotated the log between our open and our lock:
            // then our descriptor is `news.log.1`; open the new file instead.
            let ours = file.metadata()?;
            match std::fs::metadata(&self.path) {
                Ok(now) if now.ino() == ours.ino() && now.dev() == ours.dev() => {}
                _ => continue,
            }
            if ours.len() > 0 && ours.len() + text.len() as u64 > self.max_bytes() {
                self.rotate()?;
                continue;
            }
            return file.write_all(text);
        }
    }

    /// `news.log.N-1` -> `news.log.N` ... `news.log` -> `news.log.1`; with no rotated
    /// files kept, the log is simply started again.
    fn rotate(&self) -> std::io::Result<()> {
        let files = self.files();
        if files == 0 {
            return std::fs::remove_file(&self.path);
        }
        for n in (1..files).rev() {
            match std::fs::rename(self.rotated(n), self.rotated(n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, self.rotated(1))
    }

    /// `news.log.N`.
    pub fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// The last `count` lines of the log whose verdict is one of `verdicts`, oldest
    /// first, read from at most `tail_bytes` at the end of `news.log` and of `news.log.1`
    /// (so the cost does not grow with the log).
    pub fn recent(&self, verdicts: &[LogVerdict], count: usize, tail_bytes: u64) -> Vec<LogLine> {
        let mut lines = Vec::new();
        for path in [self.rotated(1), self.path.clone()] {
            let text = read_tail(&path, tail_bytes).unwrap_or_default();
            lines.extend(
                text.lines()
                    .filter_map(LogLine::parse)
                    .filter(|l| verdicts.contains(&l.verdict)),
            );
        }
        let skip = lines.len().saturating_sub(count);
        lines.split_off(skip)
    }
}

/// Opens (creating, mode 0600: it names who posted what) the log for appending.
fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(crate::files::PRIVATE_FILE)
        .open(path)
}

/// The last `bytes` of a file, from its first whole line.
fn read_tail(path: &Path, bytes: u64) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(bytes);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    file.take(bytes).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    Ok(match (start, text.find('\n')) {
        (0, _) => text.into_owned(),
        (_, Some(newline)) => text[newline + 1..].to_string(),
        (_, None) => String::new(),
    })
}

/// `2026-11-28T14:11:16.123Z`.
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Makes text safe for one field of one line (here and in `sync -v`): no line breaks,
/// quotes or other control characters (a reason may quote what a peer sent), spaces
/// replaced by `space`, at most `max` characters.
pub fn clean_field(text: &str, max: usize, space: char) -> String {
    // The usual case (a Message-ID, a peer's name): nothing to replace, one copy.
    let plain = |b: &u8| b.is_ascii_graphic() && *b != b'"';
    if text.len() <= max && text.as_bytes().iter().all(plain) {
        return text.to_string();
    }
    text.chars()
        .take(max)
        .map(|c| match c {
            '"' => '\'',
            ' ' => space,
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

fn write_line(out: &mut String, time: &str, e: &LogEntry<'_>) {
    use std::fmt::Write as _;
    let id = clean_field(e.id.unwrap_or("?"), MAX_ID, '?');
    let peer = clean_field(e.peer, MAX_ID, '_');
    let _ = write!(out, "{time} {} id={id} peer={peer}", e.verdict.word());
    if e.verdict != LogVerdict::Accepted {
        let _ = write!(
            out,
            " reason=\"{}\"",
            clean_field(e.reason, MAX_REASON, ' ')
        );
    }
    out.push('\n');
}

/// One line read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When, as written (`2026-11-28T14:11:16.123Z`).
    pub time: String,
    /// What became of the article.
    pub verdict: LogVerdict,
    /// Its Message-ID (`?` when unknown).
    pub id: String,
    /// Where it came from, or the neighbour that refused it.
    pub peer: String,
    /// Why it was refused ("" when accepted).
    pub reason: String,
}

impl LogLine {
    /// Parses a line written by [`NewsLog::append`]; None for anything else.
    pub fn parse(line: &str) -> Option<LogLine> {
        let mut fields = line.splitn(5, ' ');
        let time = fields.next()?;
        let verdict = LogVerdict::from_word(fields.next()?)?;
        let id = fields.next()?.strip_prefix("id=")?;
        let peer = fields.next()?.strip_prefix("peer=")?;
        let reason = match fields.next() {
            Some(rest) => rest.strip_prefix("reason=\"")?.strip_suffix('"')?,
            None => "",
        };
        Some(LogLine {
            time: time.to_string(),
            verdict,
            id: id.to_string(),
            peer: peer.to_string(),
            reason: reason.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(verdict: LogVerdict, id: &'a str, reason: &'a str) -> LogEntry<'a> {
        LogEntry {
            verdict,
            id: Some(id),
            peer: "beta",
            reason,
        }
    }

    #[test]
    fn lines_read_back_and_hostile_text_stays_on_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = NewsLog::new(dir.path().join("news.log"), 1 << 20, 2);
        log.append(&[
            entry(LogVerdict::Accepted, "<a@x>", ""),
            entry(
                LogVerdict::Refused,
                "<b@x>",
                "bad \"quote\"\r\nforged 2026 accepted id=<c@x>",
            ),
            LogEntry {
                verdict: LogVerdict::PeerRefused,
                id: None,
                peer: "in n",
                reason: "439 no",
            },
        ]);
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        let lines: Vec<LogLine> = text.lines().map(|l| LogLine::parse(l).unwrap()).collect();
        assert_eq!(lines[0].verdict, LogVerdict::Accepted);
        assert_eq!(
            (lines[0].id.as_str(), lines[0].reason.as_str()),
            ("<a@x>", "")
        );
        assert_eq!(lines[1].id, "<b@x>");
        assert_eq!(
            lines[1].reason,
            "bad 'quote'??forged 2026 accepted id=<c@x>"
        );
        assert_eq!(
            (lines[2].id.as_str(), lines[2].peer.as_str()),
            ("?", "in_n")
        );
        assert!(lines[0].time.ends_with('Z') && lines[0].time.contains('T'));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(log.path()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_log_rotates_by_size_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = NewsLog::new(dir.path().join("news.log"), 300, 2);
        for i in 0..40 {
            log.append(&[entry(LogVerdict::Refused, &format!("<{i}@x>"), "no")]);
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(log.path()) <= 300);
        assert!(size(&log.rotated(1)) > 0 && size(&log.rotated(1)) <= 300);
        assert!(size(&log.rotated(2)) > 0);
        assert!(!log.rotated(3).exists(), "only two rotated files are kept");
        // The newest lines are in news.log, and `recent` finds them across the rotation.
        let recent = log.recent(&[LogVerdict::Refused], 5, 1 << 20);
        let ids: Vec<&str> = recent.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["<35@x>", "<36@x>", "<37@x>", "<38@x>", "<39@x>"]);
    }

    /// A reload sets new bounds on `serve`'s clone; the spool's clone writes by them.
    #[test]
    fn clones_share_their_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let spools = NewsLog::new(dir.path().join("news.log"), 0, 2);
        let serves = spools.clone();
        spools.append(&[entry(LogVerdict::Refused, "<off@x>", "no")]);
        assert!(!spools.path().exists(), "0 turns the file off");
        serves.set_limits(1 << 20, 2);
        spools.append(&[entry(LogVerdict::Refused, "<on@x>", "no")]);
        let recent = serves.recent(&[LogVerdict::Refused], 5, 1 << 20);
        let ids: Vec<&str> = recent.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["<on@x>"]);
    }

    #[test]
    fn a_zero_bound_turns_the_file_off_and_the_tail_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let off = NewsLog::new(dir.path().join("off.log"), 0, 2);
        off.append(&[entry(LogVerdict::Refused, "<a@x>", "no")]);
        assert!(!off.path().exists());
        let log = NewsLog::new(dir.path().join("news.log"), 1 << 20, 0);
        for i in 0..100 {
            log.append(&[entry(LogVerdict::Refused, &format!("<{i}@x>"), "no")]);
        }
        // 200 bytes hold only the last few lines; a cut first line is skipped.
        let recent = log.recent(&[LogVerdict::Refused], 100, 200);
        assert!(!recent.is_empty() && recent.len() < 5, "{recent:?}");
        assert_eq!(recent.last().unwrap().id, "<99@x>");
        assert!(log.recent(&[LogVerdict::Accepted], 100, 1 << 20).is_empty());
    }
}
