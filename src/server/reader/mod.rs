//! The reader side of a session (RFC 3977): the commands newsreaders use.

use super::session::{Flow, Session};
use crate::net::NetError;
use crate::protocol::Command;

/// Serves one reader command.
pub(super) async fn handle(s: &mut Session, command: Command) -> Result<Flow, NetError> {
    match command {
        Command::Capabilities => capabilities(s),
        Command::ModeReader => {
            if s.trusted_reader() {
                s.reply(200, "posting allowed")
            } else {
                s.reply(201, "authentication required to read or post")
            }
        }
        Command::Date => {
            let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
            s.reply(111, &now)
        }
        _ => s.reply(500, "command not implemented"),
    }
    Ok(Flow::Continue)
}

fn capabilities(s: &mut Session) {
    let mut text = String::from("101 capability list follows\r\nVERSION 2\r\n");
    text.push_str(concat!(
        "IMPLEMENTATION newsmesh ",
        env!("CARGO_PKG_VERSION"),
        "\r\n"
    ));
    text.push_str("IHAVE\r\nSTREAMING\r\nX-NEWSMESH 1\r\n");
    if s.may_read() {
        text.push_str("READER\r\nPOST\r\n");
    }
    text.push_str(".\r\n");
    s.conn.queue(text.as_bytes());
}
