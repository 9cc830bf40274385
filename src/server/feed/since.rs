//! `MESH SINCE epoch seq limit`: the ids of our arrivals after `seq` that the asking peer
//! should have (the feed policy's filters), as one block. Which arrivals and what the
//! answer says are [`start_of`] and [`listing`], pure functions tested here; the
//! command itself only reads the spool between them.

use crate::error::Error;
use crate::feed_policy::{goes_to, FULL_LISTING, MAX_SINCE};
use crate::net::NetError;
use crate::protocol::Response;
use crate::server::session::Session;
use crate::spool::Arrival;

/// Answers `MESH SINCE` (293 and the block of ids).
pub(super) async fn since(
    s: &mut Session,
    epoch: String,
    seq: u64,
    limit: u32,
) -> Result<(), NetError> {
    let Some((peer, feed)) = super::proved_peer(s) else {
        return Ok(());
    };
    let limit = limit.clamp(1, MAX_SINCE) as usize;
    // Our sequence numbers are SQLite's i64: a larger one is none of ours (and `as`
    // would wrap it to a negative start, listing everything).
    let Ok(seq) = i64::try_from(seq) else {
        s.reply(501, "sequence number out of range");
        return Ok(());
    };
    // Not listed: what our own date window would refuse (`admission::age`).
    let age = crate::admission::AgeLimits::from_config(&s.live.config);
    let now = crate::clock::now();
    let answer = s
        .shared
        .with_spool(move |shared, spool| {
            let Some((start, full)) = start_of(&epoch, &shared.epoch, seq) else {
                // The client restarts its marks on seeing the new epoch and never reads
                // this answer's ids: send none (it reconciles or lists next).
                return Ok(Listing::stale().answer(&shared.epoch));
            };
            let arrivals = spool.arrivals_since(start, limit)?;
            let listed = listing(&arrivals, start, limit, |a| {
                goes_to(a, &peer, &feed, &shared.name, full) && age.listable(a.posted, now)
            });
            Ok::<_, Error>(listed.answer(&shared.epoch))
        })
        .await;
    match answer {
        Ok(answer) => answer.write(s.conn.out()),
        Err(e) => {
            tracing::error!("spool failure: {e}");
            s.reply(403, "internal fault, try again later");
        }
    }
    Ok(())
}

/// Where a listing starts, and whether it is a full one. [`FULL_LISTING`] ("none") asks
/// for a full listing from `seq` (first contact, or the client's spool was rebuilt): no
/// "came from it" filter, it may have lost what it once sent us. A stale epoch means
/// OUR spool was rebuilt: None, no listing (the client notices the new epoch).
pub(super) fn start_of(asked: &str, ours: &str, seq: i64) -> Option<(i64, bool)> {
    let full = asked == FULL_LISTING;
    (full || asked == ours).then_some((seq, full))
}

/// One listing: the ids to send, through which arrival it looked, whether more follow.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Listing {
    /// The ids, one per CRLF-ended line.
    pub(super) block: Vec<u8>,
    /// The last arrival examined (`start` when there was none).
    pub(super) through: i64,
    /// Whether the listing stopped at its limit.
    pub(super) more: bool,
}

impl Listing {
    /// The answer to a stale epoch: no ids, through 0, more to come.
    pub(super) fn stale() -> Listing {
        Listing {
            block: Vec::new(),
            through: 0,
            more: true,
        }
    }

    /// `293 epoch through more` with the block.
    pub(super) fn answer(self, epoch: &str) -> Response {
        let text = format!("{epoch} {} {}", self.through, u8::from(self.more));
        Response::with_block(293, text, self.block)
    }
}

/// The listing of `arrivals` (at most `limit`, read from `start`) that `wanted` keeps.
pub(super) fn listing(
    arrivals: &[Arrival],
    start: i64,
    limit: usize,
    wanted: impl Fn(&Arrival) -> bool,
) -> Listing {
    let mut block = Vec::new();
    for a in arrivals.iter().filter(|a| wanted(a)) {
        block.extend_from_slice(a.msgid.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    Listing {
        block,
        through: arrivals.last().map_or(start, |a| a.seq),
        more: arrivals.len() == limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(seq: i64, id: &str) -> Arrival {
        Arrival {
            seq,
            msgid: id.into(),
            path: "a!not-for-mail".into(),
            newsgroups: "mesh.test".into(),
            delivered_by: None,
            posted: 0,
            governance: None,
        }
    }

    #[test]
    fn a_stale_epoch_lists_nothing_and_none_asks_for_everything() {
        assert_eq!(start_of("e1", "e1", 40), Some((40, false)));
        assert_eq!(start_of("e0", "e1", 40), None);
        assert_eq!(start_of(FULL_LISTING, "e1", 40), Some((40, true)));
        let r = Listing::stale().answer("e1");
        assert_eq!((r.code, r.text.as_str()), (293, "e1 0 1"));
        assert_eq!(r.block, Some(Vec::new()));
    }

    #[test]
    fn a_listing_says_how_far_it_looked_and_whether_more_follow() {
        let arrivals = [arrival(5, "<a@x>"), arrival(6, "<b@x>")];
        let all = listing(&arrivals, 4, 2, |_| true);
        assert_eq!(all.block, b"<a@x>\r\n<b@x>\r\n");
        assert_eq!((all.through, all.more), (6, true));
        // Filtered out, still looked at: the client's mark passes it.
        let some = listing(&arrivals, 4, 3, |a| a.seq == 5);
        assert_eq!(some.block, b"<a@x>\r\n");
        assert_eq!((some.through, some.more), (6, false));
        let none = listing(&[], 9, 3, |_| true);
        let r = none.answer("e1");
        assert_eq!((r.code, r.text.as_str()), (293, "e1 9 0"));
        assert_eq!(r.block, Some(Vec::new()));
    }
}
