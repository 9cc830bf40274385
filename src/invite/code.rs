//! The invite code: one line an inviter hands to a newcomer, carrying everything `join`
//! needs: where to dial, the inviter's node key (pinned: the first TLS handshake accepts
//! only it), the secret that proves the code, the invite's groups, the groups the inviter
//! carries there, and the `[[trust]]` and `[[control]]` rules (the hierarchy's admin keys
//! and policy) the newcomer must enforce.
//!
//! `newsmesh-invite-1:` then base64url (no padding) of `key=value` lines followed by the
//! first 8 bytes of their SHA-256: a code cut short or mistyped fails the checksum and is
//! refused before anything is dialled. Decoding is total and bounded ([`MAX_CODE`]).

use data_encoding::{BASE64, BASE64URL_NOPAD};
use sha2::{Digest, Sha256};

use crate::config::{Authors, TrustRuleConfig};
use crate::sign::parse_public_key;

/// What every code starts with (the version is in it).
pub const PREFIX: &str = "newsmesh-invite-1:";

/// Longest code accepted (a code carries a few rules and keys: far below this).
pub const MAX_CODE: usize = 16 * 1024;

const CHECKSUM: usize = 8;

/// An invite, as carried by its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// Where the inviter's `serve` listens (HOST:PORT).
    pub address: String,
    /// The inviter's Path identity (the newcomer's name for it).
    pub name: String,
    /// The inviter's node key (base64).
    pub node_key: String,
    /// The secret (32 random bytes).
    pub secret: [u8; 32],
    /// The invite's groups (a wildmat): what the two feed each other.
    pub groups: String,
    /// The groups the inviter carries among them (the newcomer creates them).
    pub carried: Vec<String>,
    /// The inviter's `[[trust]]` rules for those groups.
    pub trust: Vec<TrustRuleConfig>,
    /// The inviter's `[[control]]` rules for them (the admins).
    pub control: Vec<TrustRuleConfig>,
}

/// Why a code was refused (before anything was dialled).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not an invite code at all.
    #[error("not a newsmesh invite code (it starts with {PREFIX})")]
    NotACode,
    /// Cut short, mistyped or altered.
    #[error(
        "the invite code is truncated or damaged (its checksum does not match): copy it whole"
    )]
    Damaged,
    /// Well-formed but missing or bad fields.
    #[error("the invite code is malformed: {0}")]
    Malformed(String),
}

fn rule_text(rule: &TrustRuleConfig) -> String {
    let authors = match &rule.authors {
        Authors::Word(w) => w.clone(),
        Authors::Keys(keys) => keys.join(","),
    };
    format!("{}|{authors}", rule.groups)
}

fn parse_rule(text: &str) -> Result<TrustRuleConfig, CodeError> {
    let bad = || CodeError::Malformed(format!("bad rule {text:?}"));
    let (groups, authors) = text.split_once('|').ok_or_else(bad)?;
    if groups.is_empty() || authors.is_empty() {
        return Err(bad());
    }
    let authors = if authors == "any" {
        Authors::Word("any".into())
    } else {
        let keys: Vec<String> = authors.split(',').map(str::to_string).collect();
        if keys.iter().any(|k| parse_public_key(k).is_err()) {
            return Err(bad());
        }
        Authors::Keys(keys)
    };
    Ok(TrustRuleConfig {
        groups: groups.to_string(),
        authors,
    })
}

/// A value may not carry a line break (it is one line of the body).
fn clean(value: &str) -> bool {
    !value.contains(['\n', '\r'])
}

impl InviteCode {
    /// The code, one line.
    pub fn encode(&self) -> String {
        let mut body = String::new();
        let mut put = |k: &str, v: &str| {
            if clean(v) {
                body.push_str(&format!("{k}={v}\n"));
            }
        };
        put("a", &self.address);
        put("n", &self.name);
        put("k", &self.node_key);
        put("s", &BASE64.encode(&self.secret));
        put("g", &self.groups);
        put("h", &self.carried.join(","));
        for rule in &self.trust {
            put("t", &rule_text(rule));
        }
        for rule in &self.control {
            put("c", &rule_text(rule));
        }
        let mut bytes = body.into_bytes();
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum[..CHECKSUM]);
        format!("{PREFIX}{}", BASE64URL_NOPAD.encode(&bytes))
    }

    /// Reads a code (surrounding white space ignored).
    pub fn decode(code: &str) -> Result<InviteCode, CodeError> {
        let code = code.trim();
        if code.len() > MAX_CODE {
            return Err(CodeError::Malformed("too long".into()));
        }
        let Some(data) = code.strip_prefix(PREFIX) else {
            // A code cut before its prefix ends is still damaged, not something else.
            return Err(if PREFIX.starts_with(code) && !code.is_empty() {
                CodeError::Damaged
            } else {
                CodeError::NotACode
            });
        };
        let bytes = BASE64URL_NOPAD
            .decode(data.as_bytes())
            .map_err(|_| CodeError::Damaged)?;
        if bytes.len() <= CHECKSUM {
            return Err(CodeError::Damaged);
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
        if Sha256::digest(body)[..CHECKSUM] != *sum {
            return Err(CodeError::Damaged);
        }
        let body =
            std::str::from_utf8(body).map_err(|_| CodeError::Malformed("not text".into()))?;
        let missing = |what: &str| CodeError::Malformed(format!("no {what}"));
        let (mut address, mut name, mut node_key, mut secret, mut groups, mut carried) =
            (None, None, None, None, None, Vec::new());
        let (mut trust, mut control) = (Vec::new(), Vec::new());
        for line in body.lines() {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| CodeError::Malformed(format!("bad line {line:?}")))?;
            match k {
                "a" => address = Some(v.to_string()),
                "n" => name = Some(v.to_string()),
                "k" => {
                    parse_public_key(v).map_err(|_| CodeError::Malformed("bad node key".into()))?;
                    node_key = Some(v.to_string());
                }
                "s" => {
                    let bytes = BASE64
                        .decode(v.as_bytes())
                        .map_err(|_| CodeError::Malformed("bad secret".into()))?;
                    secret = Some(
                        <[u8; 32]>::try_from(bytes.as_slice())
                            .map_err(|_| CodeError::Malformed("bad secret".into()))?,
                    );
                }
                "g" => groups = Some(v.to_string()),
                "h" => {
                    carried = v
                        .split(',')
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect();
                    if carried
                        .iter()
                        .any(|g| !crate::article::is_valid_group_name(g))
                    {
                        return Err(CodeError::Malformed("bad group name".into()));
                    }
                }
                "t" => trust.push(parse_rule(v)?),
                "c" => control.push(parse_rule(v)?),
                other => return Err(CodeError::Malformed(format!("unknown field {other:?}"))),
            }
        }
        let name = name.ok_or_else(|| missing("inviter name"))?;
        if !crate::config::is_valid_node_name(&name) {
            return Err(CodeError::Malformed("bad inviter name".into()));
        }
        Ok(InviteCode {
            address: address.ok_or_else(|| missing("address"))?,
            name,
            node_key: node_key.ok_or_else(|| missing("node key"))?,
            secret: secret.ok_or_else(|| missing("secret"))?,
            groups: groups.ok_or_else(|| missing("groups"))?,
            carried,
            trust,
            control,
        })
    }

    /// The SHA-256 (hex) of the secret: what the inviter stores.
    pub fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }
}

/// The SHA-256 (hex) of a secret.
pub fn hash_secret(secret: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::public_key_text;
    use ed25519_dalek::SigningKey;

    fn sample() -> InviteCode {
        let key = |n: u8| public_key_text(&SigningKey::from_bytes(&[n; 32]).verifying_key());
        InviteCode {
            address: "192.0.2.1:1119".into(),
            name: "alpha".into(),
            node_key: key(1),
            secret: [7; 32],
            groups: "club.*".into(),
            carried: vec!["club.a".into(), "club.b".into()],
            trust: vec![TrustRuleConfig {
                groups: "club.*".into(),
                authors: Authors::Word("any".into()),
            }],
            control: vec![TrustRuleConfig {
                groups: "club.*".into(),
                authors: Authors::Keys(vec![key(2), key(3)]),
            }],
        }
    }

    #[test]
    fn a_code_round_trips_on_one_line() {
        let code = sample().encode();
        assert!(!code.contains(char::is_whitespace), "{code}");
        assert_eq!(InviteCode::decode(&format!(" {code}\n")).unwrap(), sample());
    }

    #[test]
    fn truncated_damaged_and_foreign_codes_are_refused() {
        let code = sample().encode();
        for cut in [1, 5, code.len() / 2, code.len() - 1] {
            assert_eq!(
                InviteCode::decode(&code[..code.len() - cut]),
                Err(CodeError::Damaged),
                "cut {cut}"
            );
        }
        assert_eq!(InviteCode::decode("newsmesh-inv"), Err(CodeError::Damaged));
        let mut bytes = code.clone().into_bytes();
        let at = PREFIX.len() + 10;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            InviteCode::decode(std::str::from_utf8(&bytes).unwrap()),
            Err(CodeError::Damaged)
        );
        assert_eq!(InviteCode::decode("hello"), Err(CodeError::NotACode));
        assert_eq!(InviteCode::decode(""), Err(CodeError::NotACode));
        let long = format!("{PREFIX}{}", "A".repeat(MAX_CODE));
        assert!(matches!(
            InviteCode::decode(&long),
            Err(CodeError::Malformed(_))
        ));
    }
}
