//! Fuzz target: the article parser (`Article::parse`), which every article from a
//! peer, a reader's POST or an rnews batch goes through, and the accessors and
//! signature check that run on what it returns.
//!
//! Properties: parsing never panics; an article that parses serialises (`to_bytes`)
//! to bytes that parse back to the same article, so what a node accepts, stores and
//! forwards is accepted by the next node too; the checks done on a parsed article
//! (validation, groups, Path, signature) never panic; after a relay prepends its name
//! to Path, the article still parses, with the relay first and the old hops after it.

use afl::fuzz;
use newsmesh::article::{body_to_local, Article, Limits};
use newsmesh::sign::check;

fn main() {
    fuzz!(|data: &[u8]| {
        let limits = Limits::default();
        let Ok(article) = Article::parse(data, &limits) else {
            return;
        };
        let wire = article.to_bytes();
        let unbounded = Limits {
            max_article: usize::MAX,
            ..limits
        };
        assert_eq!(
            Article::parse(&wire, &unbounded),
            Ok(article.clone()),
            "to_bytes gave an article that does not parse back"
        );
        let _ = article.validate_for_transit();
        let _ = article.newsgroups();
        let _ = article.path_entries();
        let _ = article.message_id();
        let _ = article.body_line_count();
        let _ = body_to_local(&article.body);
        let _ = check(&article);
        if article.header("Path").is_some() {
            let mut relayed = article.clone();
            relayed.path_prepend("relay.example");
            // Only the line limit is under test: the field limit may be reached by design.
            let roomy = Limits {
                max_header_field: usize::MAX,
                ..unbounded
            };
            let again = Article::parse(&relayed.to_bytes(), &roomy)
                .unwrap_or_else(|e| panic!("refused after path_prepend: {e}"));
            let mut hops = vec!["relay.example".to_string()];
            hops.extend(article.path_entries());
            assert_eq!(again.path_entries(), hops, "Path hops changed by the relay");
        }
    });
}
