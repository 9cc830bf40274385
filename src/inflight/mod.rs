//! The in-flight table: the Message-IDs this process is bringing in right now, and who
//! brings each (an owner number), so that a body crosses into the node once even when
//! several connections could bring it at the same moment. This module owns it whole:
//! - the table itself ([`InFlight`]: Message-ID -> owner), one per `serve` process
//!   (`server::Shared::in_flight`), shared with the live relay;
//! - the owner numbers: server feed sessions count up from [`SESSION_OWNERS`], the
//!   relay's pulls from [`RELAY_OWNERS`]; the two ranges never meet;
//! - the server's side ([`reservations`]): a CHECK answered 238 reserves its id for its
//!   session, with a deadline and caps, so a peer that never sends cannot hold ids;
//! - the relay's side ([`fetching`]): a pull claims the ids it fetches and waits for
//!   another owner's to be released before it looks again.
//!
//! Lock order: the table ([`InFlight`]) first, then [`reservations::Reservations`]
//! (`server::feed::Guards::reservations`); never the other way round.

pub mod fetching;
pub mod reservations;

pub use fetching::{Claimed, Fetching};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Message-ID → the owner bringing its body in (a server session or a relay pull).
pub type InFlight = Arc<Mutex<HashMap<String, u64>>>;

/// The first owner number of the server's sessions (their ids count up from here).
pub const SESSION_OWNERS: u64 = 1;

/// The first owner number of relay pulls: far above any server session id, so the two
/// never meet.
pub const RELAY_OWNERS: u64 = 1 << 62;
