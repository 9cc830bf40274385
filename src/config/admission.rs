//! `[admission]` in `newsmesh.toml`: the date window and the quota rules ingest applies
//! (`crate::admission` reads them), and the start-up check that retention stays inside
//! what history covers.

use serde::Deserialize;

use super::Config;

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

/// One `[[admission.quota]]` rule: limits per day for the groups of its pattern; a limit
/// left out is unlimited.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaRule {
    /// Wildmat of groups.
    pub groups: String,
    /// Articles one author key may put here per day.
    pub author_articles: Option<u64>,
    /// Bytes one author key may put here per day.
    pub author_bytes: Option<u64>,
    /// Articles one neighbour may deliver per day.
    pub peer_articles: Option<u64>,
    /// Bytes one neighbour may deliver per day.
    pub peer_bytes: Option<u64>,
}

/// The default age limit: a day less than history covers (at least 0).
pub fn default_max_age_days(history_days: u64) -> u64 {
    history_days.saturating_sub(1)
}

/// The startup check: a configuration whose retention or age limit outlives history
/// would let an expired id be forgotten while the article is still acceptable (or still
/// held and listed). Returns the first problem, naming the keys.
pub fn check_config(config: &Config) -> Result<(), String> {
    let history = config.expire.history_days;
    if let Some(age) = config.admission.max_age_days {
        if age >= history {
            return Err(format!(
                "[admission] max_age_days = {age} must be less than [expire] history_days = \
                 {history}: history would forget ids that are still accepted"
            ));
        }
    }
    for rule in &config.expire.rules {
        if rule.days >= history {
            return Err(format!(
                "[[expire.rule]] groups = {:?} keeps articles {} days, not less than \
                 [expire] history_days = {history}: raise history_days above every retention",
                rule.groups, rule.days
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!("[node]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n{extra}");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn retention_or_age_beyond_history_is_refused() {
        assert_eq!(
            check_config(&config("[expire]\nhistory_days = 30\n")),
            Ok(())
        );
        let long =
            config("[expire]\nhistory_days = 30\n[[expire.rule]]\ngroups = \"*\"\ndays = 30\n");
        assert!(check_config(&long).unwrap_err().contains("history_days"));
        let age = config("[expire]\nhistory_days = 30\n[admission]\nmax_age_days = 40\n");
        assert!(check_config(&age).unwrap_err().contains("max_age_days"));
    }
}
