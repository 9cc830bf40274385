//! `newsmesh demo`, the README's first command, does what it says: four nodes in a
//! line, an article relayed end to end and back with its signature verified, a quiet
//! round after, and a tampered article refused.

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
    assert_eq!(stdout.matches("=> signature valid").count(), 2, "{stdout}");
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
    // --dir keeps the nodes: four homes with their spools.
    for name in ["alpha", "bravo", "charlie", "delta"] {
        assert!(dir.path().join(name).join("spool.db").exists(), "{name}");
    }
}
