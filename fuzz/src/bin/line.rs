//! Fuzz target: line framing (`take_line` / `Frame`), which cuts every connection's
//! read buffer into lines. The first two input bytes choose the line limit.
//!
//! Properties: the whole buffer is consumed line by line as a connection would; each
//! line is within the limit, holds no LF, and is exactly what lies before its
//! terminator; "need more bytes" is only answered while the limit could still be
//! met, and "too long" only when it cannot.

use afl::fuzz;
use newsmesh::protocol::{take_line, Frame, ProtocolError};
use newsmesh_fuzz::take_limit;

fn main() {
    fuzz!(|data: &[u8]| {
        let (max, mut buf) = take_limit(data);
        loop {
            let frame = Frame::take(buf, max);
            assert_eq!(
                frame.clone().map(|f| f.map(|f| (f.line, f.consumed))),
                take_line(buf, max)
            );
            match frame {
                Ok(Some(f)) => {
                    assert!(f.consumed >= 1 && f.consumed <= max && f.consumed <= buf.len());
                    assert!(!f.line.contains(&b'\n'));
                    let terminated = buf.get(..f.consumed).unwrap_or_default();
                    assert!(
                        terminated == [f.line, b"\n"].concat()
                            || terminated == [f.line, b"\r\n"].concat()
                    );
                    buf = buf.get(f.consumed..).unwrap_or_default();
                }
                Ok(None) => {
                    assert!(buf.len() < max && !buf.contains(&b'\n'));
                    break;
                }
                Err(e) => {
                    assert_eq!(e, ProtocolError::LineTooLong { limit: max });
                    let window = buf.get(..max).unwrap_or(buf);
                    assert!(buf.len() >= max && !window.contains(&b'\n'));
                    break;
                }
            }
        }
    });
}
