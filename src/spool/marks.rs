//! Per-peer sync marks: how far we have pulled from a neighbour (in its arrival sequence,
//! tied to its spool epoch) and how far we have offered it our own arrivals.

use rusqlite::{params, OptionalExtension};

use super::{Spool, SpoolError};

/// The marks held for one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMarks {
    /// The neighbour's spool epoch the pull mark belongs to ("" = never pulled).
    pub pull_epoch: String,
    /// Its last arrival sequence whose articles we hold or refused.
    pub pull_seq: i64,
    /// Our own arrival sequence up to which we have offered it everything.
    pub push_seq: i64,
}

impl Spool {
    /// Marks for `peer` (all zero when never synced).
    pub fn marks(&self, peer: &str) -> Result<PeerMarks, SpoolError> {
        self.conn
            .prepare_cached("SELECT pull_epoch, pull_seq, push_seq FROM peer_marks WHERE peer = ?1")
            .and_then(|mut s| {
                s.query_row(params![peer], |r| {
                    Ok(PeerMarks {
                        pull_epoch: r.get(0)?,
                        pull_seq: r.get(1)?,
                        push_seq: r.get(2)?,
                    })
                })
                .optional()
            })
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    /// Saves marks for `peer`.
    pub fn set_marks(&mut self, peer: &str, marks: &PeerMarks) -> Result<(), SpoolError> {
        self.conn
            .prepare_cached(
                "INSERT INTO peer_marks (peer, pull_epoch, pull_seq, push_seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(peer) DO UPDATE SET pull_epoch = ?2, pull_seq = ?3, push_seq = ?4",
            )
            .and_then(|mut s| s.execute(params![peer, marks.pull_epoch, marks.pull_seq, marks.push_seq]))
            .map(|_| ())
            .map_err(|e| self.err(e))
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
        };
        spool.set_marks("beta", &m).unwrap();
        assert_eq!(spool.marks("beta").unwrap(), m);
    }
}
