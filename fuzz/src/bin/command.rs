//! Fuzz target: the client command parser (`parse_command`), which reads every line
//! a reader or a neighbour sends to `serve`.
//!
//! Properties: parsing never panics; a command that parses is written (`write`) as
//! exactly one CRLF-terminated line that parses back to the same command
//! (parse(write(parse(x))) == parse(x)), so nothing a peer sends can be echoed as a
//! second command.

use afl::fuzz;
use newsmesh::protocol::parse_command;
use newsmesh_fuzz::without_crlf;

fn main() {
    fuzz!(|data: &[u8]| {
        let Ok(command) = parse_command(data) else {
            return;
        };
        let mut out = Vec::new();
        command.write(&mut out);
        assert!(out.ends_with(b"\r\n"), "written command lacks CRLF");
        let line = without_crlf(&out);
        assert!(
            !line.contains(&b'\n') && !line.contains(&b'\r'),
            "written command holds a line break: {line:?}"
        );
        assert_eq!(parse_command(line), Ok(command), "round trip of {line:?}");
    });
}
