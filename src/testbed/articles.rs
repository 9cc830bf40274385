//! Signed articles in bulk, for tests and benches that need a spool with something in it:
//! one generator, so every test's "n articles" means the same thing.

use std::ops::Range;

use ed25519_dalek::SigningKey;

use crate::compose::{compose, Draft};

/// A run of signed articles to `mesh.test`: article `i` of `numbers` has the subject
/// "`label` `i`" and a body of about `body_bytes` bytes that names it, so two runs with
/// different labels, numbers or keys never share an article. Signed by `key`, injected
/// at the Path identity `injected_at`. Returns (Message-ID, wire form) pairs.
pub fn signed_articles(
    key: &SigningKey,
    injected_at: &str,
    label: &str,
    numbers: Range<u64>,
    body_bytes: usize,
) -> Vec<(String, Vec<u8>)> {
    numbers
        .map(|i| {
            let subject = format!("{label} {i}");
            let mut body = format!("{label} article {i}\n");
            while body.len() < body_bytes {
                body.push_str("filler text to make the body the size asked for\n");
            }
            let draft = Draft {
                groups: "mesh.test",
                subject: &subject,
                from: "bulk <bulk@example.invalid>",
                references: None,
                body: body.as_bytes(),
            };
            let article = compose(&draft, injected_at, key);
            let id = article
                .message_id()
                .expect("a composed article has a Message-ID")
                .to_string();
            (id, article.to_bytes())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_are_distinct_signed_and_about_the_size_asked() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let a = signed_articles(&key, "gen", "a", 0..3, 300);
        let b = signed_articles(&key, "gen", "b", 0..3, 300);
        let ids: std::collections::HashSet<&String> =
            a.iter().chain(&b).map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 6);
        for (id, raw) in &a {
            let article = crate::article::Article::parse(raw, &Default::default()).unwrap();
            assert_eq!(article.message_id(), Some(id.as_str()));
            assert!(matches!(
                crate::sign::check(&article),
                crate::sign::SigStatus::Valid { .. }
            ));
            assert!(raw.len() > 300, "{}", raw.len());
        }
    }
}
