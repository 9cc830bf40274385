//! The records a running `serve` writes in its home for `newsmesh status` (another
//! process) to read, and only those: `serve.state` (pid, start, addresses; locked
//! while `serve` runs: [`running`]), `live.state` (the live links it dials, written by
//! the relay) and `live-in.state` (the neighbours' live links waiting on it, written
//! by its sessions). Their formats (JSON), how they are written (whole, atomically)
//! and read (believed only while [`running`] says a `serve` holds `serve.state`) live
//! here, so that the writers (server, relay) and the reader (status) depend on this
//! module and not on one another. The paths are the home's (`Home::*_state_path`).

mod serve;

pub use serve::{running, ServeRecord, ServeState};

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::home::Home;

/// One live link, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// Whether the link is connected and authenticated.
    pub up: bool,
    /// Unix seconds it came up or went down.
    pub since: i64,
    /// Whether it also receives (`MESH IDLE`: the neighbour cannot dial us).
    pub receives: bool,
    /// Why it went down (null while up).
    pub error: Option<String>,
    /// Articles it sent the neighbour (the neighbour took them) since `serve` started or
    /// a reload changed the peer's entry; the same for the two counts below.
    #[serde(default)]
    pub sent: u64,
    /// Articles it brought in from the neighbour and stored.
    #[serde(default)]
    pub received: u64,
    /// Bodies it brought in that were here already (another link or session was
    /// first): each one a body that crossed into this node twice.
    #[serde(default)]
    pub duplicates: u64,
}

/// A neighbour's live link into this node, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundLink {
    /// Whether it is subscribed now (a connection of it has waited with `MESH IDLE`
    /// and is still open).
    pub up: bool,
    /// Unix seconds it subscribed, or its last such connection ended.
    pub since: i64,
}

/// The live links of the running `serve` (empty when there is none, or no record).
pub fn live_links(home: &Home) -> BTreeMap<String, LinkState> {
    read(home, &home.live_state_path())
}

/// The neighbours' live links into the running `serve` (empty when there is none, or
/// no record).
pub fn inbound_links(home: &Home) -> BTreeMap<String, InboundLink> {
    read(home, &home.live_in_state_path())
}

/// Writes `record` whole (atomically) as JSON to `path`, a state file `status` reads; a
/// failure is only a warning (`status` then misses `what`).
pub fn write<T: Serialize>(path: &Path, record: &T, what: &str) {
    let written = serde_json::to_vec(record)
        .map_err(std::io::Error::other)
        .and_then(|json| crate::files::write_atomically(path, &json));
    if let Err(e) = written {
        tracing::warn!("{}: {e}; `status` will not show {what}", path.display());
    }
}

/// The record at `path` of the running `serve`: empty when none runs (a killed one may
/// have left its files) or there is no readable record.
pub fn read<T: DeserializeOwned + Default>(home: &Home, path: &Path) -> T {
    if running(home).is_none() {
        return T::default();
    }
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}
