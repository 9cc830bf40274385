//! Verifying many signatures at once: Ed25519 batch verification (about twice as fast as
//! one by one) spread over the machine's cores. A failed batch falls back to verifying
//! each signature, so one bad article never hides the good ones beside it.
//!
//! The batch equation is ed25519-dalek's `verify_batch` (cofactorless, RFC 8032 §5.1.7
//! summed with random 128-bit weights z_i):
//!
//! ```text
//! [-Σ z_i·s_i] B + Σ [z_i] R_i + Σ [z_i·h_i] A_i = 0      h_i = SHA-512(R_i ‖ A_i ‖ M_i)
//! ```
//!
//! with one change that leaves the equation as it is: the terms of one author key are
//! added up before the multiscalar multiplication (Σ over its signatures of z_i·h_i,
//! times A once), as ed25519-zebra does. A newsgroup's articles come from few authors,
//! so a batch of n signatures by k keys costs a multiplication of n + k + 1 points
//! instead of 2n + 1. The weights come from the operating system's random source, not
//! from a transcript of the batch.

use std::collections::HashMap;
use std::iter::once;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha512};

use super::signature::{verify_prepared, Prepared, SigStatus};

/// Below this many signatures a batch is not worth splitting across threads.
const MIN_PER_THREAD: usize = 64;

/// Verifies every prepared signature; the result is in input order.
pub fn verify_many(items: &[Prepared]) -> Vec<SigStatus> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(MIN_PER_THREAD);
    if items.len() <= chunk {
        return verify_chunk(items);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| scope.spawn(move || verify_chunk(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| Vec::new()))
            .collect()
    })
}

/// Verifies on the calling thread only (one batch, then one by one if it fails).
pub fn verify_chunk(items: &[Prepared]) -> Vec<SigStatus> {
    if items.len() > 1 && batch_holds(items) {
        return items
            .iter()
            .map(|p| SigStatus::Valid { key: p.key })
            .collect();
    }
    items.iter().map(verify_prepared).collect()
}

/// Whether the batch equation (module documentation) holds for `items`: true only if
/// every signature would verify on its own, but for a chance of 2^-128 per batch. False
/// also when a signature is malformed (an `s` not below the group order, an `R` that is
/// not a point) or the random weights cannot be had: the caller then verifies one by one.
fn batch_holds(items: &[Prepared]) -> bool {
    let mut weights = vec![0u8; 16 * items.len()];
    if OsRng.try_fill_bytes(&mut weights).is_err() {
        return false;
    }
    let mut base = Scalar::ZERO;
    let mut r_weights = Vec::with_capacity(items.len());
    let mut r_points = Vec::with_capacity(items.len());
    // Each distinct author key once, with the sum of its terms' weights.
    let mut keys: Vec<(Scalar, EdwardsPoint)> = Vec::new();
    let mut key_at: HashMap<[u8; 32], usize> = HashMap::new();
    for (p, weight) in items.iter().zip(weights.chunks_exact(16)) {
        let mut z = [0u8; 16];
        z.copy_from_slice(weight);
        let z = Scalar::from(u128::from_le_bytes(z));
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*p.signature.s_bytes()))
        else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(*p.signature.r_bytes()).decompress() else {
            return false;
        };
        let hram: [u8; 64] = Sha512::new()
            .chain_update(p.signature.r_bytes())
            .chain_update(p.key.as_bytes())
            .chain_update(p.signed_message())
            .finalize()
            .into();
        let h = Scalar::from_bytes_mod_order_wide(&hram);
        base -= z * s;
        r_weights.push(z);
        r_points.push(r);
        let at = *key_at.entry(*p.key.as_bytes()).or_insert_with(|| {
            keys.push((Scalar::ZERO, p.key.to_edwards()));
            keys.len() - 1
        });
        keys[at].0 += z * h;
    }
    EdwardsPoint::vartime_multiscalar_mul(
        once(base).chain(r_weights).chain(keys.iter().map(|k| k.0)),
        once(ED25519_BASEPOINT_POINT)
            .chain(r_points)
            .chain(keys.iter().map(|k| k.1)),
    )
    .is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Article, Header};
    use crate::sign::signature::{prepare, sign_article};
    use ed25519_dalek::Signature;
    use ed25519_dalek::SigningKey;

    fn article(n: usize) -> Article {
        let h = |name: &str, value: String| Header {
            name: name.into(),
            value,
        };
        let mut a = Article {
            headers: vec![
                h("From", "a@b".into()),
                h("Newsgroups", "mesh.test".into()),
                h("Subject", format!("n{n}")),
                h("Date", "Fri, 27 Nov 2026 14:00:00 +0000".into()),
            ],
            body: b"x\r\n".to_vec(),
        };
        sign_article(&mut a, &SigningKey::from_bytes(&[n as u8; 32]));
        a
    }

    #[test]
    fn one_bad_signature_in_a_batch_is_singled_out() {
        let mut prepared: Vec<Prepared> = (0..200).map(|n| prepare(&article(n)).unwrap()).collect();
        prepared[150].signature = Signature::from_bytes(&[0; 64]);
        let results = verify_many(&prepared);
        assert_eq!(results.len(), 200);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(
                matches!(r, SigStatus::Valid { .. }),
                i != 150,
                "article {i}"
            );
        }
    }

    /// Articles 0..n signed by `keys` authors in turn.
    fn by_authors(n: usize, keys: usize) -> Vec<Prepared> {
        (0..n)
            .map(|i| {
                let mut a = article(i);
                sign_article(&mut a, &SigningKey::from_bytes(&[(i % keys) as u8 + 1; 32]));
                prepare(&a).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_batch_of_few_authors_holds_and_any_one_change_breaks_it() {
        let good = by_authors(64, 3);
        assert!(batch_holds(&good));
        for i in [0, 17, 63] {
            // Articles i ± 3 have i's author, i ± 1 another (three authors in turn).
            let same_author = if i + 3 < 64 { i + 3 } else { i - 3 };
            let other_author = if i + 1 < 64 { i + 1 } else { i - 1 };
            // Another digest: the signature is over something else.
            let mut bad = good.clone();
            bad[i].digest[0] ^= 1;
            assert!(!batch_holds(&bad), "digest {i}");
            // The same author's signature on another article of the batch.
            let mut bad = good.clone();
            bad[i].signature = good[same_author].signature;
            assert!(!batch_holds(&bad), "swapped signature {i}");
            // Another author's key (itself in the batch).
            let mut bad = good.clone();
            bad[i].key = good[other_author].key;
            assert!(!batch_holds(&bad), "key {i}");
            // s plus the group order: the same value mod l, but not canonical.
            let mut bad = good.clone();
            let mut bytes = bad[i].signature.to_bytes();
            add_group_order(&mut bytes[32..]);
            bad[i].signature = Signature::from_bytes(&bytes);
            assert!(!batch_holds(&bad), "non-canonical s {i}");
        }
    }

    #[test]
    fn two_changes_that_cancel_within_one_author_do_not_pass() {
        // Coalescing sums an author's terms: two wrong signatures by one key whose errors
        // would cancel with equal weights must still fail (the weights are random).
        let good = by_authors(8, 1);
        let mut bad = good.clone();
        let (a, b) = (good[0].signature.to_bytes(), good[1].signature.to_bytes());
        let mut sa = Scalar::from_canonical_bytes(a[32..].try_into().unwrap()).unwrap();
        let mut sb = Scalar::from_canonical_bytes(b[32..].try_into().unwrap()).unwrap();
        sa += Scalar::ONE;
        sb -= Scalar::ONE;
        let with_s = |sig: [u8; 64], s: Scalar| {
            let mut bytes = sig;
            bytes[32..].copy_from_slice(s.as_bytes());
            Signature::from_bytes(&bytes)
        };
        bad[0].signature = with_s(a, sa);
        bad[1].signature = with_s(b, sb);
        assert!(!batch_holds(&bad));
        let results = verify_chunk(&bad);
        assert!(matches!(results[0], SigStatus::BadSignature(_)));
        assert!(matches!(results[1], SigStatus::BadSignature(_)));
        assert!(results[2..]
            .iter()
            .all(|r| matches!(r, SigStatus::Valid { .. })));
    }

    #[test]
    fn the_batch_agrees_with_one_by_one_verification() {
        let good = by_authors(40, 5);
        let mut mixed = good.clone();
        for i in [3, 22, 39] {
            mixed[i].digest[31] ^= 0x80;
        }
        let alone: Vec<SigStatus> = mixed.iter().map(verify_prepared).collect();
        assert_eq!(verify_chunk(&mixed), alone);
        assert_eq!(verify_many(&mixed), alone);
        assert!(verify_chunk(&good)
            .iter()
            .all(|r| matches!(r, SigStatus::Valid { .. })));
    }

    /// Adds ℓ (the group order) to a little-endian 256-bit number.
    fn add_group_order(bytes: &mut [u8]) {
        let l = Scalar::ZERO - Scalar::ONE; // ℓ - 1
        let mut carry = 1u16; // + 1 makes ℓ
        for (b, lb) in bytes.iter_mut().zip(l.as_bytes()) {
            let sum = *b as u16 + *lb as u16 + carry;
            *b = sum as u8;
            carry = sum >> 8;
        }
    }
}
