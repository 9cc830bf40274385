//! One simulated node: a real spool (SQLite, in the simulation's directory) that every
//! article enters through the real `ingest`, whether posted here or carried from a
//! neighbour; the in-flight rule of `serve` (a body asked from one neighbour is not
//! asked from another until it arrived or that exchange broke off); and whether the
//! node is up.

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::ingest::{Rules, Source, Verdict};
use crate::spool::Spool;

/// A simulated node.
pub struct SimNode {
    /// Its Path identity.
    pub name: String,
    /// Its spool.
    pub spool: Spool,
    /// Its spool's epoch (what a `MESH SINCE` names).
    pub epoch: String,
    /// Its author key (posts made here are signed with it).
    pub author: SigningKey,
    /// Whether it is running.
    pub up: bool,
    /// Ids whose bodies are on their way here, by the neighbour sending them
    /// (`inflight`: a CHECK for one of them gets 431, a pull skips it).
    pub in_flight: HashMap<String, usize>,
}

impl SimNode {
    /// Node `index` of a simulation with `seed`, its spool made in `dir`.
    pub fn create(dir: &Path, index: usize, seed: u64) -> Result<SimNode> {
        let name = format!("n{index:04}");
        let mut spool = Spool::open(&dir.join(format!("{name}.db")))?;
        spool.create_group(crate::home::DEFAULT_GROUP, "simulated")?;
        let epoch = spool.epoch()?;
        let digest = Sha256::digest(format!("newsmesh simulate {seed} author {index}"));
        let author = SigningKey::from_bytes(&digest.into());
        Ok(SimNode {
            name,
            spool,
            epoch,
            author,
            up: true,
            in_flight: HashMap::new(),
        })
    }

    /// Stores `raws` (offered under their ids) from `source` through `ingest`, as this
    /// node, in one transaction.
    pub fn ingest(
        &mut self,
        rules: &Rules<'_>,
        source: Source<'_>,
        offered: &[(&str, &[u8])],
    ) -> Result<Vec<Verdict>> {
        let rules = Rules {
            node_name: &self.name,
            ..rules.clone().for_source(source)
        };
        Ok(crate::ingest::ingest_offered(
            &mut self.spool,
            &rules,
            offered,
        )?)
    }

    /// Ends every reservation held for neighbour `from` (its exchange broke off).
    pub fn drop_in_flight_from(&mut self, from: usize) {
        self.in_flight.retain(|_, owner| *owner != from);
    }
}
