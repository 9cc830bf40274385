//! Power cuts for tests: a wrapper SQLite VFS (after SQLite's own `src/test6.c`) that
//! remembers every write not yet synced to disk and, on a cut, drops, garbles or keeps
//! each of them at random, as a disk losing power would. Plain kill -9 keeps what the
//! kernel has; this loses what `fsync` had not made durable.
//!
//! Why a VFS rather than a lazy FUSE filesystem: it runs inside `cargo test` with no
//! mount rights, sees exactly SQLite's writes and syncs (the spool is the only durable
//! state an acknowledgement rests on), and costs one file of FFI on rusqlite's
//! `ffi` (libsqlite3-sys) instead of a daemon.
//!
//! How: [`install`] registers the VFS "powercut" as the process's default, wrapping
//! "unix". Writes go through to the file at once (so reads see them), but the bytes they
//! replace are kept as an undo record per file until that file's `xSync`. [`arm`] picks
//! the operation (write, truncate or sync on files under a directory) at which power
//! fails: from then on every write, sync, truncate and delete there fails with
//! `SQLITE_IOERR` and does nothing, as on a dead machine. Once every connection is
//! closed, [`restore_power`] applies the cut to the files (for each unsynced write,
//! newest first: restore the old bytes, overwrite with garbage, or keep), and the node
//! can be opened again. The `-shm` index is memory and rebuilt from the WAL on the next
//! open, as after a real reboot.
//!
//! Include it with `#[path = "common/powercut.rs"] mod powercut;`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, OnceLock};

use rusqlite::ffi;

/// One unsynced change to a file, with what it replaced.
enum Undo {
    /// `len` bytes written at `offset`; `old` is what was there (shorter at EOF) and
    /// `size` the file's size before.
    Write {
        offset: i64,
        len: usize,
        old: Vec<u8>,
        size: i64,
    },
    /// Truncated from `size`; `tail` is what was cut off.
    Truncate { size: i64, tail: Vec<u8> },
}

#[derive(Default)]
struct State {
    /// Files under this directory are watched; None: none (power stays on).
    armed: Option<PathBuf>,
    /// Operations left before the cut.
    left: u64,
    /// The power is off.
    cut: bool,
    /// Unsynced changes per watched file, oldest first.
    pending: HashMap<PathBuf, Vec<Undo>>,
    /// Writes, syncs and truncates seen on watched files since `arm`.
    ops: u64,
}

fn state() -> std::sync::MutexGuard<'static, State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE
        .get_or_init(|| Mutex::new(State::default()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Our file: SQLite's header, then the wrapped "unix" file right after it.
#[repr(C)]
struct CutFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// The file's path when it is one we may watch (main database or WAL).
    path: *mut PathBuf,
}

static mut UNIX: *mut ffi::sqlite3_vfs = std::ptr::null_mut();

/// The wrapped file's methods.
unsafe fn real(
    f: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*(f as *mut CutFile)).real;
    (real, &*(*real).pMethods)
}

/// The path of `f` when it lies under the armed directory.
unsafe fn watched(f: *mut ffi::sqlite3_file, st: &State) -> Option<PathBuf> {
    let path = (*(f as *mut CutFile)).path;
    if path.is_null() {
        return None;
    }
    let path = &*path;
    st.armed
        .as_ref()
        .filter(|dir| path.starts_with(dir))
        .map(|_| path.clone())
}

/// Counts one operation on a watched file; true when the power is (now) off.
fn tick(st: &mut State) -> bool {
    if st.cut {
        return true;
    }
    st.ops += 1;
    if st.left == 0 {
        st.cut = true;
        return true;
    }
    st.left -= 1;
    false
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    let (r, m) = real(f);
    let rc = m.xClose.map_or(ffi::SQLITE_OK, |x| x(r));
    let path = (*(f as *mut CutFile)).path;
    if !path.is_null() {
        drop(Box::from_raw(path));
        (*(f as *mut CutFile)).path = std::ptr::null_mut();
    }
    rc
}

unsafe extern "C" fn x_read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    off: i64,
) -> c_int {
    let (r, m) = real(f);
    m.xRead.map_or(ffi::SQLITE_IOERR, |x| x(r, buf, n, off))
}

unsafe fn file_size(r: *mut ffi::sqlite3_file, m: &ffi::sqlite3_io_methods) -> i64 {
    let mut size: i64 = 0;
    if let Some(x) = m.xFileSize {
        x(r, &mut size);
    }
    size
}

unsafe fn read_old(
    r: *mut ffi::sqlite3_file,
    m: &ffi::sqlite3_io_methods,
    off: i64,
    len: usize,
    size: i64,
) -> Vec<u8> {
    let have = (size - off).clamp(0, len as i64) as usize;
    let mut old = vec![0u8; have];
    if have > 0 {
        if let Some(x) = m.xRead {
            x(r, old.as_mut_ptr() as *mut c_void, have as c_int, off);
        }
    }
    old
}

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: i64,
) -> c_int {
    let (r, m) = real(f);
    let mut st = state();
    if let Some(path) = watched(f, &st) {
        if tick(&mut st) {
            return ffi::SQLITE_IOERR;
        }
        let size = file_size(r, m);
        let old = read_old(r, m, off, n as usize, size);
        st.pending.entry(path).or_default().push(Undo::Write {
            offset: off,
            len: n as usize,
            old,
            size,
        });
    }
    m.xWrite.map_or(ffi::SQLITE_IOERR, |x| x(r, buf, n, off))
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let (r, m) = real(f);
    let mut st = state();
    if let Some(path) = watched(f, &st) {
        if tick(&mut st) {
            return ffi::SQLITE_IOERR;
        }
        let old_size = file_size(r, m);
        if old_size > size {
            let tail = read_old(r, m, size, (old_size - size) as usize, old_size);
            st.pending.entry(path).or_default().push(Undo::Truncate {
                size: old_size,
                tail,
            });
        }
    }
    m.xTruncate.map_or(ffi::SQLITE_IOERR, |x| x(r, size))
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let (r, m) = real(f);
    let mut st = state();
    if let Some(path) = watched(f, &st) {
        if tick(&mut st) {
            return ffi::SQLITE_IOERR;
        }
        // Durable now: nothing of this file can be lost any more.
        st.pending.remove(&path);
    }
    m.xSync.map_or(ffi::SQLITE_IOERR, |x| x(r, flags))
}

unsafe extern "C" fn x_file_size(f: *mut ffi::sqlite3_file, out: *mut i64) -> c_int {
    let (r, m) = real(f);
    m.xFileSize.map_or(ffi::SQLITE_IOERR, |x| x(r, out))
}
unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, l: c_int) -> c_int {
    let (r, m) = real(f);
    m.xLock.map_or(ffi::SQLITE_IOERR, |x| x(r, l))
}
unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, l: c_int) -> c_int {
    let (r, m) = real(f);
    m.xUnlock.map_or(ffi::SQLITE_IOERR, |x| x(r, l))
}
unsafe extern "C" fn x_check_reserved(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (r, m) = real(f);
    m.xCheckReservedLock
        .map_or(ffi::SQLITE_IOERR, |x| x(r, out))
}
unsafe extern "C" fn x_file_control(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    let (r, m) = real(f);
    m.xFileControl
        .map_or(ffi::SQLITE_NOTFOUND, |x| x(r, op, arg))
}
unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    let (r, m) = real(f);
    m.xSectorSize.map_or(4096, |x| x(r))
}
unsafe extern "C" fn x_device(f: *mut ffi::sqlite3_file) -> c_int {
    let (r, m) = real(f);
    m.xDeviceCharacteristics.map_or(0, |x| x(r))
}
unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    pg: c_int,
    sz: c_int,
    extend: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    let (r, m) = real(f);
    m.xShmMap
        .map_or(ffi::SQLITE_IOERR, |x| x(r, pg, sz, extend, pp))
}
unsafe extern "C" fn x_shm_lock(
    f: *mut ffi::sqlite3_file,
    off: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let (r, m) = real(f);
    m.xShmLock
        .map_or(ffi::SQLITE_IOERR, |x| x(r, off, n, flags))
}
unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    let (r, m) = real(f);
    if let Some(x) = m.xShmBarrier {
        x(r)
    }
}
unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (r, m) = real(f);
    m.xShmUnmap.map_or(ffi::SQLITE_OK, |x| x(r, delete))
}

/// Version 2 methods: no xFetch, so SQLite never reads through mmap.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    let cut = file as *mut CutFile;
    let real = (file as *mut u8).add(std::mem::size_of::<CutFile>()) as *mut ffi::sqlite3_file;
    (*cut).real = real;
    (*cut).path = std::ptr::null_mut();
    (*cut).base.pMethods = std::ptr::null();
    let Some(open) = (*UNIX).xOpen else {
        return ffi::SQLITE_IOERR;
    };
    let rc = open(UNIX, name, real, flags, out);
    if rc != ffi::SQLITE_OK || (*real).pMethods.is_null() {
        return rc;
    }
    let durable = flags & (ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_WAL) != 0;
    if durable && !name.is_null() {
        let path = PathBuf::from(CStr::from_ptr(name).to_string_lossy().into_owned());
        (*cut).path = Box::into_raw(Box::new(path));
    }
    (*cut).base.pMethods = &METHODS;
    rc
}

unsafe extern "C" fn x_delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    {
        let st = state();
        if st.cut && !name.is_null() {
            let path = PathBuf::from(CStr::from_ptr(name).to_string_lossy().into_owned());
            if st.armed.as_ref().is_some_and(|d| path.starts_with(d)) {
                return ffi::SQLITE_IOERR;
            }
        }
    }
    match (*UNIX).xDelete {
        Some(x) => x(UNIX, name, sync_dir),
        None => ffi::SQLITE_IOERR,
    }
}

/// Registers the "powercut" VFS as the default of this process (once); every
/// connection opened afterwards goes through it. Power stays on until [`arm`].
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        let unix = ffi::sqlite3_vfs_find(c"unix".as_ptr());
        assert!(!unix.is_null(), "no unix VFS");
        UNIX = unix;
        let mut vfs: ffi::sqlite3_vfs = *unix;
        vfs.zName = c"powercut".as_ptr();
        vfs.pNext = std::ptr::null_mut();
        let header = std::mem::size_of::<CutFile>();
        vfs.szOsFile = (header + (*unix).szOsFile as usize) as c_int;
        vfs.xOpen = Some(x_open);
        vfs.xDelete = Some(x_delete);
        let vfs = Box::leak(Box::new(vfs));
        let rc = ffi::sqlite3_vfs_register(vfs, 1);
        assert_eq!(rc, ffi::SQLITE_OK, "register the powercut VFS");
    });
}

/// Cuts the power after `ops` more writes, truncates or syncs of files under `dir`.
pub fn arm(dir: &Path, ops: u64) {
    let mut st = state();
    st.armed = Some(dir.to_path_buf());
    st.left = ops;
    st.cut = false;
    st.ops = 0;
    st.pending.clear();
}

/// Cuts the power now (for files under the armed directory).
pub fn cut_now() {
    state().cut = true;
}

/// Whether the power went off.
pub fn is_cut() -> bool {
    state().cut
}

/// What a cut did to the unsynced writes.
#[derive(Debug, Default, Clone, Copy)]
pub struct CutReport {
    /// Unsynced writes lost.
    pub dropped: u64,
    /// Unsynced writes torn (replaced with garbage).
    pub garbled: u64,
    /// Unsynced writes that reached the disk anyway.
    pub kept: u64,
}

/// Brings the power back: when it was cut, applies the cut to every watched file (call
/// only once every connection to them is closed); then disarms. `seed` chooses, for each
/// unsynced write, whether it is dropped, garbled or kept.
pub fn restore_power(mut seed: u64) -> CutReport {
    let mut st = state();
    let mut report = CutReport::default();
    let pending = std::mem::take(&mut st.pending);
    let was_cut = st.cut;
    st.armed = None;
    st.cut = false;
    drop(st);
    if !was_cut {
        return report;
    }
    let mut next = || {
        // xorshift64*: deterministic per seed.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for (path, undos) in pending {
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        use std::os::unix::fs::FileExt;
        for undo in undos.into_iter().rev() {
            match undo {
                Undo::Write {
                    offset,
                    len,
                    old,
                    size,
                } => match next() % 3 {
                    0 => {
                        report.dropped += 1;
                        let _ = file.write_at(&old, offset as u64);
                        let now = file.metadata().map(|m| m.len() as i64).unwrap_or(size);
                        if now > size {
                            let _ = file.set_len(size as u64);
                        }
                    }
                    1 => {
                        report.garbled += 1;
                        let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                        let _ = file.write_at(&junk, offset as u64);
                    }
                    _ => report.kept += 1,
                },
                Undo::Truncate { size, tail } => {
                    if next() % 2 == 0 {
                        report.dropped += 1;
                        let cut_at = size as u64 - tail.len() as u64;
                        let _ = file.write_at(&tail, cut_at);
                    } else {
                        report.kept += 1;
                    }
                }
            }
        }
        let _ = file.sync_all();
    }
    report
}

/// Operations counted on watched files since [`arm`].
pub fn ops() -> u64 {
    state().ops
}
