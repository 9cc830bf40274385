//! Fuzz target: the `MESH` extension commands (node authentication and log
//! catch-up), parsed from `MESH ` followed by the fuzzer's bytes so that every input
//! reaches the extension parser.
//!
//! Properties as for `command`: no panic, and a command that parses writes to one line
//! that parses back to it.

use afl::fuzz;
use newsmesh::protocol::{parse_command, Command};
use newsmesh_fuzz::without_crlf;

fn main() {
    fuzz!(|data: &[u8]| {
        let line = [&b"MESH "[..], data].concat();
        let Ok(command) = parse_command(&line) else {
            return;
        };
        assert!(
            matches!(command, Command::Mesh(_)),
            "MESH line parsed as {command:?}"
        );
        let mut out = Vec::new();
        command.write(&mut out);
        let written = without_crlf(&out);
        assert!(!written.contains(&b'\n') && !written.contains(&b'\r'));
        assert_eq!(
            parse_command(written),
            Ok(command),
            "round trip of {written:?}"
        );
    });
}
