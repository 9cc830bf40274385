//! A closed stdout ends a command quietly, as Unix tools do (`newsmesh status | head -1`).
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe returns EPIPE and `println!` panics
//! ("failed printing to stdout", exit 101). Restoring the default disposition makes the
//! kernel end the process silently instead. Only for work that writes to no socket:
//! `serve`, and `sync` and `demo` while they talk to neighbours, keep SIGPIPE ignored so a
//! vanished peer is an error on its link, never the end of the process.

/// From now on a write to a closed stdout ends this process quietly (SIGPIPE).
pub fn end_quietly_on_closed_stdout() {
    // SAFETY: setting a signal's disposition to its default; no handler runs our code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether `command` may die of SIGPIPE from its start (it writes to no socket).
pub fn writes_to_no_socket(command: &super::Command) -> bool {
    use super::Command;
    !matches!(
        command,
        Command::Serve | Command::Sync(_) | Command::Demo { .. }
    )
}
