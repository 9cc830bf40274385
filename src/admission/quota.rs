//! Quotas per author key and per delivering neighbour, in articles and bytes per UTC
//! day, configured per group pattern by `[[admission.quota]]` (the last rule whose
//! pattern matches a group decides, as for `[[expire.rule]]`). With no rule for a group,
//! a group any valid key may post to (`[[trust]] authors = "any"`) gets [`OPEN_DEFAULT`]
//! and a members-only group is unlimited: its authors were admitted by name.
//!
//! Over quota is a *temporary* refusal: no history row, "try later" on the wire (431 to
//! CHECK/TAKETHIS, 436 to IHAVE), the pull mark and the push mark stay before it. Nodes
//! with different quotas therefore never disagree for good: what one defers today it
//! takes when the day turns. The operator's own posts (`post`, `import`) are never
//! refused (nor counted).
//!
//! Usage is counted per day in the spool (`quota_usage`, schema 009) inside ingest's
//! transaction, so a batch sees its own earlier articles.

use crate::config::{Authors, Config, QuotaRule};
use crate::spool::{Storer, Usage, UsageKind};
use crate::wildmat::Wildmat;

/// Who delivers an article, as the quotas see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deliverer<'a> {
    /// The operator (`post`, `import`): never refused, not counted.
    Operator,
    /// A neighbour (`[[peer]]` or `[[nntp_peer]]`), by name.
    Neighbour(&'a str),
    /// Anyone else (a newsreader's POST): only the author quota applies.
    Other,
}

/// The limits of one group (None: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Articles per author key and day.
    pub author_articles: Option<u64>,
    /// Bytes per author key and day.
    pub author_bytes: Option<u64>,
    /// Articles per neighbour and day.
    pub peer_articles: Option<u64>,
    /// Bytes per neighbour and day.
    pub peer_bytes: Option<u64>,
}

/// The limits of a group open to any key when no rule names it: one key posting ten
/// thousand articles or 256 MiB a day is a flood (a busy person posts tens), and a
/// neighbour relaying 100,000 or 1 GiB a day into open groups is filling every disk of
/// the mesh. Generous, so a node catching up on a day's traffic is not held back.
pub const OPEN_DEFAULT: QuotaLimits = QuotaLimits {
    author_articles: Some(10_000),
    author_bytes: Some(256 << 20),
    peer_articles: Some(100_000),
    peer_bytes: Some(1 << 30),
};

impl QuotaLimits {
    fn of(rule: &QuotaRule) -> QuotaLimits {
        QuotaLimits {
            author_articles: rule.author_articles,
            author_bytes: rule.author_bytes,
            peer_articles: rule.peer_articles,
            peer_bytes: rule.peer_bytes,
        }
    }

    /// The stricter of two limits, each field apart.
    fn min(self, other: QuotaLimits) -> QuotaLimits {
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        QuotaLimits {
            author_articles: min(self.author_articles, other.author_articles),
            author_bytes: min(self.author_bytes, other.author_bytes),
            peer_articles: min(self.peer_articles, other.peer_articles),
            peer_bytes: min(self.peer_bytes, other.peer_bytes),
        }
    }
}

/// The quota rules of one configuration.
#[derive(Debug, Clone, Default)]
pub struct Quotas {
    rules: Vec<(Wildmat, QuotaLimits)>,
    /// `[[trust]]` patterns and whether they admit any key, in order.
    trust: Vec<(Wildmat, bool)>,
}

/// How every quota deferral begins, on the wire (after `431 <id>`) and in the article
/// log: a pushing node reads it to tell "try later" from a failure.
pub const OVER_QUOTA: &str = "over quota, try later";

/// An article's size on the wire (headers and body, CRLF line ends), counted without
/// serialising it.
pub fn wire_size(article: &crate::article::Article) -> u64 {
    let headers: usize = article
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 4)
        .sum();
    (headers + 2 + article.body.len()) as u64
}

/// A Unix day.
pub fn day_of(now: i64) -> i64 {
    now.div_euclid(86_400)
}

impl Quotas {
    /// The rules `config` sets.
    pub fn from_config(config: &Config) -> Quotas {
        Quotas {
            rules: config
                .admission
                .quotas
                .iter()
                .map(|r| (Wildmat::new(&r.groups), QuotaLimits::of(r)))
                .collect(),
            trust: config
                .trust
                .iter()
                .map(|t| {
                    let any = matches!(&t.authors, Authors::Word(w) if w == "any");
                    (Wildmat::new(&t.groups), any)
                })
                .collect(),
        }
    }

    /// The limits of `group`.
    pub fn limits_for(&self, group: &str) -> QuotaLimits {
        if let Some((_, limits)) = self.rules.iter().rev().find(|(w, _)| w.matches(group)) {
            return *limits;
        }
        match self.trust.iter().rev().find(|(w, _)| w.matches(group)) {
            Some((_, true)) => OPEN_DEFAULT,
            _ => QuotaLimits::default(),
        }
    }

    /// Admits one article of `bytes` by `author` (base64 key, None: unsigned) for
    /// `groups` delivered `by` at `now`, charging it to the day's usage; `Ok(Err(why))`
    /// when a quota is spent (try later). Local posts and imports are neither refused nor
    /// counted (so a post writes no extra page).
    pub fn admit(
        &self,
        store: &mut Storer<'_>,
        by: Deliverer<'_>,
        author: Option<&str>,
        groups: &[String],
        bytes: u64,
        now: i64,
    ) -> rusqlite::Result<Result<(), String>> {
        let day = day_of(now);
        let operator = by == Deliverer::Operator;
        let limits = groups
            .iter()
            .map(|g| self.limits_for(g))
            .reduce(QuotaLimits::min)
            .unwrap_or_default();
        let charged = [
            author.map(|a| {
                (
                    UsageKind::Author,
                    a,
                    limits.author_articles,
                    limits.author_bytes,
                )
            }),
            match by {
                Deliverer::Neighbour(p) => {
                    Some((UsageKind::Peer, p, limits.peer_articles, limits.peer_bytes))
                }
                Deliverer::Operator | Deliverer::Other => None,
            },
        ];
        if operator {
            // Never refused, so not counted: a post writes no extra page for it.
            return Ok(Ok(()));
        }
        for (kind, who, articles, max_bytes) in charged.iter().flatten() {
            let used = store.usage(*kind, who, day)?;
            if let Some(why) = over(*kind, who, used, bytes, *articles, *max_bytes) {
                return Ok(Err(why));
            }
        }
        for (kind, who, _, _) in charged.iter().flatten() {
            store.charge(*kind, who, day, bytes)?;
        }
        Ok(Ok(()))
    }
}

/// Why one more article of `bytes` would pass a limit, if it would.
fn over(
    kind: UsageKind,
    who: &str,
    used: Usage,
    bytes: u64,
    articles: Option<u64>,
    max_bytes: Option<u64>,
) -> Option<String> {
    let (name, key) = match kind {
        UsageKind::Author => ("author key", "author"),
        UsageKind::Peer => ("neighbour", "peer"),
    };
    if articles.is_some_and(|max| used.articles >= max) {
        return Some(format!(
            "{OVER_QUOTA}: {name} {who} stored {} articles today \
             ([[admission.quota]] {key}_articles = {})",
            used.articles,
            articles.unwrap_or_default()
        ));
    }
    if max_bytes.is_some_and(|max| used.bytes.saturating_add(bytes) > max) {
        return Some(format!(
            "{OVER_QUOTA}: {name} {who} stored {} bytes today \
             ([[admission.quota]] {key}_bytes = {})",
            used.bytes,
            max_bytes.unwrap_or_default()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::test_support::temp_spool;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[node]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n\
             [[trust]]\ngroups = \"mesh.*\"\nauthors = \"any\"\n\
             [[trust]]\ngroups = \"club.*\"\nauthors = []\n{extra}"
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn open_groups_are_bounded_and_members_only_groups_are_not_by_default() {
        let q = Quotas::from_config(&config(""));
        assert_eq!(q.limits_for("mesh.test"), OPEN_DEFAULT);
        assert_eq!(q.limits_for("club.talk"), QuotaLimits::default());
        let q = Quotas::from_config(&config(
            "[[admission.quota]]\ngroups = \"mesh.big\"\nauthor_articles = 5\n",
        ));
        assert_eq!(q.limits_for("mesh.big").author_articles, Some(5));
        assert_eq!(q.limits_for("mesh.big").peer_articles, None);
        assert_eq!(q.limits_for("mesh.test"), OPEN_DEFAULT);
    }

    #[test]
    fn an_author_past_its_quota_waits_for_the_next_day_and_the_operator_never_does() {
        let q = Quotas::from_config(&config(
            "[[admission.quota]]\ngroups = \"*\"\nauthor_articles = 2\npeer_bytes = 1000\n",
        ));
        let (_dir, mut spool) = temp_spool();
        let groups = vec!["mesh.test".to_string()];
        let now = 1_800_000_000;
        spool
            .store_with(|s| {
                let peer = Deliverer::Neighbour("beta");
                for _ in 0..2 {
                    assert_eq!(q.admit(s, peer, Some("K"), &groups, 10, now)?, Ok(()));
                }
                let why = q.admit(s, peer, Some("K"), &groups, 10, now)?.unwrap_err();
                assert!(why.starts_with("over quota, try later"), "{why}");
                // Another key from the same neighbour, until its bytes run out.
                assert_eq!(q.admit(s, peer, Some("L"), &groups, 900, now)?, Ok(()));
                let why = q.admit(s, peer, Some("M"), &groups, 100, now)?.unwrap_err();
                assert!(why.contains("peer_bytes"), "{why}");
                // The next day the window has moved.
                let tomorrow = now + 86_400;
                assert_eq!(q.admit(s, peer, Some("K"), &groups, 10, tomorrow)?, Ok(()));
                // The operator posts whatever the count.
                assert_eq!(
                    q.admit(s, Deliverer::Operator, Some("K"), &groups, 10, now)?,
                    Ok(())
                );
                Ok(())
            })
            .unwrap();
    }
}
