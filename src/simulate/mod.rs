//! `newsmesh simulate`: the node code on an in-process mesh with a virtual clock, so
//! that an operator sees how a topology of a thousand nodes behaves before anyone builds
//! it, on one machine, in minutes.
//!
//! Design: a discrete-event simulator (`queue.rs`: events ordered by virtual time, ties
//! in scheduling order, so one seed gives one run). What is real and what is a model:
//! - Real: every node (`node.rs`) owns a real [`crate::spool::Spool`] (SQLite, in a
//!   temporary directory on `/dev/shm` where there is one, so commits cost no disk
//!   flush), and every article enters it through the real [`crate::ingest`] (parse,
//!   content-derived Message-ID, ed25519 signature, trust policy, date window, quotas,
//!   history, Path); posts are composed and signed by [`crate::compose`]. What a
//!   neighbour is offered or listed is the real feed policy
//!   ([`crate::feed_policy::goes_to`] and the age window's `listable`) over the real
//!   arrival sequence, in chunks of the real `MAX_OFFER`/`MAX_SINCE`; duplicate
//!   suppression is the receiver's history (438) and the in-flight rule of `serve`
//!   (431 while another neighbour is bringing the body). Message sizes come from the
//!   real encoders (`wire.rs`). The node clock ([`crate::clock`]) is set to virtual
//!   time, so dates, the age window and arrival times are virtual too.
//! - Modelled (`engine.rs`): the transport. A live link's exchange is CHECK, answers,
//!   TAKETHIS, 239, each a quarter of `--hop` apart (the store takes the last quarter),
//!   each quarter partly an exponential wait (`--jitter`), one exchange per link at a time, offered again on each commit and 250 ms after a
//!   431, like `relay/link.rs`; a cron `sync` (push then `MESH SINCE` pull, as
//!   `sync/exchange.rs`) runs at one virtual instant. Marks live in the simulator, not
//!   in the spools (no spool is rebuilt, so epochs never change and set reconciliation,
//!   which only first contact and rebuilds use, has no part here). No TLS, DEFLATE or
//!   handshake bytes. The defaults (`--hop 50ms --jitter 1`) are calibrated against
//!   `cargo bench --bench live` on the same graph (100 real processes: median and p99
//!   time to the last node, hops from Path; BENCHMARKS.md compares them).
//! - Scenario: a random regular graph (the benches' generator) or a list of links;
//!   articles posted `--post-every` apart at random nodes that are up; `--churn` of
//!   the nodes each off once for `--off`; a partition of the nodes into two halves
//!   from `--partition` until `--heal` (or for good).
//!
//! The run ends when every node holds every article, when nothing can change any more
//! (no scenario event left, no exchange under way, and with cron two intervals without
//! a body moving), or at `--horizon`. Its figures (`report.rs`) are one key=value line;
//! `svg.rs` draws the propagation.

mod engine;
mod node;
mod queue;
mod report;
mod svg;
mod topology;
mod wire;

pub use queue::{parse_millis, Millis};
pub use report::{Outcome, Window};
pub use topology::Topology;

use crate::error::{Error, Result};

/// How articles travel between neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Every link live both ways (`serve`'s relay), no cron.
    Live,
    /// Only cron `sync`, each link dialled by its lower-numbered node.
    Cron,
    /// Both.
    Both,
}

impl Relay {
    /// Whether links relay live.
    pub fn live(self) -> bool {
        matches!(self, Relay::Live | Relay::Both)
    }

    /// Whether nodes sync from cron.
    pub fn cron(self) -> bool {
        matches!(self, Relay::Cron | Relay::Both)
    }

    /// The word `--relay` takes.
    pub fn word(self) -> &'static str {
        match self {
            Relay::Live => "live",
            Relay::Cron => "cron",
            Relay::Both => "both",
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Nodes (when no topology is given: a random regular graph).
    pub nodes: usize,
    /// Neighbours per node of the random graph.
    pub degree: usize,
    /// Articles posted.
    pub articles: usize,
    /// Seed of the graph, the posting nodes, the churn and the cron phases.
    pub seed: u64,
    /// Links given instead of a random graph (the text of a topology file).
    pub topology: Option<String>,
    /// Live relay, cron, or both.
    pub relay: Relay,
    /// Time from a commit on one node to the commit of the same article on a live
    /// neighbour.
    pub hop: Millis,
    /// Share of each quarter of a hop that is an exponentially distributed wait of the
    /// same mean rather than fixed (0: every hop the same).
    pub jitter: f64,
    /// Cron interval.
    pub cron: Millis,
    /// Time between two posts.
    pub post_every: Millis,
    /// Article body size in bytes.
    pub size: usize,
    /// Share of nodes (0 to 1) that go off once, at a random time while articles are
    /// posted.
    pub churn: f64,
    /// How long a churned node stays off.
    pub off: Millis,
    /// When the mesh is cut in two halves.
    pub partition: Option<Millis>,
    /// When the partition heals (never, when None).
    pub heal: Option<Millis>,
    /// The simulation stops here whatever happened.
    pub horizon: Millis,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Report {
    /// What happened.
    pub outcome: Outcome,
    /// The key=value line.
    pub figures: String,
}

impl Report {
    /// The propagation picture (SVG).
    pub fn svg(&self) -> String {
        svg::render(&self.outcome, &self.figures)
    }
}

/// Runs a simulation, its spools in a temporary directory removed afterwards.
pub fn run(options: &Options) -> Result<Report> {
    if !(0.0..=1.0).contains(&options.churn) {
        return Err(Error::Invalid(
            "--churn is a share of the nodes, 0 to 1".into(),
        ));
    }
    if !(0.0..=1.0).contains(&options.jitter) {
        return Err(Error::Invalid(
            "--jitter is a share of the hop, 0 to 1".into(),
        ));
    }
    if options.articles == 0 {
        return Err(Error::Invalid("--articles must be at least 1".into()));
    }
    let topology = match &options.topology {
        Some(text) => Topology::parse(options.nodes, text)?,
        None => Topology::random(options.nodes, options.degree, options.seed)?,
    };
    let dir = spool_dir()?;
    let outcome = engine::Sim::new(options, topology, dir.path())?.run()?;
    let figures = outcome.figures(options.seed, options.relay.word());
    Ok(Report { outcome, figures })
}

/// A temporary directory for the spools: in `/dev/shm` when it is there (memory; a
/// thousand spools' commits then cost no disk flushes), else the usual one.
fn spool_dir() -> Result<tempfile::TempDir> {
    let shm = std::path::Path::new("/dev/shm");
    let made = if shm.is_dir() && std::env::var_os("TMPDIR").is_none() {
        tempfile::Builder::new()
            .prefix("newsmesh-simulate")
            .tempdir_in(shm)
            .or_else(|_| tempfile::tempdir())
    } else {
        tempfile::Builder::new()
            .prefix("newsmesh-simulate")
            .tempdir()
    };
    made.map_err(|e| Error::io(std::env::temp_dir(), e))
}
