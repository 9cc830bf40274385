//! The dialling side of one connection to a neighbour, shared by the mesh exchange and
//! the plain-NNTP feed: connecting within the timeouts, the greeting, one command and
//! its answer, the overall deadline of a session, and hanging up (QUIT, byte count).

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpStream;

use super::PeerReport;
use crate::config::LimitsConfig;
use crate::error::{Error, Result};
use crate::net::{Conn, NetError};
use crate::protocol::{parse_response, Command, Response, MAX_RESPONSE_LINE};

/// Sends `command` and reads its one-line answer.
pub(super) async fn command(conn: &mut Conn, command: &Command) -> Result<Response> {
    command.write(conn.out());
    response(conn).await
}

/// Reads one response line.
pub(super) async fn response(conn: &mut Conn) -> Result<Response> {
    let line = conn.read_line(MAX_RESPONSE_LINE).await?;
    parse_response(&line).map_err(|e| Error::Network(NetError::Protocol(e)))
}

/// Fails unless `r` has status `code`.
pub(super) fn expect(r: &Response, code: u16, what: &str) -> Result<()> {
    if r.code == code {
        Ok(())
    } else {
        Err(Error::Peer(format!(
            "{what}: peer answered {} {}",
            r.code, r.text
        )))
    }
}

/// Reads the greeting; fails unless the server is willing to talk (200 or 201). The
/// name a newsmesh node greets with (`200 newsmesh NAME ready`), if it is one.
pub(super) async fn greeting(conn: &mut Conn) -> Result<Option<String>> {
    let r = response(conn).await?;
    if r.code == 200 || r.code == 201 {
        let mut words = r.text.split_whitespace();
        Ok((words.next() == Some("newsmesh"))
            .then(|| words.next().map(str::to_string))
            .flatten())
    } else {
        Err(Error::Peer(format!(
            "peer refused the connection: {} {}",
            r.code, r.text
        )))
    }
}

/// The end of one peer's session: every step of it, dialling included, must be done by
/// then. Per-answer timeouts alone cannot end a session whose peer always answers (with
/// "more" forever, say); this can, and cron's next run then finds the lock free.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    /// `limits.sync_deadline_secs` from now.
    pub(super) fn start(limits: &LimitsConfig) -> Deadline {
        let limit = Duration::from_secs(limits.sync_deadline_secs);
        Deadline {
            at: tokio::time::Instant::now() + limit,
            limit,
        }
    }

    /// Runs `work`, or fails when the deadline passes first. The work is dropped at one
    /// of its awaits (a network read or write): spool writes are synchronous, so every
    /// transaction, and every mark advanced after one, is either done or not begun.
    pub(super) async fn bound<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout_at(self.at, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Peer(format!(
                "gave up: the exchange took longer than its deadline of {}s \
                 (limits.sync_deadline_secs); what was stored so far is kept",
                self.limit.as_secs()
            ))),
        }
    }
}

/// Connects to a neighbour's address within the configured timeouts.
pub(super) async fn dial(name: &str, address: Option<&str>, limits: &LimitsConfig) -> Result<Conn> {
    let address = address.ok_or_else(|| Error::Invalid(format!("peer {name} has no address")))?;
    let connect = Duration::from_secs(limits.connect_timeout_secs);
    let stream = tokio::time::timeout(connect, TcpStream::connect(address))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("timed out after {connect:?}"),
            )
        })
        .and_then(|connected| connected)
        .map_err(|source| Error::Dial {
            address: address.to_string(),
            source,
        })?;
    Ok(Conn::new(
        stream,
        Duration::from_secs(limits.io_timeout_secs),
    ))
}

/// Ends a session: QUIT when it went well, close, and count the bytes that crossed.
/// After a failure whatever is still queued is dropped unsent: the peer may be one that
/// never reads, and waiting for it would outlast the deadline.
pub(super) async fn hang_up(
    mut conn: Conn,
    result: Result<()>,
    report: &mut PeerReport,
) -> Result<()> {
    if result.is_ok() {
        let _ = command(&mut conn, &Command::Quit).await;
    } else {
        conn.out().clear();
    }
    conn.shutdown().await;
    report.outcome.bytes = conn.bytes_in() + conn.bytes_out();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection that fails keeps the transport's typed error (not a string, and
    /// not the variant for bad user input).
    #[tokio::test]
    async fn a_failed_connection_keeps_its_typed_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let limits = LimitsConfig::default();
        let mut conn = dial("b", Some(&address), &limits).await.unwrap();
        drop(listener.accept().unwrap());
        let closed = response(&mut conn).await.unwrap_err();
        assert!(
            matches!(closed, Error::Network(NetError::Closed)),
            "{closed:?}"
        );
        drop(listener);
        let refused = dial("b", Some(&address), &limits).await.unwrap_err();
        assert!(matches!(refused, Error::Dial { .. }), "{refused:?}");
        assert!(refused
            .to_string()
            .starts_with(&format!("connecting to {address}: ")));
    }

    #[tokio::test]
    async fn work_that_outlives_the_deadline_fails_saying_so() {
        let limits = LimitsConfig {
            sync_deadline_secs: 0,
            ..LimitsConfig::default()
        };
        let deadline = Deadline::start(&limits);
        let endless = std::future::pending::<Result<()>>();
        let error = deadline.bound(endless).await.unwrap_err().to_string();
        assert!(error.contains("sync_deadline_secs"), "{error}");
        let quick = Deadline::start(&LimitsConfig::default());
        assert_eq!(quick.bound(async { Ok(7) }).await.unwrap(), 7);
    }
}
