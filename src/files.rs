//! Private files: the modes a node's secrets get, and replacing a file whole.
//!
//! Below `config` and `home` (both write through it), so neither depends on the other
//! for it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Mode of the home and `authors/`: only the owner may list or enter them.
pub const PRIVATE_DIR: u32 = 0o700;
/// Mode of the config and the spool: only the owner may read or write them.
pub const PRIVATE_FILE: u32 = 0o600;

/// Writes `bytes` to `path` via a temporary file and a rename, so a crash never leaves a
/// half-written file. The temporary file is created exclusively (O_EXCL, a random name,
/// mode 0600) in the same directory, so nobody can plant a symlink or a file there for
/// us to write through, and the result is private.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".newsmesh-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(PRIVATE_FILE))
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    // The data reaches the disk before the rename names it, and the rename itself (a
    // change of the directory) before we return: after a power cut the path holds the
    // old file or the new one, whole, never an empty one, and a change we reported
    // done stays done.
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// fsync(2) on a directory, so the entries renamed or created in it survive a power cut.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    tests::DIR_SYNCS.with(|n| n.set(n.get() + 1));
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    thread_local! {
        /// Directory syncs on this thread (tests look at it).
        pub(crate) static DIR_SYNCS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn an_atomic_write_syncs_its_directory_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let before = DIR_SYNCS.with(|n| n.get());
        write_atomically(&dir.path().join("newsmesh.toml"), b"x").unwrap();
        assert_eq!(DIR_SYNCS.with(|n| n.get()), before + 1);
    }

    #[test]
    fn an_atomic_write_does_not_follow_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let target = dir.path().join("newsmesh.toml");
        // The old fixed temporary name: a symlink there used to be written through.
        std::os::unix::fs::symlink(&victim, dir.path().join("newsmesh.tmp")).unwrap();
        write_atomically(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

/// A directory that was there before `init`: its mode then, and whether it was empty.
#[derive(Debug, Clone, Copy)]
pub struct ExistingDir {
    /// Its permission bits.
    pub mode: u32,
    /// Whether it held nothing.
    pub empty: bool,
}

/// The directory at `dir` as it is now; None when there is none.
pub fn existing_dir(dir: &Path) -> Option<ExistingDir> {
    let meta = std::fs::metadata(dir).ok().filter(|m| m.is_dir())?;
    let empty = std::fs::read_dir(dir).ok()?.next().is_none();
    Some(ExistingDir {
        mode: meta.permissions().mode() & 0o7777,
        empty,
    })
}

/// Tells the operator (stderr) what `init` did to the mode of a directory that existed:
/// an empty one is made `private` (said when that changed it); one holding other files
/// is left as it was, with a warning when others may enter it.
pub fn say_how_the_mode_was_treated(dir: &Path, before: &ExistingDir, private: u32) {
    if before.empty {
        if before.mode != private {
            eprintln!(
                "newsmesh: {} was mode {:04o}; made {private:04o} (a node home is private)",
                dir.display(),
                before.mode
            );
        }
    } else if before.mode & 0o077 != 0 {
        eprintln!(
            "newsmesh: {} already held other files, so its mode {:04o} was left as it is; \
             the node's secrets are 0600 inside, but others may list the directory \
             (`chmod {private:o} {}` if it is the node's alone)",
            dir.display(),
            before.mode,
            dir.display()
        );
    }
}
