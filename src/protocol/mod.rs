//! NNTP wire-protocol codec (RFC 3977, RFC 4644 streaming, RFC 4643 AUTHINFO,
//! plus the newsmesh `MESH` extension).
//!
//! Everything here is a pure function on bytes: no I/O, no allocation beyond
//! the values returned. Connection code feeds its read buffer to
//! [`take_line`] / [`block::BlockScanner`], parses lines with
//! [`parse_command`] / [`parse_response`], and serialises with the `write`
//! methods and [`write_block`].

mod args;
pub mod block;
pub mod command;
pub mod line;
pub mod mesh;
pub mod response;

pub use block::{dot_stuff, take_block, write_block, BlockScanner};
pub use command::{parse_command, ArticleRef, Command, CommandError, ListKind, OverArg, Range};
pub use line::{take_line, Frame};
pub use mesh::MeshCommand;
pub use response::{parse_response, take_response, Response, MAX_STATUS_LINE};

/// Max command line incl. CRLF (RFC 3977 §3.1): 512.
pub const MAX_COMMAND_LINE: usize = 512;
/// Max status/response line we accept from a server.
pub const MAX_RESPONSE_LINE: usize = 4096;

/// Framing and response-parsing errors.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// No line terminator within `limit` bytes.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded (terminator included).
        limit: usize,
    },
    /// A multi-line block's content exceeds `limit` bytes.
    #[error("data block larger than {limit} bytes")]
    BlockTooLarge {
        /// The content limit that was exceeded.
        limit: usize,
    },
    /// A status line that is not `NNN[ text]` with NNN in 100..=599.
    #[error("malformed response line: {0}")]
    BadResponse(String),
    /// A line that had to be text was not valid UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

/// Appends `s` to `out`, dropping CR, LF and NUL so that a value can never
/// terminate the line early or inject a second command/response.
pub(crate) fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|b| !matches!(b, b'\r' | b'\n' | 0)));
}
