//! Storing what a pull fetched: each batch is verified and stored in one transaction,
//! and, once a pull needs more than one batch, on a blocking thread with a spool
//! connection of its own, while the link goes on receiving the next batch. The peer
//! then keeps serving while we verify, instead of waiting for our commit. One storer
//! serves a whole pull, so that connection is opened once.
//!
//! One batch is stored at a time: the link hands over batch k+1 only once batch k is
//! committed, so at most two batches (2 × `limits.sync_batch_bytes`, plus one article)
//! are held. Verdicts are tallied on the link's side as each batch completes; a pull
//! waits for the last one before its mark moves ([`Storer::finish`]).

use super::{PeerReport, RefusedBy};
use crate::error::{Error, Result};
use crate::home::Node;
use crate::ingest::{ingest_offered, Rules, Source, Verdict};

/// Fetched articles, ready to be stored: (Message-ID, article).
pub(super) type Fetched = Vec<(String, Vec<u8>)>;

/// What a blocking store gives back: its node, the batch's ids, their verdicts.
type Stored = (Node, Vec<String>, Result<Vec<Verdict>>);

/// Stores a pull's batches, on the link's thread or beside it.
#[derive(Default)]
pub(super) struct Storer {
    /// The second node (own spool connection) while it is not storing; None until a
    /// pull needs a second batch (a pull of one batch, the live relay's usual, stores on
    /// the link's thread: a second spool connection costs an open).
    spare: Option<Node>,
    /// The batch being stored beside the link (it has the second node meanwhile).
    running: Option<tokio::task::JoinHandle<Stored>>,
}

impl Storer {
    /// Stores `articles` (from `report.peer`): on the link's thread when it is the
    /// pull's only batch, else hands them to the thread beside it once the previous
    /// batch is committed. `more` says whether more batches follow.
    pub(super) async fn store(
        &mut self,
        node: &mut Node,
        articles: Fetched,
        more: bool,
        report: &mut PeerReport,
    ) -> Result<()> {
        if articles.is_empty() {
            return Ok(());
        }
        // After this, the second node, once opened, is back in `spare`.
        self.finish(node, report).await?;
        if more && self.spare.is_none() {
            self.spare = Some(node.reopen()?);
        }
        let Some(mut spare) = self.spare.take() else {
            let verdicts = ingest(node, &report.peer, &articles);
            let ids = articles.into_iter().map(|(id, _)| id).collect();
            return tally(node, report, ids, verdicts);
        };
        let peer = report.peer.clone();
        self.running = Some(tokio::task::spawn_blocking(move || {
            let verdicts = ingest(&mut spare, &peer, &articles);
            let ids = articles.into_iter().map(|(id, _)| id).collect();
            (spare, ids, verdicts)
        }));
        Ok(())
    }

    /// Waits until the batch being stored is committed, and tallies its verdicts.
    pub(super) async fn finish(&mut self, node: &Node, report: &mut PeerReport) -> Result<()> {
        let Some(running) = self.running.take() else {
            return Ok(());
        };
        let (spare, ids, verdicts) = running
            .await
            .map_err(|e| Error::Invalid(format!("storing fetched articles: {e}")))?;
        self.spare = Some(spare);
        tally(node, report, ids, verdicts)
    }
}

/// Verifies and stores `articles`, delivered by `peer`, in one transaction.
fn ingest(node: &mut Node, peer: &str, articles: &Fetched) -> Result<Vec<Verdict>> {
    let rules = Rules::new(&node.config, &node.trust).from(Source::Peer(peer));
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
    ids: Vec<String>,
    verdicts: Result<Vec<Verdict>>,
) -> Result<()> {
    let listed = node.config.limits.sync_listed_refusals;
    for (verdict, id) in verdicts?.into_iter().zip(&ids) {
        match verdict {
            Verdict::Stored(_) => report.received += 1,
            // Crossed the link but was here already (another link or session was
            // first): counted, so that a body crossing twice can be seen.
            Verdict::Duplicate => report.duplicates += 1,
            // The article log has it already (ingest writes it).
            Verdict::Refused(why) => {
                report.refuse(Some(id), RefusedBy::Us, &why.to_string(), listed)
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
