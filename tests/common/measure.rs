//! What a test measures of a process: peak resident memory, and a run's exit code, wall
//! time and peak memory as the kernel accounted them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak resident memory (VmHWM) of a running process, in MiB.
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"));
    kib / 1024
}

/// Runs `command` to completion (killing it after `timeout`) and returns its exit code
/// (-1 when killed by a signal), its wall time and its peak resident memory in MiB, as the
/// kernel accounted it at exit (`wait4`'s `ru_maxrss`): for short-lived processes such as
/// `sync`, whose `/proc` entry is gone by the time a test could read it.
// The child is reaped by `wait4` below (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_measuring_peak(mut command: Command, timeout: Duration) -> (i32, Duration, u64) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            // SAFETY: signal 0 only checks that our (unreaped) child still exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: our own child, not reaped until wait4 below returns.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills the two out-parameters.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let _ = killer.join();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, started.elapsed(), usage.ru_maxrss as u64 / 1024)
}
