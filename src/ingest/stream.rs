//! Runs of articles (an rnews batch read 2,000 at a time, the batches a pull fetches)
//! ingested as one stream: a worker thread examines the articles (parse, checks,
//! signatures) step after step while this thread settles and stores them, each run in
//! one transaction.
//!
//! Calling [`super::ingest`] once per run instead leaves a core idle at every run
//! boundary: its first step is examined with nothing to store, its commit with nothing
//! to examine. Here the worker is already examining the next run while a run commits.

use super::{conclude, examine_step, settle_step, Rules, Step, Verdict, STEP};
use crate::sign::batch::verify_chunk;
use crate::spool::{Spool, SpoolError};

/// Steps examined ahead of the one being stored: enough to cover a commit.
const STEPS_AHEAD: usize = 4;

/// One article of a stream: the Message-ID it was offered under, if any (see
/// [`super::ingest_offered`]), and its wire form.
pub type Streamed = (Option<String>, Vec<u8>);

/// Ingests every run `runs` yields, in order, each in one transaction; after each
/// commit, calls `settled` with the Message-IDs (as far as known) and verdicts of the
/// run's articles, in order, and writes the article log as [`super::ingest`] does. The
/// iterator runs on the worker thread; a transaction begins once its run's first step
/// is examined, so it is never open while the iterator waits for input.
pub fn ingest_stream<I>(
    spool: &mut Spool,
    rules: &Rules<'_>,
    runs: I,
    mut settled: impl FnMut(&[Option<String>], &[Verdict]),
) -> Result<(), SpoolError>
where
    I: Iterator<Item = Vec<Streamed>> + Send,
{
    std::thread::scope(|scope| {
        let (examined, steps) = std::sync::mpsc::sync_channel::<Examined>(STEPS_AHEAD);
        scope.spawn(move || examine_all(rules, runs, examined));
        while let Ok(first) = steps.recv() {
            let mut verdicts: Vec<Option<Verdict>> = Vec::new();
            let mut ids: Vec<Option<String>> = Vec::new();
            spool.store_with(|store| {
                let mut next = Ok(first);
                while let Ok(Examined { step, last }) = next {
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
                    if last {
                        break;
                    }
                    next = steps.recv();
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

/// One examined step, and whether it ends its run.
struct Examined {
    step: Step,
    last: bool,
}

/// The worker: each run, a step at a time, examined and handed over in order, until the
/// runs end or the storing side stops listening (it failed).
fn examine_all(
    rules: &Rules<'_>,
    runs: impl Iterator<Item = Vec<Streamed>>,
    examined: std::sync::mpsc::SyncSender<Examined>,
) {
    for run in runs.filter(|run| !run.is_empty()) {
        let steps = run.len().div_ceil(STEP);
        for (n, chunk) in run.chunks(STEP).enumerate() {
            let items: Vec<(Option<&str>, &[u8])> = chunk
                .iter()
                .map(|(offered_as, raw)| (offered_as.as_deref(), raw.as_slice()))
                .collect();
            // Indexes within the step: the storing side places each step itself.
            let step = examine_step(rules, &items, 0, verify_chunk);
            let last = n + 1 == steps;
            if examined.send(Examined { step, last }).is_err() {
                return;
            }
        }
    }
}
