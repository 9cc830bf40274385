//! Articles cross an air gap as an rnews batch (`export` / `import`), verified on the way in.

mod common;

use common::*;

#[test]
fn articles_cross_an_air_gap_as_an_rnews_batch() {
    let alpha = Node::init("alpha");
    let bravo = Node::init("bravo");
    let ids: Vec<String> = (0..3)
        .map(|i| {
            alpha.post(
                "mesh.test",
                &format!("air gap {i}"),
                b"on a USB stick\n.dot\n",
            )
        })
        .collect();
    let stick = alpha.home().join("stick.batch");
    let stick_arg = stick.to_str().unwrap();
    alpha
        .cli(&["export", "--to", "bravo", "--file", stick_arg])
        .success()
        .stderr_has("exported=3");
    assert!(std::fs::read(&stick).unwrap().starts_with(b"#! rnews "));
    bravo
        .cli(&["import", stick_arg])
        .success()
        .stdout_has("imported=3 duplicates=0 refused=0");
    for id in &ids {
        bravo
            .cli(&["read", id])
            .success()
            .stdout_has("signature valid");
    }
    // Importing twice stores nothing new; a second export to bravo is empty.
    bravo
        .cli(&["import", stick_arg])
        .success()
        .stdout_has("imported=0 duplicates=3");
    alpha
        .cli(&["export", "--to", "bravo", "--file", stick_arg])
        .success()
        .stderr_has("exported=0");
    // A batch tampered with on the way: the changed article is refused, the rest stored.
    let mut batch = Vec::new();
    for i in 0..2 {
        let id = alpha.post("mesh.test", &format!("second trip {i}"), b"Pay Alice\n");
        let raw: Vec<u8> = rusqlite::Connection::open(alpha.home().join("spool.db"))
            .unwrap()
            .query_row(
                "SELECT a.raw FROM history h JOIN articles a ON a.seq = h.seq WHERE h.msgid = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        let mut text = String::from_utf8(raw).unwrap().replace("\r\n", "\n");
        if i == 1 {
            text = text.replace("Pay Alice", "Pay Malle");
        }
        batch.extend_from_slice(format!("#! rnews {}\n{text}", text.len()).as_bytes());
    }
    std::fs::write(&stick, &batch).unwrap();
    bravo
        .cli(&["import", stick_arg])
        .success()
        .stdout_has("imported=1 duplicates=0 refused=1")
        .stderr_has("does not match the content");
    // A damaged batch is an error after what came before it is stored.
    batch.extend_from_slice(b"#! rnews 100\nshort");
    std::fs::write(&stick, &batch).unwrap();
    bravo
        .cli(&["import", stick_arg])
        .failure()
        .stderr_has("truncated");
}
