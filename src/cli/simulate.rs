//! `newsmesh simulate`: runs [`crate::simulate`] and prints its figures, the last line
//! being the key=value one scripts read; `--svg FILE` writes the propagation picture.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::error::{Error, Result};
use crate::simulate::{parse_millis, Options, Relay};

/// `--relay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RelayWord {
    /// Every link relays live both ways (`serve`), no cron.
    Live,
    /// Only cron `sync`, each link dialled by its lower-numbered node.
    Cron,
    /// Live relay and cron `sync`.
    Both,
}

/// The options of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Nodes in the mesh.
    #[arg(long, value_name = "N")]
    pub nodes: usize,
    /// Neighbours of each node in the random regular graph.
    #[arg(long, value_name = "D", default_value_t = 3)]
    pub degree: usize,
    /// Articles posted, each at a random node that is up.
    #[arg(long, value_name = "A", default_value_t = 100)]
    pub articles: usize,
    /// Seed of the graph, the posting nodes, the churn and the cron phases: the same
    /// seed gives the same last line.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Links from FILE instead of a random graph: one `A B` pair of node numbers
    /// (0-based, below N) per line, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// How articles travel.
    #[arg(long, value_enum, default_value_t = RelayWord::Live)]
    pub relay: RelayWord,
    /// Live relay: time from a commit on one node to the same article's commit on a
    /// neighbour (calibrated against 100 real processes).
    #[arg(long, value_name = "DURATION", default_value = "50ms")]
    pub hop: String,
    /// Share (0 to 1) of each quarter of a hop that is an exponentially distributed
    /// wait rather than fixed (queueing behind other work; 1 matches real processes).
    #[arg(long, value_name = "SHARE", default_value_t = 1.0)]
    pub jitter: f64,
    /// Cron interval of `sync` on every node (each node at its own phase).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub cron: String,
    /// Time between two posts.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub post_every: String,
    /// Article body size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1000)]
    pub size: usize,
    /// Share of nodes (0 to 1) that go off once, at a random time while articles are
    /// posted, for --off.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub churn: f64,
    /// How long a churned node stays off.
    #[arg(long, value_name = "DURATION", default_value = "6h")]
    pub off: String,
    /// Cut the mesh in two halves (nodes below N/2 and the rest) at this virtual time.
    #[arg(long, value_name = "DURATION")]
    pub partition: Option<String>,
    /// Heal the partition at this virtual time (default: never).
    #[arg(long, value_name = "DURATION", requires = "partition")]
    pub heal: Option<String>,
    /// Stop the simulation at this virtual time whatever happened.
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    pub horizon: String,
    /// Write the propagation picture (SVG) to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

fn duration(option: &str, text: &str) -> Result<u64> {
    parse_millis(text).ok_or_else(|| {
        Error::Invalid(format!(
            "--{option} {text:?} is not a duration (e.g. 250ms, 2s, 15m, 6h, 7d)"
        ))
    })
}

/// Runs `simulate`.
pub fn simulate(args: &SimulateArgs) -> Result<()> {
    let topology = match &args.topology {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?),
        None => None,
    };
    let options = Options {
        nodes: args.nodes,
        degree: args.degree,
        articles: args.articles,
        seed: args.seed,
        topology,
        relay: match args.relay {
            RelayWord::Live => Relay::Live,
            RelayWord::Cron => Relay::Cron,
            RelayWord::Both => Relay::Both,
        },
        hop: duration("hop", &args.hop)?,
        jitter: args.jitter,
        cron: duration("cron", &args.cron)?,
        post_every: duration("post-every", &args.post_every)?,
        size: args.size,
        churn: args.churn,
        off: duration("off", &args.off)?,
        partition: args
            .partition
            .as_deref()
            .map(|t| duration("partition", t))
            .transpose()?,
        heal: args
            .heal
            .as_deref()
            .map(|t| duration("heal", t))
            .transpose()?,
        horizon: duration("horizon", &args.horizon)?,
    };
    let started = Instant::now();
    let report = crate::simulate::run(&options)?;
    println!(
        "simulated {} nodes for {:.1} virtual s in {:.1} s",
        options.nodes,
        report.outcome.ended as f64 / 1000.0,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.svg {
        std::fs::write(path, report.svg()).map_err(|e| Error::io(path, e))?;
        println!("propagation picture: {}", path.display());
    }
    println!("{}", report.figures);
    Ok(())
}
