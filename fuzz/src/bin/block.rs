//! Fuzz target: dot-terminated multi-line blocks (`BlockScanner`, `take_block`,
//! `write_block`), which carry every article between nodes. The first two input
//! bytes choose the size limit, the third the size of the pieces the buffer grows
//! by, as bytes trickle in from a socket.
//!
//! Properties: no panic; scanning the buffer as it grows piece by piece gives the
//! same answer as scanning it whole; a block found is within the limit and consumed
//! bytes are within the buffer; writing the content back as a block and scanning it
//! gives the content again; and writing *any* data as a block and scanning it gives
//! that data with its line ends normalised to CRLF.

use afl::fuzz;
use newsmesh::protocol::{take_block, write_block, BlockScanner};
use newsmesh_fuzz::{normalise_lines, take_byte, take_limit};

fn main() {
    fuzz!(|data: &[u8]| {
        let (max, data) = take_limit(data);
        let (step, buf) = take_byte(data);
        let whole = take_block(buf, max);

        let mut scanner = BlockScanner::new();
        let mut fed;
        let step = usize::from(step) + 1;
        let mut end = 0;
        loop {
            end = (end + step).min(buf.len());
            fed = scanner.scan(buf.get(..end).unwrap_or_default(), max);
            if !matches!(fed, Ok(None)) || end == buf.len() {
                break;
            }
        }
        assert_eq!(fed, whole, "piecewise scan differs from whole scan");

        if let Ok(Some((content, used))) = &whole {
            assert!(content.len() <= max && *used <= buf.len());
            let mut again = Vec::new();
            write_block(&mut again, content);
            assert_eq!(
                take_block(&again, usize::MAX),
                Ok(Some((content.clone(), again.len())))
            );
        }

        let mut written = Vec::new();
        write_block(&mut written, buf);
        assert_eq!(
            take_block(&written, usize::MAX),
            Ok(Some((normalise_lines(buf), written.len()))),
            "write_block then take_block lost data"
        );
    });
}
