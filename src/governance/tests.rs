//! Governance's tests: the convergence property, and governance through `ingest` on a
//! real spool.

use ed25519_dalek::SigningKey;

use super::TrustPolicy;
use crate::config::{Authors, TrustRuleConfig};
use crate::sign::public_key_text;

/// The author key whose secret key is 32 bytes of `seed`.
fn key_of(seed: u8) -> String {
    public_key_text(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
}

/// Anyone may post anywhere by the local rules; `club.*` is administered by the keys of
/// the seeds `club`, `other.*` by those of `other`.
fn trust_with(club: &[u8], other: &[u8]) -> TrustPolicy {
    let rule = |groups: &str, seeds: &[u8]| TrustRuleConfig {
        groups: groups.into(),
        authors: Authors::Keys(seeds.iter().map(|s| key_of(*s)).collect()),
    };
    let any = TrustRuleConfig {
        groups: "*".into(),
        authors: Authors::Word("any".into()),
    };
    TrustPolicy::from_config(
        &[any],
        &[rule("club.*", club), rule("other.*", other)],
        false,
    )
    .expect("a valid trust policy")
}

mod convergence {
    //! The convergence property: random control histories (several admins, a non-admin,
    //! an admin of another hierarchy, revocations of admins among them), delivered in random
    //! orders, in subsets then the rest, with repeats, give identical state on every node.
    //! The control text goes through `Action::control` and `Action::parse` and the admins
    //! through a real `TrustPolicy`, as on a node.

    use proptest::prelude::*;

    use super::super::*;

    fn key(n: u8) -> String {
        super::key_of(n + 1)
    }

    /// Keys 0 and 1 administer `club.*`, key 2 `other.*`; 3..6 are ordinary authors.
    fn trust() -> TrustPolicy {
        super::trust_with(&[1, 2], &[3])
    }

    const SCOPES: [&str; 5] = ["club.*", "club.a", "club.b", "other.*", "club.a,other.b"];
    const GROUPS: [&str; 4] = ["club.a", "club.b", "other.a", "other.b"];

    /// One random governance row from small numbers.
    fn row(
        n: usize,
        (date, signer, kind, scope, subject, flag): (u8, u8, u8, u8, u8, bool),
    ) -> GovernanceRow {
        let scope = Scope::parse(SCOPES[scope as usize % SCOPES.len()]).unwrap();
        let subject = key(subject % 7);
        let action = match kind % 6 {
            0 | 1 => Action::Member {
                add: flag,
                scope,
                key: subject,
            },
            2 => Action::Policy {
                scope,
                members: flag,
            },
            3 => Action::Moderator {
                add: flag,
                scope,
                key: subject,
            },
            4 => Action::Revoke {
                key: subject,
                reason: if flag {
                    Reason::Compromised
                } else {
                    Reason::Retired
                },
                scope,
                cancel: false,
            },
            _ => Action::Revoke {
                key: subject,
                reason: Reason::Retired,
                scope,
                cancel: flag,
            },
        };
        GovernanceRow {
            // Dates collide often (a small range) so the Message-ID tie-break is exercised.
            msgid: format!("<{n:03}x{}@gov>", date % 3),
            date: i64::from(date % 12),
            signer: key(signer % 5),
            control: action.control(),
        }
    }

    /// Everything a node would answer, over a grid of questions: the observable state.
    fn answers(state: &State) -> Vec<bool> {
        let mut out = Vec::new();
        for group in GROUPS {
            out.push(state.members_only(group));
            for k in 0..7 {
                let k = key(k);
                out.push(state.is_member(group, &k));
                out.push(state.moderates(group, &k, 6));
                for date in [0, 5, 11] {
                    out.push(state.admits(&[group.to_string()], &k, date, false).is_ok());
                }
            }
        }
        out
    }

    /// A node receiving rows one at a time (repeats included), as ingest records them.
    fn deliver(order: &[GovernanceRow], trust: &TrustPolicy) -> State {
        let mut held: Vec<GovernanceRow> = Vec::new();
        for r in order {
            if !held.iter().any(|h| h.msgid == r.msgid) {
                held.push(r.clone());
            }
        }
        state_from_rows(held, trust)
    }

    fn permuted(rows: &[GovernanceRow], keys: &[u32]) -> Vec<GovernanceRow> {
        let mut tagged: Vec<(u32, GovernanceRow)> = rows
            .iter()
            .cloned()
            .zip(keys.iter().cycle())
            .map(|(r, k)| (*k, r))
            .collect();
        tagged.sort_by_key(|t| t.0);
        tagged.into_iter().map(|(_, r)| r).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn any_delivery_order_gives_the_same_state(
            history in prop::collection::vec(any::<(u8, u8, u8, u8, u8, bool)>(), 1..24),
            order_a in prop::collection::vec(any::<u32>(), 24),
            order_b in prop::collection::vec(any::<u32>(), 24),
            split in any::<prop::sample::Index>(),
        ) {
            let trust = trust();
            let rows: Vec<GovernanceRow> =
                history.into_iter().enumerate().map(|(n, h)| row(n, h)).collect();
            let reference = deliver(&rows, &trust);
            let expected = answers(&reference);
            // Two random orders.
            let a = deliver(&permuted(&rows, &order_a), &trust);
            prop_assert_eq!(&a, &reference);
            let b = deliver(&permuted(&rows, &order_b), &trust);
            prop_assert_eq!(&b, &reference);
            // A node offline through part of it: a random subset first, then everything
            // again (repeats) in another order.
            let shuffled = permuted(&rows, &order_b);
            let cut = split.index(shuffled.len() + 1);
            let mut late: Vec<GovernanceRow> = shuffled[..cut].to_vec();
            late.extend(permuted(&rows, &order_a));
            let c = deliver(&late, &trust);
            prop_assert_eq!(&c, &reference);
            prop_assert_eq!(answers(&c), expected);
        }
    }

    /// A small fixed history: what the rule says in the plain cases.
    #[test]
    fn the_rule_in_plain_cases() {
        let trust = trust();
        let club = Scope::parse("club.*").unwrap();
        let ev = |id: &str, date: i64, signer: u8, action: Action| GovernanceRow {
            msgid: id.into(),
            date,
            signer: key(signer),
            control: action.control(),
        };
        let member = |add, k| Action::Member {
            add,
            scope: club.clone(),
            key: key(k),
        };
        let rows = vec![
            ev(
                "<1@g>",
                1,
                0,
                Action::Policy {
                    scope: club.clone(),
                    members: true,
                },
            ),
            ev("<2@g>", 2, 0, member(true, 3)),
            ev("<3@g>", 2, 1, member(true, 4)),
            // A non-admin and an admin of another hierarchy change nothing.
            ev("<4@g>", 3, 5, member(true, 5)),
            ev("<5@g>", 3, 2, member(true, 6)),
            // Key 4 retired at 5; key 1 (an admin) compromised at 6: its later grant of 6 at
            // 7 and its earlier one of 4 do not count.
            ev(
                "<6@g>",
                5,
                0,
                Action::Revoke {
                    key: key(4),
                    reason: Reason::Retired,
                    scope: club.clone(),
                    cancel: false,
                },
            ),
            ev(
                "<7@g>",
                6,
                0,
                Action::Revoke {
                    key: key(1),
                    reason: Reason::Compromised,
                    scope: club.clone(),
                    cancel: false,
                },
            ),
            ev("<8@g>", 7, 1, member(true, 6)),
        ];
        let state = state_from_rows(rows, &trust);
        let g = ["club.a".to_string()];
        assert!(state.members_only("club.a"));
        assert!(!state.members_only("other.a"));
        assert!(state.admits(&g, &key(3), 9, false).is_ok());
        assert!(matches!(
            state.admits(&g, &key(5), 9, false),
            Err(Refusal::NotMember { .. })
        ));
        assert!(matches!(
            state.admits(&g, &key(6), 9, false),
            Err(Refusal::NotMember { .. })
        ));
        // Key 4's grant came from the compromised admin: no longer a member at all.
        assert!(matches!(
            state.admits(&g, &key(4), 4, false),
            Err(Refusal::NotMember { .. })
        ));
        assert!(matches!(
            state.admits(&g, &key(1), 1, false),
            Err(Refusal::Revoked { .. })
        ));
        assert_eq!(state.members(9).len(), 1);
    }

    #[test]
    fn a_retired_key_keeps_its_past_and_a_tie_goes_to_the_revocation() {
        let trust = trust();
        let club = Scope::parse("club.*").unwrap();
        let rows = vec![GovernanceRow {
            msgid: "<r@g>".into(),
            date: 100,
            signer: key(0),
            control: Action::Revoke {
                key: key(3),
                reason: Reason::Retired,
                scope: club,
                cancel: false,
            }
            .control(),
        }];
        let state = state_from_rows(rows, &trust);
        let g = ["club.a".to_string()];
        assert!(state.admits(&g, &key(3), 99, false).is_ok());
        assert!(state.admits(&g, &key(3), 100, false).is_err());
        assert!(state
            .admits(&["other.a".to_string()], &key(3), 200, false)
            .is_ok());
    }
}

mod through_ingest {
    //! Governance through `ingest`, on a real spool: what is refused and how (no history row
    //! for a refusal governance makes), what a governance article changes, and that spools
    //! fed the same control articles in different orders hold the same state.

    use ed25519_dalek::SigningKey;

    use super::super::*;
    use crate::article::{Article, Limits};
    use crate::compose::{compose_with, Draft};
    use crate::ingest::{ingest, Refusal as IngestRefusal, Rules, Source, Verdict};
    use crate::sign::sign_article;
    use crate::spool::test_support::temp_spool;

    const ADMIN: u8 = 9;
    const OTHER_ADMIN: u8 = 8;
    const MEMBER: u8 = 3;

    use super::key_of as key;

    /// `club.*` is administered by keys 9 and 8, `other.*` by 7; anyone may post anywhere by
    /// the local rules.
    fn trust() -> TrustPolicy {
        super::trust_with(&[ADMIN, OTHER_ADMIN], &[7])
    }

    fn rules(trust: &TrustPolicy) -> Rules<'_> {
        Rules {
            node_name: "beta",
            limits: Limits::default(),
            trust,
            source: Source::Peer("gamma"),
            log: None,
            // Governance articles here carry made-up dates (seconds since 1970).
            admission: crate::admission::Admission::unbounded(),
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

    /// A moderator's cancel that overtakes its target is honoured when the target comes:
    /// withdrawn on arrival, not taken again; a stranger's early cancel, or one outside
    /// the moderator's groups, is not.
    #[test]
    fn a_moderators_early_cancel_is_honoured_when_its_target_arrives() {
        let (_dir, mut spool) = spool();
        let trust = trust();
        const MODERATOR: u8 = 4;
        const STRANGER: u8 = 5;
        let name = Action::Moderator {
            add: true,
            scope: club(),
            key: key(MODERATOR),
        };
        assert!(matches!(
            one(&mut spool, &trust, &control(&name, 70, ADMIN)),
            Verdict::Stored(_)
        ));
        let cancel = |target: &[u8], by, date| {
            signed(
                "club.a",
                "cmsg cancel",
                date,
                by,
                &[("Control", &format!("cancel {}", id(target)))],
            )
        };
        let post = signed("club.a", "spam", 50, MEMBER, &[]);
        let kept = signed("club.a", "fine", 51, MEMBER, &[]);
        let elsewhere = signed("other.a", "not theirs", 52, MEMBER, &[]);
        // The cancels come first (their targets are unknown here yet).
        for raw in [
            cancel(&post, MODERATOR, 80),
            cancel(&kept, STRANGER, 81),
            cancel(&elsewhere, MODERATOR, 82),
        ] {
            assert!(matches!(one(&mut spool, &trust, &raw), Verdict::Stored(_)));
        }
        // Then the targets.
        assert!(
            !matches!(one(&mut spool, &trust, &post), Verdict::Stored(_)),
            "the moderator's early cancel withdraws it on arrival"
        );
        assert!(spool.article(&id(&post)).unwrap().is_none());
        assert!(
            !matches!(one(&mut spool, &trust, &post), Verdict::Stored(_)),
            "not taken again"
        );
        for raw in [&kept, &elsewhere] {
            assert!(
                matches!(one(&mut spool, &trust, raw), Verdict::Stored(_)),
                "a stranger's, or outside the moderator's groups: kept"
            );
        }
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
}
