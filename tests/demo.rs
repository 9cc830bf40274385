//! `newsmesh demo`, the README's first command, does what it says: first an article
//! reaching the far end of a line by live relay (`serve` alone, the time printed) and a
//! newcomer joining by invite; then four nodes in a line synced round by round, an
//! article relayed end to end and back with its signature verified, a quiet round
//! after, and a tampered article refused.

mod common;

#[test]
fn the_demo_relays_verifies_and_refuses_a_tampered_article() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::cmd_without_home(
        &["demo".as_ref(), "--dir".as_ref(), dir.path().as_os_str()],
        &[],
    );
    let stdout = run.success().stdout_text();
    assert!(
        stdout.contains("Path: delta!charlie!bravo!alpha!not-for-mail"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Path: alpha!bravo!charlie!delta!not-for-mail"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("=> signature valid").count(), 3, "{stdout}");
    assert!(
        stdout.contains("articles moved in that round: 0"),
        "{stdout}"
    );
    assert!(stdout.contains("bravo answered: 439"), "{stdout}");
    assert!(
        stdout.contains("bravo stored the tampered article: no"),
        "{stdout}"
    );
    assert!(stdout.contains("echo joined by invite"), "{stdout}");
    assert!(stdout.contains("echo has alpha's article <"), "{stdout}");
    assert!(stdout.contains(": yes"), "{stdout}");
}

/// The live step comes first: delta holds alpha's article by live relay (no sync), the
/// time it took is printed, and only then do the cron-style rounds run; the newcomer
/// joins the live mesh and its first sync brings it that article.
#[test]
fn the_demo_shows_live_relay_and_an_invite_before_the_sync_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::cmd_without_home(
        &["demo".as_ref(), "--dir".as_ref(), dir.path().as_os_str()],
        &[],
    );
    let stdout = run.success().stdout_text();
    let live = stdout
        .lines()
        .find(|l| l.contains("live relay: delta, three hops away, has <"))
        .unwrap_or_else(|| panic!("no live relay line: {stdout}"));
    // "... has <ID> after N ms, with no sync run"
    let id = live
        .split_once(" has ")
        .and_then(|(_, rest)| rest.split_once(" after "))
        .map(|(id, _)| id.to_string())
        .unwrap_or_else(|| panic!("{live}"));
    let ms = live
        .split_once(" after ")
        .and_then(|(_, rest)| rest.split_once(" ms"))
        .map(|(ms, _)| ms)
        .unwrap_or_else(|| panic!("{live}"));
    assert!(ms.parse::<u64>().is_ok(), "the time it took: {live}");
    let live_at = stdout.find(live).unwrap();
    let first_round = stdout.find("sync round 1:").expect("the sync rounds");
    assert!(
        live_at < first_round,
        "live relay before the rounds: {stdout}"
    );
    let invite_at = stdout.find("echo joined by invite").expect("invite");
    assert!(
        invite_at < first_round,
        "invite before the rounds: {stdout}"
    );
    assert!(
        stdout.contains(&format!("echo has alpha's article {id}: yes")),
        "{stdout}"
    );
    // The article really is at the far end of the live line and at the newcomer.
    for name in ["delta", "echo"] {
        let spool =
            newsmesh::spool::Spool::open(&dir.path().join("live").join(name).join("spool.db"))
                .unwrap();
        assert!(spool.article(&id).unwrap().is_some(), "{name} lacks {id}");
    }
    // --dir keeps the nodes: four homes with their spools.
    for name in ["alpha", "bravo", "charlie", "delta"] {
        assert!(dir.path().join(name).join("spool.db").exists(), "{name}");
    }
}
