//! The convergence property: random control histories (several admins, a non-admin,
//! an admin of another hierarchy, revocations of admins among them), delivered in random
//! orders, in subsets then the rest, with repeats, give identical state on every node.
//! The control text goes through `Action::control` and `Action::parse` and the admins
//! through a real `TrustPolicy`, as on a node.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::*;
use crate::config::{Authors, TrustRuleConfig};
use crate::sign::public_key_text;

fn key(n: u8) -> String {
    public_key_text(&SigningKey::from_bytes(&[n + 1; 32]).verifying_key())
}

/// Keys 0 and 1 administer `club.*`, key 2 `other.*`; 3..6 are ordinary authors.
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
        &[rule("club.*", &[0, 1]), rule("other.*", &[2])],
        false,
    )
    .unwrap()
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
