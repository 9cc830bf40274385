//! The neighbour feed policy: which of our arrivals a neighbour is offered, whether we
//! push them (`sync/push.rs`, also to plain news servers), list them for its pull
//! (`MESH SINCE` in `server/feed.rs`) or write them for it to a sneakernet batch
//! (`cli/sneakernet.rs`). It sits below all of those so that the three agree: a rule
//! about what a neighbour gets is written once.
//!
//! An arrival goes to a neighbour when its groups match the neighbour's feed pattern
//! (like INN's newsfeeds) and the neighbour does not have it already.

use crate::wildmat::Wildmat;

/// Most Message-IDs one `MESH SINCE` listing holds: what the client asks for and what
/// the server grants at most, so one listing is bounded on both sides.
pub const MAX_SINCE: u32 = 10_000;

/// The epoch token of `MESH SINCE` asking for a full listing from a sequence, with no
/// "has it already" filter: first contact, or after a rebuild on either side (a rebuilt
/// spool may have lost what it once had).
pub const FULL_LISTING: &str = "none";

/// Whether one of an article's groups (comma-separated) matches a neighbour's feed
/// pattern.
pub fn feed_matches(feed: &Wildmat, newsgroups: &str) -> bool {
    newsgroups.split(',').any(|g| feed.matches(g.trim()))
}

/// Whether a Path (`a!b!c`) names `node`: it has the article already.
pub fn path_names(path: &str, node: &str) -> bool {
    path.split('!').any(|hop| hop.trim() == node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_matches_when_any_group_does() {
        let feed = Wildmat::new("mesh.*,!mesh.private");
        assert!(feed_matches(&feed, "mesh.test"));
        assert!(feed_matches(&feed, "other.group, mesh.test"));
        assert!(!feed_matches(&feed, "mesh.private"));
        assert!(!feed_matches(&feed, "other.group"));
    }
}
