//! Governance through `ingest`, on a real spool: what is refused and how (no history row
//! for a refusal governance makes), what a governance article changes, and that spools
//! fed the same control articles in different orders hold the same state.

use ed25519_dalek::SigningKey;

use super::*;
use crate::article::{Article, Limits};
use crate::compose::{compose_with, Draft};
use crate::config::{Authors, TrustRuleConfig};
use crate::ingest::{ingest, Refusal as IngestRefusal, Rules, Source, Verdict};
use crate::sign::{public_key_text, sign_article};
use crate::spool::test_support::temp_spool;

const ADMIN: u8 = 9;
const OTHER_ADMIN: u8 = 8;
const MEMBER: u8 = 3;

fn key(n: u8) -> String {
    public_key_text(&SigningKey::from_bytes(&[n; 32]).verifying_key())
}

/// `club.*` is administered by keys 9 and 8, `other.*` by 7; anyone may post anywhere by
/// the local rules.
fn trust() -> TrustPolicy {
    let rule = |groups: &str, keys: &[u8]| TrustRuleConfig {
        groups: groups.into(),
        authors: Authors::Keys(keys.iter().map(|k| key(*k)).collect()),
    };
    let any = TrustRuleConfig {
        groups: "*".into(),
        authors: Authors::Word("any".into()),
    };
    TrustPolicy::from_config(
        &[any],
        &[rule("club.*", &[ADMIN, OTHER_ADMIN]), rule("other.*", &[7])],
        false,
    )
    .unwrap()
}

fn rules(trust: &TrustPolicy) -> Rules<'_> {
    Rules {
        node_name: "beta",
        limits: Limits::default(),
        trust,
        source: Source::Peer("gamma"),
    }
}

fn spool() -> (tempfile::TempDir, Spool) {
    let (dir, mut spool) = temp_spool();
    for g in ["club.a", "club.b", "other.a"] {
        spool.create_group(g, "").unwrap();
    }
    (dir, spool)
}

/// A signed article by key `by` dated `date` (Unix seconds), with extra headers.
fn signed(groups: &str, subject: &str, date: i64, by: u8, extra: &[(&str, &str)]) -> Vec<u8> {
    let key = SigningKey::from_bytes(&[by; 32]);
    let draft = Draft {
        groups,
        subject,
        from: "ann@example.org",
        references: None,
        body: b"hello\n",
    };
    let mut article = compose_with(&draft, extra, "alpha", &key);
    let date = chrono::DateTime::from_timestamp(date, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    article.set_header("Date", &date);
    sign_article(&mut article, &key);
    article.to_bytes()
}

fn control(action: &Action, date: i64, by: u8) -> Vec<u8> {
    signed(
        "club.a",
        "cmsg",
        date,
        by,
        &[("Control", &action.control())],
    )
}

fn id(raw: &[u8]) -> String {
    Article::parse(raw, &Limits::default())
        .unwrap()
        .message_id()
        .unwrap()
        .to_string()
}

fn one(spool: &mut Spool, trust: &TrustPolicy, raw: &[u8]) -> Verdict {
    ingest(spool, &rules(trust), &[raw]).unwrap().remove(0)
}

fn club() -> Scope {
    Scope::parse("club.*").unwrap()
}

fn members_only() -> Action {
    Action::Policy {
        scope: club(),
        members: true,
    }
}

fn grant(k: u8) -> Action {
    Action::Member {
        add: true,
        scope: club(),
        key: key(k),
    }
}

#[test]
fn an_article_before_its_grant_is_refused_without_history_and_taken_after() {
    let (_dir, mut spool) = spool();
    let trust = trust();
    assert!(matches!(
        one(&mut spool, &trust, &control(&members_only(), 100, ADMIN)),
        Verdict::Stored(_)
    ));
    let post = signed("club.a", "early", 300, MEMBER, &[]);
    let Verdict::Refused(why) = one(&mut spool, &trust, &post) else {
        panic!("a non-member's article was taken");
    };
    assert!(
        matches!(&why, IngestRefusal::Governance(Refusal::NotMember { group, .. }) if group == "club.a"),
        "{why:?}"
    );
    assert!(why.to_string().contains("members-only"), "{why}");
    assert_eq!(spool.history(&id(&post)).unwrap(), None, "no history row");
    // Open groups are not affected.
    let elsewhere = signed("other.a", "fine", 300, MEMBER, &[]);
    assert!(matches!(
        one(&mut spool, &trust, &elsewhere),
        Verdict::Stored(_)
    ));
    // The grant arrives; the same article comes again and is taken.
    assert!(matches!(
        one(&mut spool, &trust, &control(&grant(MEMBER), 200, ADMIN)),
        Verdict::Stored(_)
    ));
    assert!(matches!(one(&mut spool, &trust, &post), Verdict::Stored(_)));
    let state = load(&spool, &trust).unwrap();
    assert!(state.is_member("club.b", &key(MEMBER)));
}

#[test]
fn bad_governance_is_refused_clearly_and_changes_nothing() {
    let (_dir, mut spool) = spool();
    let trust = trust();
    let refused = |spool: &mut Spool, raw: &[u8], expect: &str| {
        let v = one(spool, &trust, raw);
        assert!(
            matches!(&v, Verdict::Refused(why) if why.to_string().contains(expect)),
            "{v:?}, wanted {expect}"
        );
        assert!(spool.governance_rows().unwrap().is_empty());
    };
    // An unknown verb, and a malformed governance verb.
    refused(
        &mut spool,
        &signed("club.a", "x", 1, ADMIN, &[("Control", "frobnicate club.*")]),
        "unsupported control",
    );
    refused(
        &mut spool,
        &signed(
            "club.a",
            "x",
            1,
            ADMIN,
            &[("Control", "member invite club.* x")],
        ),
        "governance control refused",
    );
    // A wrong signature: the article changed after signing.
    let mut forged = control(&grant(MEMBER), 1, ADMIN);
    let at = forged.len() - 3;
    forged[at] ^= 1;
    assert!(matches!(
        one(&mut spool, &trust, &forged),
        Verdict::Refused(_)
    ));
    assert!(spool.governance_rows().unwrap().is_empty());
    // A key that is no admin, and an admin outside its hierarchy.
    refused(
        &mut spool,
        &control(&members_only(), 1, MEMBER),
        "is not an admin of club.*",
    );
    let outside = Action::Member {
        add: true,
        scope: Scope::parse("other.*").unwrap(),
        key: key(MEMBER),
    };
    refused(
        &mut spool,
        &control(&outside, 1, ADMIN),
        "is not an admin of other.*",
    );
    let wider = Action::Policy {
        scope: Scope::parse("*").unwrap(),
        members: true,
    };
    refused(
        &mut spool,
        &control(&wider, 1, ADMIN),
        "is not an admin of *",
    );
    // Nothing changed: anyone still posts.
    assert!(matches!(
        one(&mut spool, &trust, &signed("club.a", "y", 2, MEMBER, &[])),
        Verdict::Stored(_)
    ));
}

#[test]
fn revoke_cancel_withdraws_what_the_key_posted_and_refuses_late_copies() {
    let (_dir, mut spool) = spool();
    let trust = trust();
    let old = signed("club.a", "before", 50, MEMBER, &[]);
    let other = signed("other.a", "elsewhere", 50, MEMBER, &[]);
    assert!(matches!(one(&mut spool, &trust, &old), Verdict::Stored(_)));
    assert!(matches!(
        one(&mut spool, &trust, &other),
        Verdict::Stored(_)
    ));
    let revoke = Action::Revoke {
        key: key(MEMBER),
        reason: Reason::Compromised,
        scope: club(),
        cancel: true,
    };
    assert!(matches!(
        one(&mut spool, &trust, &control(&revoke, 100, ADMIN)),
        Verdict::Stored(_)
    ));
    assert!(spool.article(&id(&old)).unwrap().is_none(), "withdrawn");
    assert!(
        spool.article(&id(&other)).unwrap().is_some(),
        "outside the scope: kept"
    );
    assert!(!matches!(one(&mut spool, &trust, &old), Verdict::Stored(_)));
    let Verdict::Refused(why) = one(
        &mut spool,
        &trust,
        &signed("club.b", "new", 200, MEMBER, &[]),
    ) else {
        panic!("a revoked key's new article was taken");
    };
    assert!(
        matches!(
            &why,
            IngestRefusal::Governance(Refusal::Revoked {
                reason: Reason::Compromised,
                ..
            })
        ),
        "{why:?}"
    );
    assert!(why.to_string().contains("revoked (compromised)"), "{why}");
}

#[test]
fn a_retired_key_keeps_its_past_articles() {
    let (_dir, mut spool) = spool();
    let trust = trust();
    let retire = Action::Revoke {
        key: key(MEMBER),
        reason: Reason::Retired,
        scope: club(),
        cancel: false,
    };
    assert!(matches!(
        one(&mut spool, &trust, &control(&retire, 100, ADMIN)),
        Verdict::Stored(_)
    ));
    assert!(matches!(
        one(
            &mut spool,
            &trust,
            &signed("club.a", "past", 99, MEMBER, &[])
        ),
        Verdict::Stored(_)
    ));
    assert!(matches!(
        one(
            &mut spool,
            &trust,
            &signed("club.a", "new", 101, MEMBER, &[])
        ),
        Verdict::Refused(_)
    ));
}

#[test]
fn a_moderator_cancels_any_article_in_its_groups_and_nobody_else_does() {
    let (_dir, mut spool) = spool();
    let trust = trust();
    const MODERATOR: u8 = 4;
    let post = signed("club.a", "spam", 50, MEMBER, &[]);
    let elsewhere = signed("other.a", "spam too", 50, MEMBER, &[]);
    for raw in [&post, &elsewhere] {
        assert!(matches!(one(&mut spool, &trust, raw), Verdict::Stored(_)));
    }
    let cancel = |target: &[u8], date| {
        signed(
            "club.a",
            "cmsg cancel",
            date,
            MODERATOR,
            &[("Control", &format!("cancel {}", id(target)))],
        )
    };
    // Not a moderator yet: refused, the article stays.
    assert!(matches!(
        one(&mut spool, &trust, &cancel(&post, 60)),
        Verdict::Refused(_)
    ));
    assert!(spool.article(&id(&post)).unwrap().is_some());
    let name = Action::Moderator {
        add: true,
        scope: club(),
        key: key(MODERATOR),
    };
    assert!(matches!(
        one(&mut spool, &trust, &control(&name, 70, ADMIN)),
        Verdict::Stored(_)
    ));
    assert!(matches!(
        one(&mut spool, &trust, &cancel(&post, 80)),
        Verdict::Stored(_)
    ));
    assert!(
        spool.article(&id(&post)).unwrap().is_none(),
        "withdrawn by the moderator"
    );
    assert!(
        !matches!(one(&mut spool, &trust, &post), Verdict::Stored(_)),
        "not taken again"
    );
    // Outside its groups it is nobody.
    assert!(matches!(
        one(&mut spool, &trust, &cancel(&elsewhere, 90)),
        Verdict::Refused(_)
    ));
    assert!(spool.article(&id(&elsewhere)).unwrap().is_some());
}

/// A tiny deterministic shuffle (the test needs no randomness crate).
fn shuffled<T: Clone>(items: &[T], mut seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    for i in (1..out.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.swap(i, (seed >> 33) as usize % (i + 1));
    }
    out
}

#[test]
fn spools_fed_in_different_orders_hold_the_same_state() {
    let trust = trust();
    for round in 0..6u64 {
        // Concurrent admins (same Date), an admin revoking the other, a non-admin.
        let mut history = Vec::new();
        for n in 0..10u8 {
            let by = [ADMIN, OTHER_ADMIN, MEMBER][usize::from(n) % 3];
            let date = 100 + i64::from(n % 4) + round as i64;
            let action = match n % 5 {
                0 => grant(n % 6),
                1 => members_only(),
                2 => Action::Member {
                    add: false,
                    scope: Scope::parse("club.b").unwrap(),
                    key: key(n % 6),
                },
                3 => Action::Revoke {
                    key: key([OTHER_ADMIN, ADMIN][usize::from(n) % 2]),
                    reason: Reason::Compromised,
                    scope: club(),
                    cancel: false,
                },
                _ => Action::Policy {
                    scope: Scope::parse("club.b").unwrap(),
                    members: false,
                },
            };
            history.push(control(&action, date, by));
        }
        let states: Vec<State> = (0..3u64)
            .map(|k| {
                let (_dir, mut spool) = spool();
                let order = shuffled(&history, round * 7 + k);
                // Half first, then everything again.
                for raw in order.iter().take(5).chain(history.iter()) {
                    one(&mut spool, &trust, raw);
                }
                load(&spool, &trust).unwrap()
            })
            .collect();
        assert_eq!(states[0], states[1], "round {round}");
        assert_eq!(states[1], states[2], "round {round}");
    }
}
