//! The reconciliation itself, over any [`Storage`]: the initiator (the dialling `sync`)
//! opens with fingerprints of its whole set, each side answers the other's message
//! range by range (equal fingerprints are skipped, different ones split into
//! [`BUCKETS`] smaller ranges, small ranges listed id by id), and the initiator
//! collects what it has that the responder lacks and the reverse.
//!
//! Bounded against a hostile peer: messages are checked by the decoder
//! (`message.rs`); one message costs at most two scans of the ranges it names, which
//! do not overlap, plus one more when the reply is cut at the frame limit; a reply is
//! never larger than [`MAX_FRAME_BYTES`] (the rest of the order goes as one fingerprint,
//! to be split in a later round); the initiator stops after [`MAX_ROUNDS`] rounds and
//! [`MAX_DIFFERENCES`] differences (the responder's caller counts its rounds).

use std::collections::HashSet;

use super::item::{Accumulator, Bound, Id, Item};
use super::message::{decode, Encoder, Message, MessageError, Mode, MAX_FRAME_BYTES, MAX_RANGES};

/// Ranges a differing range is split into.
pub const BUCKETS: u64 = 16;
/// A differing range of at most this many items is sent as its ids instead of split.
pub const IDLIST_THRESHOLD: u64 = 16;
/// The responder answers an id list with its own when it holds at most this many items
/// in that range, otherwise with fingerprints (a peer cannot ask for a whole spool of ids).
pub const IDLIST_ANSWER_MAX: u64 = 64;
/// Rounds (messages each way) before a reconciliation is given up.
pub const MAX_ROUNDS: u32 = 64;
/// Ids the initiator collects (both directions) before it gives up: beyond that, the
/// sets are so different that listing is as cheap, and memory stays bounded.
pub const MAX_DIFFERENCES: usize = 250_000;
/// Room kept free at the end of a reply: the largest step (a split, or an id list of
/// [`IDLIST_ANSWER_MAX`]) plus the final fingerprint range.
const FRAME_RESERVE: usize = 4096;
/// Ranges kept free likewise.
const RANGES_RESERVE: usize = 2 * BUCKETS as usize + 4;

/// A sorted set of items that can be walked by range.
pub trait Storage {
    /// What can go wrong reading it.
    type Error;

    /// Calls `f` on the items in `[lower, upper)`, ascending, until it returns false.
    fn scan(
        &self,
        lower: &Bound,
        upper: &Bound,
        f: &mut dyn FnMut(&Item) -> bool,
    ) -> Result<(), Self::Error>;

    /// The fingerprint (and count) of `[lower, upper)`.
    fn fingerprint(&self, lower: &Bound, upper: &Bound) -> Result<Accumulator, Self::Error> {
        let mut acc = Accumulator::default();
        self.scan(lower, upper, &mut |item| {
            acc.add(&item.id);
            true
        })?;
        Ok(acc)
    }
}

/// Why a reconciliation stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError<E> {
    /// The peer's message does not decode.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// Reading our own set failed.
    #[error("reconciliation storage: {0}")]
    Storage(E),
    /// No agreement within [`MAX_ROUNDS`].
    #[error("reconciliation took more than {MAX_ROUNDS} rounds")]
    TooManyRounds,
    /// More than [`MAX_DIFFERENCES`] ids differ.
    #[error("sets differ in more than {MAX_DIFFERENCES} ids")]
    TooManyDifferences,
}

/// A reply being written: ranges contiguous from the lowest bound, gaps written as skips.
struct Reply {
    encoder: Encoder,
    written_to: Bound,
}

impl Reply {
    fn new() -> Reply {
        Reply {
            encoder: Encoder::default(),
            written_to: Bound::MIN,
        }
    }

    fn range(&mut self, lower: &Bound, upper: &Bound, mode: Mode) {
        if lower.key() > self.written_to.key() {
            self.encoder.push(lower, &Mode::Skip);
        }
        self.encoder.push(upper, &mode);
        self.written_to = *upper;
    }

    fn full(&self) -> bool {
        self.encoder.len() + FRAME_RESERVE > MAX_FRAME_BYTES
            || self.encoder.ranges() + RANGES_RESERVE > MAX_RANGES
    }

    fn is_empty(&self) -> bool {
        self.encoder.is_empty()
    }

    fn finish(self) -> Vec<u8> {
        self.encoder.finish()
    }
}

/// Our ids in `[lower, upper)`.
fn ids<S: Storage>(storage: &S, lower: &Bound, upper: &Bound) -> Result<Vec<Id>, S::Error> {
    let mut out = Vec::new();
    storage.scan(lower, upper, &mut |item| {
        out.push(item.id);
        true
    })?;
    Ok(out)
}

/// Answers a differing range of `count` items: its ids when few, else [`BUCKETS`]
/// fingerprinted sub-ranges that together cover it exactly.
fn split<S: Storage>(
    storage: &S,
    lower: &Bound,
    upper: &Bound,
    count: u64,
    reply: &mut Reply,
) -> Result<(), S::Error> {
    if count <= IDLIST_THRESHOLD {
        let ids = ids(storage, lower, upper)?;
        reply.range(lower, upper, Mode::IdList(ids));
        return Ok(());
    }
    let (per, extra) = (count / BUCKETS, count % BUCKETS);
    let size = |bucket: u64| per + u64::from(bucket < extra);
    let mut parts: Vec<(Bound, Accumulator)> = Vec::with_capacity(BUCKETS as usize);
    let (mut bucket, mut acc, mut prev) = (0u64, Accumulator::default(), None::<Item>);
    storage.scan(lower, upper, &mut |item| {
        if let Some(prev) = prev.filter(|_| bucket + 1 < BUCKETS && acc.count() == size(bucket)) {
            parts.push((Bound::between(&prev, item), std::mem::take(&mut acc)));
            bucket += 1;
        }
        acc.add(&item.id);
        prev = Some(*item);
        true
    })?;
    parts.push((*upper, acc));
    let mut from = *lower;
    for (to, acc) in parts {
        reply.range(&from, &to, Mode::Fingerprint(acc.fingerprint()));
        from = to;
    }
    Ok(())
}

/// Which side of the exchange is processing a message.
enum Side<'a> {
    /// The dialling side, collecting the differences.
    Initiator(&'a mut Differences),
    Responder,
}

/// What the initiator learnt: ids only it has, and ids only the peer has.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Differences {
    /// Ours, missing at the peer.
    pub have: Vec<Id>,
    /// The peer's, missing here.
    pub need: Vec<Id>,
}

impl Differences {
    fn len(&self) -> usize {
        self.have.len() + self.need.len()
    }
}

/// Processes one message and writes the answer.
fn process<S: Storage>(
    storage: &S,
    message: &Message,
    mut side: Side<'_>,
) -> Result<Reply, ReconcileError<S::Error>> {
    let mut reply = Reply::new();
    let mut lower = Bound::MIN;
    for range in &message.ranges {
        if reply.full() {
            // Frame limit: the rest of the order as one fingerprint, split next round.
            let acc = storage
                .fingerprint(&lower, &Bound::INFINITY)
                .map_err(ReconcileError::Storage)?;
            reply.range(
                &lower,
                &Bound::INFINITY,
                Mode::Fingerprint(acc.fingerprint()),
            );
            return Ok(reply);
        }
        let upper = range.upper;
        match &range.mode {
            Mode::Skip => {}
            Mode::Fingerprint(theirs) => {
                let acc = storage
                    .fingerprint(&lower, &upper)
                    .map_err(ReconcileError::Storage)?;
                if acc.fingerprint() != *theirs {
                    split(storage, &lower, &upper, acc.count(), &mut reply)
                        .map_err(ReconcileError::Storage)?;
                }
            }
            Mode::IdList(theirs) => match &mut side {
                Side::Initiator(diff) => {
                    let theirs: HashSet<&Id> = theirs.iter().collect();
                    let mut ours = HashSet::new();
                    let mut over = false;
                    storage
                        .scan(&lower, &upper, &mut |item| {
                            ours.insert(item.id);
                            if !theirs.contains(&item.id) {
                                diff.have.push(item.id);
                            }
                            over = diff.len() > MAX_DIFFERENCES;
                            !over
                        })
                        .map_err(ReconcileError::Storage)?;
                    diff.need
                        .extend(theirs.into_iter().filter(|id| !ours.contains(*id)));
                    if over || diff.len() > MAX_DIFFERENCES {
                        return Err(ReconcileError::TooManyDifferences);
                    }
                }
                Side::Responder => {
                    let acc = storage
                        .fingerprint(&lower, &upper)
                        .map_err(ReconcileError::Storage)?;
                    if acc.count() > IDLIST_ANSWER_MAX {
                        split(storage, &lower, &upper, acc.count(), &mut reply)
                            .map_err(ReconcileError::Storage)?;
                    } else {
                        let ours = ids(storage, &lower, &upper).map_err(ReconcileError::Storage)?;
                        let same = ours.len() == theirs.len() && {
                            let theirs: HashSet<&Id> = theirs.iter().collect();
                            ours.iter().all(|id| theirs.contains(id))
                        };
                        if !same {
                            reply.range(&lower, &upper, Mode::IdList(ours));
                        }
                    }
                }
            },
        }
        lower = upper;
    }
    Ok(reply)
}

/// The responder's answer to one message (the caller bounds the number of rounds).
pub fn respond<S: Storage>(
    storage: &S,
    message: &[u8],
) -> Result<Vec<u8>, ReconcileError<S::Error>> {
    let message = decode(message)?;
    Ok(process(storage, &message, Side::Responder)?.finish())
}

/// The dialling side of one reconciliation.
#[derive(Debug, Default)]
pub struct Initiator {
    rounds: u32,
    differences: Differences,
}

impl Initiator {
    /// A reconciliation not yet begun.
    pub fn new() -> Initiator {
        Initiator::default()
    }

    /// The first message: our whole set as fingerprints (or ids, when small).
    pub fn start<S: Storage>(&mut self, storage: &S) -> Result<Vec<u8>, ReconcileError<S::Error>> {
        let all = storage
            .fingerprint(&Bound::MIN, &Bound::INFINITY)
            .map_err(ReconcileError::Storage)?;
        let mut reply = Reply::new();
        split(
            storage,
            &Bound::MIN,
            &Bound::INFINITY,
            all.count(),
            &mut reply,
        )
        .map_err(ReconcileError::Storage)?;
        self.rounds = 1;
        Ok(reply.finish())
    }

    /// Takes the peer's answer: the next message, or None when the sets are reconciled.
    pub fn reconcile<S: Storage>(
        &mut self,
        storage: &S,
        answer: &[u8],
    ) -> Result<Option<Vec<u8>>, ReconcileError<S::Error>> {
        let message = decode(answer)?;
        let reply = process(storage, &message, Side::Initiator(&mut self.differences))?;
        if reply.is_empty() {
            return Ok(None);
        }
        if self.rounds >= MAX_ROUNDS {
            return Err(ReconcileError::TooManyRounds);
        }
        self.rounds += 1;
        Ok(Some(reply.finish()))
    }

    /// Messages sent so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// What was learnt so far.
    pub fn differences(&self) -> &Differences {
        &self.differences
    }

    /// What was learnt, ending the reconciliation.
    pub fn into_differences(self) -> Differences {
        self.differences
    }
}
