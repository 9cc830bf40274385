//! Progress of long `sync`, `import` and `export` runs, for a person at a terminal: one
//! line on stderr rewritten in place (at most five times a second) and cleared at the
//! end. Nothing at all when stderr is not a terminal (cron, scripts, pipes) or under
//! `-q`, so what those read never changes.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is rewritten at most.
const EVERY: Duration = Duration::from_millis(200);

/// One command's progress line.
pub struct Progress {
    on: bool,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    /// Shown only when stderr is a terminal and the command is not quiet.
    pub fn new(quiet: bool) -> Progress {
        Progress {
            on: !quiet && std::io::stderr().is_terminal(),
            last: None,
            shown: false,
        }
    }

    /// Shows `what` now unless the line was rewritten less than [`EVERY`] ago (`force`:
    /// always, for a step worth seeing such as the next peer).
    pub fn show(&mut self, what: impl FnOnce() -> String, force: bool) {
        if !self.on || (!force && self.last.is_some_and(|t| t.elapsed() < EVERY)) {
            return;
        }
        self.last = Some(Instant::now());
        self.shown = true;
        let mut err = std::io::stderr().lock();
        // \r and "erase to end of line": the line is rewritten, never scrolled.
        let _ = write!(err, "\r{}\x1b[K", what());
        let _ = err.flush();
    }

    /// Clears the line (before the command's own output).
    pub fn done(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}
