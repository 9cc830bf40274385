//! Fuzz target: the invite-code decoder (`InviteCode::decode`), i.e. the one line a
//! stranger may paste into `newsmesh join`.
//!
//! Properties: decoding never panics; a code that decodes is written back by `encode`
//! as a code that decodes to the same invite (the round trip the unit property test
//! checks from the other side).

use afl::fuzz;
use newsmesh::invite::code::InviteCode;

fn main() {
    fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(invite) = InviteCode::decode(text) else {
            return;
        };
        let again = InviteCode::decode(&invite.encode());
        assert_eq!(again.as_ref(), Ok(&invite), "encode then decode changed it");
    });
}
