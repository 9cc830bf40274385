//! The newsmesh `MESH` extension commands: node authentication
//! (`HELLO`/`PROVE`), replication-log catch-up (`SINCE`) and waiting for new arrivals
//! (`IDLE`, ended early by the line [`IDLE_DONE`]), which lets a node behind NAT receive
//! live over the connection it dialled, and set reconciliation (`RECONCILE`, its
//! rounds as blocks: `crate::reconcile::wire`).

use nom::bytes::complete::take_while_m_n;
use nom::character::complete::{u32, u64};

use super::command::{full, put_arg, syntax, CommandError};

/// Max length of a base64 key, nonce or signature token.
pub const MAX_MESH_TOKEN: usize = 128;
/// Max length of a replication epoch identifier.
pub const MAX_EPOCH: usize = 64;

/// A `MESH` subcommand; the subcommand keyword is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeshCommand {
    /// `MESH HELLO <node-key-base64> <nonce-base64>`.
    Hello {
        /// The peer's node public key, base64.
        key: String,
        /// Challenge nonce, base64.
        nonce: String,
    },
    /// `MESH PROVE <sig-base64>`.
    Prove {
        /// Signature over the challenge, base64.
        signature: String,
    },
    /// `MESH SINCE <epoch> <seq> <limit>`.
    Since {
        /// Log epoch: 1..=64 chars of `[A-Za-z0-9_-]`.
        epoch: String,
        /// Sequence number to resume after.
        seq: u64,
        /// Max entries to return.
        limit: u32,
    },
    /// `MESH IDLE <seq>`: answer (one line) once the server's last arrival is after
    /// `seq`, when the client sends the line `DONE`, or after a while in any case.
    Idle {
        /// The server's arrival sequence the client has seen (its pull mark).
        seq: u64,
    },
    /// `MESH JOIN <secret> <name> <author-key>`: a newcomer redeems an invite
    /// (`newsmesh join`) over a TLS link that named the invite ALPN; its node key is its
    /// TLS certificate's.
    Join {
        /// The invite code's secret, base64.
        secret: String,
        /// The newcomer's Path identity.
        name: String,
        /// The newcomer's author key, base64 (an admin inviter grants it membership).
        author: String,
    },
    /// `MESH RECONCILE`, then the client's first message as a block; each answer
    /// (`295 <epoch> <last seq>` and a block) is followed by the client's next block, an
    /// empty one when it is done (`server/feed/reconcile.rs`).
    Reconcile,
}

/// The line a client sends to end a `MESH IDLE` early (it has something to push).
pub const IDLE_DONE: &[u8] = b"DONE";

const USAGE: &str =
    "usage: MESH HELLO key nonce | MESH PROVE signature | MESH SINCE epoch seq limit | MESH IDLE seq | MESH JOIN secret name author-key | MESH RECONCILE";

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')
}

fn token(arg: &str, what: &str) -> Result<String, CommandError> {
    full(take_while_m_n(1, MAX_MESH_TOKEN, is_base64), arg, what).map(str::to_owned)
}

/// Parses the arguments after the `MESH` verb.
pub(crate) fn parse(args: &[&str]) -> Result<MeshCommand, CommandError> {
    let Some((sub, args)) = args.split_first() else {
        return Err(syntax(USAGE));
    };
    match (sub.to_ascii_uppercase().as_str(), args) {
        ("HELLO", [key, nonce]) => Ok(MeshCommand::Hello {
            key: token(key, "node key")?,
            nonce: token(nonce, "nonce")?,
        }),
        ("PROVE", [sig]) => Ok(MeshCommand::Prove {
            signature: token(sig, "signature")?,
        }),
        ("SINCE", [epoch, seq, limit]) => {
            let is_epoch = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
            Ok(MeshCommand::Since {
                epoch: full(take_while_m_n(1, MAX_EPOCH, is_epoch), epoch, "epoch")?.to_owned(),
                seq: full(u64, seq, "sequence number")?,
                limit: full(u32, limit, "limit")?,
            })
        }
        ("JOIN", [secret, name, author]) => {
            let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
            Ok(MeshCommand::Join {
                secret: token(secret, "secret")?,
                name: full(take_while_m_n(1, MAX_EPOCH, is_name), name, "node name")?.to_owned(),
                author: token(author, "author key")?,
            })
        }
        ("IDLE", [seq]) => Ok(MeshCommand::Idle {
            seq: full(u64, seq, "sequence number")?,
        }),
        ("RECONCILE", []) => Ok(MeshCommand::Reconcile),
        _ => Err(syntax(USAGE)),
    }
}

impl MeshCommand {
    /// Appends the subcommand and its arguments, each preceded by a space.
    pub(crate) fn write_args(&self, out: &mut Vec<u8>) {
        match self {
            MeshCommand::Hello { key, nonce } => {
                put_arg(out, "HELLO");
                put_arg(out, key);
                put_arg(out, nonce);
            }
            MeshCommand::Prove { signature } => {
                put_arg(out, "PROVE");
                put_arg(out, signature);
            }
            MeshCommand::Since { epoch, seq, limit } => {
                put_arg(out, "SINCE");
                put_arg(out, epoch);
                put_arg(out, &seq.to_string());
                put_arg(out, &limit.to_string());
            }
            MeshCommand::Idle { seq } => {
                put_arg(out, "IDLE");
                put_arg(out, &seq.to_string());
            }
            MeshCommand::Join {
                secret,
                name,
                author,
            } => {
                put_arg(out, "JOIN");
                put_arg(out, secret);
                put_arg(out, name);
                put_arg(out, author);
            }
            MeshCommand::Reconcile => put_arg(out, "RECONCILE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::protocol::{parse_command, Command, CommandError, MeshCommand};

    fn mesh(line: &str) -> Result<Command, CommandError> {
        parse_command(line.as_bytes())
    }

    #[test]
    fn parses() {
        let (key, nonce) = ("AbC+/9=".to_owned(), "bm9uY2U=".to_owned());
        let hello = Command::Mesh(MeshCommand::Hello { key, nonce });
        assert_eq!(mesh("mesh hello AbC+/9= bm9uY2U="), Ok(hello));
        let signature = "A".repeat(128);
        let prove = Command::Mesh(MeshCommand::Prove { signature });
        assert_eq!(
            mesh(&format!("MESH PROVE {} \t", "A".repeat(128))),
            Ok(prove)
        );
        let (epoch, seq, limit) = ("e_1-x".to_owned(), u64::MAX, u32::MAX);
        let since = Command::Mesh(MeshCommand::Since { epoch, seq, limit });
        assert_eq!(mesh(&format!("MESH Since e_1-x {seq} {limit}")), Ok(since));
        let join = Command::Mesh(MeshCommand::Join {
            secret: "c2VjcmV0=".into(),
            name: "new-node.1".into(),
            author: "AbC+/9=".into(),
        });
        assert_eq!(
            mesh("MESH JOIN c2VjcmV0= new-node.1 AbC+/9="),
            Ok(join.clone())
        );
        let mut wire = Vec::new();
        join.write(&mut wire);
        assert_eq!(wire, b"MESH JOIN c2VjcmV0= new-node.1 AbC+/9=\r\n");
        assert!(mesh("MESH JOIN c2VjcmV0= bad!name AbC+/9=").is_err());
        let idle = Command::Mesh(MeshCommand::Idle { seq: 42 });
        assert_eq!(mesh("mesh idle 42"), Ok(idle.clone()));
        let mut wire = Vec::new();
        idle.write(&mut wire);
        assert_eq!(wire, b"MESH IDLE 42\r\n");
        let reconcile = Command::Mesh(MeshCommand::Reconcile);
        assert_eq!(mesh("mesh reconcile"), Ok(reconcile.clone()));
        wire.clear();
        reconcile.write(&mut wire);
        assert_eq!(wire, b"MESH RECONCILE\r\n");
    }

    #[test]
    fn rejects() {
        let long = format!(
            "MESH PROVE {}|MESH SINCE {} 1 2",
            "A".repeat(129),
            "e".repeat(65)
        );
        let bad = "MESH|MESH FOO x|MESH HELLO key|MESH HELLO key nonce extra|MESH HELLO k*y nonce|\
            MESH PROVE|MESH SINCE e 1|MESH SINCE e.x 1 2|MESH SINCE e -1 2|MESH SINCE e 1 +2|\
            MESH SINCE e 18446744073709551616 2|MESH SINCE e 1 4294967296|MESH IDLE|\
            MESH IDLE -1|MESH IDLE 1 2|MESH IDLE x|MESH RECONCILE x";
        for bad in bad.split('|').chain(long.split('|')) {
            assert!(matches!(mesh(bad), Err(CommandError::Syntax(_))), "{bad}");
        }
    }
}
