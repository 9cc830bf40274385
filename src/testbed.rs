//! A mesh of real nodes on one machine: node homes in a directory, NNTP servers on
//! loopback ports in one tokio runtime, links given as edges. `newsmesh demo`, the mesh
//! benchmark and the tests build their meshes with it.

use std::net::TcpListener;
use std::path::Path;

use crate::compose::{compose, Draft};
use crate::config::{edit, NodeKey, PeerConfig};
use crate::error::{Error, Result};
use crate::home::{Home, DEFAULT_AUTHOR, DEFAULT_GROUP};
use crate::ingest::{ingest, Rules, Verdict};
use crate::server::Running;
use crate::sync::{sync_all, PeerReport};

/// A running mesh.
pub struct Testbed {
    /// Node homes, in the order of the names given.
    pub homes: Vec<Home>,
    /// Their names.
    pub names: Vec<String>,
    /// Their listen addresses.
    pub addresses: Vec<String>,
    runtime: tokio::runtime::Runtime,
    servers: Vec<Running>,
}

/// How an edge is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Both nodes list each other with addresses: both dial.
    BothDial,
    /// Only the first dials; the second lists it as passive (as for a node behind NAT).
    FirstDials,
    /// Both dial, and `serve` relays new arrivals live to each (`live = true`); the
    /// other two leave live relay off so that only `sync` moves articles.
    Live,
}

impl Testbed {
    /// Creates one node per name under `dir`, links the edges (indices into `names`) and
    /// starts every node's server.
    pub fn build(
        dir: &Path,
        names: &[&str],
        edges: &[(usize, usize)],
        link: Link,
    ) -> Result<Testbed> {
        let mut homes = Vec::with_capacity(names.len());
        let mut addresses = Vec::with_capacity(names.len());
        // Every port stays bound from here on and is handed to its server.
        let mut listeners = Vec::with_capacity(names.len());
        for name in names {
            let home = Home::new(dir.join(name));
            let listener =
                TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Network(e.to_string()))?;
            let address = listener
                .local_addr()
                .map_err(|e| Error::Network(e.to_string()))?
                .to_string();
            home.init(name, &address)?;
            homes.push(home);
            addresses.push(address);
            listeners.push(listener);
        }
        let keys = homes
            .iter()
            .map(|h| Ok(NodeKey::from(h.node_key()?.verifying_key())))
            .collect::<Result<Vec<_>>>()?;
        let peer = |i: usize, dial: bool| PeerConfig {
            name: names[i].to_string(),
            key: keys[i],
            address: dial.then(|| addresses[i].clone()),
            groups: "*".into(),
            tls: true,
            compress: true,
            live: link == Link::Live,
        };
        for &(a, b) in edges {
            edit::add_peer(&homes[a].config_path(), &peer(b, true))?;
            edit::add_peer(&homes[b].config_path(), &peer(a, link != Link::FirstDials))?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let servers = homes
            .iter()
            .zip(listeners)
            .map(|(h, l)| runtime.block_on(crate::server::start_on(h, l)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Testbed {
            homes,
            names: names.iter().map(|n| n.to_string()).collect(),
            addresses,
            runtime,
            servers,
        })
    }

    /// Posts to mesh.test at node `i` with its default author key; returns the Message-ID.
    pub fn post(
        &self,
        i: usize,
        subject: &str,
        body: &str,
        references: Option<&str>,
    ) -> Result<String> {
        let mut node = self.homes[i].open()?;
        let key = self.homes[i].author_key(DEFAULT_AUTHOR)?;
        let from = format!("{0} <{0}@{0}.invalid>", node.name());
        let draft = Draft {
            groups: DEFAULT_GROUP,
            subject,
            from: &from,
            references,
            body: body.as_bytes(),
        };
        let article = compose(&draft, node.name(), &key);
        let rules = Rules::new(&node.config, &node.trust);
        match ingest(&mut node.spool, &rules, &[&article.to_bytes()])?.pop() {
            Some(Verdict::Stored(_)) => Ok(article.message_id().unwrap_or_default().to_string()),
            other => Err(Error::Refused(format!("{other:?}"))),
        }
    }

    /// Whether node `i` holds `id`.
    pub fn has(&self, i: usize, id: &str) -> Result<bool> {
        Ok(self.homes[i].open()?.spool.article(id)?.is_some())
    }

    /// One round: every node runs `sync` once, in order. Returns (node, report) pairs.
    pub fn round(&self) -> Result<Vec<(usize, PeerReport)>> {
        let mut all = Vec::new();
        for (i, home) in self.homes.iter().enumerate() {
            all.extend(sync_all(home, None)?.into_iter().map(|r| (i, r)));
        }
        Ok(all)
    }

    /// The runtime the servers run on (for async calls such as `push_raw`).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Stops every server.
    pub fn stop(self) {
        for server in self.servers {
            self.runtime.block_on(server.stop());
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
