//! The ingest pipeline's tests: verdicts, refusals, control messages, the log.

use super::*;
use crate::compose::{compose, Draft};
use crate::config::{Authors, TrustRuleConfig};
use crate::sign::Denied;
use crate::spool::test_support::temp_spool;

/// A spool carrying the groups these tests post to.
fn spool_carrying() -> (tempfile::TempDir, Spool) {
    let (dir, mut spool) = temp_spool();
    for group in ["mesh.test", "mesh.announce"] {
        spool.create_group(group, "").unwrap();
    }
    (dir, spool)
}
use ed25519_dalek::SigningKey;

fn article(subject: &str, group: &str, key: u8) -> Vec<u8> {
    let draft = Draft {
        groups: group,
        subject,
        from: "ann@example.org",
        references: None,
        body: b"hello\n",
    };
    compose(&draft, "alpha", &SigningKey::from_bytes(&[key; 32])).to_bytes()
}

fn policy() -> TrustPolicy {
    let boss = public_key_text(&SigningKey::from_bytes(&[9; 32]).verifying_key());
    let rules = [
        TrustRuleConfig {
            groups: "mesh.*".into(),
            authors: Authors::Word("any".into()),
        },
        TrustRuleConfig {
            groups: "mesh.announce".into(),
            authors: Authors::Keys(vec![boss]),
        },
    ];
    let control = [TrustRuleConfig {
        groups: "mesh.*".into(),
        authors: Authors::Keys(vec![public_key_text(
            &SigningKey::from_bytes(&[9; 32]).verifying_key(),
        )]),
    }];
    TrustPolicy::from_config(&rules, &control, false).unwrap()
}

/// The rules of a node named beta.
fn beta(trust: &TrustPolicy) -> Rules<'_> {
    Rules {
        node_name: "beta",
        limits: Limits::default(),
        trust,
        source: Source::Local,
        log: None,
        admission: Default::default(),
    }
}

fn id_of(raw: &[u8]) -> String {
    Article::parse(raw, &Limits::default())
        .unwrap()
        .message_id()
        .unwrap()
        .to_string()
}

#[test]
fn verdicts_are_logged_with_their_id_and_source_after_commit() {
    let (dir, mut spool) = spool_carrying();
    let log = crate::newslog::NewsLog::new(dir.path().join("news.log"), 1 << 20, 1);
    let trust = policy();
    let rules = Rules {
        log: Some(&log),
        ..beta(&trust).for_source(Source::Peer("gamma"))
    };
    let good = article("fine", "mesh.test", 1);
    let untrusted = article("news", "mesh.announce", 1);
    let garbage = b"not an article".to_vec();
    let v = ingest(&mut spool, &rules, &[&good, &untrusted, &good, &garbage]).unwrap();
    assert!(matches!(v[2], Verdict::Duplicate), "{v:?}");
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<_> = text
        .lines()
        .map(|l| crate::newslog::LogLine::parse(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "duplicates are not logged: {text}");
    assert_eq!(lines[0].verdict, LogVerdict::Accepted);
    assert_eq!(lines[0].id, id_of(&good));
    assert_eq!(lines[1].verdict, LogVerdict::Refused);
    assert_eq!(lines[1].id, id_of(&untrusted));
    assert!(lines[1].reason.contains("may not post to mesh.announce"));
    assert_eq!(lines[2].id, "?");
    assert!(lines.iter().all(|l| l.peer == "gamma"));
    // A reader's post names the reader.
    let reader = Rules {
        source: Source::Reader(Some("ann")),
        ..rules
    };
    ingest(&mut spool, &reader, &[&article("mine", "mesh.test", 2)]).unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.lines().last().unwrap().contains(" peer=reader:ann"),
        "{text}"
    );
}

#[test]
fn a_batch_of_many_steps_settles_each_article_as_it_did_alone() {
    // More than one pipeline step: examined on the verifier's thread, looked up and
    // stored on this one. Stored, duplicate (of an earlier one and within the
    // batch), a tampered copy of a stored article (a duplicate: history decides
    // before the signature), and a squatter (refused, its id stays free).
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let earlier = article("earlier", "mesh.test", 1);
    ingest(&mut spool, &rules, &[&earlier]).unwrap();
    let tampered = String::from_utf8(earlier.clone())
        .unwrap()
        .replace("hello", "HELLO")
        .into_bytes();
    let fresh: Vec<Vec<u8>> = (0..2 * STEP + 10)
        .map(|i| article(&format!("fresh {i}"), "mesh.test", 2))
        .collect();
    let squat = String::from_utf8(article("squat", "mesh.test", 3))
        .unwrap()
        .replace(
            &id_of(&article("squat", "mesh.test", 3)),
            &id_of(&article("squatted", "mesh.test", 3)),
        )
        .into_bytes();
    let mut batch: Vec<&[u8]> = fresh.iter().map(Vec::as_slice).collect();
    batch.extend([
        earlier.as_slice(),
        tampered.as_slice(),
        fresh[0].as_slice(),
        squat.as_slice(),
    ]);
    let v = ingest(&mut spool, &rules, &batch).unwrap();
    assert_eq!(v.len(), batch.len());
    assert!(v[..fresh.len()]
        .iter()
        .all(|v| matches!(v, Verdict::Stored(_))));
    let tail = &v[fresh.len()..];
    assert_eq!(tail[0], Verdict::Duplicate);
    assert_eq!(tail[1], Verdict::Duplicate, "tampered copy of a stored id");
    assert_eq!(tail[2], Verdict::Duplicate, "twice in one batch");
    assert!(matches!(&tail[3], Verdict::Refused(_)), "{:?}", tail[3]);
    assert!(!spool
        .seen(&id_of(&article("squatted", "mesh.test", 3)))
        .unwrap());
}

#[test]
fn a_squatter_cannot_block_the_real_article() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let real = article("real", "mesh.test", 1);
    let id = id_of(&real);
    // Another article, its Message-ID replaced by the real one's.
    let squat = String::from_utf8(article("squat", "mesh.test", 2))
        .unwrap()
        .replace(&id_of(&article("squat", "mesh.test", 2)), &id);
    let v = ingest(&mut spool, &rules, &[squat.as_bytes()]).unwrap();
    assert!(
        matches!(
            &v[0],
            Verdict::Refused(Refusal::Signature(status))
                if matches!(**status, SigStatus::IdMismatch { .. })
        ),
        "{v:?}"
    );
    assert!(!spool.seen(&id).unwrap());
    let v = ingest(&mut spool, &rules, &[&real]).unwrap();
    assert!(matches!(v[0], Verdict::Stored(_)), "{v:?}");
    let stored = spool.article(&id).unwrap().unwrap();
    assert!(stored.raw.starts_with(b"Path: beta!alpha!not-for-mail\r\n"));
}

#[test]
fn each_arrival_records_the_neighbour_that_delivered_it() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let from_gamma = beta(&trust).for_source(Source::Peer("gamma"));
    let relayed = article("relayed", "mesh.test", 1);
    let posted = article("posted", "mesh.test", 2);
    ingest(&mut spool, &from_gamma, &[&relayed]).unwrap();
    ingest(&mut spool, &beta(&trust), &[&posted]).unwrap();
    let arrivals = spool.arrivals_since(0, 10).unwrap();
    let recorded: Vec<(String, Option<&str>)> = arrivals
        .iter()
        .map(|a| (a.msgid.clone(), a.delivered_by.as_deref()))
        .collect();
    assert_eq!(
        recorded,
        vec![(id_of(&relayed), Some("gamma")), (id_of(&posted), None)]
    );
}

#[test]
fn untrusted_author_is_refused_and_remembered() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let raw = article("news", "mesh.announce", 1);
    let v = ingest(&mut spool, &rules, &[&raw]).unwrap();
    assert!(
        matches!(&v[0], Verdict::Refused(Refusal::Trust(Denied::KeyNotListed { group, .. }))
            if group == "mesh.announce")
    );
    assert_eq!(spool.history(&id_of(&raw)).unwrap().unwrap().0, "refused");
    let boss = article("news", "mesh.announce", 9);
    assert!(matches!(
        ingest(&mut spool, &rules, &[&boss]).unwrap()[0],
        Verdict::Stored(_)
    ));
}

#[test]
fn an_article_offered_under_another_id_is_refused() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let raw = article("x", "mesh.test", 1);
    let v = ingest_offered(&mut spool, &rules, &[("<other@newsmesh>", &raw)]).unwrap();
    assert!(
        matches!(&v[0], Verdict::Refused(Refusal::OfferedAs { offered, .. })
        if offered == "<other@newsmesh>")
    );
    let v = ingest_offered(
        &mut spool,
        &rules,
        &[(&id_of(&raw), &raw), (&id_of(&raw), &raw)],
    )
    .unwrap();
    assert!(
        matches!(v[..], [Verdict::Stored(_), Verdict::Duplicate]),
        "{v:?}"
    );
}

fn signed(extra: &[(&str, &str)], subject: &str, key: u8) -> Vec<u8> {
    let draft = Draft {
        groups: "mesh.test",
        subject,
        from: "ann@example.org",
        references: None,
        body: b"text\n",
    };
    crate::compose::compose_with(&draft, extra, "alpha", &SigningKey::from_bytes(&[key; 32]))
        .to_bytes()
}

fn cancel_of(target: &str, key: u8) -> Vec<u8> {
    crate::compose::compose_cancel(
        target,
        "mesh.test",
        "ann@example.org",
        "alpha",
        &SigningKey::from_bytes(&[key; 32]),
    )
    .to_bytes()
}

#[test]
fn only_the_author_may_cancel_and_a_cancel_may_come_first() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let x = signed(&[], "x", 1);
    let x_id = id_of(&x);
    assert!(matches!(
        ingest(&mut spool, &rules, &[&x]).unwrap()[0],
        Verdict::Stored(_)
    ));
    // Someone else's cancel is refused and changes nothing.
    let forged = cancel_of(&x_id, 2);
    let v = ingest(&mut spool, &rules, &[&forged]).unwrap();
    assert!(
        matches!(&v[0], Verdict::Refused(Refusal::NotTheAuthor { target }) if *target == x_id),
        "{v:?}"
    );
    assert!(spool.article(&x_id).unwrap().is_some());
    // The author's cancel withdraws it and is filed in control.cancel.
    let cancel = cancel_of(&x_id, 1);
    assert!(matches!(
        ingest(&mut spool, &rules, &[&cancel]).unwrap()[0],
        Verdict::Stored(_)
    ));
    assert!(spool.article(&x_id).unwrap().is_none());
    assert_eq!(spool.history(&x_id).unwrap().unwrap().0, "cancelled");
    assert_eq!(spool.group("mesh.test").unwrap().unwrap().count, 0);
    assert_eq!(spool.group(CANCEL_GROUP).unwrap().unwrap().count, 1);
    // A cancel that arrives before its article: the article is then not taken...
    let y = signed(&[], "y", 1);
    ingest(&mut spool, &rules, &[&cancel_of(&id_of(&y), 1)]).unwrap();
    assert_eq!(
        ingest(&mut spool, &rules, &[&y]).unwrap(),
        vec![Verdict::Duplicate]
    );
    assert_eq!(spool.history(&id_of(&y)).unwrap().unwrap().0, "cancelled");
    // ...unless the early cancel was not by its author.
    let z = signed(&[], "z", 1);
    ingest(&mut spool, &rules, &[&cancel_of(&id_of(&z), 3)]).unwrap();
    assert!(matches!(
        ingest(&mut spool, &rules, &[&z]).unwrap()[0],
        Verdict::Stored(_)
    ));
}

#[test]
fn a_foreign_early_cancel_does_not_shadow_the_authors() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let x = signed(&[], "x", 1);
    let x_id = id_of(&x);
    // A stranger's cancel comes first, then the author's, then the article.
    for key in [3, 1] {
        assert!(matches!(
            ingest(&mut spool, &rules, &[&cancel_of(&x_id, key)]).unwrap()[0],
            Verdict::Stored(_)
        ));
    }
    assert!(
        !spool.seen(&x_id).unwrap(),
        "the target may still be fetched"
    );
    assert_eq!(
        ingest(&mut spool, &rules, &[&x]).unwrap(),
        vec![Verdict::Duplicate]
    );
    assert!(spool.article(&x_id).unwrap().is_none());
    assert_eq!(spool.history(&x_id).unwrap().unwrap().0, "cancelled");
}

/// An unsigned article as a plain news server relays it.
fn unsigned(id: &str, group: &str, relay: &str) -> Vec<u8> {
    format!(
        "Path: {relay}!not-for-mail\r\nFrom: a@example.org\r\nNewsgroups: {group}\r\n\
         Subject: plain\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: {id}\r\n\r\nhi\r\n"
    )
    .into_bytes()
}

#[test]
fn unsigned_articles_only_from_the_named_peer_into_open_groups() {
    let (_dir, mut spool) = spool_carrying();
    let trust = TrustPolicy::from_config(
        &[
            TrustRuleConfig {
                groups: "mesh.*".into(),
                authors: Authors::Word("any".into()),
            },
            TrustRuleConfig {
                groups: "mesh.announce".into(),
                authors: Authors::Keys(vec![public_key_text(
                    &SigningKey::from_bytes(&[9; 32]).verifying_key(),
                )]),
            },
        ],
        &[],
        true,
    )
    .unwrap()
    .with_unsigned_from("inn", "mesh.*");
    let from_inn = beta(&trust).for_source(Source::NntpPeer("inn"));
    let ok = unsigned("<u1@x>", "mesh.test", "inn");
    assert!(matches!(
        ingest(&mut spool, &from_inn, &[&ok]).unwrap()[0],
        Verdict::Stored(_)
    ));
    let refused = |v: Vec<Verdict>, what: Refusal| {
        assert_eq!(v[0], Verdict::Refused(what), "{v:?}");
    };
    // Key-restricted group: refused whatever accept_unsigned says.
    let announce = unsigned("<u2@x>", "mesh.announce", "inn");
    refused(
        ingest(&mut spool, &from_inn, &[&announce]).unwrap(),
        Refusal::Trust(Denied::UnsignedInKeyedGroup {
            group: "mesh.announce".into(),
        }),
    );
    // Not from the named peer (a mesh neighbour, an import): refused.
    let elsewhere = unsigned("<u3@x>", "mesh.test", "inn");
    refused(
        ingest(&mut spool, &beta(&trust), &[&elsewhere]).unwrap(),
        Refusal::Trust(Denied::UnsignedNeedsNntpPeer),
    );
    // From the peer but claiming another relay in Path: refused.
    let spoofed = unsigned("<u4@x>", "mesh.test", "other");
    refused(
        ingest(&mut spool, &from_inn, &[&spoofed]).unwrap(),
        Refusal::UnsignedRelayMismatch {
            peer: "inn".into(),
            relay: "other".into(),
        },
    );
    for id in ["<u2@x>", "<u3@x>", "<u4@x>"] {
        assert!(spool.history(id).unwrap().is_none(), "{id}");
    }
}

#[test]
fn an_article_for_a_group_not_carried_is_refused_but_not_remembered() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let raw = article("early", "mesh.later", 1);
    let v = ingest(&mut spool, &rules, &[&raw]).unwrap();
    assert!(
        matches!(&v[0], Verdict::Refused(Refusal::NotCarried { groups }) if groups == &["mesh.later"]),
        "{v:?}"
    );
    assert!(spool.group("mesh.later").unwrap().is_none());
    assert!(spool.history(&id_of(&raw)).unwrap().is_none());
    // Once the group is created, the same article is taken.
    spool.create_group("mesh.later", "").unwrap();
    assert!(matches!(
        ingest(&mut spool, &rules, &[&raw]).unwrap()[0],
        Verdict::Stored(_)
    ));
    // A crosspost is filed only in the groups carried here.
    let cross = article("both", "mesh.test,mesh.nowhere", 1);
    assert!(matches!(
        ingest(&mut spool, &rules, &[&cross]).unwrap()[0],
        Verdict::Stored(_)
    ));
    assert!(spool.group("mesh.nowhere").unwrap().is_none());
}

#[test]
fn supersedes_replaces_only_the_same_authors_article() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let old = signed(&[], "v1", 1);
    let old_id = id_of(&old);
    ingest(&mut spool, &rules, &[&old]).unwrap();
    let hijack = signed(&[("Supersedes", &old_id)], "mine now", 2);
    assert!(matches!(
        ingest(&mut spool, &rules, &[&hijack]).unwrap()[0],
        Verdict::Stored(_)
    ));
    assert!(
        spool.article(&old_id).unwrap().is_some(),
        "another author cannot supersede"
    );
    let v2 = signed(&[("Supersedes", &old_id)], "v2", 1);
    assert!(matches!(
        ingest(&mut spool, &rules, &[&v2]).unwrap()[0],
        Verdict::Stored(_)
    ));
    assert!(spool.article(&old_id).unwrap().is_none());
    assert!(spool.article(&id_of(&v2)).unwrap().is_some());
    let other = signed(&[("Control", "checkgroups")], "cmsg", 1);
    let v = ingest(&mut spool, &rules, &[&other]).unwrap();
    assert_eq!(
        v[0],
        Verdict::Refused(Refusal::UnsupportedControl("checkgroups".into()))
    );
}

#[test]
fn groups_are_created_and_removed_only_by_keys_control_trusts() {
    let (_dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let body = "For your newsgroups file:\nmesh.new\tA new group\n";
    let newgroup = |key: u8| {
        let draft = Draft {
            groups: "mesh.new",
            subject: "cmsg newgroup mesh.new",
            from: "admin@example.org",
            references: None,
            body: body.as_bytes(),
        };
        let extra = [("Control", "newgroup mesh.new")];
        crate::compose::compose_with(&draft, &extra, "alpha", &SigningKey::from_bytes(&[key; 32]))
            .to_bytes()
    };
    let v = ingest(&mut spool, &rules, &[&newgroup(1)]).unwrap();
    assert!(
        matches!(
            &v[0],
            Verdict::Refused(Refusal::Trust(Denied::ControlKeyNotListed { group, .. }))
                if group == "mesh.new"
        ),
        "{v:?}"
    );
    assert!(spool.group("mesh.new").unwrap().is_none());
    assert!(matches!(
        ingest(&mut spool, &rules, &[&newgroup(9)]).unwrap()[0],
        Verdict::Stored(_)
    ));
    let g = spool.group("mesh.new").unwrap().unwrap();
    assert_eq!((g.count, g.description.as_str()), (0, "A new group"));
    assert_eq!(spool.group("control.newgroup").unwrap().unwrap().count, 1);
    let post = {
        let draft = Draft {
            groups: "mesh.new",
            subject: "first",
            from: "ann@example.org",
            references: None,
            body: b"hi\n",
        };
        crate::compose::compose(&draft, "alpha", &SigningKey::from_bytes(&[1; 32])).to_bytes()
    };
    ingest(&mut spool, &rules, &[&post]).unwrap();
    let rmgroup = signed(
        &[("Control", "rmgroup mesh.new")],
        "cmsg rmgroup mesh.new",
        9,
    );
    assert!(matches!(
        ingest(&mut spool, &rules, &[&rmgroup]).unwrap()[0],
        Verdict::Stored(_)
    ));
    assert!(spool.group("mesh.new").unwrap().is_none());
    assert!(spool.article(&id_of(&post)).unwrap().is_none());
    assert_eq!(spool.history(&id_of(&post)).unwrap().unwrap().0, "expired");
}

#[test]
fn every_article_of_a_stream_gets_its_verdict_in_order_across_commits() {
    let (dir, mut spool) = spool_carrying();
    let log = crate::newslog::NewsLog::new(dir.path().join("news.log"), 1 << 20, 1);
    let trust = policy();
    let rules = Rules {
        log: Some(&log),
        ..beta(&trust).for_source(Source::Import)
    };
    let mut raws: Vec<Vec<u8>> = (0..3 * STEP + 17)
        .map(|n| article(&format!("n{n}"), "mesh.test", 1))
        .collect();
    // A duplicate in a later transaction than its first copy, and garbage in another.
    raws.insert(STEP + 20, raws[5].clone());
    raws.insert(2 * STEP, b"not an article".to_vec());
    let mut seen: Vec<(Option<String>, Verdict)> = Vec::new();
    // Runs that do not fall on step boundaries, and an empty one (no transaction).
    let sizes = [STEP + 10, 0, 2 * STEP - 10, raws.len() - 3 * STEP];
    let mut rest = raws.iter().map(|raw| (None, raw.clone()));
    let runs: Vec<Vec<Streamed>> = sizes
        .iter()
        .map(|n| rest.by_ref().take(*n).collect())
        .collect();
    let mut commits = Vec::new();
    stream::ingest_stream(&mut spool, &rules, runs.into_iter(), |ids, vs| {
        commits.push(vs.len());
        seen.extend(ids.iter().cloned().zip(vs.iter().cloned()))
    })
    .unwrap();
    assert_eq!(commits, [STEP + 10, 2 * STEP - 10, raws.len() - 3 * STEP]);
    assert_eq!(seen.len(), raws.len());
    for (i, (id, verdict)) in seen.iter().enumerate() {
        match i {
            i if i == STEP + 20 => assert_eq!(verdict, &Verdict::Duplicate),
            i if i == 2 * STEP => {
                assert!(matches!(verdict, Verdict::Refused(_)), "{verdict:?}");
                assert_eq!(id, &None);
            }
            _ => {
                assert!(matches!(verdict, Verdict::Stored(_)), "{i}: {verdict:?}");
                assert_eq!(id.as_deref(), Some(id_of(&raws[i]).as_str()));
            }
        }
    }
    // Stored in the order they came.
    let seqs: Vec<i64> = seen
        .iter()
        .filter_map(|(_, v)| match v {
            Verdict::Stored(seq) => Some(*seq),
            _ => None,
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(spool.article_count().unwrap(), raws.len() as i64 - 2);
    // Every verdict but the duplicate is in the article log.
    let logged = std::fs::read_to_string(dir.path().join("news.log")).unwrap();
    assert_eq!(logged.lines().count(), raws.len() - 1);
}

#[test]
fn a_stream_that_fails_to_store_reports_only_what_it_committed() {
    let (dir, mut spool) = spool_carrying();
    let trust = policy();
    let rules = beta(&trust);
    let raws: Vec<Vec<u8>> = (0..3 * STEP)
        .map(|n| article(&format!("n{n}"), "mesh.test", 1))
        .collect::<Vec<_>>();
    // The store fails from the second transaction's first article on.
    let other = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    other
        .execute_batch(&format!(
            "CREATE TRIGGER full AFTER INSERT ON articles WHEN NEW.seq > {STEP}
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
        ))
        .unwrap();
    let mut heard = 0;
    let runs = raws.chunks(STEP).map(|run| {
        run.iter()
            .map(|raw| (None, raw.clone()))
            .collect::<Vec<Streamed>>()
    });
    let result = stream::ingest_stream(&mut spool, &rules, runs, |_, vs| {
        assert!(vs.iter().all(|v| matches!(v, Verdict::Stored(_))));
        heard += vs.len()
    });
    assert!(result.is_err());
    assert_eq!(heard, STEP, "only the committed transaction is reported");
    assert_eq!(spool.article_count().unwrap(), STEP as i64);
}
