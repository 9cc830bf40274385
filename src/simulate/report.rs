//! What a simulation found: when each node got each article and over how many hops,
//! what crossed the links, and the figures `simulate` prints on its last line.

use super::queue::Millis;

/// A stretch of the scenario the picture shades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// A node was off.
    Down {
        /// Which.
        node: usize,
        /// From (virtual ms).
        from: Millis,
        /// Until.
        to: Millis,
    },
    /// The mesh was cut in two halves (`to`: when it healed, if it did).
    Partition {
        /// From.
        from: Millis,
        /// Until.
        to: Option<Millis>,
    },
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Nodes in the mesh.
    pub nodes: usize,
    /// Articles the scenario posts.
    pub articles: usize,
    /// Links (undirected).
    pub links: usize,
    /// Articles posted so far.
    pub posted: usize,
    /// When each article was posted.
    pub posted_at: Vec<Option<Millis>>,
    /// Per article, per node: when it was stored there and after how many hops.
    pub got: Vec<Vec<Option<(Millis, u32)>>>,
    /// (node, article) pairs stored, the posts included.
    pub delivered: usize,
    /// Bodies that crossed a link (TAKETHIS or ARTICLE answers), stored or not.
    pub bodies: u64,
    /// Ids offered (CHECK) or listed (`MESH SINCE`).
    pub ids_offered: u64,
    /// NNTP bytes on all links, both directions.
    pub bytes: u64,
    /// When a body was last stored.
    pub last_move: Millis,
    /// Virtual time the run ended.
    pub ended: Millis,
    /// Whether every node got every article.
    pub converged: bool,
    /// Churn and partition, for the picture.
    pub windows: Vec<Window>,
}

impl Outcome {
    /// Nothing delivered yet.
    pub fn new(nodes: usize, articles: usize, links: usize) -> Outcome {
        Outcome {
            nodes,
            articles,
            links,
            posted: 0,
            posted_at: vec![None; articles],
            got: vec![vec![None; nodes]; articles],
            delivered: 0,
            bodies: 0,
            ids_offered: 0,
            bytes: 0,
            last_move: 0,
            ended: 0,
            converged: false,
            windows: Vec::new(),
        }
    }

    /// Article `k` was stored at `node` at `at`, `hops` links from its origin (the first
    /// time counts).
    pub fn deliver(&mut self, k: usize, node: usize, at: Millis, hops: u32) {
        if let Some(slot) = self.got.get_mut(k).and_then(|row| row.get_mut(node)) {
            if slot.is_none() {
                *slot = Some((at, hops));
                self.delivered += 1;
                self.last_move = self.last_move.max(at);
            }
        }
    }

    /// Hops article `k` took to reach `node` (0 where it was posted or is missing).
    pub fn hops_of(&self, k: usize, node: usize) -> u32 {
        self.got
            .get(k)
            .and_then(|row| row.get(node))
            .and_then(|slot| slot.map(|(_, hops)| hops))
            .unwrap_or(0)
    }

    /// Per article that reached every node: the time from its post to the last node.
    pub fn spreads(&self) -> Vec<Millis> {
        let mut spreads: Vec<Millis> = self
            .got
            .iter()
            .zip(&self.posted_at)
            .filter_map(|(row, posted)| {
                let posted = (*posted)?;
                let mut last = posted;
                for slot in row {
                    last = last.max(slot.as_ref()?.0);
                }
                Some(last - posted)
            })
            .collect();
        spreads.sort_unstable();
        spreads
    }

    /// The figures, as the one key=value line `simulate` ends with.
    pub fn figures(&self, seed: u64, relay: &str) -> String {
        let needed = self.nodes * self.articles;
        let first_post = self.posted_at.iter().flatten().min().copied().unwrap_or(0);
        let convergence = if self.converged {
            secs(self.last_move.saturating_sub(first_post))
        } else {
            "none".to_string()
        };
        let spreads = self.spreads();
        let pick = |q: f64| {
            let i = ((spreads.len() as f64 - 1.0) * q).round() as usize;
            spreads.get(i).map_or("none".to_string(), |&ms| secs(ms))
        };
        let hops: Vec<u32> = self
            .got
            .iter()
            .flatten()
            .filter_map(|slot| slot.map(|(_, h)| h))
            .filter(|&h| h > 0)
            .collect();
        let max_hops = hops.iter().max().copied().unwrap_or(0);
        let mean_hops = hops.iter().map(|&h| f64::from(h)).sum::<f64>() / hops.len().max(1) as f64;
        let needed_bodies = (self.articles * self.nodes.saturating_sub(1)).max(1) as f64;
        format!(
            "nodes={} links={} articles={} seed={seed} relay={relay} converged={} \
             delivered={}/{needed} convergence_s={convergence} median_s={} p99_s={} \
             max_hops={max_hops} mean_hops={mean_hops:.2} bodies_per_node_per_article={:.2} \
             ids_offered_per_article={:.1} bytes_per_link={} virtual_s={}",
            self.nodes,
            self.links,
            self.articles,
            if self.converged { "yes" } else { "no" },
            self.delivered,
            pick(0.5),
            pick(0.99),
            self.bodies as f64 / needed_bodies,
            self.ids_offered as f64 / self.articles.max(1) as f64,
            self.bytes / self.links.max(1) as u64,
            secs(self.ended),
        )
    }
}

/// Milliseconds as seconds with three decimals.
fn secs(ms: Millis) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_count_first_deliveries_and_spreads() {
        let mut o = Outcome::new(3, 2, 3);
        o.posted = 2;
        o.posted_at = vec![Some(0), Some(1000)];
        o.deliver(0, 0, 0, 0);
        o.deliver(0, 1, 50, 1);
        o.deliver(0, 1, 70, 1); // a second copy is not a delivery
        o.deliver(0, 2, 120, 2);
        o.deliver(1, 2, 1000, 0);
        o.bodies = 3;
        o.ids_offered = 8;
        o.bytes = 3000;
        assert_eq!(o.delivered, 4);
        assert_eq!(o.spreads(), vec![120]);
        assert_eq!(o.hops_of(0, 2), 2);
        let line = o.figures(7, "live");
        assert!(line.contains(" converged=no "), "{line}");
        assert!(line.contains(" delivered=4/6 "), "{line}");
        assert!(line.contains(" convergence_s=none "), "{line}");
        assert!(line.contains(" median_s=0.120 "), "{line}");
        assert!(line.contains(" max_hops=2 mean_hops=1.50 "), "{line}");
        assert!(
            line.contains(" bodies_per_node_per_article=0.75 "),
            "{line}"
        );
        assert!(
            line.contains(" ids_offered_per_article=4.0 bytes_per_link=1000 "),
            "{line}"
        );
    }
}
