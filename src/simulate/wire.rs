//! What each message of a simulated exchange costs on the wire, written by the real
//! encoders (`protocol::Command::write`, `protocol::Response::write`, dot-stuffed
//! blocks): NNTP bytes before DEFLATE and TLS, without the connection's handshake.
//! The unit tests below hold them against the protocol's literal lines.

use crate::ingest::{Offered, Verdict};
use crate::protocol::{ArticleRef, Command, MeshCommand, Response};

fn command(c: Command) -> u64 {
    let mut out = Vec::new();
    c.write(&mut out);
    out.len() as u64
}

fn response(r: Response) -> u64 {
    r.to_bytes().len() as u64
}

/// `CHECK <id>`.
pub fn check(id: &str) -> u64 {
    command(Command::Check(id.to_string()))
}

/// The answer to a CHECK: 238 (send it), 438 (have it) or 431 (try later).
pub fn check_answer(code: u16, id: &str) -> u64 {
    response(Response::about(code, id, ""))
}

/// `TAKETHIS <id>` and the article as a dot-stuffed block.
pub fn takethis(id: &str, raw: &[u8]) -> u64 {
    let mut out = Vec::with_capacity(raw.len() + 64);
    Command::Takethis(id.to_string()).write(&mut out);
    crate::protocol::block::write_block(&mut out, raw);
    out.len() as u64
}

/// The answer to a TAKETHIS, from ingest's verdict (the one mapping the feed uses).
pub fn takethis_answer(verdict: &Verdict, id: &str) -> u64 {
    response(verdict.answer(Offered::Takethis, id))
}

/// `MESH SINCE epoch seq limit` and its 293 answer listing `ids`.
pub fn since(epoch: &str, seq: i64, ids: &[String], through: i64, more: bool) -> u64 {
    let asked = command(Command::Mesh(MeshCommand::Since {
        epoch: epoch.to_string(),
        seq: u64::try_from(seq).unwrap_or(0),
        limit: crate::feed_policy::MAX_SINCE,
    }));
    let mut block = Vec::new();
    for id in ids {
        block.extend_from_slice(id.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    let text = format!("{epoch} {through} {}", u8::from(more));
    asked + response(Response::with_block(293, text, block))
}

/// `ARTICLE <id>` and its 220 answer with the article.
pub fn article(id: &str, raw: &[u8]) -> u64 {
    command(Command::Article(ArticleRef::MessageId(id.to_string())))
        + response(Response::with_block(220, format!("0 {id}"), raw.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_the_encoders_own() {
        let id = "<abc@newsmesh>";
        assert_eq!(check(id), "CHECK <abc@newsmesh>\r\n".len() as u64);
        assert_eq!(check_answer(238, id), "238 <abc@newsmesh>\r\n".len() as u64);
        // A line starting with a dot is stuffed; the block ends with ".\r\n".
        assert_eq!(
            takethis(id, b"H: v\r\n\r\n.x\r\n"),
            ("TAKETHIS <abc@newsmesh>\r\n".len() + "H: v\r\n\r\n..x\r\n.\r\n".len()) as u64
        );
        assert_eq!(
            takethis_answer(&Verdict::Stored(1), id),
            "239 <abc@newsmesh> stored\r\n".len() as u64
        );
        let listed = since("e1", 0, &[id.to_string()], 7, false);
        assert_eq!(
            listed,
            ("MESH SINCE e1 0 10000\r\n".len() + "293 e1 7 0\r\n<abc@newsmesh>\r\n.\r\n".len())
                as u64
        );
    }
}
