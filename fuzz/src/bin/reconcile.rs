//! Fuzz target: set reconciliation messages (`newsmesh::reconcile`), as a neighbour
//! sends them to `serve` (`MESH RECONCILE`) or answers them to `sync`.
//!
//! Properties besides "no panic": a message that decodes re-encodes to one that decodes
//! to the same message; the responder's answer to any input decodes and stays within
//! the frame limit; the initiator takes any input without panicking; the NNTP block
//! form (`wire`) of a message reads back to it.

use afl::fuzz;
use newsmesh::reconcile::wire::{from_block, to_block};
use newsmesh::reconcile::{
    decode, encode, respond, Initiator, Item, VecStorage, ID_SIZE, MAX_FRAME_BYTES,
};

/// A small set with shared timestamps, so that bounds need id prefixes.
fn storage() -> VecStorage {
    VecStorage::new(
        (0u64..300)
            .map(|n| {
                let mut id = [0u8; ID_SIZE];
                id[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
                Item {
                    timestamp: n / 7,
                    id,
                }
            })
            .collect(),
    )
}

fn main() {
    let ours = storage();
    fuzz!(|data: &[u8]| {
        if let Ok(message) = decode(data) {
            assert_eq!(decode(&encode(&message)), Ok(message.clone()));
            assert_eq!(from_block(&to_block(data)).as_deref(), Ok(data));
        }
        if let Ok(answer) = respond(&ours, data) {
            assert!(answer.len() <= MAX_FRAME_BYTES);
            assert!(decode(&answer).is_ok(), "answer {answer:?}");
        }
        let mut initiator = Initiator::new();
        if initiator.start(&ours).is_ok() {
            if let Ok(Some(next)) = initiator.reconcile(&ours, data) {
                assert!(next.len() <= MAX_FRAME_BYTES);
                assert!(decode(&next).is_ok());
            }
        }
        let _ = from_block(data);
    });
}
