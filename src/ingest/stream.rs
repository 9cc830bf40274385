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

/// An article as a stream takes it: the Message-ID it was offered under, if any, and
/// its wire form. Owned ([`Streamed`]) for runs made as they are read, borrowed for a
/// batch the caller holds ([`super::ingest`]).
pub trait Offer {
    /// The Message-ID it was offered under (TAKETHIS, IHAVE, ARTICLE), if any.
    fn offered_as(&self) -> Option<&str>;
    /// The article, wire form.
    fn raw(&self) -> &[u8];
}

impl Offer for Streamed {
    fn offered_as(&self) -> Option<&str> {
        self.0.as_deref()
    }
    fn raw(&self) -> &[u8] {
        &self.1
    }
}

impl Offer for (Option<&str>, &[u8]) {
    fn offered_as(&self) -> Option<&str> {
        self.0
    }
    fn raw(&self) -> &[u8] {
        self.1
    }
}

/// Ingests every run `runs` yields, in order, each in one transaction; after each
/// commit, calls `settled` with the Message-IDs (as far as known) and verdicts of the
/// run's articles, in order, and writes the article log as [`super::ingest`] does. The
/// iterator runs on the worker thread; a transaction begins once its run's first step
/// is examined, so it is never open while the iterator waits for input.
pub fn ingest_stream<I, R, O>(
    spool: &mut Spool,
    rules: &Rules<'_>,
    runs: I,
    mut settled: impl FnMut(&[Option<String>], Vec<Verdict>),
) -> Result<(), SpoolError>
where
    I: Iterator<Item = R> + Send,
    R: AsRef<[O]>,
    O: Offer,
{
    std::thread::scope(|scope| {
        let (examined, steps) = std::sync::mpsc::sync_channel::<ExaminedStep>(STEPS_AHEAD);
        scope.spawn(move || examine_all(rules, runs, examined));
        while let Ok(first) = steps.recv() {
            let (mut verdicts, mut ids) = (Vec::new(), Vec::new());
            spool.store_with(|store| {
                let mut next = Ok(first);
                while let Ok(ExaminedStep { step, last }) = next {
                    settle_step(store, rules, step, &mut verdicts, &mut ids)?;
                    if last {
                        break;
                    }
                    next = steps.recv();
                }
                Ok(())
            })?;
            // Committed: now the log and the caller may hear of it.
            conclude(rules, &ids, &verdicts);
            settled(&ids, verdicts);
        }
        Ok(())
    })
}

/// One examined step, and whether it ends its run.
struct ExaminedStep {
    step: Step,
    last: bool,
}

/// The worker: each run, a step at a time, examined and handed over in order, until the
/// runs end or the storing side stops listening (it failed).
fn examine_all<R: AsRef<[O]>, O: Offer>(
    rules: &Rules<'_>,
    runs: impl Iterator<Item = R>,
    examined: std::sync::mpsc::SyncSender<ExaminedStep>,
) {
    for run in runs {
        let run = run.as_ref();
        let steps = run.len().div_ceil(STEP);
        for (n, chunk) in run.chunks(STEP).enumerate() {
            let items: Vec<(Option<&str>, &[u8])> =
                chunk.iter().map(|o| (o.offered_as(), o.raw())).collect();
            let step = examine_step(rules, &items, verify_chunk);
            let last = n + 1 == steps;
            if examined.send(ExaminedStep { step, last }).is_err() {
                return;
            }
        }
    }
}
