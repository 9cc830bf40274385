//! Per-peer sync marks: how far we have pulled from a neighbour (in its arrival sequence,
//! tied to its spool epoch) and how far we have offered it our own arrivals.

use rusqlite::{params, OptionalExtension};

use super::{Spool, SpoolError};

/// The marks held for one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMarks {
    /// The neighbour's spool epoch the pull mark belongs to ("" = never pulled).
    pub pull_epoch: String,
    /// Its last arrival sequence whose articles we hold or refused.
    pub pull_seq: i64,
    /// Our own arrival sequence up to which we have offered it everything.
    pub push_seq: i64,
    /// The next pull asks for a full listing ("came from it" filter off): first contact, or our
    /// spool was rebuilt.
    pub pull_full: bool,
    /// The peer's spool was rebuilt: our arrivals up to here are offered to it even
    /// when their Path names it.
    pub resync_through: i64,
}

impl Default for PeerMarks {
    fn default() -> Self {
        PeerMarks {
            pull_epoch: String::new(),
            pull_seq: 0,
            push_seq: 0,
            pull_full: true,
            resync_through: 0,
        }
    }
}

impl Spool {
    /// Marks for `peer` (all zero when never synced).
    pub fn marks(&self, peer: &str) -> Result<PeerMarks, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT pull_epoch, pull_seq, push_seq, pull_full, resync_through
                 FROM peer_marks WHERE peer = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![peer], |r| {
                    Ok(PeerMarks {
                        pull_epoch: r.get(0)?,
                        pull_seq: r.get(1)?,
                        push_seq: r.get(2)?,
                        pull_full: r.get(3)?,
                        resync_through: r.get(4)?,
                    })
                })
                .optional()
            })
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    /// Saves marks for `peer`.
    pub fn set_marks(&mut self, peer: &str, marks: &PeerMarks) -> Result<(), SpoolError> {
        self.upsert_marks(
            peer,
            marks,
            "pull_epoch = ?2, pull_seq = ?3, push_seq = ?4, pull_full = ?5, resync_through = ?6",
        )
    }

    /// Inserts `marks` for a peer that has none yet, or applies `update` (an SQL `SET`
    /// list over the parameters ?2..?6 = the fields of `marks`) to the existing row: one
    /// statement for the three ways marks are saved.
    fn upsert_marks(
        &mut self,
        peer: &str,
        marks: &PeerMarks,
        update: &'static str,
    ) -> Result<(), SpoolError> {
        let sql = format!(
            "INSERT INTO peer_marks (peer, pull_epoch, pull_seq, push_seq, pull_full, resync_through)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(peer) DO UPDATE SET {update}"
        );
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.execute(params![
                    peer,
                    marks.pull_epoch,
                    marks.pull_seq,
                    marks.push_seq,
                    marks.pull_full,
                    marks.resync_through
                ])
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

impl Spool {
    /// Advances `peer`'s push mark to `seq`, never backwards: `sync` and `serve`'s live
    /// relay may push to the same peer at once, and the later of their acknowledgements
    /// must win whichever writes last. The pull side of the marks is left as it is.
    pub fn advance_push_mark(&mut self, peer: &str, seq: i64) -> Result<(), SpoolError> {
        let fresh = PeerMarks {
            push_seq: seq,
            ..PeerMarks::default()
        };
        self.upsert_marks(peer, &fresh, "push_seq = MAX(push_seq, ?4)")
    }

    /// Saves the pull side of `marks` (epoch, sequence, full listing, resync point) and
    /// leaves the push mark to whoever pushes (see [`Spool::advance_push_mark`]).
    pub fn set_pull_marks(&mut self, peer: &str, marks: &PeerMarks) -> Result<(), SpoolError> {
        self.upsert_marks(
            peer,
            marks,
            "pull_epoch = ?2, pull_seq = ?3, pull_full = ?5, resync_through = ?6",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_spool;
    use super::*;

    #[test]
    fn marks_round_trip() {
        let (_dir, mut spool) = temp_spool();
        assert_eq!(spool.marks("beta").unwrap(), PeerMarks::default());
        let m = PeerMarks {
            pull_epoch: "e1".into(),
            pull_seq: 7,
            push_seq: 9,
            pull_full: false,
            resync_through: 3,
        };
        spool.set_marks("beta", &m).unwrap();
        assert_eq!(spool.marks("beta").unwrap(), m);
    }

    #[test]
    fn the_push_mark_never_goes_back_and_a_pull_save_leaves_it_alone() {
        let (_dir, mut spool) = temp_spool();
        spool.advance_push_mark("beta", 9).unwrap();
        assert_eq!(spool.marks("beta").unwrap().push_seq, 9);
        // A slower pusher acknowledging less does not move it back.
        spool.advance_push_mark("beta", 4).unwrap();
        assert_eq!(spool.marks("beta").unwrap().push_seq, 9);
        // A pull that read the marks before the push advanced them saves its side only.
        let stale = PeerMarks {
            pull_epoch: "e1".into(),
            pull_seq: 7,
            push_seq: 2,
            pull_full: false,
            resync_through: 0,
        };
        spool.set_pull_marks("beta", &stale).unwrap();
        let now = spool.marks("beta").unwrap();
        assert_eq!((now.pull_seq, now.push_seq), (7, 9));
    }
}
