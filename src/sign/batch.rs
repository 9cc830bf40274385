//! Verifying many signatures at once: Ed25519 batch verification (about twice as fast as
//! one by one) spread over the machine's cores. A failed batch falls back to verifying
//! each signature, so one bad article never hides the good ones beside it.

use ed25519_dalek::{Signature, VerifyingKey};

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
    if items.len() > 1 {
        let messages: Vec<[u8; 48]> = items.iter().map(Prepared::signed_message).collect();
        let refs: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
        let signatures: Vec<Signature> = items.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = items.iter().map(|p| p.key).collect();
        if ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_ok() {
            return items
                .iter()
                .map(|p| SigStatus::Valid { key: p.key })
                .collect();
        }
    }
    items.iter().map(verify_prepared).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Article, Header};
    use crate::sign::signature::{prepare, sign_article};
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
}
