//! How each neighbour is doing (schema 006): `sync` records every exchange's result
//! here, `serve` every session a neighbour opened to us (the only news of a passive
//! peer), and `newsmesh status` shows the last ones, the last success and the totals, so
//! an operator (or a monitoring script) sees a neighbour going quiet.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{Spool, SpoolError};

/// The result of one sync with one neighbour: what `sync` counts while it runs (inside
/// its `PeerReport`), prints on the peer's line, records here, and `status --json` shows
/// as `last_sync` (serialised as-is, plus its `status` word).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    /// Unix seconds it ended.
    pub at: i64,
    /// Why it failed; None when it succeeded.
    pub error: Option<String>,
    /// Articles whose bodies we sent and the neighbour stored.
    pub sent: u64,
    /// Articles whose bodies we received and stored.
    pub received: u64,
    /// Articles either side turned down.
    pub refused: u64,
    /// Bytes on the wire, both directions.
    pub bytes: u64,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

impl SyncOutcome {
    /// True when the exchange completed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// `ok` or `failed`: the `status=` of the `sync` line and of `status --json`.
    pub fn status(&self) -> &'static str {
        if self.ok() {
            "ok"
        } else {
            "failed"
        }
    }
}

/// Totals over a neighbour's syncs (`status --json` shows them as-is as `totals`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncTotals {
    /// Syncs since the first.
    pub syncs: u64,
    /// How many of them failed.
    pub failures: u64,
    /// Articles sent.
    pub sent: u64,
    /// Articles received.
    pub received: u64,
    /// Articles refused (either side).
    pub refused: u64,
    /// Bytes on the wire.
    pub bytes: u64,
}

/// What the spool remembers of a neighbour's syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSyncs {
    /// The last sync.
    pub last: SyncOutcome,
    /// Unix seconds of the last sync that succeeded (None: none has).
    pub last_ok_at: Option<i64>,
    /// Totals over every sync since the first.
    pub totals: SyncTotals,
}

/// The sessions a neighbour opened to our `serve` (its own syncs, an INN feed);
/// `status --json` shows them as-is as `inbound`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeerInbound {
    /// Unix seconds its last session ended.
    pub at: i64,
    /// Sessions since the first.
    pub sessions: u64,
    /// Articles it fed us that we stored, in total.
    pub received: u64,
    /// Articles it fed us that we refused, in total.
    pub refused: u64,
}

/// SQLite integers are signed; counters saturate rather than wrap.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
}

impl Spool {
    /// Records one sync with `peer` and adds it to the totals (one statement).
    pub fn record_sync(&mut self, peer: &str, o: &SyncOutcome) -> Result<(), SpoolError> {
        let ok = o.ok();
        self.conn
            .prepare_cached(
                "INSERT INTO peer_syncs (peer, last_at, last_ok, last_error, last_sent,
                     last_received, last_refused, last_bytes, last_ms, last_ok_at,
                     syncs, failures, sent, received, refused, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?3 THEN ?2 END,
                     1, NOT ?3, ?5, ?6, ?7, ?8)
                 ON CONFLICT(peer) DO UPDATE SET
                     last_at = ?2, last_ok = ?3, last_error = ?4, last_sent = ?5,
                     last_received = ?6, last_refused = ?7, last_bytes = ?8, last_ms = ?9,
                     last_ok_at = CASE WHEN ?3 THEN ?2 ELSE last_ok_at END,
                     syncs = syncs + 1, failures = failures + NOT ?3,
                     sent = sent + ?5, received = received + ?6, refused = refused + ?7,
                     bytes = bytes + ?8",
            )
            .and_then(|mut s| {
                s.execute(params![
                    peer,
                    o.at,
                    ok,
                    o.error.as_deref().unwrap_or(""),
                    int(o.sent),
                    int(o.received),
                    int(o.refused),
                    int(o.bytes),
                    int(o.ms),
                ])
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records the end of a session `peer` opened to our `serve` (one statement).
    pub fn record_inbound(
        &mut self,
        peer: &str,
        at: i64,
        received: u64,
        refused: u64,
    ) -> Result<(), SpoolError> {
        self.conn
            .prepare_cached(
                "INSERT INTO peer_inbound (peer, last_at, sessions, received, refused)
                 VALUES (?1, ?2, 1, ?3, ?4)
                 ON CONFLICT(peer) DO UPDATE SET last_at = ?2, sessions = sessions + 1,
                     received = received + ?3, refused = refused + ?4",
            )
            .and_then(|mut s| s.execute(params![peer, at, int(received), int(refused)]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// What is remembered of the sessions `peer` opened to us (None: none yet).
    pub fn peer_inbound(&self, peer: &str) -> Result<Option<PeerInbound>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT last_at, sessions, received, refused FROM peer_inbound WHERE peer = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![peer], |r| {
                    Ok(PeerInbound {
                        at: r.get(0)?,
                        sessions: count(r, 1)?,
                        received: count(r, 2)?,
                        refused: count(r, 3)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// What is remembered of `peer`'s syncs (None: never synced).
    pub fn peer_syncs(&self, peer: &str) -> Result<Option<PeerSyncs>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT last_at, last_ok, last_error, last_sent, last_received, last_refused,
                        last_bytes, last_ms, last_ok_at, syncs, failures, sent, received,
                        refused, bytes
                 FROM peer_syncs WHERE peer = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![peer], |r| {
                    let ok: bool = r.get(1)?;
                    let error: String = r.get(2)?;
                    Ok(PeerSyncs {
                        last: SyncOutcome {
                            at: r.get(0)?,
                            error: (!ok).then_some(error),
                            sent: count(r, 3)?,
                            received: count(r, 4)?,
                            refused: count(r, 5)?,
                            bytes: count(r, 6)?,
                            ms: count(r, 7)?,
                        },
                        last_ok_at: r.get(8)?,
                        totals: SyncTotals {
                            syncs: count(r, 9)?,
                            failures: count(r, 10)?,
                            sent: count(r, 11)?,
                            received: count(r, 12)?,
                            refused: count(r, 13)?,
                            bytes: count(r, 14)?,
                        },
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_spool;
    use super::*;

    #[test]
    fn results_are_kept_and_totals_accumulate() {
        let (_dir, mut spool) = temp_spool();
        assert_eq!(spool.peer_syncs("beta").unwrap(), None);
        let ok = SyncOutcome {
            at: 100,
            error: None,
            sent: 2,
            received: 3,
            refused: 1,
            bytes: 500,
            ms: 7,
        };
        spool.record_sync("beta", &ok).unwrap();
        let failed = SyncOutcome {
            at: 200,
            error: Some("connection refused".into()),
            bytes: 0,
            ms: 3,
            ..SyncOutcome::default()
        };
        spool.record_sync("beta", &failed).unwrap();
        spool
            .record_sync(
                "beta",
                &SyncOutcome {
                    at: 300,
                    ..ok.clone()
                },
            )
            .unwrap();
        spool
            .record_sync(
                "beta",
                &SyncOutcome {
                    at: 400,
                    ..failed.clone()
                },
            )
            .unwrap();
        let got = spool.peer_syncs("beta").unwrap().unwrap();
        assert_eq!(got.last, SyncOutcome { at: 400, ..failed });
        assert_eq!(got.last_ok_at, Some(300));
        assert_eq!(
            got.totals,
            SyncTotals {
                syncs: 4,
                failures: 2,
                sent: 4,
                received: 6,
                refused: 2,
                bytes: 1000
            }
        );
        assert_eq!(spool.peer_syncs("gamma").unwrap(), None);
    }

    #[test]
    fn inbound_sessions_are_kept_apart_from_our_syncs() {
        let (_dir, mut spool) = temp_spool();
        assert_eq!(spool.peer_inbound("nat").unwrap(), None);
        spool.record_inbound("nat", 100, 3, 1).unwrap();
        spool.record_inbound("nat", 200, 2, 0).unwrap();
        let got = spool.peer_inbound("nat").unwrap().unwrap();
        assert_eq!(
            got,
            PeerInbound {
                at: 200,
                sessions: 2,
                received: 5,
                refused: 1
            }
        );
        assert_eq!(spool.peer_syncs("nat").unwrap(), None);
    }
}
