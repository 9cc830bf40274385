//! IHAVE (RFC 3977 §6.3.2): one article per round trip, for a plain news server or a
//! peer that does not stream. The answer to the stored article is the verdict's
//! ([`Verdict::answer`]); before it, 435/436 say whether to send at all.

use std::sync::Arc;
use std::time::Instant;

use super::log_unread;
use crate::ingest::{ingest_offered, Offered, Rules, Verdict};
use crate::net::NetError;
use crate::server::session::Session;

/// RFC 3977 IHAVE: one article per round trip.
pub(in crate::server) async fn ihave(s: &mut Session, id: String) -> Result<(), NetError> {
    let Some(feeder) = s.feeder() else {
        // Most likely a news server (INN) that this node was not told about.
        let hint = crate::server::hints::unlisted_feeder(s.addr.ip());
        tracing::warn!("{hint}");
        s.reply(480, &format!("authenticate first (MESH HELLO); {hint}"));
        return Ok(());
    };
    if s.shared.guards.spool.refusing(Instant::now()) {
        s.reply(436, "no room in the spool, try again later");
        return Ok(());
    }
    let probe = id.clone();
    let seen = s
        .shared
        .with_spool(move |_, spool| Ok(spool.seen(&probe)?))
        .await;
    let busy = {
        let mut in_flight = s.shared.in_flight();
        s.shared
            .guards
            .reservations()
            .held_by_other(&mut in_flight, &id, s.id, Instant::now())
    };
    match seen {
        Ok(true) => {
            s.reply(435, "already have it");
            return Ok(());
        }
        Ok(false) if busy => {
            s.reply(436, "another peer is sending it, try again later");
            return Ok(());
        }
        Ok(false) => s.reply(335, "send it; end with <CR-LF>.<CR-LF>"),
        Err(e) => {
            tracing::error!("spool failure: {e}");
            s.reply(436, "transfer not possible, try again later");
            return Ok(());
        }
    }
    let body = match s
        .conn
        .read_block(s.live.config.limits.max_article_bytes)
        .await
    {
        Ok(body) => body,
        Err(NetError::Protocol(e)) => {
            s.refused += 1;
            let why = e.to_string();
            s.reply(437, &why);
            let _ = s
                .shared
                .with_spool(move |shared, _| {
                    log_unread(shared.news_log.as_ref(), &feeder.source(), &id, &why);
                    Ok(())
                })
                .await;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let live = Arc::clone(&s.live);
    let verdict = s
        .shared
        .with_spool(move |shared, spool| {
            let rules = Rules::new(&live.config, &live.trust, shared.news_log.as_ref())
                .for_source(feeder.source());
            let verdict = ingest_offered(spool, &rules, &[(&id, &body)])?.pop();
            Ok(verdict.map(|v| (v.answer(Offered::Ihave, &id), v)))
        })
        .await;
    match verdict {
        Ok(Some((answer, verdict))) => {
            match verdict {
                Verdict::Stored(_) => {
                    s.shared.guards.spool.room();
                    s.received += 1;
                }
                Verdict::Refused(_) => s.refused += 1,
                Verdict::Duplicate | Verdict::Deferred(_) => {}
            }
            answer.write(s.conn.out());
        }
        Err(e) if e.is_spool_full() => {
            s.shared.guards.spool.full(Instant::now());
            s.reply(436, "no room in the spool, try again later");
        }
        Ok(None) | Err(_) => s.reply(436, "transfer failed, try again later"),
    }
    Ok(())
}
