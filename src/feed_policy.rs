//! The neighbour feed policy: which of our arrivals a neighbour is offered, whether we
//! push them (`sync/push.rs`, also to plain news servers), list them for its pull
//! (`MESH SINCE` in `server/feed/since.rs`) or write them for it to a sneakernet batch
//! (`cli/sneakernet.rs`). It sits below all of those so that the three agree: a rule
//! about what a neighbour gets is written once.
//!
//! An arrival goes to a neighbour when its groups match the neighbour's feed pattern
//! (like INN's newsfeeds) and did not come from that neighbour. Where it came from is a
//! local fact: `ingest` records the neighbour that delivered it (`delivered_by`). Path
//! is not signed (relays write it), so it decides nothing beyond its head entry, and
//! that only for arrivals with no record (an rnews import, a spool from before the
//! record): a relay that writes a neighbour's name into Path cannot keep the article
//! from that neighbour. Extra offers cost little: the neighbour answers "have it" (438)
//! by its history, and no body crosses twice.
//!
//! A governance article (membership, policy, moderators, revocation) is filed here in
//! the groups of its scope this node carries, else in `control.governance`; either way
//! it goes to every neighbour whose feed pattern meets its *scope*, so a node fed only
//! `club.*` receives `club.*`'s governance through a relay that carries no club group,
//! and every node that enforces a hierarchy hears its admins.

use crate::spool::Arrival;
use crate::wildmat::Wildmat;

/// Most Message-IDs one `MESH SINCE` listing holds: what the client asks for and what
/// the server grants at most, so one listing is bounded on both sides.
pub const MAX_SINCE: u32 = 10_000;

/// Arrivals one push offers per CHECK round, and the most articles (TAKETHIS) a `serve`
/// takes into one batch (one transaction): one number, so that each of the server's
/// batches is one offer, and while one offer is stored the next is on its way.
pub const MAX_OFFER: usize = 2000;

/// The epoch token of `MESH SINCE` asking for a full listing from a sequence, with no
/// "has it already" filter: first contact, or after a rebuild on either side (a rebuilt
/// spool may have lost what it once had).
pub const FULL_LISTING: &str = "none";

/// Whether one of an article's groups (comma-separated) matches a neighbour's feed
/// pattern.
pub fn feed_matches(feed: &Wildmat, newsgroups: &str) -> bool {
    feed.matches_any(newsgroups)
}

/// Whether our arrival goes to `neighbour`, whose feed pattern is `feed`: its groups
/// match, and it did not come from the neighbour, unless `resend` (the neighbour's spool
/// was rebuilt, or it asked for a full listing: it may have lost what it sent us). The
/// one rule of push (and of its backlog) and of `MESH SINCE`.
pub fn goes_to(
    arrival: &Arrival,
    neighbour: &str,
    feed: &Wildmat,
    own_name: &str,
    resend: bool,
) -> bool {
    (feed_matches(feed, &arrival.newsgroups) || governance_meets(feed, arrival))
        && (resend || !came_from(arrival, neighbour, own_name))
}

/// Whether `arrival` is a governance article whose scope meets the feed pattern (a
/// pattern that cannot be compared exactly counts as meeting it: an extra offer is
/// cheap, a node missing its admins' word is not).
pub fn governance_meets(feed: &Wildmat, arrival: &Arrival) -> bool {
    let Some(control) = &arrival.governance else {
        return false;
    };
    let Ok(Some(action)) = crate::governance::Action::parse(control) else {
        return false;
    };
    action.scope().patterns().iter().any(|pattern| {
        crate::governance::scope::Scope::wildmat_relation(feed, pattern)
            != crate::governance::scope::Relation::Disjoint
    })
}

/// Whether `neighbour` handed us this arrival (so it has it, and is not offered it
/// back). `own_name` is this node's Path identity.
pub fn came_from(arrival: &Arrival, neighbour: &str, own_name: &str) -> bool {
    delivered_by(arrival, own_name) == Some(neighbour)
}

/// The neighbour that handed us an arrival, as far as this node knows: the one `ingest`
/// recorded, else the relay just before us in its Path (an import, or an arrival from
/// before schema 7). Never an entry deeper in Path: those are claims of other relays.
pub fn delivered_by<'a>(arrival: &'a Arrival, own_name: &str) -> Option<&'a str> {
    match &arrival.delivered_by {
        Some(neighbour) => Some(neighbour),
        None => last_relay(&arrival.path, own_name),
    }
}

/// The head of a stored Path below our own name (which `ingest` puts first): the relay
/// that handed the article on last before us.
fn last_relay<'a>(path: &'a str, own_name: &str) -> Option<&'a str> {
    let mut hops = path.split('!').map(str::trim).filter(|h| !h.is_empty());
    match hops.next()? {
        first if first == own_name => hops.next(),
        first => Some(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(path: &str, delivered_by: Option<&str>) -> Arrival {
        Arrival {
            seq: 1,
            msgid: "<a@x>".into(),
            path: path.into(),
            newsgroups: "mesh.test".into(),
            delivered_by: delivered_by.map(str::to_string),
            posted: 0,
            governance: None,
        }
    }

    #[test]
    fn governance_goes_where_its_scope_meets_the_feed_whatever_it_is_filed_in() {
        let key = crate::sign::public_key_text(
            &ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
        );
        let mut a = arrival("beta!alpha!not-for-mail", Some("alpha"));
        a.newsgroups = "control.governance".into();
        a.governance = Some(format!("member add club.* {key}"));
        let club = Wildmat::new("club.*");
        assert!(goes_to(&a, "carol", &club, "beta", false));
        assert!(goes_to(&a, "carol", &Wildmat::new("club.a"), "beta", false));
        assert!(goes_to(&a, "carol", &Wildmat::new("*"), "beta", false));
        assert!(!goes_to(
            &a,
            "carol",
            &Wildmat::new("mesh.*"),
            "beta",
            false
        ));
        assert!(!goes_to(&a, "alpha", &club, "beta", false), "not back");
        // A revocation over the whole node meets every feed.
        a.governance = Some(format!("revoke {key} compromised *"));
        assert!(goes_to(&a, "carol", &Wildmat::new("mesh.*"), "beta", false));
        // Not governance: only its groups count.
        a.governance = None;
        assert!(!goes_to(&a, "carol", &club, "beta", false));
    }

    #[test]
    fn the_recorded_deliverer_decides_not_the_names_in_path() {
        // Delivered by gamma, whose Path (unsigned) also claims carol and dave have it.
        let a = arrival("beta!gamma!carol!dave!not-for-mail", Some("gamma"));
        assert!(came_from(&a, "gamma", "beta"));
        for other in ["carol", "dave", "beta", "not-for-mail"] {
            assert!(!came_from(&a, other, "beta"), "{other}");
        }
        // A deliverer that put another name at the head of Path does not hide the
        // article from that name either: the record wins.
        let spoofed = arrival("beta!carol!not-for-mail", Some("gamma"));
        assert!(!came_from(&spoofed, "carol", "beta"));
        assert!(came_from(&spoofed, "gamma", "beta"));
    }

    #[test]
    fn without_a_record_only_the_head_of_path_counts() {
        // Imported from gamma's rnews batch, or stored before schema 7.
        let a = arrival("beta!gamma!carol!not-for-mail", None);
        assert_eq!(delivered_by(&a, "beta"), Some("gamma"));
        assert!(came_from(&a, "gamma", "beta"));
        assert!(!came_from(&a, "carol", "beta"));
        // Posted here: nobody delivered it.
        let local = arrival("beta!not-for-mail", None);
        assert!(!came_from(&local, "gamma", "beta"));
        // A Path that (oddly) does not start with our own name: its head is the relay.
        assert_eq!(
            delivered_by(&arrival(" gamma ! carol", None), "beta"),
            Some("gamma")
        );
        assert_eq!(delivered_by(&arrival("", None), "beta"), None);
        assert_eq!(delivered_by(&arrival("beta", None), "beta"), None);
    }

    #[test]
    fn an_arrival_goes_where_the_feed_wants_it_except_back() {
        let feed = Wildmat::new("mesh.*");
        let a = arrival("beta!gamma!carol!not-for-mail", Some("gamma"));
        assert!(goes_to(&a, "carol", &feed, "beta", false));
        assert!(!goes_to(&a, "gamma", &feed, "beta", false));
        // Its spool was rebuilt: it gets even what it sent us.
        assert!(goes_to(&a, "gamma", &feed, "beta", true));
        // Not in its feed: never.
        assert!(!goes_to(
            &a,
            "carol",
            &Wildmat::new("other.*"),
            "beta",
            true
        ));
    }

    #[test]
    fn a_feed_matches_when_any_group_does() {
        let feed = Wildmat::new("mesh.*,!mesh.private");
        assert!(feed_matches(&feed, "mesh.test"));
        assert!(feed_matches(&feed, "other.group, mesh.test"));
        assert!(!feed_matches(&feed, "mesh.private"));
        assert!(!feed_matches(&feed, "other.group"));
    }
}
