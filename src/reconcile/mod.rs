//! Range-Based Set Reconciliation (Meyer, arXiv 2212.13567) of the articles two nodes
//! hold, in the form the negentropy protocol (V1) gives it: used by `sync` on first
//! contact, after a neighbour's spool was rebuilt, and on `sync --reconcile`, so that
//! the traffic follows the difference between the two spools, not their size.
//!
//! Items are `(timestamp, id)`: the article's Date (its arrival here when it has none),
//! and the 32-byte content digest its newsmesh Message-ID is made from ([`item_for`]).
//! Articles whose Message-ID is not a newsmesh one (from a plain news server) are not
//! reconciled, and the marks move past them when a reconciliation sets them: such an
//! article does not cross that link at that moment (a known gap; it still reaches a
//! node by any link where it is a new arrival). Refused ids are not part of the set
//! either: a peer may name one we refused for good, and the pull skips it by history.
//!
//! ## Why not the `negentropy` crate
//! The maintained Rust implementation (rust-nostr's `negentropy`) speaks the same V1
//! wire format, and we keep that format (version byte, varints, bounds with id prefixes,
//! the sum-and-SHA-256 fingerprint), but its storage is random access by position
//! (`size`, `get_item(i)`, `iterate(begin, end)`), which on a spool of a million
//! articles means loading every item into a vector per session (about 40 MB, per
//! neighbour at once on `serve`), or an SQLite `OFFSET` per access. Here the storage is
//! a range scan ([`Storage::scan`]) that the spool answers from an index ordered by
//! `(timestamp, id)` (schema 010), with no per-session state on the responder. The
//! project's rule that parsers are nom, total and bounded, with our limits
//! ([`MAX_FRAME_BYTES`], [`MAX_RANGES`], [`MAX_ROUNDS`], [`MAX_DIFFERENCES`]) checked at
//! the edge, and the small size of the algorithm (under 400 lines) decided the rest.
//!
//! Layout: `item.rs` (items, bounds, fingerprints), `message.rs` (wire form, nom
//! decoder), `engine.rs` (the two sides, over any [`Storage`]), `vector.rs` (an in-memory
//! storage for tests and benchmarks), `wire.rs` (a message as an NNTP block). The spool's storage is `spool/reconcile.rs`, the
//! server's verb `server/feed/reconcile.rs`, the client's use `sync/reconcile.rs`.

mod engine;
mod item;
mod message;
mod vector;
pub mod wire;

pub use engine::{
    respond, Differences, Initiator, ReconcileError, Storage, BUCKETS, IDLIST_ANSWER_MAX,
    IDLIST_THRESHOLD, MAX_DIFFERENCES, MAX_ROUNDS,
};
pub use item::{Accumulator, Bound, Fingerprint, Id, Item, FINGERPRINT_SIZE, ID_SIZE};
pub use message::{
    decode, encode, put_varint, Encoder, Message, MessageError, Mode, Range, MAX_FRAME_BYTES,
    MAX_RANGES, VERSION,
};
pub use vector::VecStorage;

use data_encoding::BASE32_NOPAD;

/// The item id of a newsmesh Message-ID (`<base32 of the content digest@newsmesh>`), or
/// None for any other form.
pub fn id_of(msgid: &str) -> Option<Id> {
    let inner = msgid.strip_prefix('<')?.strip_suffix("@newsmesh>")?;
    if inner.len() != 52
        || !inner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return None;
    }
    let digest = BASE32_NOPAD
        .decode(inner.to_ascii_uppercase().as_bytes())
        .ok()?;
    let id: Id = digest.try_into().ok()?;
    // Only the one spelling that `message_id_for` writes maps to this id.
    (crate::sign::message_id_for(&id) == msgid).then_some(id)
}

/// The Message-ID of an item id.
pub fn msgid_of(id: &Id) -> String {
    crate::sign::message_id_for(id)
}

/// The reconciled item of an article: its Date (`posted`) when it has one, else its
/// arrival here; None when its Message-ID is not a newsmesh one.
pub fn item_for(msgid: &str, posted: i64, arrived: i64) -> Option<Item> {
    let timestamp = if posted > 0 { posted } else { arrived.max(0) };
    Some(Item {
        timestamp: timestamp as u64,
        id: id_of(msgid)?,
    })
}

#[cfg(test)]
mod tests;
