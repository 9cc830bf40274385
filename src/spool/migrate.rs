//! Versioned migrations: `schema/NNN_*.sql` compiled in, applied in order inside one
//! transaction each; `PRAGMA user_version` records how far a spool has come.

use std::path::Path;

use rusqlite::Connection;

use super::SpoolError;

/// Every migration, in order; index + 1 is the version it brings the spool to.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../schema/001_init.sql"),
    include_str!("../../schema/002_resync.sql"),
    include_str!("../../schema/003_arrived_index.sql"),
    include_str!("../../schema/004_history_locates_articles.sql"),
    include_str!("../../schema/005_early_cancels.sql"),
    include_str!("../../schema/006_peer_status.sql"),
    include_str!("../../schema/007_delivered_by.sql"),
    include_str!("../../schema/008_governance.sql"),
    include_str!("../../schema/009_quota_usage.sql"),
    RECONCILE_INDEX,
];

/// Schema 010, which has a Rust step: SQLite cannot decode the base32 Message-IDs whose
/// digests fill the new index (`reconcile.rs`: backfill).
pub(super) const RECONCILE_INDEX: &str = include_str!("../../schema/010_reconcile_index.sql");

/// Brings the spool up to date; returns whether it was empty (made just now).
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<bool, SpoolError> {
    let wrap = |source| SpoolError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(wrap)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(SpoolError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    // Table rebuilds must not cascade through foreign keys; the pragma cannot change
    // inside a transaction, so it is off around the migrations and checked after.
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(wrap)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(wrap)?;
        tx.execute_batch(sql).map_err(wrap)?;
        if *sql == RECONCILE_INDEX {
            super::reconcile::backfill(&tx).map_err(wrap)?;
        }
        if index == 0 {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('epoch', ?1), ('created', ?2)",
                (new_epoch(), super::now().to_string()),
            )
            .map_err(wrap)?;
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    // Only after a migration ran: the check reads every row that has a foreign key.
    let migrated = (version as usize) < MIGRATIONS.len();
    let broken: i64 = if migrated {
        conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(wrap)?
    } else {
        0
    };
    if broken > 0 {
        return Err(SpoolError::Sqlite {
            path: path.to_path_buf(),
            source: rusqlite::Error::InvalidQuery,
        });
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(wrap)?;
    Ok(version == 0)
}

/// 16 random bytes, hex: unique per spool ever created.
fn new_epoch() -> String {
    use rand_core::RngCore;
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    data_encoding::HEXLOWER.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::super::Spool;

    #[test]
    fn reopening_keeps_epoch_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        let epoch = Spool::open(&path).unwrap().epoch().unwrap();
        assert_eq!(epoch.len(), 32);
        assert_eq!(Spool::open(&path).unwrap().epoch().unwrap(), epoch);
    }

    #[test]
    fn version_3_spools_upgrade_keeping_articles_numbers_and_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &super::MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 3;
                 INSERT INTO meta VALUES ('epoch', 'e3');
                 INSERT INTO groups (name, high, count, created) VALUES ('mesh.test', 2, 1, 0);
                 INSERT INTO articles (seq, msgid, path, newsgroups, subject, author, date, posted,
                                       bytes, lines, arrived, raw)
                      VALUES (7, '<a@x>', 'p', 'mesh.test', 's', 'f', 'd', 0, 1, 1, 0, x'41'),
                             (9, '<gone@x>', 'p', 'mesh.test', 's', 'f', 'd', 0, 1, 1, 0, x'42');
                 INSERT INTO group_articles VALUES ('mesh.test', 1, 7), ('mesh.test', 2, 9);
                 INSERT INTO history (msgid, status, seen) VALUES ('<a@x>', 'stored', 0),
                                                                  ('<gone@x>', 'stored', 0);
                 DELETE FROM group_articles WHERE seq = 9;
                 DELETE FROM articles WHERE seq = 9;",
            )
            .unwrap();
        }
        let mut spool = Spool::open(&path).unwrap();
        assert_eq!(spool.epoch().unwrap(), "e3");
        assert_eq!(spool.article("<a@x>").unwrap().unwrap().seq, 7);
        assert_eq!(
            spool.article_at("mesh.test", 1).unwrap().unwrap().msgid,
            "<a@x>"
        );
        // The next arrival gets a sequence above every one ever used (9), not 8.
        let out = spool
            .store_batch(&[crate::spool::test_support::new_article(
                "<b@x>",
                "mesh.test",
            )])
            .unwrap();
        assert_eq!(out, vec![crate::spool::StoreOutcome::Stored(10)]);
        assert_eq!(spool.article("<b@x>").unwrap().unwrap().seq, 10);
    }

    #[test]
    fn version_4_advance_cancels_become_early_cancels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &super::MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 4;
                 INSERT INTO meta VALUES ('epoch', 'e4');
                 INSERT INTO history (msgid, status, seen, reason) VALUES
                     ('<early@x>', 'cancelled', 5, 'KEY'), ('<kept@x>', 'refused', 5, 'no');",
            )
            .unwrap();
        }
        drop(Spool::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT msgid, signer, seen FROM early_cancels")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![("<early@x>".to_string(), "KEY".to_string(), 5)]);
    }

    #[test]
    fn spools_from_before_delivered_by_upgrade_with_their_deliverers_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        // The version just before schema/007 (whatever number it has).
        let previous = super::MIGRATIONS.len() - 1;
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &super::MIGRATIONS[..previous] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", previous as i64)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO meta VALUES ('epoch', 'e6');
                 INSERT INTO groups (name, high, count, created) VALUES ('mesh.test', 1, 1, 0);
                 INSERT INTO articles (seq, msgid, path, newsgroups, subject, author, date, posted,
                                       bytes, lines, arrived, raw)
                      VALUES (7, '<old@x>', 'here!beta!not-for-mail', 'mesh.test', 's', 'f',
                              'd', 0, 1, 1, 0, x'41');
                 INSERT INTO group_articles VALUES ('mesh.test', 1, 7);
                 INSERT INTO history (msgid, status, seen, seq) VALUES ('<old@x>', 'stored', 0, 7);",
            )
            .unwrap();
        }
        let mut spool = Spool::open(&path).unwrap();
        assert_eq!(spool.epoch().unwrap(), "e6");
        let mut delivered = crate::spool::test_support::new_article("<new@x>", "mesh.test");
        delivered.delivered_by = Some("beta".into());
        spool.store_batch(&[delivered]).unwrap();
        let arrivals = spool.arrivals_since(0, 10).unwrap();
        let seen: Vec<(&str, Option<&str>)> = arrivals
            .iter()
            .map(|a| (a.msgid.as_str(), a.delivered_by.as_deref()))
            .collect();
        assert_eq!(seen, vec![("<old@x>", None), ("<new@x>", Some("beta"))]);
        assert_eq!(arrivals[0].path, "here!beta!not-for-mail");
    }

    #[test]
    fn a_newer_spool_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        drop(Spool::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Spool::open(&path).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
