//! `newsmesh export` and `newsmesh import`: rnews batches for an air gap. `import` names
//! each refused article by its Message-ID and reason (stderr and the article log).

use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::feed_policy::{came_from, feed_matches, governance_meets};
use crate::home::Home;
use crate::ingest::{ingest_stream, Rules, Source, Streamed, Verdict};
use crate::newslog::{LogEntry, LogVerdict};
use crate::rnews::{write_article, BatchReader, Item, RnewsError};
use crate::wildmat::Wildmat;

/// Arrivals read from the spool per step.
const CHUNK: usize = 1000;
/// Articles imported per transaction.
const IMPORT_BATCH: usize = 2000;

pub fn export(home: &Home, to: Option<String>, groups: &str, file: Option<PathBuf>) -> Result<()> {
    let mut node = home.open()?;
    let feed = Wildmat::new(groups);
    let mark_name = to.as_ref().map(|name| format!("rnews:{name}"));
    let mut marks = match &mark_name {
        Some(name) => node.spool.marks(name)?,
        None => crate::spool::PeerMarks::default(),
    };
    let after = if mark_name.is_some() {
        marks.push_seq
    } else {
        0
    };
    let sink: Box<dyn Write> = match &file {
        // Private like everything the node keeps: a batch may carry restricted groups.
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(crate::files::PRIVATE_FILE)
                .open(path)
                .map_err(|e| Error::io(path, e))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let where_ = file
        .as_ref()
        .map_or("<stdout>".into(), |p| p.display().to_string());
    let (mut count, mut bytes, mut last) = (0u64, 0u64, after);
    // Not over the batch itself when it goes to a terminal's stdout.
    let mut progress = super::progress::Progress::new(file.is_none());
    loop {
        let arrivals = node.spool.arrivals_since(last, CHUNK)?;
        let Some(end) = arrivals.last().map(|a| a.seq) else {
            break;
        };
        for a in arrivals {
            let own_name = node.config.node.name.as_str();
            let skip = to
                .as_deref()
                .is_some_and(|name| came_from(&a, name, own_name));
            if skip || !(feed_matches(&feed, &a.newsgroups) || governance_meets(&feed, &a)) {
                continue;
            }
            if let Some(stored) = node.spool.article(&a.msgid)? {
                write_article(&mut out, &stored.raw).map_err(|e| Error::io(&where_, e))?;
                count += 1;
                bytes += stored.raw.len() as u64;
                progress.show(|| format!("export: {count} articles, {bytes} bytes"), false);
            }
        }
        last = end;
    }
    out.flush().map_err(|e| Error::io(&where_, e))?;
    drop(out);
    if let Some(path) = &file {
        // The mark moves only once the batch is safely on the stick.
        std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(path, e))?;
    }
    progress.done();
    if let Some(name) = &mark_name {
        marks.push_seq = last;
        node.spool.set_marks(name, &marks)?;
    }
    eprintln!("exported={count} bytes={bytes}");
    Ok(())
}

pub fn import(home: &Home, file: Option<PathBuf>) -> Result<()> {
    let mut node = home.open()?;
    let max = node.config.limits.max_article_bytes;
    // Read on the ingest stream's worker thread, hence Send.
    let input: Box<dyn std::io::BufRead + Send> = match &file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let sizes = Mutex::new(Vec::new());
    let mut runs = BatchRuns {
        reader: BatchReader::new(input, max),
        too_large: &sizes,
        failure: None,
    };
    let (mut imported, mut duplicates, mut refused) = (0u64, 0u64, 0u64);
    let mut progress = super::progress::Progress::new(false);
    let rules = Rules::new(&node.config, &node.trust, Some(&node.log)).for_source(Source::Import);
    let too_large =
        |progress: &mut super::progress::Progress, refused: &mut u64, sizes: &Mutex<Vec<u64>>| {
            let sizes = std::mem::take(&mut *sizes.lock().unwrap_or_else(|e| e.into_inner()));
            for size in sizes {
                // Skipped unread, so its Message-ID is not known.
                let why = format!("{size} bytes, over [limits] max_article_bytes ({max})");
                progress.done();
                eprintln!("refused an article of {why}");
                node.log.append(&[LogEntry {
                    verdict: LogVerdict::Refused,
                    id: None,
                    peer: "import",
                    reason: &why,
                }]);
                *refused += 1;
            }
        };
    let stream = ingest_stream(&mut node.spool, &rules, &mut runs, |ids, verdicts| {
        for (id, verdict) in ids.iter().zip(verdicts) {
            match verdict {
                Verdict::Stored(_) => imported += 1,
                Verdict::Duplicate => duplicates += 1,
                Verdict::Refused(why) | Verdict::Deferred(why) => {
                    progress.done();
                    eprintln!("refused {}: {why}", id.as_deref().unwrap_or("an article"));
                    refused += 1;
                }
            }
        }
        too_large(&mut progress, &mut refused, &sizes);
        progress.show(
            || format!("import: imported={imported} duplicates={duplicates} refused={refused}"),
            false,
        );
    });
    too_large(&mut progress, &mut refused, &sizes);
    stream?;
    progress.done();
    println!("imported={imported} duplicates={duplicates} refused={refused}");
    match runs.failure {
        Some(e) => Err(Error::Invalid(e.to_string())),
        None => Ok(()),
    }
}

/// The articles of an rnews batch as the ingest stream takes them: [`IMPORT_BATCH`] at
/// a time, each run one transaction. One over the size limit is skipped unread and its
/// size noted for the importer to report; a batch that cannot be read further ends the
/// runs, the failure kept.
struct BatchRuns<'a, R> {
    reader: BatchReader<R>,
    too_large: &'a Mutex<Vec<u64>>,
    failure: Option<RnewsError>,
}

impl<R: std::io::BufRead> Iterator for BatchRuns<'_, R> {
    type Item = Vec<Streamed>;

    fn next(&mut self) -> Option<Vec<Streamed>> {
        let mut run = Vec::with_capacity(IMPORT_BATCH);
        while run.len() < IMPORT_BATCH && self.failure.is_none() {
            match self.reader.next_item() {
                Ok(Some(Item::Article(raw))) => run.push((None, raw)),
                Ok(Some(Item::TooLarge(size))) => self
                    .too_large
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(size),
                Ok(None) => break,
                Err(e) => self.failure = Some(e),
            }
        }
        (!run.is_empty()).then_some(run)
    }
}
