//! Age limits at ingest (INN's `artcutoff`): an article dated before the oldest date
//! this node's history still covers is refused "too old", one dated more than the
//! allowed skew ahead is refused "dated in the future", and one whose Date does not
//! parse is refused (its age cannot be judged).
//!
//! Why: history outlives articles by `[expire] history_days` and is then pruned. Without
//! a date check, once a node forgets an id, any neighbour still holding the article (a
//! longer retention, a node back from months offline, a first-contact listing) would hand
//! it over again as new, and it would be relayed to every node that forgot it too. With
//! the cutoff below history, an id is never both forgotten and acceptable.
//!
//! These refusals depend on the clock, not on the content alone, so ingest writes no
//! history row for them: an article dated ahead may come again once its date is near.
//! The listing and push sides skip what their own window refuses (`listable`): a
//! neighbour with the same defaults would refuse it; one with a longer window still gets
//! it from someone else, and its own ingest check is the authority in any case.
//! The start-up check that retention stays inside history is the configuration's own
//! (`config/admission.rs`).

use crate::config::Config;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The age window of one node, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeLimits {
    /// Oldest accepted age.
    pub max_age_secs: i64,
    /// Largest accepted distance ahead of the clock.
    pub max_future_secs: i64,
}

/// Why an article's date is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgeRefusal {
    /// Dated `days` ago, more than `limit_days`.
    TooOld { days: i64, limit_days: i64 },
    /// Dated `hours` ahead, more than `limit_hours`.
    InFuture { hours: i64, limit_hours: i64 },
    /// No Date this node can read.
    BadDate(String),
}

impl std::fmt::Display for AgeRefusal {
    /// Begins like INN's answers ("too old"), then says which limit.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgeRefusal::TooOld { days, limit_days } => write!(
                f,
                "too old: dated {days} days ago, this node accepts {limit_days} \
                 ([admission] max_age_days)"
            ),
            AgeRefusal::InFuture { hours, limit_hours } => write!(
                f,
                "dated in the future: {hours} hours ahead, this node accepts {limit_hours} \
                 ([admission] max_future_hours)"
            ),
            AgeRefusal::BadDate(date) => write!(f, "bad Date header: {date:?}"),
        }
    }
}

impl Default for AgeLimits {
    /// The window of a default configuration (`history_days = 365`).
    fn default() -> Self {
        AgeLimits {
            max_age_secs: crate::config::default_max_age_days(365) as i64 * DAY,
            max_future_secs: 24 * 3600,
        }
    }
}

impl AgeLimits {
    /// The window `config` sets: `[admission]`, the age defaulting to one day less than
    /// `[expire] history_days`.
    pub fn from_config(config: &Config) -> AgeLimits {
        let days = config
            .admission
            .max_age_days
            .unwrap_or_else(|| crate::config::default_max_age_days(config.expire.history_days));
        AgeLimits {
            max_age_secs: (days as i64).saturating_mul(DAY),
            max_future_secs: (config.admission.max_future_hours as i64).saturating_mul(3600),
        }
    }

    /// Whether an article with this Date header may enter at `now` (Unix seconds).
    pub fn check(&self, date: Option<&str>, now: i64) -> Result<(), AgeRefusal> {
        let date = date.unwrap_or_default();
        let posted = parse_date(date).ok_or_else(|| AgeRefusal::BadDate(date.to_string()))?;
        self.check_posted(posted, now)
    }

    /// [`AgeLimits::check`] on a Date already parsed to Unix seconds.
    pub fn check_posted(&self, posted: i64, now: i64) -> Result<(), AgeRefusal> {
        let age = now.saturating_sub(posted);
        if age > self.max_age_secs {
            return Err(AgeRefusal::TooOld {
                days: age / DAY,
                limit_days: self.max_age_secs / DAY,
            });
        }
        if -age > self.max_future_secs {
            return Err(AgeRefusal::InFuture {
                hours: -age / 3600,
                limit_hours: self.max_future_secs / 3600,
            });
        }
        Ok(())
    }

    /// Whether a stored arrival posted at `posted` (0: its Date did not parse when it
    /// was stored, long ago) is worth listing or offering to a neighbour at `now`: not
    /// when this window would refuse it.
    pub fn listable(&self, posted: i64, now: i64) -> bool {
        posted == 0 || self.check_posted(posted, now).is_ok()
    }
}

/// A Date header (RFC 5322 / RFC 5536) as Unix seconds.
pub fn parse_date(date: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(date.trim())
        .ok()
        .map(|d| d.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AgeLimits {
        AgeLimits {
            max_age_secs: 10 * DAY,
            max_future_secs: 24 * 3600,
        }
    }

    const NOW: i64 = 1_796_000_000;

    #[test]
    fn the_window_admits_the_recent_and_refuses_both_ends() {
        let l = limits();
        assert_eq!(l.check_posted(NOW - 10 * DAY, NOW), Ok(()));
        assert_eq!(l.check_posted(NOW + 24 * 3600, NOW), Ok(()));
        assert!(matches!(
            l.check_posted(NOW - 10 * DAY - 1, NOW),
            Err(AgeRefusal::TooOld {
                days: 10,
                limit_days: 10
            })
        ));
        let ahead = l.check_posted(NOW + 30 * DAY, NOW).unwrap_err();
        assert!(
            ahead.to_string().starts_with("dated in the future"),
            "{ahead}"
        );
        assert!(l
            .check_posted(NOW - 3 * 365 * DAY, NOW)
            .unwrap_err()
            .to_string()
            .starts_with("too old"));
    }

    #[test]
    fn dates_are_read_from_the_header_and_garbage_is_refused() {
        let l = limits();
        let now = parse_date("Sat, 5 Dec 2026 07:00:00 +0000").unwrap();
        assert_eq!(l.check(Some("Fri, 4 Dec 2026 07:00:00 +0000"), now), Ok(()));
        assert!(l
            .check(Some("Mon, 1 Jan 2024 00:00:00 +0000"), now)
            .is_err());
        assert!(matches!(
            l.check(Some("yesterday"), now),
            Err(AgeRefusal::BadDate(_))
        ));
        assert!(matches!(l.check(None, now), Err(AgeRefusal::BadDate(_))));
        // Unknown dates of old rows are listed; refused ones are not.
        assert!(l.listable(0, now));
        assert!(!l.listable(now - 11 * DAY, now));
    }

    fn config(extra: &str) -> Config {
        let text = format!("[node]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n{extra}");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn the_default_age_stays_inside_history() {
        let c = config("[expire]\nhistory_days = 30\n");
        assert_eq!(AgeLimits::from_config(&c).max_age_secs, 29 * DAY);
        assert_eq!(AgeLimits::from_config(&c).max_future_secs, 24 * 3600);
    }
}
