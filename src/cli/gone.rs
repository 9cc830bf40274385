//! What `read '<id>'` says of an article this node does not hold: what its history
//! knows (cancelled by its author, expired, refused and why), or that it never came.

use crate::error::Result;
use crate::home::Node;

/// One line for `id`, which the spool does not hold.
pub fn why_not_here(node: &Node, id: &str) -> Result<String> {
    let Some((status, reason, seen)) = node.spool.history_seen(id)? else {
        return Ok(format!(
            "no article {id} on this node (never seen here: not yet synced, or not in a group it carries)"
        ));
    };
    let day = chrono::DateTime::from_timestamp(seen, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "an unknown date".into());
    Ok(match status.as_str() {
        "cancelled" if reason.is_empty() => {
            format!("{id} was cancelled by its author (first seen here {day}); it is not kept")
        }
        "cancelled" => format!(
            "{id} was cancelled by its author (key {reason}; first seen here {day}); it is not kept"
        ),
        "expired" => format!(
            "{id} expired here: removed by `newsmesh expire` under its group's retention \
             (arrived {day}); history keeps the id so it does not come back"
        ),
        "refused" => format!("{id} was refused here on {day}: {reason}"),
        // Stored by history but not in the spool: removed between the two reads.
        _ => format!("no article {id} on this node (history says {status})"),
    })
}
