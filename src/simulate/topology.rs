//! Who links to whom in a simulated mesh: a random regular graph (the graph
//! `benches/live.rs` and `benches/mesh.rs` start real processes on, from
//! [`crate::testbed::random_regular_graph`]), a ring, or the operator's own list of links;
//! and which links a partition cuts.

use crate::error::{Error, Result};

/// A mesh's nodes and undirected links `(a, b)` with `a < b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Number of nodes, `0..nodes`.
    pub nodes: usize,
    /// Each link once, lower index first (the side that dials in cron mode, as
    /// `testbed::Link::FirstDials`).
    pub edges: Vec<(usize, usize)>,
}

impl Topology {
    /// `nodes` nodes of `degree` neighbours each, random for `seed` (a ring for degree 2).
    pub fn random(nodes: usize, degree: usize, seed: u64) -> Result<Topology> {
        if nodes < 2 {
            return Err(Error::Invalid("--nodes must be at least 2".into()));
        }
        if degree < 2 || degree >= nodes || (nodes * degree) % 2 == 1 {
            return Err(Error::Invalid(format!(
                "--degree {degree} does not make a connected regular graph of {nodes} nodes \
                 (need 2 <= degree < nodes and nodes x degree even)"
            )));
        }
        let edges = if degree == 2 {
            (0..nodes)
                .map(|i| {
                    let j = (i + 1) % nodes;
                    (i.min(j), i.max(j))
                })
                .collect()
        } else {
            crate::testbed::random_regular_graph(nodes, degree, seed)
        };
        Ok(Topology { nodes, edges })
    }

    /// Links read from `text`: one `A B` pair of node numbers (0-based, below `nodes`)
    /// per line; `#` starts a comment. Duplicates and self-links are refused.
    pub fn parse(nodes: usize, text: &str) -> Result<Topology> {
        let mut edges = std::collections::BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let bad = || {
                Error::Invalid(format!(
                    "topology line {}: {line:?} is not two different node numbers below {nodes}",
                    n + 1
                ))
            };
            let mut words = line.split_whitespace().map(str::parse::<usize>);
            let (Some(Ok(a)), Some(Ok(b)), None) = (words.next(), words.next(), words.next())
            else {
                return Err(bad());
            };
            if a == b || a >= nodes || b >= nodes {
                return Err(bad());
            }
            if !edges.insert((a.min(b), a.max(b))) {
                return Err(Error::Invalid(format!(
                    "topology line {}: link {a} {b} given twice",
                    n + 1
                )));
            }
        }
        Ok(Topology {
            nodes,
            edges: edges.into_iter().collect(),
        })
    }

    /// The side of a partition node `n` is on: the first half of the numbers or the rest.
    pub fn side(&self, n: usize) -> bool {
        n >= self.nodes / 2
    }

    /// Whether a partition cuts the link between `a` and `b`.
    pub fn crosses(&self, a: usize, b: usize) -> bool {
        self.side(a) != self.side(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_mesh_is_regular_and_the_same_for_a_seed() {
        let t = Topology::random(30, 3, 5).unwrap();
        assert_eq!(t.edges.len(), 45);
        let mut degree = [0; 30];
        for &(a, b) in &t.edges {
            assert!(a < b);
            degree[a] += 1;
            degree[b] += 1;
        }
        assert!(degree.iter().all(|&d| d == 3));
        assert_eq!(t, Topology::random(30, 3, 5).unwrap());
        assert_eq!(Topology::random(6, 2, 1).unwrap().edges.len(), 6);
        assert!(Topology::random(5, 3, 1).is_err(), "odd total degree");
        assert!(Topology::random(3, 3, 1).is_err());
    }

    #[test]
    fn a_topology_file_names_links_by_number() {
        let t = Topology::parse(4, "# a line\n0 1\n2 1 # back\n\n3 2\n").unwrap();
        assert_eq!(t.edges, vec![(0, 1), (1, 2), (2, 3)]);
        assert!(Topology::parse(4, "0 4").is_err());
        assert!(Topology::parse(4, "1 1").is_err());
        assert!(Topology::parse(4, "0 1 2").is_err());
        assert!(Topology::parse(4, "0 1\n1 0").is_err());
        assert!(t.crosses(1, 2) && !t.crosses(0, 1));
    }
}
