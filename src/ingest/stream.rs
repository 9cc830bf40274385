//! A long run of articles (an rnews batch) ingested as one stream: a worker thread reads
//! and examines the articles (parse, checks, signatures) step after step while this
//! thread settles and stores them, committing every `commit_every` articles.
//!
//! Calling [`super::ingest`] once per batch of the run instead leaves a core idle at every
//! batch boundary: its first step is examined with nothing to store, its commit with
//! nothing to examine, and the next batch is read with neither. Here the worker is
//! already examining the articles after a commit while the commit runs.

use super::{conclude, examine_step, settle_step, Rules, Step, Verdict, STEP};
use crate::sign::batch::verify_chunk;
use crate::spool::{Spool, SpoolError};

/// Steps examined ahead of the one being stored: enough to cover a commit.
const STEPS_AHEAD: usize = 4;

/// Ingests every article `articles` yields, in order, committing every `commit_every`
/// (at least one step); after each commit, calls `settled` with the Message-IDs (as far
/// as known) and verdicts of the articles it held, in order, and writes the article log
/// as [`super::ingest`] does. The iterator runs on the worker thread.
pub fn ingest_stream<I>(
    spool: &mut Spool,
    rules: &Rules<'_>,
    articles: I,
    commit_every: usize,
    mut settled: impl FnMut(&[Option<String>], &[Verdict]),
) -> Result<(), SpoolError>
where
    I: Iterator<Item = Vec<u8>> + Send,
{
    std::thread::scope(|scope| {
        let (examined, steps) = std::sync::mpsc::sync_channel::<Step>(STEPS_AHEAD);
        scope.spawn(move || examine_all(rules, articles, examined));
        let mut steps = steps.into_iter().peekable();
        while steps.peek().is_some() {
            let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(commit_every);
            let mut ids: Vec<Option<String>> = Vec::with_capacity(commit_every);
            spool.store_with(|store| {
                while verdicts.len() < commit_every {
                    let Some(step) = steps.next() else {
                        break;
                    };
                    let start = verdicts.len();
                    verdicts.resize(start + step.len(), None);
                    ids.resize(start + step.len(), None);
                    settle_step(
                        store,
                        rules,
                        step,
                        &mut verdicts[start..],
                        &mut ids[start..],
                    )?;
                }
                Ok(())
            })?;
            // Committed: now the log and the caller may hear of it.
            let verdicts = conclude(rules, &ids, verdicts);
            settled(&ids, &verdicts);
        }
        Ok(())
    })
}

/// The worker: the articles, a step at a time, examined and handed over in order, until
/// they end or the storing side stops listening (it failed).
fn examine_all(
    rules: &Rules<'_>,
    mut articles: impl Iterator<Item = Vec<u8>>,
    examined: std::sync::mpsc::SyncSender<Step>,
) {
    loop {
        let chunk: Vec<Vec<u8>> = articles.by_ref().take(STEP).collect();
        if chunk.is_empty() {
            return;
        }
        let items: Vec<(Option<&str>, &[u8])> =
            chunk.iter().map(|raw| (None, raw.as_slice())).collect();
        // Indexes within the step: the storing side places each step itself.
        let step = examine_step(rules, &items, 0, verify_chunk);
        if examined.send(step).is_err() {
            return;
        }
    }
}
