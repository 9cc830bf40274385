//! Versioned migrations: `schema/NNN_*.sql` compiled in, applied in order inside one
//! transaction each; `PRAGMA user_version` records how far a spool has come.

use std::path::Path;

use rusqlite::Connection;

use super::SpoolError;

/// Every migration, in order; index + 1 is the version it brings the spool to.
const MIGRATIONS: &[&str] = &[
    include_str!("../../schema/001_init.sql"),
    include_str!("../../schema/002_resync.sql"),
    include_str!("../../schema/003_arrived_index.sql"),
];

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), SpoolError> {
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
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(wrap)?;
        tx.execute_batch(sql).map_err(wrap)?;
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
    Ok(())
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
