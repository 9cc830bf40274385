//! Joining by invite: `newsmesh invite` makes a code ([`code`]) that carries the
//! inviter's address, its pinned node key, a random secret (stored here only hashed:
//! `spool/invites.rs`), the groups, and the rules the newcomer must enforce; `newsmesh
//! join CODE` ([`join`]) dials with that key pinned, proves the secret with `MESH JOIN`
//! (served by `server/feed/join.rs`), then configures its own side and runs the first
//! sync. Prior art: Scuttlebutt's pub invites, Tailscale's auth keys.

pub mod code;
pub mod join;
pub mod make;
