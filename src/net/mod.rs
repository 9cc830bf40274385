//! A buffered NNTP connection over tokio: reads lines and dot-terminated blocks with the
//! `protocol` framing (bounded, idle timeout), queues writes and flushes them in one go
//! (so pipelined commands and responses cost one syscall per batch), and counts the bytes
//! that cross the wire both ways (the `bytes=` of `sync`).
//!
//! The connection runs over plain TCP, TLS or DEFLATE ([`Stream`], in `stream.rs`: the
//! transport; this file is the framing above it); TLS is a layer under this
//! connection, switched on in place (`STARTTLS`, NNTPS, a mesh link) by
//! [`Conn::accept_tls`] / [`Conn::connect_tls`], and the protocol code above never knows
//! which it has, except to ask for the channel binding ([`Conn::export_keying_material`])
//! and the key the other side proved ([`Conn::peer_certificate`]). The byte counters sit
//! under TLS: they count what crosses the socket.
//!
//! Memory per connection is bounded by design: what is read but not yet taken is at
//! most one line or block plus the read-ahead of [`Conn::flush`] (see
//! [`Conn::set_read_ahead`]), and what is queued but not yet sent is the caller's to
//! bound with [`Conn::pending_output`] and [`Conn::flush_if_over`]: a server that answers
//! pipelined commands calls `flush_if_over(bound)` before it takes the next command, so
//! a client that sends without reading stops being read once its unsent answers pass the
//! bound, and is read again when they drain.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::protocol::{take_line, BlockScanner, ProtocolError};

mod stream;

pub use stream::{Stream, Wire};

/// Most unread bytes [`Conn::flush`] takes in while it waits to write.
pub const MAX_READ_AHEAD: usize = 8 * 1024 * 1024;
/// How much to read from the socket at once.
const READ_CHUNK: usize = 256 * 1024;

/// Failures on a connection.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The socket failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing arrived within the timeout.
    #[error("timed out after {0:?} waiting for the other side")]
    Timeout(Duration),
    /// The other side closed the connection.
    #[error("connection closed by the other side")]
    Closed,
    /// Framing error (line too long, block too large...).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The TLS handshake failed (wrong key, no common parameters, not TLS at all...).
    #[error("TLS: {0}")]
    Tls(String),
}

impl NetError {
    /// An I/O error, or the TLS error inside one, said plainly.
    fn from_io(e: io::Error) -> NetError {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(why))) => {
                NetError::Tls(why.to_string())
            }
            Some(rustls::Error::AlertReceived(alert)) => NetError::Tls(format!(
                "the other side ended the connection with alert {alert:?} \
                 (did it refuse our certificate, our node key?)"
            )),
            Some(other) => NetError::Tls(other.to_string()),
            None => NetError::Io(e),
        }
    }
}

/// A buffered connection.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    /// The peer's address, kept from the start (TLS owns the socket later).
    peer: Option<std::net::SocketAddr>,
    /// Our end's address.
    local: Option<std::net::SocketAddr>,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    /// How much of `wbuf` is already on the wire (a flush cancelled half-way resumes here
    /// instead of sending the same bytes twice).
    wpos: usize,
    /// Most unread bytes `flush` takes in while it waits to write.
    read_ahead: usize,
    /// How much to read from the socket at once (and so how large `rbuf` grows).
    read_chunk: usize,
    scanner: BlockScanner,
    timeout: Duration,
}

impl Conn {
    /// Wraps a connected stream; every read waits at most `timeout`.
    pub fn new(stream: TcpStream, timeout: Duration) -> Conn {
        let _ = stream.set_nodelay(true);
        Conn {
            peer: stream.peer_addr().ok(),
            local: stream.local_addr().ok(),
            stream: Stream::Plain(Wire::new(stream)),
            // Buffers start empty and shrink back after bursts: an idle connection
            // costs next to nothing.
            rbuf: Vec::new(),
            rpos: 0,
            wbuf: Vec::new(),
            wpos: 0,
            read_ahead: MAX_READ_AHEAD,
            read_chunk: READ_CHUNK,
            scanner: BlockScanner::new(),
            timeout,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.peer
    }

    /// Our end's address (the one the peer connected to).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.local
    }

    /// Bytes read from the socket so far (TLS records included).
    pub fn bytes_in(&self) -> u64 {
        self.stream.wire().map_or(0, |w| w.read)
    }

    /// Bytes written to the socket so far (TLS records included).
    pub fn bytes_out(&self) -> u64 {
        self.stream.wire().map_or(0, |w| w.written)
    }

    /// Changes the read timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sets how many unread bytes [`Conn::flush`] may take in while it waits to write
    /// (at most [`MAX_READ_AHEAD`]), and reads at most that much at once (between 4 KiB
    /// and 256 KiB). Pipelining peers need the full read-ahead so two of them never
    /// block each other; a connection that has not authenticated needs none of it, and a
    /// small value keeps what a stranger can make us buffer small.
    pub fn set_read_ahead(&mut self, bytes: usize) {
        self.read_ahead = bytes.min(MAX_READ_AHEAD);
        self.read_chunk = bytes.clamp(4096, READ_CHUNK);
    }

    /// True when unread bytes are buffered (the other side pipelined more).
    pub fn has_buffered(&self) -> bool {
        self.rpos < self.rbuf.len()
    }

    fn compact(&mut self) {
        if self.rpos > 0 && (self.rpos == self.rbuf.len() || self.rpos > self.read_chunk) {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 4 * self.read_chunk {
            self.rbuf = Vec::new();
        }
    }

    /// Reads more bytes from the socket (flushing pending writes first, so the other
    /// side is never waiting for something we hold).
    /// The whole of one line or block must arrive before `deadline`: a client trickling
    /// a byte at a time (slowloris) cannot hold a connection open forever.
    async fn fill(&mut self, deadline: tokio::time::Instant) -> Result<(), NetError> {
        let before = self.rbuf.len();
        self.flush().await?;
        if self.rbuf.len() > before {
            // The flush already took in new bytes: let the caller look at them first.
            return Ok(());
        }
        self.compact();
        self.rbuf.reserve(self.read_chunk);
        let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await;
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(NetError::from_io(e)),
            Err(_) => return Err(NetError::Timeout(self.timeout)),
        };
        if n == 0 {
            return Err(NetError::Closed);
        }
        Ok(())
    }

    /// Reads whatever the socket has ready without waiting; returns whether anything
    /// came. Lets a server take everything a peer has pipelined into one batch.
    pub fn fill_ready(&mut self) -> Result<bool, NetError> {
        self.compact();
        self.rbuf.reserve(self.read_chunk);
        // One poll that nobody waits on: whoever reads next registers its own waker.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match pin!(self.stream.read_buf(&mut self.rbuf)).poll(&mut cx) {
            Poll::Ready(Ok(n)) => Ok(n > 0),
            Poll::Ready(Err(e)) => Err(NetError::from_io(e)),
            Poll::Pending => Ok(false),
        }
    }

    /// Waits until the other side closes the connection (`Closed`), fails, or sends
    /// something (`Ok`): for a link that is quiet between commands, so a neighbour that
    /// went away is noticed at once instead of at the next command. Cancel-safe: what
    /// it reads stays buffered.
    pub async fn readable(&mut self) -> Result<(), NetError> {
        if self.has_buffered() {
            return Ok(());
        }
        self.compact();
        self.rbuf.reserve(self.read_chunk);
        match self.stream.read_buf(&mut self.rbuf).await {
            Ok(0) => Err(NetError::Closed),
            Ok(_) => Ok(()),
            Err(e) => Err(NetError::from_io(e)),
        }
    }

    /// A line already in the buffer, if any (never reads the socket).
    pub fn buffered_line(&mut self, max: usize) -> Result<Option<Vec<u8>>, NetError> {
        let buf = &self.rbuf[self.rpos..];
        match take_line(buf, max)? {
            Some((line, used)) => {
                let line = line.to_vec();
                self.rpos += used;
                Ok(Some(line))
            }
            None => Ok(None),
        }
    }

    /// Reads one line (without its terminator), at most `max` bytes.
    pub async fn read_line(&mut self, max: usize) -> Result<Vec<u8>, NetError> {
        let deadline = self.deadline();
        loop {
            if let Some(line) = self.buffered_line(max)? {
                return Ok(line);
            }
            self.fill(deadline).await?;
        }
    }

    /// Reads a dot-terminated block, unstuffed, at most `max` bytes of content. On
    /// `BlockTooLarge` the rest of the block is read and discarded, so the connection
    /// stays usable.
    pub async fn read_block(&mut self, max: usize) -> Result<Vec<u8>, NetError> {
        self.scanner.reset();
        let deadline = self.deadline();
        loop {
            match self.scanner.scan(&self.rbuf[self.rpos..], max) {
                Ok(Some((content, used))) => {
                    self.rpos += used;
                    return Ok(content);
                }
                Ok(None) => self.fill(deadline).await?,
                Err(e) => {
                    self.discard_block(deadline).await?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Skips a dot-terminated block without keeping it (a block we refuse unread), in
    /// bounded memory, within the read timeout.
    pub async fn skip_block(&mut self) -> Result<(), NetError> {
        let deadline = self.deadline();
        self.discard_block(deadline).await
    }

    /// Skips to just after the block terminator line, in bounded memory: an endless
    /// line is dropped as it arrives.
    async fn discard_block(&mut self, deadline: tokio::time::Instant) -> Result<(), NetError> {
        let mut mid_line = false;
        loop {
            let buf = &self.rbuf[self.rpos..];
            match buf.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    let line = &buf[..lf];
                    let terminator = !mid_line && (line == b"." || line == b".\r");
                    self.rpos += lf + 1;
                    mid_line = false;
                    if terminator {
                        return Ok(());
                    }
                }
                None => {
                    if buf.len() > 1024 {
                        self.rpos = self.rbuf.len();
                        mid_line = true;
                    }
                    self.fill(deadline).await?;
                }
            }
        }
    }

    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.timeout
    }

    /// Skips the rest of an over-long line, in bounded memory, so the connection can go
    /// on with the next command.
    pub async fn discard_line(&mut self) -> Result<(), NetError> {
        let deadline = self.deadline();
        loop {
            let buf = &self.rbuf[self.rpos..];
            if let Some(lf) = buf.iter().position(|&b| b == b'\n') {
                self.rpos += lf + 1;
                return Ok(());
            }
            self.rpos = self.rbuf.len();
            self.fill(deadline).await?;
        }
    }

    /// Bytes queued and not yet sent: what the other side has not taken from us.
    pub fn pending_output(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Sends everything queued when more than `bound` bytes are waiting; otherwise does
    /// nothing. Called before taking the next pipelined command, it is what stops a
    /// client that sends without reading from growing our write queue: its commands are
    /// not read again until its answers are on the wire.
    pub async fn flush_if_over(&mut self, bound: usize) -> Result<(), NetError> {
        if self.pending_output() > bound {
            self.flush().await?;
        }
        Ok(())
    }

    /// Queues bytes to send.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// The write queue, for writers that build in place.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    /// Sends everything queued.
    ///
    /// While it waits to write, it also reads what the other side sends (up to the
    /// read-ahead, [`MAX_READ_AHEAD`] unless [`Conn::set_read_ahead`] lowered it), so two
    /// pipelining peers can never both block on full socket buffers, however much each
    /// writes before reading. Cancel-safe: bytes already sent are not sent again.
    pub async fn flush(&mut self) -> Result<(), NetError> {
        if self.wpos == self.wbuf.len() && matches!(self.stream, Stream::Plain(_)) {
            // Nothing queued, and plain TCP holds nothing back: no need to poll.
            return self.clear_queue();
        }
        let deadline = self.deadline();
        let timeout = self.timeout;
        let flushed = tokio::time::timeout_at(
            deadline,
            std::future::poll_fn(|cx| self.poll_flush_reading(cx)),
        )
        .await;
        match flushed {
            Ok(Ok(())) => self.clear_queue(),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NetError::Timeout(timeout)),
        }
    }

    fn clear_queue(&mut self) -> Result<(), NetError> {
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > 4 * READ_CHUNK {
            self.wbuf = Vec::new();
        }
        Ok(())
    }

    /// One step of [`Conn::flush`]: writes what it can of the queue (then flushes what
    /// the TLS layer holds), and while writing would wait, reads what it can into the
    /// read-ahead. Ready when everything queued is on the wire.
    fn poll_flush_reading(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), NetError>> {
        loop {
            let write = if self.wpos < self.wbuf.len() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.wbuf[self.wpos..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()))
                    }
                    Poll::Ready(Ok(n)) => {
                        self.wpos += n;
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(NetError::from_io(e))),
                    Poll::Pending => Poll::Pending,
                }
            } else {
                Pin::new(&mut self.stream).poll_flush(cx)
            };
            match write {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(NetError::from_io(e))),
                Poll::Pending => {}
            }
            // Writing waits for the other side: read meanwhile, so that it never waits
            // for us to read while we wait for it to read.
            if self.rbuf.len() - self.rpos >= self.read_ahead {
                return Poll::Pending;
            }
            self.rbuf.reserve(self.read_chunk);
            match pin!(self.stream.read_buf(&mut self.rbuf)).poll(cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(NetError::Closed)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(NetError::from_io(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.tls().is_some()
    }

    /// Whether COMPRESS DEFLATE is on.
    pub fn is_compressed(&self) -> bool {
        matches!(self.stream, Stream::Deflated(_))
    }

    /// Compresses both directions from now on (after `206` to COMPRESS DEFLATE, RFC
    /// 8054): queued bytes (the `206`) go out uncompressed first, and what was read past
    /// the current line is compressed input already.
    pub async fn start_compression(&mut self) -> Result<(), NetError> {
        self.flush().await?;
        let pending = self.rbuf.split_off(self.rpos);
        let inner = std::mem::replace(&mut self.stream, Stream::Gone);
        self.stream = Stream::Deflated(Box::new(crate::deflate::Deflate::new(inner, pending)));
        Ok(())
    }

    /// The certificate the other side presented in the TLS handshake, if any.
    pub fn peer_certificate(&self) -> Option<rustls::pki_types::CertificateDer<'static>> {
        let tls = self.stream.tls()?;
        tls.get_ref().1.peer_certificates()?.first().cloned()
    }

    /// The ALPN protocol the TLS handshake agreed on, if any.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        let tls = self.stream.tls()?;
        tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// 32 bytes of TLS keying material for `label` (RFC 5705 / RFC 8446 section 7.5):
    /// the same on both ends of this TLS connection and on no other, so a proof that
    /// covers it cannot be relayed into another connection. None on plain TCP.
    pub fn export_keying_material(&self, label: &[u8]) -> Option<[u8; 32]> {
        match self.stream.tls()? {
            tokio_rustls::TlsStream::Client(c) => c
                .get_ref()
                .1
                .export_keying_material([0u8; 32], label, None)
                .ok(),
            tokio_rustls::TlsStream::Server(s) => s
                .get_ref()
                .1
                .export_keying_material([0u8; 32], label, None)
                .ok(),
        }
    }

    /// Takes the plain socket out for a TLS handshake: queued answers go out first (the
    /// `382` of STARTTLS), and whatever was read ahead is dropped: it came in the clear
    /// before the handshake, and RFC 4642 says it must not be taken as sent over TLS.
    async fn take_plain(&mut self) -> Result<Wire, NetError> {
        self.flush().await?;
        self.rbuf.clear();
        self.rpos = 0;
        match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(wire) => Ok(wire),
            other => {
                self.stream = other;
                Err(NetError::Tls(
                    "the connection already runs TLS (or compression)".into(),
                ))
            }
        }
    }

    /// Runs the server side of a TLS handshake on this connection (after `382` for
    /// STARTTLS, or at once on an NNTPS port), within the read timeout. `choose` picks
    /// the configuration from the client's hello (a mesh node names the mesh ALPN), or
    /// refuses it. A failed handshake leaves the connection unusable.
    pub async fn accept_tls<F>(&mut self, choose: F) -> Result<(), NetError>
    where
        F: FnOnce(&rustls::server::ClientHello<'_>) -> Result<Arc<rustls::ServerConfig>, String>,
    {
        let wire = self.take_plain().await?;
        let handshake = async {
            let start =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), wire)
                    .await
                    .map_err(NetError::from_io)?;
            let config = choose(&start.client_hello()).map_err(NetError::Tls)?;
            start.into_stream(config).await.map_err(NetError::from_io)
        };
        let tls = tokio::time::timeout_at(self.deadline(), handshake)
            .await
            .map_err(|_| NetError::Timeout(self.timeout))??;
        self.stream = Stream::Tls(Box::new(tls.into()));
        Ok(())
    }

    /// Runs the client side of a TLS handshake on this connection, within the read
    /// timeout. A failed handshake leaves the connection unusable.
    pub async fn connect_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> Result<(), NetError> {
        let wire = self.take_plain().await?;
        let handshake = tokio_rustls::TlsConnector::from(config).connect(name, wire);
        let tls = tokio::time::timeout_at(self.deadline(), handshake)
            .await
            .map_err(|_| NetError::Timeout(self.timeout))?
            .map_err(NetError::from_io)?;
        self.stream = Stream::Tls(Box::new(tls.into()));
        Ok(())
    }

    /// Closes the write side after flushing.
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected (server, client) pair over loopback, over TLS when `tls` (a mesh link
    /// between two node keys).
    async fn pair(tls: bool, timeout: Duration) -> (Conn, Conn) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (mut server, mut client) = (Conn::new(server, timeout), Conn::new(client, timeout));
        if tls {
            use crate::tls;
            let (a, b) = (
                ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
                ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
            );
            let (ia, ib) = (
                tls::node_identity(&a).unwrap(),
                tls::node_identity(&b).unwrap(),
            );
            let server_config = tls::mesh_server_config(&ia, vec![b.verifying_key()]).unwrap();
            let client_config = tls::mesh_client_config(&ib, a.verifying_key()).unwrap();
            let (s, c) = tokio::join!(
                server.accept_tls(|_| Ok(server_config)),
                client.connect_tls(client_config, tls::mesh_server_name())
            );
            s.unwrap();
            c.unwrap();
        }
        (server, client)
    }

    /// Two peers each write 6 MB before reading anything: with a plain write both would
    /// block forever on full socket buffers; `flush` reads while it writes.
    async fn both_write_before_reading(tls: bool, compress: bool) {
        // Letters from a xorshift generator: they hardly compress, so 6 MB still fills
        // the socket buffers with compression on.
        fn line(n: u64, tag: u8) -> Vec<u8> {
            let mut x = n * 2654435761 + u64::from(tag) + 1;
            (0..1000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b'A' + (x % 58) as u8
                })
                .collect()
        }
        let side = |mut conn: Conn, tag: u8, other: u8| async move {
            for n in 0..6000 {
                conn.queue(&line(n, tag));
                conn.queue(b"\r\n");
            }
            conn.flush().await.unwrap();
            for n in 0..6000 {
                let got = conn.read_line(2000).await.unwrap();
                assert!(got == line(n, other), "line {n} changed on the way");
            }
        };
        let (mut server, mut client) = pair(tls, Duration::from_secs(20)).await;
        if compress {
            server.start_compression().await.unwrap();
            client.start_compression().await.unwrap();
        }
        let server = tokio::spawn(side(server, b's', b'c'));
        tokio::time::timeout(Duration::from_secs(30), async {
            side(client, b'c', b's').await;
            server.await.unwrap();
        })
        .await
        .expect("deadlock: both sides blocked writing");
    }

    #[tokio::test]
    async fn peers_that_both_write_before_reading_do_not_deadlock() {
        both_write_before_reading(false, false).await;
    }

    #[tokio::test]
    async fn compressed_tls_peers_that_both_write_before_reading_do_not_deadlock() {
        both_write_before_reading(true, true).await;
    }

    #[tokio::test]
    async fn tls_peers_that_both_write_before_reading_do_not_deadlock() {
        both_write_before_reading(true, false).await;
    }

    /// A client pipelines commands and never reads: a server loop that calls
    /// `flush_if_over` before each command keeps its unsent answers under the bound and
    /// its unread input under the read-ahead, and ends at the deadline instead of
    /// growing with every command sent.
    async fn never_reading_client(tls: bool) {
        const BOUND: usize = 64 * 1024;
        const READ_AHEAD: usize = 64 * 1024;
        let (mut conn, mut client) = pair(tls, Duration::from_millis(500)).await;
        let flooder = tokio::spawn(async move {
            // Stalls once the server stops reading; fails when it gives up on us.
            client.set_timeout(Duration::from_secs(5));
            for _ in 0..1 << 14 {
                client.queue(&b"HELP\r\n".repeat(64));
                if client.flush_if_over(1 << 20).await.is_err() {
                    break;
                }
            }
            let _ = client.flush().await;
            client
        });
        conn.set_read_ahead(READ_AHEAD);
        let answer = vec![b'x'; 1000];
        let (mut answered, mut most_pending, mut most_unread) = (0, 0, 0);
        let end = loop {
            if let Err(e) = conn.flush_if_over(BOUND).await {
                break e;
            }
            match conn.read_line(100).await {
                Ok(_) => {
                    conn.queue(&answer);
                    answered += 1;
                }
                Err(e) => break e,
            }
            most_pending = most_pending.max(conn.pending_output());
            most_unread = most_unread.max(conn.rbuf.len() - conn.rpos);
        };
        assert!(matches!(end, NetError::Timeout(_)), "{end}");
        assert!(most_pending <= BOUND + answer.len(), "{most_pending}");
        assert!(most_unread <= READ_AHEAD + 2 * READ_CHUNK, "{most_unread}");
        assert!(
            answered < 1 << 20,
            "every command was answered: nothing held back"
        );
        drop(conn);
        let _ = flooder.await;
    }

    #[tokio::test]
    async fn a_client_that_never_reads_cannot_grow_the_queues() {
        never_reading_client(false).await;
    }

    #[tokio::test]
    async fn a_tls_client_that_never_reads_cannot_grow_the_queues() {
        never_reading_client(true).await;
    }

    /// A flush abandoned half-way (the session was told to stop) and started again sends
    /// each byte once.
    async fn cancelled_flush(tls: bool) {
        let (mut conn, mut client) = pair(tls, Duration::from_secs(20)).await;
        let lines = 1_000_000u32;
        for i in 0..lines {
            conn.queue(format!("{i:015}\r\n").as_bytes());
        }
        let sent = conn.pending_output();
        // The client does not read yet: the flush stalls on full buffers and is dropped.
        let stalled = tokio::time::timeout(Duration::from_millis(200), conn.flush()).await;
        assert!(stalled.is_err(), "16 MiB fit in the socket buffers");
        assert!(conn.pending_output() < sent);
        let reader = tokio::spawn(async move {
            for i in 0..lines {
                let line = client.read_line(100).await.unwrap();
                assert_eq!(
                    line,
                    format!("{i:015}").into_bytes(),
                    "bytes lost or sent twice"
                );
            }
            client.read_line(100).await.err()
        });
        conn.flush().await.unwrap();
        assert_eq!(conn.pending_output(), 0);
        conn.shutdown().await;
        assert!(matches!(reader.await.unwrap(), Some(NetError::Closed)));
    }

    #[tokio::test]
    async fn a_cancelled_flush_resumes_where_it_stopped() {
        cancelled_flush(false).await;
    }

    #[tokio::test]
    async fn a_cancelled_tls_flush_resumes_where_it_stopped() {
        cancelled_flush(true).await;
    }

    /// The two ends of one TLS link export the same channel binding; another link's
    /// differs, and plain TCP has none.
    #[tokio::test]
    async fn both_ends_of_a_tls_link_share_its_binding_and_no_other_link_does() {
        let (a, b) = pair(true, Duration::from_secs(5)).await;
        let (c, _) = pair(true, Duration::from_secs(5)).await;
        let label = b"EXPORTER-test";
        let binding = a.export_keying_material(label).unwrap();
        assert_eq!(b.export_keying_material(label), Some(binding));
        assert_ne!(c.export_keying_material(label), Some(binding));
        let (plain, _) = pair(false, Duration::from_secs(5)).await;
        assert_eq!(plain.export_keying_material(label), None);
        assert!(a.is_tls() && !plain.is_tls());
        assert_eq!(a.alpn_protocol().as_deref(), Some(crate::tls::MESH_ALPN));
    }
}
