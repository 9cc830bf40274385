//! A listening socket handed down by whoever started `serve`: the test harness (and any
//! supervisor) binds the port first and passes it as a file descriptor named in
//! `NEWSMESH_LISTEN_FD`, so no other process can take the port between choosing and
//! binding it. Without the variable `serve` binds `[node] listen` itself, as always.

use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

use crate::error::{Error, Result};

/// The environment variable naming the inherited descriptor.
pub const LISTEN_FD: &str = "NEWSMESH_LISTEN_FD";

/// The inherited listener, when `NEWSMESH_LISTEN_FD` names one; the variable is removed
/// so that nothing `serve` starts inherits the claim.
pub fn listener() -> Result<Option<TcpListener>> {
    let Some(text) = std::env::var_os(LISTEN_FD) else {
        return Ok(None);
    };
    std::env::remove_var(LISTEN_FD);
    let fd: RawFd = text
        .to_str()
        .and_then(|t| t.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| Error::Invalid(format!("{LISTEN_FD}={text:?} is not a descriptor")))?;
    // It must be a listening TCP socket: anything else is refused before it is owned.
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `kind`; an fd that is not a
    // socket makes it fail with ENOTSOCK and touches nothing.
    let listening = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut kind as *mut libc::c_int).cast(),
            &mut len,
        )
    } == 0
        && kind != 0;
    if !listening {
        return Err(Error::Invalid(format!(
            "{LISTEN_FD}={fd} is not a listening socket"
        )));
    }
    // SAFETY: the descriptor was given to this process to own (the variable is gone
    // now, so it is taken once), and it is a listening socket (checked above).
    Ok(Some(unsafe { TcpListener::from_raw_fd(fd) }))
}
