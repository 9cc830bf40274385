//! Groups over time: `expire` removes what is past retention and remembers the ids, and
//! newgroup/rmgroup control messages need a key that `[[control]]` trusts.

mod common;

use common::*;

#[test]
fn expire_removes_articles_past_retention_and_remembers_their_ids() {
    let alpha = Node::init("alpha");
    let id = alpha.post("mesh.test", "short-lived", b"gone soon\n");
    let mut config = std::fs::read_to_string(alpha.home().join("newsmesh.toml")).unwrap();
    config.push_str("\n[[expire.rule]]\ngroups = \"mesh.*\"\ndays = 0\n");
    std::fs::write(alpha.home().join("newsmesh.toml"), config).unwrap();
    // Nothing is older than "now" within the same second: wait for the next one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    alpha
        .cli(&["expire"])
        .success()
        .stdout_has("group=mesh.test expired=1")
        .stdout_has("articles_removed=1 history_pruned=0");
    alpha.cli(&["read", &id]).code(1);
    assert_eq!(group_counts(&alpha), [("mesh.test".to_string(), 0)]);
    let status: String = rusqlite::Connection::open(alpha.home().join("spool.db"))
        .unwrap()
        .query_row("SELECT status FROM history WHERE msgid = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "expired");
}

#[test]
fn newgroup_and_rmgroup_need_a_key_that_control_trusts() {
    let alpha = Node::init("alpha");
    let admin = alpha.cli(&["key"]).success().stdout_text();
    let admin = admin.trim();
    alpha
        .cli(&["key", "--author", "mallory", "--generate"])
        .success();
    let mut config = std::fs::read_to_string(alpha.home().join("newsmesh.toml")).unwrap();
    config.push_str(&format!(
        "\n[[control]]\ngroups = \"mesh.*\"\nauthors = [\"{admin}\"]\n"
    ));
    std::fs::write(alpha.home().join("newsmesh.toml"), config).unwrap();
    alpha
        .cli(&["newgroup", "mesh.rogue", "--author", "mallory"])
        .failure()
        .stderr_has("may not create or remove mesh.rogue");
    alpha
        .cli(&[
            "newgroup",
            "mesh.announce",
            "--description",
            "Announcements",
        ])
        .success();
    let groups = alpha.cli(&["groups"]).success().stdout_text();
    assert!(groups.contains("mesh.announce 0"), "{groups}");
    assert!(!groups.contains("mesh.rogue"), "{groups}");
    alpha.post("mesh.announce", "hello", b"first\n");
    alpha.cli(&["rmgroup", "mesh.announce"]).success();
    let groups = alpha.cli(&["groups"]).success().stdout_text();
    assert!(!groups.contains("mesh.announce"), "{groups}");
}
