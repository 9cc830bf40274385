//! COMPRESS DEFLATE (RFC 8054): a raw DEFLATE (RFC 1951) layer for a connection, both
//! directions, switched on after `206` by `net::Conn::start_compression`. Article text
//! compresses several-fold, and links between nodes are often slow.
//!
//! It is a stream over a stream (plain TCP or TLS), so it sits under `Conn`'s buffers
//! like TLS and the protocol code never sees it. Memory stays bounded: what is read is
//! inflated only into the buffer the reader offers (a small compressed input can never
//! make more than that at once), and what is written is deflated as it is handed over,
//! each write ending in a sync flush so that every answer reaches the other side
//! without waiting for more.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed bytes read from the inner stream at once.
const INPUT_CHUNK: usize = 64 * 1024;

/// A DEFLATE-compressed stream over `S`.
pub struct Deflate<S> {
    inner: S,
    deflate: Compress,
    inflate: Decompress,
    /// Compressed output not yet written to `inner`.
    out: Vec<u8>,
    out_pos: usize,
    /// Compressed input read from `inner` and not yet inflated.
    input: Vec<u8>,
    input_pos: usize,
}

impl<S> Deflate<S> {
    /// Compresses both directions of `inner`; `pending` is compressed input the other
    /// side already sent (read ahead past the `206` line).
    pub fn new(inner: S, pending: Vec<u8>) -> Deflate<S> {
        Deflate {
            inner,
            // Level 1: most of the gain on article text, at a small cost in CPU (a sync
            // runs at tens of thousands of articles a second).
            deflate: Compress::new(Compression::fast(), false),
            inflate: Decompress::new(false),
            out: Vec::new(),
            out_pos: 0,
            input: pending,
            input_pos: 0,
        }
    }

    /// The stream under the compression.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn corrupt(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad DEFLATE data: {e}"))
}

impl<S: AsyncWrite + Unpin> Deflate<S> {
    /// Writes out what is compressed; Ready once all of it is with `inner`.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Deflates all of `data` into `out`, ending with a sync flush.
    fn compress(&mut self, data: &[u8]) -> io::Result<()> {
        let mut used = 0;
        loop {
            self.out.reserve(data.len() - used + 64);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&data[used..], &mut self.out, FlushCompress::Sync)
                .map_err(corrupt)?;
            used += (self.deflate.total_in() - before) as usize;
            // Done when all input is taken and the flush had room to finish.
            if used == data.len() && self.out.len() < self.out.capacity() {
                return Ok(());
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Earlier output first: what is taken is never held back behind what follows.
        ready!(this.poll_drain(cx))?;
        this.compress(buf)?;
        // Taken (and compressed) either way; what `inner` cannot take now goes out in
        // the next write or flush.
        let _ = this.poll_drain(cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.input_pos < this.input.len() {
                let target = buf.initialize_unfilled();
                let (before_in, before_out) = (this.inflate.total_in(), this.inflate.total_out());
                let status = this
                    .inflate
                    .decompress(&this.input[this.input_pos..], target, FlushDecompress::None)
                    .map_err(corrupt)?;
                this.input_pos += (this.inflate.total_in() - before_in) as usize;
                let made = (this.inflate.total_out() - before_out) as usize;
                if made > 0 {
                    buf.advance(made);
                    return Poll::Ready(Ok(()));
                }
                if status == Status::StreamEnd {
                    return Poll::Ready(Ok(()));
                }
                if this.input_pos < this.input.len() {
                    // Input left but no output: it needs more input to make any.
                    this.input.drain(..this.input_pos);
                    this.input_pos = 0;
                }
            }
            if this.input_pos == this.input.len() {
                this.input.clear();
                this.input_pos = 0;
            }
            if this.input.len() >= INPUT_CHUNK * 4 {
                return Poll::Ready(Err(corrupt("no output from 256 KiB of input")));
            }
            let mut chunk = [0u8; INPUT_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // End of the stream: whatever was inflated was given out already.
                return Poll::Ready(Ok(()));
            }
            this.input.extend_from_slice(read.filled());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What one side writes, the other reads byte-exact, however it is cut, and text
    /// crosses in far fewer bytes.
    #[tokio::test]
    async fn bytes_cross_exactly_and_text_shrinks() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut writer = Deflate::new(a, Vec::new());
        let mut reader = Deflate::new(b, Vec::new());
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| {
                format!("line {i} of an article body, as people write them\r\n").into_bytes()
            })
            .collect();
        let sent = text.clone();
        let write = tokio::spawn(async move {
            for piece in sent.chunks(7777) {
                writer.write_all(piece).await.unwrap();
                writer.flush().await.unwrap();
            }
            writer.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        write.await.unwrap();
        assert!(got == text, "bytes changed on the way");
        assert!(
            reader.inflate.total_in() * 4 < text.len() as u64,
            "{}",
            reader.inflate.total_in()
        );
    }
}
