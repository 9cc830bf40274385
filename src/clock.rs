//! The node's clock: Unix seconds now. One place, so that tests (and an operator
//! rehearsing a three-year mesh) can set the date of every process they start with
//! `NEWSMESH_NOW=<unix seconds>` instead of sleeping: article ages, quota windows,
//! arrival and history times and expiry all follow it.

/// The environment variable that sets the clock (Unix seconds); unset or unparseable:
/// the system clock.
pub const NOW_VAR: &str = "NEWSMESH_NOW";

/// Unix time now, in seconds.
pub fn now() -> i64 {
    std::env::var(NOW_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp())
}
