//! A mesh of real nodes on one machine: [`Node`]s under one directory, served in this
//! process on one tokio runtime, linked along given edges. `newsmesh demo`, the mesh
//! benchmarks and the mesh tests build their meshes with it.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::sync::{sync_all, PeerReport};

use super::node::{runtime, Node};

/// A running mesh.
pub struct Mesh {
    /// The nodes, in the order of the names given.
    pub nodes: Vec<Node>,
    runtime: Arc<tokio::runtime::Runtime>,
}

/// How an edge is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Both nodes list each other with addresses: both dial.
    BothDial,
    /// Only the first dials; the second lists it as passive (as for a node behind NAT).
    FirstDials,
    /// Both dial, and `serve` relays new arrivals live to each (`live = true`); the
    /// others without `Live` leave live relay off so that only `sync` moves articles.
    Live,
    /// Only the first dials, with live relay on: its `serve` keeps a link to the second
    /// that carries both directions (`MESH IDLE`).
    FirstDialsLive,
}

impl Link {
    fn live(self) -> bool {
        matches!(self, Link::Live | Link::FirstDialsLive)
    }

    fn second_dials(self) -> bool {
        matches!(self, Link::BothDial | Link::Live)
    }
}

/// Wires `a` and `b` as neighbours along one edge, as `how` says, through
/// `config::edit` (as `peer add` does): each lists the other by name and node key, with
/// its address when it dials.
pub fn link(a: &Node, b: &Node, how: Link) {
    a.add_peer(b, true, how.live());
    b.add_peer(a, how.second_dials(), how.live());
}

impl Mesh {
    /// Creates one node per name under `dir`, links the edges (indices into `names`) and
    /// serves every node in this process.
    pub fn build(dir: &Path, names: &[&str], edges: &[(usize, usize)], link: Link) -> Result<Mesh> {
        let mut nodes = names
            .iter()
            .map(|name| {
                let node = Node::at(dir, name)?;
                node.paths().init(name, &node.addr.to_string())?;
                Ok(node)
            })
            .collect::<Result<Vec<_>>>()?;
        for &(a, b) in edges {
            self::link(&nodes[a], &nodes[b], link);
        }
        let runtime = runtime()?;
        for node in &mut nodes {
            node.serve_in(&runtime)?;
        }
        Ok(Mesh { nodes, runtime })
    }

    /// Posts to mesh.test at node `i` with its default author key (through ingest);
    /// returns the Message-ID.
    pub fn post(
        &self,
        i: usize,
        subject: &str,
        body: &str,
        references: Option<&str>,
    ) -> Result<String> {
        self.nodes[i].store_post(crate::home::DEFAULT_GROUP, subject, body, references)
    }

    /// Whether node `i` holds `id`.
    pub fn has(&self, i: usize, id: &str) -> Result<bool> {
        self.nodes[i].holds(id)
    }

    /// One round: every node runs `sync` once, in order. Returns (node, report) pairs.
    pub fn round(&self) -> Result<Vec<(usize, PeerReport)>> {
        let mut all = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            all.extend(sync_all(node.paths(), None)?.into_iter().map(|r| (i, r)));
        }
        Ok(all)
    }

    /// The runtime the servers run on (for async calls such as `push_raw`).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Stops every server.
    pub fn stop(mut self) {
        for node in &mut self.nodes {
            if node.serving() {
                node.stop();
            }
        }
    }
}

/// A random graph on `n` nodes where every node has `degree` distinct neighbours
/// (a random regular graph, by the configuration model with restarts), connected.
/// Deterministic for a seed.
pub fn random_regular_graph(n: usize, degree: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut state = seed.max(1);
    let mut next = move || {
        // xorshift64*: plenty for shuffling test topologies.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    'attempt: loop {
        let mut stubs: Vec<usize> = (0..n)
            .flat_map(|v| std::iter::repeat_n(v, degree))
            .collect();
        for i in (1..stubs.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            stubs.swap(i, j);
        }
        let mut edges = std::collections::BTreeSet::new();
        for pair in stubs.chunks(2) {
            let (a, b) = match pair {
                [a, b] if a != b => ((*a).min(*b), (*a).max(*b)),
                _ => continue 'attempt,
            };
            if !edges.insert((a, b)) {
                continue 'attempt;
            }
        }
        let edges: Vec<_> = edges.into_iter().collect();
        if connected(n, &edges) {
            return edges;
        }
    }
}

fn connected(n: usize, edges: &[(usize, usize)]) -> bool {
    let mut seen = vec![false; n];
    let mut stack = vec![0];
    while let Some(v) = stack.pop() {
        if std::mem::replace(&mut seen[v], true) {
            continue;
        }
        for &(a, b) in edges {
            if a == v && !seen[b] {
                stack.push(b);
            }
            if b == v && !seen[a] {
                stack.push(a);
            }
        }
    }
    seen.into_iter().all(|s| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_graphs_are_regular_simple_and_connected() {
        let edges = random_regular_graph(100, 3, 7);
        assert_eq!(edges.len(), 150);
        let mut degree = [0; 100];
        for &(a, b) in &edges {
            assert!(a < b);
            degree[a] += 1;
            degree[b] += 1;
        }
        assert!(degree.iter().all(|&d| d == 3));
        assert!(connected(100, &edges));
        assert_eq!(edges, random_regular_graph(100, 3, 7));
    }
}
