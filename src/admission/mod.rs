//! What `ingest` admits beyond signatures and trust: limits that keep a mesh healthy
//! over years. `age` refuses articles older than history remembers (so an expired
//! article never comes back as new) or dated too far ahead, like INN's `artcutoff`;
//! `quota` bounds what one author key or one neighbour may put here per day.
//!
//! The rules live here, configured by `[admission]`, so that ingest's per-article check
//! is one call and the rules can be read (and tested) on their own.

pub mod age;
pub mod quota;

use serde::Deserialize;

pub use age::{AgeLimits, AgeRefusal};
pub use quota::{QuotaRule, Quotas};

/// What ingest admits, as one configuration says: the date window and the quotas.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// The date window.
    pub age: AgeLimits,
    /// The quotas.
    pub quotas: Quotas,
}

impl Admission {
    /// The rules of `config`.
    pub fn from_config(config: &crate::config::Config) -> Admission {
        Admission {
            age: AgeLimits::from_config(config),
            quotas: Quotas::from_config(config),
        }
    }

    /// Ingest's date check: why `article` is refused now, if it is (no history row).
    pub fn refuse_date(&self, article: &crate::article::Article) -> Option<AgeRefusal> {
        let date = article.header_unfolded("Date");
        self.age.check(date.as_deref(), crate::clock::now()).err()
    }

    /// Ingest's quota check, before an article (its author key as text, the groups it
    /// names, the article) is stored from `source`: why it is deferred (try later, no
    /// history row), if it is; else it is charged to the day.
    pub fn defer(
        &self,
        store: &mut crate::spool::Storer<'_>,
        source: crate::ingest::Source<'_>,
        (author, groups, article): (Option<&str>, &[String], &crate::article::Article),
    ) -> rusqlite::Result<Option<String>> {
        let size = quota::wire_size(article);
        let now = crate::clock::now();
        Ok(self
            .quotas
            .admit(store, source, author, groups, size, now)?
            .err())
    }
}

/// `[admission]`: age limits and quotas of the articles this node accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// Articles dated more than this many days ago are refused ("too old"). None: one day
    /// less than `[expire] history_days`, so an id history has forgotten is never
    /// acceptable again (INN keeps history a day longer than `artcutoff` the same way).
    pub max_age_days: Option<u64>,
    /// Articles dated more than this many hours ahead of this node's clock are refused
    /// ("dated in the future"); they may come again once the date is near.
    pub max_future_hours: u64,
    /// `[[admission.quota]]` rules in order; the last whose pattern matches decides.
    #[serde(rename = "quota")]
    pub quotas: Vec<QuotaRule>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            max_age_days: None,
            max_future_hours: 24,
            quotas: Vec::new(),
        }
    }
}
