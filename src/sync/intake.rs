//! Storing what a pull fetched: each batch is verified and stored in one transaction,
//! and, once a pull needs more than one batch, by an ingest stream
//! ([`crate::ingest::ingest_stream`]) on a blocking thread with a spool connection of
//! its own, while the link goes on receiving the next batch. The peer then keeps
//! serving while we verify, and the stream examines batch k+1 while batch k commits.
//! One intake serves a whole pull, so that connection is opened once.
//!
//! The link goes on receiving only once the stream has taken the batch handed over,
//! so what is held is the batch being received, the one the stream examines, and the
//! few steps of the one before that are examined but not yet stored: about two batches
//! (2 × `limits.sync_batch_bytes`, plus [`crate::ingest::ingest_stream`]'s steps). Verdicts are tallied on
//! the link's side as each batch commits; a pull waits for the last one before its mark
//! moves ([`Intake::finish`]).

use tokio::sync::mpsc;

use super::{PeerReport, RefusedBy};
use crate::error::{Error, Result};
use crate::home::Node;
use crate::ingest::{ingest_offered, ingest_stream, Rules, Source, Streamed, Verdict};

/// Fetched articles, ready to be stored: (Message-ID, article).
pub(super) type Bodies = Vec<(String, Vec<u8>)>;

/// A committed batch: its articles' Message-IDs and verdicts.
type Committed = (Vec<Option<String>>, Vec<Verdict>);

/// Stores a pull's batches, on the link's thread or beside it.
#[derive(Default)]
pub(super) struct Intake {
    /// The stream beside the link, once a pull needs a second batch (a pull of one
    /// batch, the live relay's usual, stores on the link's thread: a second spool
    /// connection costs an open).
    stream: Option<Stream>,
}

/// An ingest stream on a blocking thread, with a node (spool connection) of its own.
struct Stream {
    /// Batches to store; closed to end the stream.
    batches: mpsc::Sender<Vec<Streamed>>,
    /// What each transaction committed, in order.
    committed: std::sync::mpsc::Receiver<Committed>,
    /// The thread, which ends once `batches` is closed and drained (or the spool
    /// failed).
    running: tokio::task::JoinHandle<Result<()>>,
}

impl Intake {
    /// Stores `articles` (from `report.peer`): on the link's thread when it is the
    /// pull's only batch, else hands them to the stream beside it, returning once it
    /// has taken them. `more` says whether more batches follow.
    pub(super) async fn store(
        &mut self,
        node: &mut Node,
        articles: Bodies,
        more: bool,
        report: &mut PeerReport,
    ) -> Result<()> {
        if articles.is_empty() {
            return Ok(());
        }
        let stream = match self.stream.as_mut() {
            Some(stream) => stream,
            None if !more => {
                let verdicts = ingest(node, &report.peer, &articles);
                let ids = articles.into_iter().map(|(id, _)| Some(id)).collect();
                return tally(node, report, ids, verdicts);
            }
            None => self
                .stream
                .insert(Stream::start(node.reopen()?, report.peer.clone())),
        };
        let batch: Vec<Streamed> = articles
            .into_iter()
            .map(|(id, raw)| (Some(id), raw))
            .collect();
        // Handed over, and taken: only then does the link go on to receive the next
        // batch, so no more than one batch waits while the stream works on another.
        let taken = match stream.batches.send(batch).await {
            Ok(()) => stream.batches.clone().reserve_owned().await.is_ok(),
            Err(_) => false,
        };
        if !taken {
            // The stream ended early: its spool failed. Say how.
            return self.finish(node, report).await;
        }
        while let Ok((ids, verdicts)) = stream.committed.try_recv() {
            tally(node, report, ids, Ok(verdicts))?;
        }
        Ok(())
    }

    /// Waits until every batch handed over is committed, and tallies their verdicts.
    pub(super) async fn finish(&mut self, node: &Node, report: &mut PeerReport) -> Result<()> {
        let Some(Stream {
            batches,
            committed,
            running,
        }) = self.stream.take()
        else {
            return Ok(());
        };
        drop(batches);
        let ended = running
            .await
            .map_err(|e| Error::Internal(format!("storing fetched articles: {e}")))?;
        // What committed counts, whether or not the stream then failed.
        for (ids, verdicts) in committed.try_iter() {
            tally(node, report, ids, Ok(verdicts))?;
        }
        ended
    }
}

impl Stream {
    /// Starts a stream storing into `node`'s spool what `peer` delivered.
    fn start(mut node: Node, peer: String) -> Stream {
        // The link waits until the stream takes each batch (see `Intake::store`).
        let (batches, mut waiting) = mpsc::channel::<Vec<Streamed>>(1);
        let (commits, committed) = std::sync::mpsc::channel::<Committed>();
        let running = tokio::task::spawn_blocking(move || {
            let rules = Rules::new(&node.config, &node.trust, Some(&node.log))
                .for_source(Source::Peer(&peer));
            let runs = std::iter::from_fn(|| waiting.blocking_recv());
            ingest_stream(&mut node.spool, &rules, runs, |ids, verdicts| {
                // The link side may be gone (it failed): then nobody tallies.
                let _ = commits.send((ids.to_vec(), verdicts));
            })
            .map_err(Error::from)
        });
        Stream {
            batches,
            committed,
            running,
        }
    }
}

/// Verifies and stores `articles`, delivered by `peer`, in one transaction.
fn ingest(node: &mut Node, peer: &str, articles: &Bodies) -> Result<Vec<Verdict>> {
    let rules =
        Rules::new(&node.config, &node.trust, Some(&node.log)).for_source(Source::Peer(peer));
    let offered: Vec<(&str, &[u8])> = articles
        .iter()
        .map(|(id, raw)| (id.as_str(), raw.as_slice()))
        .collect();
    Ok(ingest_offered(&mut node.spool, &rules, &offered)?)
}

/// Counts a batch's verdicts into `report`.
fn tally(
    node: &Node,
    report: &mut PeerReport,
    ids: Vec<Option<String>>,
    verdicts: Result<Vec<Verdict>>,
) -> Result<()> {
    let listed = node.config.limits.sync_listed_refusals;
    for (verdict, id) in verdicts?.into_iter().zip(&ids) {
        match verdict {
            Verdict::Stored(_) => report.outcome.received += 1,
            // Crossed the link but was here already (another link or session was
            // first): counted, so that a body crossing twice can be seen.
            Verdict::Duplicate => report.duplicates += 1,
            // The article log has it already (ingest writes it).
            Verdict::Refused(why) => {
                report.refuse(id.as_deref(), RefusedBy::Us, &why.to_string(), listed)
            }
            // Over a quota: the pull keeps its mark before it (`pull.rs`).
            Verdict::Deferred(_) => {
                report.deferred += 1;
                report.held_back = true;
            }
        }
    }
    Ok(())
}
