//! The discrete-event loop: nodes post, relay live and sync from cron on virtual time.
//!
//! A live link (what `relay/link.rs` runs for each neighbour) is an exchange of four
//! messages, each one link latency apart: the sender's CHECKs for its arrivals after the
//! link's push mark that the feed policy gives the neighbour, the neighbour's answers
//! (238 send it / 438 have it / 431 another neighbour is sending it), the TAKETHIS
//! bodies, and the 239s after the neighbour's transaction committed. A link carries one
//! exchange at a time; a commit during one marks the link to go again, and a 431 makes
//! the sender offer again after the relay's poll interval, its mark staying before the
//! id. A cron sync (`sync/exchange.rs`) is the dialling node's push followed by its
//! pull (`MESH SINCE` from its pull mark, `ARTICLE` for what its history lacks and
//! nobody is bringing), run at one virtual instant. A node that goes down, or a link a
//! partition cuts, breaks off the exchanges on it: reservations held for them end, the
//! marks stay where the last acknowledged exchange left them, and live links redial
//! once both ends are up again.

use std::collections::HashMap;

use crate::admission::AgeLimits;
use crate::compose::{compose, Draft};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::feed_policy::{goes_to, MAX_OFFER, MAX_SINCE};
use crate::ingest::{Rules, Source, Verdict};
use crate::sign::TrustPolicy;
use crate::wildmat::Wildmat;

use super::node::SimNode;
use super::queue::{set_node_clock, Millis, Queue, Rng};
use super::report::{Outcome, Window};
use super::topology::Topology;
use super::wire;
use super::Options;

/// How long the relay waits before offering again what got 431 (its poll interval,
/// `relay/link.rs`).
const POLL_MS: Millis = 250;

/// Unix time of virtual time 0 unless `NEWSMESH_NOW` says otherwise: fixed, so that
/// the same seed gives the same articles, ids and bytes on any day.
const BASE_TIME: i64 = 1_798_761_600; // 2027-01-01T00:00:00Z

/// (arrival sequence, Message-ID) of offered or listed arrivals.
type Ids = Vec<(i64, String)>;

/// (Message-ID, wire form) of bodies on their way.
type Bodies = Vec<(String, Vec<u8>)>;

/// The sender's next offer on a link.
struct Offer {
    ids: Ids,
    /// The last arrival examined.
    last: i64,
    /// Whether the chunk was full (more may follow).
    full: bool,
}

enum Event {
    /// Article k is posted.
    Post(usize),
    /// A live link (re)starts an exchange.
    Push(usize),
    /// CHECKs arrive at the receiver.
    Offer {
        link: usize,
        generation: u64,
        ids: Ids,
        last: i64,
    },
    /// The answers arrive at the sender.
    Answer {
        link: usize,
        generation: u64,
        answers: Vec<(i64, String, u16)>,
        last: i64,
    },
    /// TAKETHIS bodies arrive at the receiver.
    Bodies {
        link: usize,
        generation: u64,
        bodies: Bodies,
        mark: i64,
        again: bool,
    },
    /// The 239s arrive at the sender: the exchange is over.
    Ack {
        link: usize,
        generation: u64,
        mark: i64,
        again: bool,
    },
    /// A node's transaction committed: its live links offer.
    Committed(usize),
    /// A node runs `sync` (cron).
    Cron(usize),
    /// A node stops.
    Down(usize),
    /// A node starts again.
    Up(usize),
    /// The partition begins.
    Partition,
    /// The partition heals.
    Heal,
}

impl Event {
    /// Whether this event belongs to the scenario (posts, churn, partition) rather than
    /// to the nodes' own traffic: while one is pending, the mesh may still change.
    fn is_scenario(&self) -> bool {
        matches!(
            self,
            Event::Post(_) | Event::Down(_) | Event::Up(_) | Event::Partition | Event::Heal
        )
    }
}

/// One direction of a link: `from` offers to `to` (push) and `to` lists from `from`
/// (pull); both marks are arrival sequences of `from`.
struct Link {
    from: usize,
    to: usize,
    push_mark: i64,
    pull_mark: i64,
    busy: bool,
    again: bool,
    /// Bumped when an exchange breaks off, so its messages still in the queue are void.
    generation: u64,
}

/// The running simulation.
pub struct Sim<'o> {
    options: &'o Options,
    topology: Topology,
    nodes: Vec<SimNode>,
    links: Vec<Link>,
    out_links: Vec<Vec<usize>>,
    touching: Vec<Vec<usize>>,
    queue: Queue<Event>,
    rng: Rng,
    jitter: Rng,
    config: Config,
    trust: TrustPolicy,
    age: AgeLimits,
    feed: Wildmat,
    base: i64,
    clock_secs: Option<u64>,
    partitioned: bool,
    scenario_pending: usize,
    /// When the last scenario event happened (the mesh may move again after one).
    last_scenario: Millis,
    /// The outcome so far.
    outcome: Outcome,
    ids: HashMap<String, usize>,
}

impl<'o> Sim<'o> {
    /// Builds the nodes (a spool each, in `dir`) and schedules the scenario.
    pub fn new(options: &'o Options, topology: Topology, dir: &std::path::Path) -> Result<Self> {
        let base = std::env::var(crate::clock::NOW_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(BASE_TIME);
        set_node_clock(base, 0);
        let config = Config::parse(
            &crate::config::edit::node_template("sim", "127.0.0.1:1119")?,
            &dir.join("newsmesh.toml"),
        )?;
        let trust = config.trust_policy().map_err(Error::Invalid)?;
        let age = AgeLimits::from_config(&config);
        let nodes = (0..topology.nodes)
            .map(|i| SimNode::create(dir, i, options.seed))
            .collect::<Result<Vec<_>>>()?;
        let mut links = Vec::with_capacity(topology.edges.len() * 2);
        let mut out_links = vec![Vec::new(); topology.nodes];
        let mut touching = vec![Vec::new(); topology.nodes];
        for &(a, b) in &topology.edges {
            for (from, to) in [(a, b), (b, a)] {
                out_links[from].push(links.len());
                touching[from].push(links.len());
                touching[to].push(links.len());
                links.push(Link {
                    from,
                    to,
                    push_mark: 0,
                    pull_mark: 0,
                    busy: false,
                    again: false,
                    generation: 0,
                });
            }
        }
        let mut sim = Sim {
            options,
            outcome: Outcome::new(topology.nodes, options.articles, topology.edges.len()),
            topology,
            nodes,
            links,
            out_links,
            touching,
            queue: Queue::default(),
            rng: Rng::new(options.seed),
            jitter: Rng::new(options.seed.wrapping_add(0x6A09_E667)),
            config,
            trust,
            age,
            feed: Wildmat::new("*"),
            base,
            clock_secs: None,
            partitioned: false,
            scenario_pending: 0,
            last_scenario: 0,
            ids: HashMap::new(),
        };
        sim.schedule_scenario();
        Ok(sim)
    }

    fn schedule_scenario(&mut self) {
        let o = self.options;
        for k in 0..o.articles {
            self.scenario(o.post_every * k as Millis, Event::Post(k));
        }
        let posting = o.post_every * o.articles.max(1) as Millis;
        let churned = ((self.topology.nodes as f64) * o.churn).round() as usize;
        let mut order: Vec<usize> = (0..self.topology.nodes).collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        for &n in order.iter().take(churned.min(self.topology.nodes)) {
            let down = self.rng.below(posting.max(1));
            self.scenario(down, Event::Down(n));
            self.scenario(down + o.off, Event::Up(n));
            self.outcome.windows.push(Window::Down {
                node: n,
                from: down,
                to: down + o.off,
            });
        }
        if let Some(at) = o.partition {
            self.scenario(at, Event::Partition);
            if let Some(heal) = o.heal {
                self.scenario(heal.max(at), Event::Heal);
            }
            self.outcome.windows.push(Window::Partition {
                from: at,
                to: o.heal.map(|h| h.max(at)),
            });
        }
        if o.relay.cron() {
            for n in 0..self.topology.nodes {
                let phase = self.rng.below(o.cron.max(1));
                self.queue.at(phase, Event::Cron(n));
            }
        }
    }

    fn scenario(&mut self, at: Millis, event: Event) {
        self.scenario_pending += 1;
        self.queue.at(at, event);
    }

    /// Runs until every node has every article, nothing more can happen, or the horizon.
    pub fn run(mut self) -> Result<Outcome> {
        let needed = self.topology.nodes * self.options.articles;
        while let Some(event) = self.queue.pop() {
            let now = self.queue.now();
            if now > self.options.horizon {
                break;
            }
            if self.clock_secs != Some(now / 1000) {
                self.clock_secs = Some(now / 1000);
                set_node_clock(self.base, now);
            }
            if event.is_scenario() {
                self.scenario_pending -= 1;
                self.last_scenario = now;
            }
            self.handle(event)?;
            if self.outcome.posted == self.options.articles && self.outcome.delivered == needed {
                break;
            }
            if self.quiet(now) {
                break;
            }
        }
        self.outcome.ended = self.queue.now().max(self.outcome.last_move);
        self.outcome.converged = self.outcome.delivered == needed && needed > 0;
        Ok(self.outcome)
    }

    /// Nothing can change any more: no scenario event is pending, no exchange is under
    /// way, and (with cron) two whole intervals passed without a body moving since the
    /// last body or scenario event.
    fn quiet(&self, now: Millis) -> bool {
        // Live links alone end by themselves: the queue runs dry.
        if !self.options.relay.cron() || self.scenario_pending > 0 {
            return false;
        }
        let since = self.outcome.last_move.max(self.last_scenario);
        now > since + 2 * self.options.cron + self.options.hop && !self.links.iter().any(|l| l.busy)
    }

    fn link_up(&self, link: usize) -> bool {
        let l = &self.links[link];
        self.nodes[l.from].up
            && self.nodes[l.to].up
            && !(self.partitioned && self.topology.crosses(l.from, l.to))
    }

    /// One quarter of a hop: a fixed part and, for the `--jitter` share of it, an
    /// exponentially distributed wait of the same mean (queueing behind other work: a
    /// busy node, a commit, the relay's poll), seeded apart from the scenario so that
    /// jitter does not change which nodes post or churn.
    fn latency(&mut self) -> Millis {
        let quarter = self.options.hop as f64 / 4.0;
        let share = self.options.jitter.clamp(0.0, 1.0);
        // Uniform in (0, 1]: its -ln is Exp(1).
        let uniform = (self.jitter.below(1_000_000) + 1) as f64 / 1_000_000.0;
        let wait = -uniform.ln();
        (quarter * (1.0 - share) + quarter * share * wait).round() as Millis
    }

    fn handle(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Post(k) => self.post(k),
            Event::Push(link) => self.start_push(link),
            Event::Committed(node) => {
                if self.options.relay.live() && self.nodes[node].up {
                    for link in self.out_links[node].clone() {
                        self.start_push(link)?;
                    }
                }
                Ok(())
            }
            Event::Offer {
                link,
                generation,
                ids,
                last,
            } => {
                if !self.current(link, generation) {
                    return Ok(());
                }
                let answers = self.answer(link, ids)?;
                let lat = self.latency();
                self.queue.after(
                    lat,
                    Event::Answer {
                        link,
                        generation,
                        answers,
                        last,
                    },
                );
                Ok(())
            }
            Event::Answer {
                link,
                generation,
                answers,
                last,
            } => {
                if !self.current(link, generation) {
                    return Ok(());
                }
                let (bodies, mark, again) = self.bodies(link, &answers, last)?;
                let lat = self.latency();
                if bodies.is_empty() {
                    self.finish(link, mark, again)
                } else {
                    self.queue.after(
                        lat,
                        Event::Bodies {
                            link,
                            generation,
                            bodies,
                            mark,
                            again,
                        },
                    );
                    Ok(())
                }
            }
            Event::Bodies {
                link,
                generation,
                bodies,
                mark,
                again,
            } => {
                if !self.current(link, generation) {
                    return Ok(());
                }
                let store = self.latency();
                let stored = self.store(link, bodies, true, store)?;
                let to = self.links[link].to;
                if stored {
                    self.queue.after(store, Event::Committed(to));
                }
                self.queue.after(
                    2 * store,
                    Event::Ack {
                        link,
                        generation,
                        mark,
                        again,
                    },
                );
                Ok(())
            }
            Event::Ack {
                link,
                generation,
                mark,
                again,
            } => {
                if self.links[link].generation != generation {
                    return Ok(());
                }
                self.finish(link, mark, again)
            }
            Event::Cron(node) => {
                if self.nodes[node].up {
                    for link in self.out_links[node].clone() {
                        let to = self.links[link].to;
                        if node < to && self.link_up(link) {
                            self.sync(link)?;
                        }
                    }
                }
                self.queue
                    .after(self.options.cron.max(1), Event::Cron(node));
                Ok(())
            }
            Event::Down(node) => {
                self.nodes[node].up = false;
                for link in self.touching[node].clone() {
                    self.break_off(link);
                }
                self.nodes[node].in_flight.clear();
                Ok(())
            }
            Event::Up(node) => {
                self.nodes[node].up = true;
                self.redial(self.touching[node].clone());
                Ok(())
            }
            Event::Partition => {
                self.partitioned = true;
                for link in 0..self.links.len() {
                    let l = &self.links[link];
                    if self.topology.crosses(l.from, l.to) {
                        self.break_off(link);
                    }
                }
                Ok(())
            }
            Event::Heal => {
                self.partitioned = false;
                let crossing = (0..self.links.len())
                    .filter(|&l| self.topology.crosses(self.links[l].from, self.links[l].to))
                    .collect();
                self.redial(crossing);
                Ok(())
            }
        }
    }

    /// Live links dial again (one hop's time) once their ends can reach each other.
    fn redial(&mut self, links: Vec<usize>) {
        if self.options.relay.live() {
            for link in links {
                self.queue.after(self.options.hop, Event::Push(link));
            }
        }
    }

    /// Whether a message of exchange `generation` on `link` still counts; an exchange
    /// whose link went down breaks off here.
    fn current(&mut self, link: usize, generation: u64) -> bool {
        if self.links[link].generation != generation {
            return false;
        }
        if !self.link_up(link) {
            self.break_off(link);
            return false;
        }
        true
    }

    fn break_off(&mut self, link: usize) {
        let l = &mut self.links[link];
        l.generation += 1;
        l.busy = false;
        let (from, to) = (l.from, l.to);
        self.nodes[to].drop_in_flight_from(from);
    }

    fn post(&mut self, k: usize) -> Result<()> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].up)
            .collect();
        let Some(&origin) = up.get(self.rng.below(up.len() as u64) as usize) else {
            return Ok(());
        };
        let body = article_body(k, self.options.size);
        let subject = format!("simulated article {k}");
        let node = &self.nodes[origin];
        let article = compose(
            &Draft {
                groups: crate::home::DEFAULT_GROUP,
                subject: &subject,
                from: "Simulated Author <sim@example.invalid>",
                references: None,
                body: &body,
            },
            &node.name,
            &node.author,
        );
        let id = article
            .message_id()
            .ok_or_else(|| Error::Internal("a composed article has no Message-ID".into()))?
            .to_string();
        let raw = article.to_bytes();
        let rules = Rules::new(&self.config, &self.trust, None);
        let verdicts = self.nodes[origin].ingest(&rules, Source::Local, &[(&id, &raw)])?;
        if !matches!(verdicts.first(), Some(Verdict::Stored(_))) {
            return Err(Error::Internal(format!(
                "the simulated post {k} was not stored: {verdicts:?}"
            )));
        }
        self.ids.insert(id, k);
        let now = self.queue.now();
        self.outcome.posted += 1;
        self.outcome.posted_at[k] = Some(now);
        self.outcome.deliver(k, origin, now, 0);
        self.queue.after(0, Event::Committed(origin));
        Ok(())
    }

    /// The sender's next offer on `link`: (seq, id) of its arrivals after the push mark
    /// that go to the neighbour, the last arrival examined, and whether more follow.
    fn offer(&self, link: usize) -> Result<Option<Offer>> {
        let l = &self.links[link];
        let (from, to) = (&self.nodes[l.from], &self.nodes[l.to]);
        let arrivals = from.spool.arrivals_since(l.push_mark, MAX_OFFER)?;
        let Some(last) = arrivals.last().map(|a| a.seq) else {
            return Ok(None);
        };
        let full = arrivals.len() == MAX_OFFER;
        let ids = self.for_neighbour(arrivals, from, to);
        Ok(Some(Offer { ids, last, full }))
    }

    /// Of `arrivals` at `giver`, the (seq, id) that `taker` is offered or listed: what its
    /// feed takes, not back to where it came from, and inside the age window.
    fn for_neighbour(
        &self,
        arrivals: Vec<crate::spool::Arrival>,
        giver: &SimNode,
        taker: &SimNode,
    ) -> Vec<(i64, String)> {
        let now = crate::clock::now();
        arrivals
            .into_iter()
            .filter(|a| {
                goes_to(a, &taker.name, &self.feed, &giver.name, false)
                    && self.age.listable(a.posted, now)
            })
            .map(|a| (a.seq, a.msgid))
            .collect()
    }

    /// Starts an exchange on a live link unless one is under way (then it goes again
    /// once that one ends).
    fn start_push(&mut self, link: usize) -> Result<()> {
        if !self.link_up(link) {
            return Ok(());
        }
        if self.links[link].busy {
            self.links[link].again = true;
            return Ok(());
        }
        loop {
            let Some(Offer { ids, last, full }) = self.offer(link)? else {
                return Ok(());
            };
            if ids.is_empty() {
                self.links[link].push_mark = last;
                if full {
                    continue;
                }
                return Ok(());
            }
            self.count_offer(&ids);
            let l = &mut self.links[link];
            l.busy = true;
            l.again = full;
            let generation = l.generation;
            let lat = self.latency();
            self.queue.after(
                lat,
                Event::Offer {
                    link,
                    generation,
                    ids,
                    last,
                },
            );
            return Ok(());
        }
    }

    fn count_offer(&mut self, ids: &Ids) {
        self.outcome.ids_offered += ids.len() as u64;
        self.outcome.bytes += ids.iter().map(|(_, id)| wire::check(id)).sum::<u64>();
    }

    /// The receiver's answers to CHECKs: 438 when its history has the id, 431 when
    /// another neighbour is bringing it, else 238 (reserved for this sender).
    fn answer(&mut self, link: usize, ids: Ids) -> Result<Vec<(i64, String, u16)>> {
        let (from, to) = (self.links[link].from, self.links[link].to);
        let node = &mut self.nodes[to];
        let mut answers = Vec::with_capacity(ids.len());
        for (seq, id) in ids {
            let code = if node.spool.seen(&id)? {
                438
            } else {
                match node.in_flight.get(&id) {
                    Some(&owner) if owner != from => 431,
                    _ => {
                        node.in_flight.insert(id.clone(), from);
                        238
                    }
                }
            };
            self.outcome.bytes += wire::check_answer(code, &id);
            answers.push((seq, id, code));
        }
        Ok(answers)
    }

    /// The sender's TAKETHIS for the 238s; the mark the exchange may reach (before the
    /// first 431) and whether to offer again.
    fn bodies(
        &mut self,
        link: usize,
        answers: &[(i64, String, u16)],
        last: i64,
    ) -> Result<(Bodies, i64, bool)> {
        let from = self.links[link].from;
        let deferred = answers.iter().find(|(_, _, code)| *code == 431);
        let mark = deferred.map_or(last, |(seq, _, _)| seq - 1);
        let mut bodies = Vec::new();
        for (_, id, code) in answers {
            if *code != 238 {
                continue;
            }
            if let Some(stored) = self.nodes[from].spool.article(id)? {
                self.outcome.bytes += wire::takethis(id, &stored.raw);
                bodies.push((id.clone(), stored.raw));
            }
        }
        Ok((bodies, mark, deferred.is_some()))
    }

    /// The receiver ingests bodies from the link's sender (TAKETHIS, answered, or the
    /// answers to its own ARTICLEs); whether any was stored.
    /// `after`: how long the transaction takes (the deliveries count from its commit).
    fn store(
        &mut self,
        link: usize,
        bodies: Bodies,
        takethis: bool,
        after: Millis,
    ) -> Result<bool> {
        let (from, to) = (self.links[link].from, self.links[link].to);
        let sender = self.nodes[from].name.clone();
        let offered: Vec<(&str, &[u8])> = bodies
            .iter()
            .map(|(id, raw)| (id.as_str(), raw.as_slice()))
            .collect();
        let rules = Rules::new(&self.config, &self.trust, None);
        let verdicts = self.nodes[to].ingest(&rules, Source::Peer(&sender), &offered)?;
        let at = self.queue.now() + after;
        let mut stored = false;
        for ((id, _), verdict) in bodies.iter().zip(&verdicts) {
            self.outcome.bodies += 1;
            if takethis {
                self.outcome.bytes += wire::takethis_answer(verdict, id);
            }
            self.nodes[to].in_flight.remove(id);
            if let (Verdict::Stored(_), Some(&k)) = (verdict, self.ids.get(id)) {
                stored = true;
                let hops = self.outcome.hops_of(k, from).saturating_add(1);
                self.outcome.deliver(k, to, at, hops);
            }
        }
        Ok(stored)
    }

    /// An exchange on `link` ended at `mark`: the link offers again now if something
    /// committed meanwhile, after the poll interval if an id got 431.
    fn finish(&mut self, link: usize, mark: i64, deferred: bool) -> Result<()> {
        let l = &mut self.links[link];
        l.push_mark = l.push_mark.max(mark);
        l.busy = false;
        if deferred {
            self.queue.after(POLL_MS, Event::Push(link));
            Ok(())
        } else if std::mem::take(&mut l.again) {
            self.start_push(link)
        } else {
            Ok(())
        }
    }

    /// One cron `sync` over `link` (from the dialling node to its neighbour): push, then
    /// pull, at this virtual instant.
    fn sync(&mut self, link: usize) -> Result<()> {
        let (us, them) = (self.links[link].from, self.links[link].to);
        let store = self.latency();
        let mut stored_there = false;
        if !self.links[link].busy {
            while let Some(Offer { ids, last, full }) = self.offer(link)? {
                self.count_offer(&ids);
                let answers = self.answer(link, ids)?;
                let (bodies, mark, deferred) = self.bodies(link, &answers, last)?;
                if !bodies.is_empty() {
                    stored_there |= self.store(link, bodies, true, store)?;
                }
                let l = &mut self.links[link];
                l.push_mark = l.push_mark.max(mark);
                if deferred || !full {
                    break;
                }
            }
        }
        let back = link ^ 1; // the same edge the other way: `them` lists for us
        let stored_here = self.pull(back, store)?;
        if stored_there {
            self.queue.after(store, Event::Committed(them));
        }
        if stored_here {
            self.queue.after(store, Event::Committed(us));
        }
        Ok(())
    }

    /// `to` pulls from `from` over `link`: `MESH SINCE` listings from its pull mark,
    /// `ARTICLE` for the ids its history lacks and nobody is bringing (the mark stops
    /// before one somebody is).
    fn pull(&mut self, link: usize, store: Millis) -> Result<bool> {
        let (from, to) = (self.links[link].from, self.links[link].to);
        let mut stored_any = false;
        loop {
            let start = self.links[link].pull_mark;
            let arrivals = self.nodes[from]
                .spool
                .arrivals_since(start, MAX_SINCE as usize)?;
            let more = arrivals.len() == MAX_SINCE as usize;
            let through = arrivals.last().map_or(start, |a| a.seq);
            let (giver, taker) = (&self.nodes[from], &self.nodes[to]);
            let listed = self.for_neighbour(arrivals, giver, taker);
            let ids: Vec<String> = listed.iter().map(|(_, id)| id.clone()).collect();
            self.outcome.bytes += wire::since(&giver.epoch, start, &ids, through, more);
            self.outcome.ids_offered += ids.len() as u64;
            let mut fetched = Vec::new();
            let mut mark = through;
            for (seq, id) in listed {
                if self.nodes[to].spool.seen(&id)? {
                    continue;
                }
                if self.nodes[to].in_flight.contains_key(&id) {
                    mark = seq - 1;
                    break;
                }
                if let Some(stored) = self.nodes[from].spool.article(&id)? {
                    self.outcome.bytes += wire::article(&id, &stored.raw);
                    fetched.push((id, stored.raw));
                }
            }
            if !fetched.is_empty() {
                stored_any |= self.store(link, fetched, false, store)?;
            }
            self.links[link].pull_mark = mark;
            if !more || mark != through {
                return Ok(stored_any);
            }
        }
    }
}

/// A body of about `size` bytes in lines of text, different for each article.
fn article_body(k: usize, size: usize) -> Vec<u8> {
    let mut body = format!("Simulated article {k}.\n").into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, and the mesh carries it on.\n";
    while body.len() + line.len() <= size {
        body.extend_from_slice(line);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_about_the_size_asked_and_differ() {
        let a = article_body(1, 1000);
        assert!(a.len() <= 1000 && a.len() > 900, "{}", a.len());
        assert_ne!(article_body(2, 1000), a);
        assert!(!article_body(3, 0).is_empty());
    }
}
