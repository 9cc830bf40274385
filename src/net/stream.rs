//! The transport under a [`Conn`](super::Conn): plain TCP ([`Wire`], which counts the
//! bytes crossing the socket), TLS over it, and COMPRESS DEFLATE over either
//! ([`Stream`]). The framing above (lines, blocks, the write queue) never knows which it
//! has; switching layers in place is `Conn`'s (`accept_tls`, `connect_tls`,
//! `start_compression`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP socket that counts the bytes crossing it (under TLS, when there is TLS).
#[derive(Debug)]
pub struct Wire {
    tcp: TcpStream,
    /// Bytes read from the socket.
    pub(super) read: u64,
    /// Bytes written to the socket.
    pub(super) written: u64,
}

impl Wire {
    /// `tcp`, nothing counted yet.
    pub(super) fn new(tcp: TcpStream) -> Wire {
        Wire {
            tcp,
            read: 0,
            written: 0,
        }
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        self.read += (buf.filled().len() - before) as u64;
        polled
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.written += n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// What a [`Conn`] runs over.
pub enum Stream {
    /// Plain TCP.
    Plain(Wire),
    /// TLS over TCP (boxed: the TLS state is large and most connections are plain).
    Tls(Box<tokio_rustls::TlsStream<Wire>>),
    /// COMPRESS DEFLATE (RFC 8054) over one of the above.
    Deflated(Box<crate::deflate::Deflate<Stream>>),
    /// Between the two, while a handshake has the socket (a failed one leaves this).
    Gone,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
            Stream::Deflated(_) => "Stream::Deflated",
            Stream::Gone => "Stream::Gone",
        })
    }
}

impl Stream {
    pub(super) fn wire(&self) -> Option<&Wire> {
        match self {
            Stream::Plain(wire) => Some(wire),
            Stream::Tls(tls) => Some(tls.get_ref().0),
            Stream::Deflated(deflated) => deflated.get_ref().wire(),
            Stream::Gone => None,
        }
    }

    pub(super) fn tls(&self) -> Option<&tokio_rustls::TlsStream<Wire>> {
        match self {
            Stream::Tls(tls) => Some(tls),
            Stream::Deflated(deflated) => deflated.get_ref().tls(),
            _ => None,
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost in a TLS handshake",
    )
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(wire) => Pin::new(wire).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            Stream::Deflated(d) => Pin::new(d.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(wire) => Pin::new(wire).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            Stream::Deflated(d) => Pin::new(d.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(wire) => Pin::new(wire).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            Stream::Deflated(d) => Pin::new(d.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(wire) => Pin::new(wire).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            Stream::Deflated(d) => Pin::new(d.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}
