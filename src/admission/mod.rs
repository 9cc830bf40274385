//! What `ingest` admits beyond signatures and trust: limits that keep a mesh healthy
//! over years. `age` refuses articles older than history remembers (so an expired
//! article never comes back as new) or dated too far ahead, like INN's `artcutoff`;
//! `quota` bounds what one author key or one neighbour may put here per day.
//!
//! The rules live here, configured by `[admission]`, so that ingest's per-article check
//! is one call and the rules can be read (and tested) on their own.

pub mod age;
pub mod quota;

pub use crate::config::{AdmissionConfig, QuotaRule};
pub use age::{AgeLimits, AgeRefusal};
pub use quota::{Deliverer, Quotas};

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

    /// No date window and no quotas: for tests of other rules whose articles carry
    /// made-up dates.
    pub fn unbounded() -> Admission {
        Admission {
            age: AgeLimits {
                max_age_secs: i64::MAX / 2,
                max_future_secs: i64::MAX / 2,
            },
            quotas: Quotas::default(),
        }
    }

    /// Ingest's date check: why `article` is refused now, if it is (no history row).
    pub fn refuse_date(&self, article: &crate::article::Article) -> Option<AgeRefusal> {
        let date = article.header_unfolded("Date");
        self.age.check(date.as_deref(), crate::clock::now()).err()
    }

    /// Ingest's quota check, before an article (its author key as text, the groups it
    /// names, the article) delivered `by` is stored: why it is deferred (try later, no
    /// history row), if it is; else it is charged to the day.
    pub fn defer(
        &self,
        store: &mut crate::spool::Storer<'_>,
        by: Deliverer<'_>,
        (author, groups, article): (Option<&str>, &[String], &crate::article::Article),
    ) -> rusqlite::Result<Option<String>> {
        let size = quota::wire_size(article);
        let now = crate::clock::now();
        Ok(self
            .quotas
            .admit(store, by, author, groups, size, now)?
            .err())
    }
}
