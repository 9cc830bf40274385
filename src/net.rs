//! A buffered NNTP connection over tokio: reads lines and dot-terminated blocks with the
//! `protocol` framing (bounded, idle timeout), queues writes and flushes them in one go
//! (so pipelined commands and responses cost one syscall per batch), and counts the bytes
//! that cross the wire both ways (the `bytes=` of `sync`).
//!
//! Memory per connection is bounded by design: what is read but not yet taken is at
//! most one line or block plus the read-ahead of [`Conn::flush`] (see
//! [`Conn::set_read_ahead`]), and what is queued but not yet sent is the caller's to
//! bound with [`Conn::pending_output`] and [`Conn::flush_if_over`]: a server that answers
//! pipelined commands calls `flush_if_over(bound)` before it takes the next command, so
//! a client that sends without reading stops being read once its unsent answers pass the
//! bound, and is read again when they drain.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::{take_line, BlockScanner, ProtocolError};

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
}

/// A buffered connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
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
    /// Bytes read so far.
    pub bytes_in: u64,
    /// Bytes written so far.
    pub bytes_out: u64,
}

impl Conn {
    /// Wraps a connected stream; every read waits at most `timeout`.
    pub fn new(stream: TcpStream, timeout: Duration) -> Conn {
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
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
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.stream.peer_addr().ok()
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
        let before = self.bytes_in;
        self.flush().await?;
        if self.bytes_in > before {
            // The flush already took in new bytes: let the caller look at them first.
            return Ok(());
        }
        self.compact();
        self.rbuf.reserve(self.read_chunk);
        let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await;
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(NetError::Timeout(self.timeout)),
        };
        if n == 0 {
            return Err(NetError::Closed);
        }
        self.bytes_in += n as u64;
        Ok(())
    }

    /// Reads whatever the socket has ready without waiting; returns whether anything
    /// came. Lets a server take everything a peer has pipelined into one batch.
    pub fn fill_ready(&mut self) -> Result<bool, NetError> {
        self.compact();
        self.rbuf.reserve(self.read_chunk);
        let n = match self.stream.try_read_buf(&mut self.rbuf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e.into()),
        };
        self.bytes_in += n as u64;
        Ok(n > 0)
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
        let deadline = self.deadline();
        while self.wpos < self.wbuf.len() {
            let unread = self.rbuf.len() - self.rpos;
            let room = unread < self.read_ahead;
            tokio::select! {
                ready = self.stream.writable() => {
                    ready?;
                    match self.stream.try_write(&self.wbuf[self.wpos..]) {
                        Ok(n) => {
                            self.wpos += n;
                            self.bytes_out += n as u64;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                ready = self.stream.readable(), if room => {
                    ready?;
                    self.rbuf.reserve(self.read_chunk);
                    match self.stream.try_read_buf(&mut self.rbuf) {
                        Ok(0) => return Err(NetError::Closed),
                        Ok(n) => self.bytes_in += n as u64,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Err(NetError::Timeout(self.timeout)),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > 4 * READ_CHUNK {
            self.wbuf = Vec::new();
        }
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

    /// Two peers each write 6 MB before reading anything: with a plain write both would
    /// block forever on full socket buffers; `flush` reads while it writes.
    #[tokio::test]
    async fn peers_that_both_write_before_reading_do_not_deadlock() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        fn big(tag: u8) -> Vec<u8> {
            let mut line = vec![tag; 1000];
            line.extend_from_slice(b"\r\n");
            line.repeat(6000)
        }
        let side = |stream: TcpStream, tag: u8, other: u8| async move {
            let mut conn = Conn::new(stream, Duration::from_secs(20));
            conn.queue(&big(tag));
            conn.flush().await.unwrap();
            for _ in 0..6000 {
                let line = conn.read_line(2000).await.unwrap();
                assert_eq!(line, vec![other; 1000]);
            }
        };
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            side(stream, b's', b'c').await
        });
        let client = side(TcpStream::connect(addr).await.unwrap(), b'c', b's');
        tokio::time::timeout(Duration::from_secs(30), async {
            client.await;
            server.await.unwrap();
        })
        .await
        .expect("deadlock: both sides blocked writing");
    }

    /// A client pipelines commands and never reads: a server loop that calls
    /// `flush_if_over` before each command keeps its unsent answers under the bound and
    /// its unread input under the read-ahead, and ends at the deadline instead of
    /// growing with every command sent.
    #[tokio::test]
    async fn a_client_that_never_reads_cannot_grow_the_queues() {
        const BOUND: usize = 64 * 1024;
        const READ_AHEAD: usize = 64 * 1024;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flooder = std::thread::spawn(move || {
            use std::io::Write;
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            let commands = b"HELP\r\n".repeat(1 << 20);
            // Blocks once the server stops reading; fails when it gives up on us.
            let _ = stream.write_all(&commands);
            stream
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = Conn::new(stream, Duration::from_millis(500));
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
        let _ = flooder.join();
    }

    /// A flush abandoned half-way (the session was told to stop) and started again sends
    /// each byte once.
    #[tokio::test]
    async fn a_cancelled_flush_resumes_where_it_stopped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = Conn::new(stream, Duration::from_secs(20));
        let sent: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
        conn.queue(&sent);
        // The client does not read yet: the flush stalls on full buffers and is dropped.
        let stalled = tokio::time::timeout(Duration::from_millis(200), conn.flush()).await;
        assert!(stalled.is_err(), "16 MiB fit in the socket buffers");
        assert!(conn.pending_output() < sent.len());
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        conn.flush().await.unwrap();
        assert_eq!(conn.pending_output(), 0);
        conn.shutdown().await;
        assert!(reader.await.unwrap() == sent, "bytes lost or sent twice");
    }
}
