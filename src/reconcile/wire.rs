//! How a reconciliation message crosses an NNTP connection: as a dot-terminated block of
//! base64 lines of at most [`LINE`] characters (NNTP blocks are text; base64 has no `.`
//! to stuff). The verb (`MESH RECONCILE`) and its answers are in `protocol/mesh.rs` and
//! `server/feed/reconcile.rs`.

use data_encoding::BASE64;

use super::message::{MessageError, MAX_FRAME_BYTES};

/// Base64 characters per line.
pub const LINE: usize = 76;
/// The largest block a frame of [`MAX_FRAME_BYTES`] makes, CRLFs included: what a
/// reader of these blocks passes as its bound.
pub const MAX_BLOCK_BYTES: usize = MAX_FRAME_BYTES.div_ceil(3) * 4 / LINE * (LINE + 2) + LINE + 2;

/// The block content (unstuffed, lines ending in CRLF) carrying `message`.
pub fn to_block(message: &[u8]) -> Vec<u8> {
    let text = BASE64.encode(message);
    let mut out = Vec::with_capacity(text.len() + text.len() / LINE * 2 + 2);
    for line in text.as_bytes().chunks(LINE) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The message in a block written by [`to_block`]: lines of base64, none longer than
/// [`LINE`]; the whole decoded at most [`MAX_FRAME_BYTES`].
pub fn from_block(block: &[u8]) -> Result<Vec<u8>, MessageError> {
    if block.len() > MAX_BLOCK_BYTES {
        return Err(MessageError::TooLarge(block.len()));
    }
    let mut text = Vec::with_capacity(block.len());
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > LINE {
            return Err(MessageError::Malformed);
        }
        text.extend_from_slice(line);
    }
    let message = BASE64.decode(&text).map_err(|_| MessageError::Malformed)?;
    if message.len() > MAX_FRAME_BYTES {
        return Err(MessageError::TooLarge(message.len()));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_largest_frame_fits_the_block_bound() {
        let block = to_block(&vec![0xa5; MAX_FRAME_BYTES]);
        assert!(
            block.len() <= MAX_BLOCK_BYTES,
            "{} > {MAX_BLOCK_BYTES}",
            block.len()
        );
        assert_eq!(from_block(&block).map(|m| m.len()), Ok(MAX_FRAME_BYTES));
        assert!(from_block(b"not base64!\r\n").is_err());
        assert!(from_block(&[b'A'; LINE + 1]).is_err());
        assert_eq!(from_block(b""), Ok(Vec::new()));
    }

    proptest! {
        #[test]
        fn round_trip(message in proptest::collection::vec(any::<u8>(), 0..2000)) {
            prop_assert_eq!(from_block(&to_block(&message)), Ok(message));
        }
    }
}
