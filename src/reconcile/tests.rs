//! The two sides against each other (property-tested), and against peers that do not
//! play by the rules.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

/// Runs a whole reconciliation in memory; returns the differences and the rounds.
fn reconcile(ours: &VecStorage, theirs: &VecStorage) -> (Differences, u32) {
    let mut initiator = Initiator::new();
    let mut message = initiator.start(ours).unwrap();
    loop {
        let answer = respond(theirs, &message).unwrap();
        match initiator.reconcile(ours, &answer).unwrap() {
            Some(next) => message = next,
            None => break,
        }
    }
    let rounds = initiator.rounds();
    (initiator.into_differences(), rounds)
}

fn item(n: u64, timestamp: u64) -> Item {
    let mut id = [0; ID_SIZE];
    id[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    id[8..16].copy_from_slice(&n.to_le_bytes());
    Item { timestamp, id }
}

/// Shared items plus some unique to each side: the ids each should learn.
fn check(shared: u64, only_ours: u64, only_theirs: u64, spread: u64) -> u32 {
    let all = |range: std::ops::Range<u64>| range.map(|n| item(n, n / spread));
    let mut ours: Vec<Item> = all(0..shared).collect();
    let mut theirs = ours.clone();
    ours.extend(all(shared..shared + only_ours));
    theirs.extend(all(shared + only_ours..shared + only_ours + only_theirs));
    let (ours_s, theirs_s) = (
        VecStorage::new(ours.clone()),
        VecStorage::new(theirs.clone()),
    );
    let (diff, rounds) = reconcile(&ours_s, &theirs_s);
    let have: BTreeSet<Id> = diff.have.iter().copied().collect();
    let need: BTreeSet<Id> = diff.need.iter().copied().collect();
    let expect_have: BTreeSet<Id> = ours[shared as usize..].iter().map(|i| i.id).collect();
    let expect_need: BTreeSet<Id> = theirs[shared as usize..].iter().map(|i| i.id).collect();
    assert_eq!(have, expect_have);
    assert_eq!(need, expect_need);
    rounds
}

#[test]
fn equal_sets_agree_in_one_round() {
    assert_eq!(check(10_000, 0, 0, 3), 1);
    assert_eq!(check(0, 0, 0, 1), 1);
}

#[test]
fn a_few_differences_among_many_take_a_few_rounds() {
    let rounds = check(100_000, 10, 10, 7);
    assert!(rounds <= 6, "{rounds} rounds");
    check(20_000, 1_000, 1_000, 1);
    // One side empty: everything is a difference, and it still ends.
    check(0, 5_000, 0, 1);
    check(0, 0, 5_000, 1);
}

#[test]
fn many_items_with_one_timestamp_are_told_apart_by_their_ids() {
    check(5_000, 50, 50, u64::MAX);
}

#[test]
fn messages_stay_within_the_frame_limit() {
    // Differences everywhere: replies are cut at the limit and continue next round.
    let ours = VecStorage::new((0..60_000).map(|n| item(n * 2, n)).collect());
    let theirs = VecStorage::new((0..60_000).map(|n| item(n * 2 + 1, n)).collect());
    let mut initiator = Initiator::new();
    let mut message = initiator.start(&ours).unwrap();
    loop {
        assert!(message.len() <= MAX_FRAME_BYTES);
        let answer = respond(&theirs, &message).unwrap();
        assert!(answer.len() <= MAX_FRAME_BYTES);
        match initiator.reconcile(&ours, &answer) {
            Ok(Some(next)) => message = next,
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(initiator.differences().need.len(), 60_000);
}

#[test]
fn a_responder_that_never_agrees_is_cut_off_after_max_rounds() {
    // It answers every message with fingerprints that match nothing.
    let ours = VecStorage::new((0..100_000).map(|n| item(n, n)).collect());
    let mut initiator = Initiator::new();
    initiator.start(&ours).unwrap();
    let mut rounds = 0;
    let err = loop {
        rounds += 1;
        assert!(rounds <= MAX_ROUNDS + 1, "never cut off");
        let mut lying = Encoder::default();
        for upper in [Bound::new(50_000, &[]), Bound::INFINITY] {
            lying.push(&upper, &Mode::Fingerprint([rounds as u8; FINGERPRINT_SIZE]));
        }
        if let Err(e) = initiator.reconcile(&ours, &lying.finish()) {
            break e;
        }
    };
    assert!(matches!(err, ReconcileError::TooManyRounds), "{err}");
}

#[test]
fn a_responder_claiming_everything_is_cut_off_at_max_differences() {
    let ours = VecStorage::new(Vec::new());
    let mut initiator = Initiator::new();
    initiator.start(&ours).unwrap();
    let ids: Vec<Id> = (0..(MAX_FRAME_BYTES / ID_SIZE - 8) as u64)
        .map(|n| item(n, 0).id)
        .collect();
    let mut err = None;
    for _ in 0..MAX_ROUNDS {
        let mut flood = Encoder::default();
        flood.push(&Bound::INFINITY, &Mode::IdList(ids.clone()));
        // A flood that is reconciled (nothing more to ask) may come again: the
        // differences keep counting until the limit.
        if let Err(e) = initiator.reconcile(&ours, &flood.finish()) {
            err = Some(e);
            break;
        }
    }
    assert!(matches!(err, Some(ReconcileError::TooManyDifferences)));
}

#[test]
fn garbage_is_refused_by_both_sides() {
    let ours = VecStorage::new((0..100).map(|n| item(n, n)).collect());
    for garbage in [&b""[..], b"\x61\xff", b"hello", &[0x61, 2, 0, 7]] {
        assert!(respond(&ours, garbage).is_err());
        let mut initiator = Initiator::new();
        initiator.start(&ours).unwrap();
        assert!(initiator.reconcile(&ours, garbage).is_err());
    }
}

#[test]
fn an_id_list_over_everything_gets_fingerprints_not_a_whole_spool() {
    let ours = VecStorage::new((0..10_000).map(|n| item(n, n)).collect());
    let mut ask = Encoder::default();
    ask.push(&Bound::INFINITY, &Mode::IdList(Vec::new()));
    let answer = decode(&respond(&ours, &ask.finish()).unwrap()).unwrap();
    assert_eq!(answer.ranges.len(), BUCKETS as usize);
    assert!(answer
        .ranges
        .iter()
        .all(|r| matches!(r.mode, Mode::Fingerprint(_))));
}

#[test]
fn newsmesh_message_ids_map_to_their_digest_and_back() {
    let digest = [7u8; ID_SIZE];
    let msgid = msgid_of(&digest);
    assert_eq!(id_of(&msgid), Some(digest));
    assert_eq!(id_of("<abc@example.com>"), None);
    assert_eq!(id_of(&msgid.to_ascii_uppercase()), None);
    assert_eq!(id_of(&msgid.replace("@newsmesh", "@elsewhere")), None);
    assert_eq!(item_for(&msgid, 0, 99).map(|i| i.timestamp), Some(99));
    assert_eq!(item_for(&msgid, 5, 99).map(|i| i.timestamp), Some(5));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_two_sets_reconcile_to_their_differences(
        shared in proptest::collection::vec((0u64..50, any::<[u8; 4]>()), 0..300),
        ours_only in proptest::collection::vec((0u64..50, any::<[u8; 4]>()), 0..40),
        theirs_only in proptest::collection::vec((0u64..50, any::<[u8; 4]>()), 0..40),
    ) {
        let make = |(ts, head): &(u64, [u8; 4])| {
            let mut id = [0x55; ID_SIZE];
            id[..4].copy_from_slice(head);
            Item { timestamp: *ts, id }
        };
        let shared: BTreeSet<Item> = shared.iter().map(make).collect();
        let ours_only: BTreeSet<Item> =
            ours_only.iter().map(make).filter(|i| !shared.contains(i)).collect();
        let theirs_only: BTreeSet<Item> = theirs_only
            .iter()
            .map(make)
            .filter(|i| !shared.contains(i) && !ours_only.contains(i))
            .collect();
        let ours = VecStorage::new(shared.iter().chain(&ours_only).copied().collect());
        let theirs = VecStorage::new(shared.iter().chain(&theirs_only).copied().collect());
        let (diff, _) = reconcile(&ours, &theirs);
        let have: BTreeSet<Id> = diff.have.into_iter().collect();
        let need: BTreeSet<Id> = diff.need.into_iter().collect();
        prop_assert_eq!(have, ours_only.iter().map(|i| i.id).collect::<BTreeSet<_>>());
        prop_assert_eq!(need, theirs_only.iter().map(|i| i.id).collect::<BTreeSet<_>>());
    }

    #[test]
    fn the_responder_answers_any_bytes_within_its_limits(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        let ours = VecStorage::new((0..2_000).map(|n| item(n, n / 3)).collect());
        let mut input = vec![VERSION];
        input.extend_from_slice(&bytes);
        if let Ok(answer) = respond(&ours, &input) {
            prop_assert!(answer.len() <= MAX_FRAME_BYTES);
            prop_assert!(decode(&answer).is_ok());
        }
    }
}
