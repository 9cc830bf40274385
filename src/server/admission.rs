//! Who gets a connection slot of `serve`, so that strangers cannot keep out the
//! neighbours and users the node is for.
//!
//! Every connection holds a [`Ticket`] in one table. A connection is *unauthenticated*
//! until it proves a configured peer (MESH), logs in (AUTHINFO), comes from an
//! `[[nntp_peer]]` host, or, as a trusted loopback reader, issues a reader command; the
//! session reports that with [`Ticket::authenticated`]. The rules, all from `[limits]`:
//!
//! - at most `max_unauthenticated_per_address` unauthenticated connections from one
//!   source address: a newcomer beyond that is refused (`400`). Authenticated ones do
//!   not count, so many users behind one NAT are fine once logged in;
//! - at most `max_connections` in all and `max_unauthenticated_connections`
//!   unauthenticated: a newcomer that would pass either bound takes the slot of the
//!   oldest unauthenticated connection of the address holding the most of them, and is
//!   refused only when no address holds more than the newcomer's own would. So a peer's
//!   sync (one connection, authenticated a round trip later) always gets in while
//!   strangers hold the slots, and a stranger that opens more connections only evicts
//!   its own. Authenticated connections are never evicted: the slots
//!   `max_connections - max_unauthenticated_connections` are, in effect, a reserve only
//!   authenticated sessions keep;
//! - an IPv6 source is counted by its /64 prefix (one machine or site gets a whole /64,
//!   so per-address limits on single IPv6 addresses would limit nothing); an
//!   IPv4-mapped IPv6 address counts as its IPv4 address;
//! - the session closes an unauthenticated connection after `auth_timeout_secs`, however
//!   busy it keeps itself with cheap commands (the deadline is not an idle timeout).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::LimitsConfig;

/// The source a connection is counted against: the IPv4 address, or the /64 an IPv6
/// address belongs to.
fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// Why a newcomer was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds its share of unauthenticated connections.
    AddressFull,
    /// Every slot is taken and none can be freed fairly.
    ServerFull,
}

impl Refusal {
    /// The `400` text the newcomer is sent.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::AddressFull => "too many connections from your address, try again later",
            Refusal::ServerFull => "too many connections, try again later",
        }
    }
}

/// The numbers that decide admission (from `[limits]`).
#[derive(Debug, Clone, Copy)]
struct Bounds {
    total: usize,
    unauthenticated: usize,
    per_address: usize,
}

impl From<&LimitsConfig> for Bounds {
    fn from(limits: &LimitsConfig) -> Bounds {
        Bounds {
            total: limits.max_connections,
            unauthenticated: limits.max_unauthenticated_connections,
            per_address: limits.max_unauthenticated_per_address,
        }
    }
}

struct Entry {
    ip: IpAddr,
    authenticated: bool,
    evict: Arc<Notify>,
}

/// The connection table of one server.
pub struct Admission {
    /// Replaced when the configuration is reloaded; connections already admitted keep
    /// their slots, the new bounds apply from the next admission.
    bounds: Mutex<Bounds>,
    /// Entries by ticket id; ids grow, so the smallest is the oldest.
    table: Mutex<(u64, HashMap<u64, Entry>)>,
}

/// A connection's slot; dropping it frees the slot.
pub struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    evict: Arc<Notify>,
}

impl Admission {
    /// A table enforcing `limits`.
    pub fn new(limits: &LimitsConfig) -> Arc<Admission> {
        Arc::new(Admission {
            bounds: Mutex::new(Bounds::from(limits)),
            table: Mutex::new((1, HashMap::new())),
        })
    }

    /// Enforces `limits` from the next admission on (a reloaded configuration).
    pub fn set_limits(&self, limits: &LimitsConfig) {
        *self.bounds.lock().unwrap_or_else(|p| p.into_inner()) = Bounds::from(limits);
    }

    fn table(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<u64, Entry>)> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits a connection from `ip` (`authenticated` when its address alone proves
    /// who it is, an `[[nntp_peer]]` host), evicting an unauthenticated one if the
    /// rules say so (its session is told through [`Ticket::evicted`]).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, authenticated: bool) -> Result<Ticket, Refusal> {
        let ip = source(ip);
        let bounds = *self.bounds.lock().unwrap_or_else(|p| p.into_inner());
        let mut guard = self.table();
        let (next_id, entries) = &mut *guard;
        let mut waiting: HashMap<IpAddr, (usize, u64)> = HashMap::new();
        for (id, entry) in entries.iter().filter(|(_, e)| !e.authenticated) {
            let slot = waiting.entry(entry.ip).or_insert((0, *id));
            slot.0 += 1;
            slot.1 = slot.1.min(*id);
        }
        let own = if authenticated {
            0
        } else {
            let own = waiting.get(&ip).map_or(0, |w| w.0);
            if own >= bounds.per_address {
                tracing::warn!(
                    "refusing {ip}: {own} unauthenticated connections from that address already"
                );
                return Err(Refusal::AddressFull);
            }
            own + 1
        };
        let unauthenticated: usize = waiting.values().map(|w| w.0).sum();
        let full = entries.len() >= bounds.total
            || (!authenticated && unauthenticated >= bounds.unauthenticated);
        if full {
            // The busiest address's oldest connection, if that address holds more than
            // the newcomer's would: evicting anyone else would not be fairer.
            let busiest = waiting
                .iter()
                .map(|(addr, (count, oldest))| (*count, std::cmp::Reverse(*oldest), *addr))
                .max();
            match busiest {
                Some((count, std::cmp::Reverse(oldest), addr)) if count > own => {
                    if let Some(victim) = entries.remove(&oldest) {
                        tracing::warn!(
                            "evicting the oldest unauthenticated connection from {addr} \
                             ({count} held) to admit {ip}"
                        );
                        victim.evict.notify_one();
                    }
                }
                _ => {
                    tracing::warn!("refusing {ip}: all connection slots taken");
                    return Err(Refusal::ServerFull);
                }
            }
        }
        let id = *next_id;
        *next_id += 1;
        let evict = Arc::new(Notify::new());
        entries.insert(
            id,
            Entry {
                ip,
                authenticated,
                evict: Arc::clone(&evict),
            },
        );
        Ok(Ticket {
            admission: Arc::clone(self),
            id,
            evict,
        })
    }

    /// How many connections hold a slot.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().1.len()
    }
}

impl Ticket {
    /// Records that the connection authenticated: it no longer counts against the
    /// unauthenticated bounds and is never evicted.
    pub fn authenticated(&self) {
        if let Some(entry) = self.admission.table().1.get_mut(&self.id) {
            entry.authenticated = true;
        }
    }

    /// Completes when a newcomer took this connection's slot.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.table().1.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    fn admission(total: usize, unauthenticated: usize, per_address: usize) -> Arc<Admission> {
        Admission::new(&LimitsConfig {
            max_connections: total,
            max_unauthenticated_connections: unauthenticated,
            max_unauthenticated_per_address: per_address,
            ..LimitsConfig::default()
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn is_evicted(ticket: &Ticket) -> bool {
        let evicted = std::pin::pin!(ticket.evicted());
        let waker = std::task::Waker::noop();
        evicted
            .poll(&mut std::task::Context::from_waker(waker))
            .is_ready()
    }

    #[test]
    fn one_address_gets_its_share_then_400() {
        let a = admission(10, 10, 2);
        let _one = a.admit(ip(1), false).unwrap();
        let two = a.admit(ip(1), false).unwrap();
        assert_eq!(a.admit(ip(1), false).err(), Some(Refusal::AddressFull));
        // Once one authenticates, the address may open another.
        two.authenticated();
        assert!(a.admit(ip(1), false).is_ok());
    }

    #[test]
    fn a_newcomer_evicts_the_busiest_addresses_oldest_unauthenticated() {
        let a = admission(4, 4, 3);
        let first = a.admit(ip(1), false).unwrap();
        let second = a.admit(ip(1), false).unwrap();
        let peer = a.admit(ip(2), false).unwrap();
        peer.authenticated();
        let lone = a.admit(ip(3), false).unwrap();
        let newcomer = a.admit(ip(4), false).unwrap();
        assert!(is_evicted(&first));
        assert!(!is_evicted(&second) && !is_evicted(&peer) && !is_evicted(&lone));
        assert!(!is_evicted(&newcomer));
        assert_eq!(a.len(), 4);
        // Now every address holds one: a fifth is refused rather than evicting a lone
        // connection, and so is a second one from an address that holds one.
        assert_eq!(a.admit(ip(5), false).err(), Some(Refusal::ServerFull));
        assert_eq!(a.admit(ip(3), false).err(), Some(Refusal::ServerFull));
    }

    #[test]
    fn new_limits_apply_to_the_next_admission() {
        let a = admission(10, 10, 1);
        let _one = a.admit(ip(1), false).unwrap();
        assert_eq!(a.admit(ip(1), false).err(), Some(Refusal::AddressFull));
        a.set_limits(&LimitsConfig {
            max_unauthenticated_per_address: 2,
            ..LimitsConfig::default()
        });
        let _two = a.admit(ip(1), false).unwrap();
        assert_eq!(a.admit(ip(1), false).err(), Some(Refusal::AddressFull));
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        let a = admission(10, 10, 1);
        let _one = a.admit("2001:db8:1:2::1".parse().unwrap(), false).unwrap();
        let other_host = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(a.admit(other_host, false).err(), Some(Refusal::AddressFull));
        assert!(a.admit("2001:db8:1:3::1".parse().unwrap(), false).is_ok());
        let _v4 = a.admit(ip(7), false).unwrap();
        let mapped = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(a.admit(mapped, false).err(), Some(Refusal::AddressFull));
    }

    #[test]
    fn authenticated_connections_are_never_evicted() {
        let a = admission(2, 2, 2);
        let one = a.admit(ip(1), false).unwrap();
        let two = a.admit(ip(2), false).unwrap();
        one.authenticated();
        two.authenticated();
        assert_eq!(a.admit(ip(3), false).err(), Some(Refusal::ServerFull));
        assert_eq!(a.admit(ip(3), true).err(), Some(Refusal::ServerFull));
        drop(one);
        assert!(a.admit(ip(3), false).is_ok());
    }

    #[test]
    fn the_unauthenticated_bound_leaves_slots_for_authenticated_sessions() {
        let a = admission(10, 2, 2);
        let held: Vec<Ticket> = (1..=2).map(|n| a.admit(ip(n), false).unwrap()).collect();
        // A third unauthenticated one from a new address: all hold one, nothing fair to
        // evict, refused although total slots remain...
        assert_eq!(a.admit(ip(3), false).err(), Some(Refusal::ServerFull));
        // ...while an address-authenticated one (an nntp_peer host) gets in.
        let nntp_peer = a.admit(ip(4), true).unwrap();
        drop(held);
        assert_eq!(a.len(), 1);
        drop(nntp_peer);
        assert_eq!(a.len(), 0);
    }
}
