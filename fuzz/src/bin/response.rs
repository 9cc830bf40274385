//! Fuzz target: the status-line parser (`parse_response`), which reads every answer
//! a (possibly hostile) server sends to `sync`.
//!
//! Properties: parsing never panics; a parsed code is in 100..=599; a response that
//! parses is written as one CRLF-terminated line that parses back to the same
//! response (parse(write(parse(x))) == parse(x)).

use afl::fuzz;
use newsmesh::protocol::parse_response;
use newsmesh_fuzz::without_crlf;

fn main() {
    fuzz!(|data: &[u8]| {
        let Ok(response) = parse_response(data) else {
            return;
        };
        assert!((100..=599).contains(&response.code));
        let _ = response.first_arg();
        let mut out = Vec::new();
        response.write(&mut out);
        let line = without_crlf(&out);
        assert!(
            !line.contains(&b'\n') && !line.contains(&b'\r'),
            "written response holds a line break: {line:?}"
        );
        assert_eq!(parse_response(line), Ok(response), "round trip of {line:?}");
    });
}
