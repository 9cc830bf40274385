//! The invite code: one line an inviter hands to a newcomer, carrying everything `join`
//! needs: where to dial, the inviter's node key (pinned: the first TLS handshake accepts
//! only it), the secret that proves the code, the invite's groups, the groups the inviter
//! carries there, and the `[[trust]]` and `[[control]]` rules (the hierarchy's admin keys
//! and policy) the newcomer must enforce.
//!
//! `newsmesh-invite-1:` then base64url (no padding) of `key=value` lines followed by the
//! first 8 bytes of their SHA-256: a code cut short or mistyped fails the checksum and is
//! refused before anything is dialled. Decoding is total and bounded ([`MAX_CODE`]):
//! the code, its body's `key=value` lines and the rules in them are read by nom parsers
//! (the project's rule for everything someone else wrote), fuzzed by `fuzz/`'s `invite`
//! target.

use data_encoding::{BASE64, BASE64URL_NOPAD};
use nom::bytes::complete::{tag, take_till, take_till1, take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::{all_consuming, opt, verify};
use nom::multi::{many0, separated_list1};
use nom::sequence::{preceded, separated_pair, terminated};
use nom::{IResult, Parser};
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

/// The code after its prefix: base64url characters only, nothing after them.
fn code_data(input: &str) -> IResult<&str, &str> {
    all_consuming(preceded(
        tag(PREFIX),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
    ))
    .parse(input)
}

/// One `key=value` line of a code's body (the key a short word, the value any text up
/// to the line's end, `=` included).
fn field(input: &str) -> IResult<&str, (&str, &str)> {
    terminated(
        separated_pair(
            take_while1(|c: char| c.is_ascii_alphanumeric()),
            char('='),
            take_till(|c| c == '\n'),
        ),
        char('\n'),
    )
    .parse(input)
}

/// A code's whole body: its `key=value` lines, or the first line that is not one.
fn fields(body: &str) -> Result<Vec<(&str, &str)>, CodeError> {
    match all_consuming(many0(field)).parse(body) {
        Ok((_, fields)) => Ok(fields),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            let line = e.input.lines().next().unwrap_or_default();
            Err(CodeError::Malformed(format!("bad line {line:?}")))
        }
        Err(nom::Err::Incomplete(_)) => Err(CodeError::Malformed("bad line".into())),
    }
}

/// A rule, `GROUPS|any` or `GROUPS|KEY,KEY...`: the groups and the author words.
fn rule(input: &str) -> IResult<&str, (&str, Vec<&str>)> {
    all_consuming(separated_pair(
        take_till1(|c| c == '|'),
        char('|'),
        separated_list1(char(','), take_till1(|c| c == ',')),
    ))
    .parse(input)
}

fn parse_rule(text: &str) -> Result<TrustRuleConfig, CodeError> {
    let bad = || CodeError::Malformed(format!("bad rule {text:?}"));
    let (_, (groups, words)) = rule(text).map_err(|_| bad())?;
    let authors = if words == ["any"] {
        Authors::Word("any".into())
    } else {
        if words.iter().any(|k| parse_public_key(k).is_err()) {
            return Err(bad());
        }
        Authors::Keys(words.into_iter().map(str::to_string).collect())
    };
    Ok(TrustRuleConfig {
        groups: groups.to_string(),
        authors,
    })
}

/// The carried groups, `G,G...` (empty: none); each a valid group name.
fn carried_groups(input: &str) -> IResult<&str, Vec<&str>> {
    let group = verify(take_till1(|c| c == ','), |g: &str| {
        crate::article::is_valid_group_name(g)
    });
    all_consuming(many0(terminated(group, opt(char(','))))).parse(input)
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
        seal(body)
    }

    /// Reads a code (surrounding white space ignored).
    pub fn decode(code: &str) -> Result<InviteCode, CodeError> {
        let code = code.trim();
        if code.len() > MAX_CODE {
            return Err(CodeError::Malformed("too long".into()));
        }
        let data = match code_data(code) {
            Ok((_, data)) => data,
            // A code cut before its prefix ends is still damaged, not something else.
            Err(_) if PREFIX.starts_with(code) && !code.is_empty() => {
                return Err(CodeError::Damaged)
            }
            // The prefix, then something that is not base64url: damaged in transit.
            Err(_) if code.starts_with(PREFIX) => return Err(CodeError::Damaged),
            Err(_) => return Err(CodeError::NotACode),
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
        for (k, v) in fields(body)? {
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
                    let (_, groups) = carried_groups(v)
                        .map_err(|_| CodeError::Malformed("bad group name".into()))?;
                    carried = groups.into_iter().map(str::to_string).collect();
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

/// A code for `body` (its `key=value` lines): the prefix, then base64url of the body and
/// its checksum.
fn seal(body: String) -> String {
    let mut bytes = body.into_bytes();
    let sum = Sha256::digest(&bytes);
    bytes.extend_from_slice(&sum[..CHECKSUM]);
    format!("{PREFIX}{}", BASE64URL_NOPAD.encode(&bytes))
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
    use proptest::prelude::*;

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

    /// Bodies with a valid checksum but lines that are not `key=value`, rules that are
    /// not `GROUPS|AUTHORS`, carried groups that are not group names: each refused as
    /// malformed, with the line or rule named, never a panic.
    #[test]
    fn malformed_bodies_behind_a_valid_checksum_are_refused() {
        let good = sample().encode();
        let body = |extra: &str| {
            let data = good.strip_prefix(PREFIX).unwrap();
            let bytes = BASE64URL_NOPAD.decode(data.as_bytes()).unwrap();
            let text = std::str::from_utf8(&bytes[..bytes.len() - CHECKSUM]).unwrap();
            seal(format!("{text}{extra}"))
        };
        for (extra, says) in [
            ("no equals sign\n", "bad line \"no equals sign\""),
            ("=empty key\n", "bad line \"=empty key\""),
            ("a=no line end", "bad line \"a=no line end\""),
            ("t=club.*\n", "bad rule \"club.*\""),
            ("t=|any\n", "bad rule \"|any\""),
            ("t=club.*|\n", "bad rule \"club.*|\""),
            ("c=club.*|notakey\n", "bad rule \"club.*|notakey\""),
            ("h=club.a,,club.b\n", "bad group name"),
            ("h=Not A Group\n", "bad group name"),
            ("z=1\n", "unknown field \"z\""),
        ] {
            match InviteCode::decode(&body(extra)) {
                Err(CodeError::Malformed(why)) => assert!(why.contains(says), "{extra:?}: {why}"),
                other => panic!("{extra:?}: {other:?}"),
            }
        }
        // The prefix followed by what base64url never holds: damaged, not foreign.
        assert_eq!(
            InviteCode::decode(&format!("{PREFIX}abc+/=")),
            Err(CodeError::Damaged)
        );
        // A value may hold '=' and '|' (only the key stops at the first '=').
        let mut odd = sample();
        odd.address = "host=x|y:1".into();
        assert_eq!(InviteCode::decode(&odd.encode()).unwrap(), odd);
    }

    fn key_text(seed: [u8; 32]) -> String {
        public_key_text(&SigningKey::from_bytes(&seed).verifying_key())
    }

    fn rule_strategy() -> impl Strategy<Value = TrustRuleConfig> {
        (
            "[a-z*!.,]{1,16}",
            prop_oneof![
                Just(Authors::Word("any".into())),
                proptest::collection::vec(any::<[u8; 32]>(), 1..4)
                    .prop_map(|seeds| Authors::Keys(seeds.into_iter().map(key_text).collect())),
            ],
        )
            .prop_map(|(groups, authors)| TrustRuleConfig { groups, authors })
    }

    fn code_strategy() -> impl Strategy<Value = InviteCode> {
        (
            "[a-z0-9.:\\[\\]=|-]{0,40}",
            "[a-z][a-z0-9-]{0,15}",
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            "[a-z0-9*!.,|=]{0,24}",
            proptest::collection::vec("[a-z]{1,8}(\\.[a-z0-9]{1,8}){0,2}", 0..4),
            proptest::collection::vec(rule_strategy(), 0..4),
            proptest::collection::vec(rule_strategy(), 0..4),
        )
            .prop_map(
                |(address, name, node, secret, groups, carried, trust, control)| InviteCode {
                    address,
                    name,
                    node_key: key_text(node),
                    secret,
                    groups,
                    carried,
                    trust,
                    control,
                },
            )
    }

    proptest! {
        /// `decode(encode(x)) == x` for every invite `encode` can write, and every cut
        /// of its code is refused (a checksum or a prefix short), never a panic.
        #[test]
        fn decode_of_encode_is_the_invite(code in code_strategy(), cut in 1usize..64) {
            prop_assume!(crate::config::is_valid_node_name(&code.name));
            let text = code.encode();
            prop_assert!(text.len() <= MAX_CODE);
            prop_assert_eq!(InviteCode::decode(&text).unwrap(), code);
            let short = &text[..text.len().saturating_sub(cut)];
            prop_assert!(InviteCode::decode(short).is_err());
        }

        /// Any text at all: decoding returns (a refusal, almost always), never panics.
        #[test]
        fn decode_is_total(text in ".{0,200}", tail in "[A-Za-z0-9_-]{0,200}") {
            let _ = InviteCode::decode(&text);
            let _ = InviteCode::decode(&format!("{PREFIX}{tail}"));
        }
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
