//! `newsmesh status` for a person: a few lines, ages instead of Unix times.

use std::fmt;

use super::{NodeStatus, PeerStatus};

/// `3d4h`, `2h5m`, `4m10s`, `12s`: the two largest units of a duration.
fn age(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{}s", s % 60),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// `1 article`, `3 articles`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `1.5 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "node {} ({})", self.node, self.home)?;
        let serve = &self.serve;
        match (serve.pid, serve.uptime_secs) {
            (Some(pid), Some(up)) if serve.running => {
                write!(
                    f,
                    "serve: running, pid {pid}, up {}, listening on {}",
                    age(up),
                    serve.listen.join(", ")
                )?;
                match &serve.nntps {
                    Some(nntps) => writeln!(f, ", NNTPS on {nntps}")?,
                    None => writeln!(f)?,
                }
            }
            _ => writeln!(f, "serve: not running")?,
        }
        let spool = &self.spool;
        write!(
            f,
            "spool: {} in {}, {}",
            count(spool.articles, "article"),
            count(spool.groups, "group"),
            size(spool.bytes)
        )?;
        if let (Some(oldest), Some(newest)) = (spool.oldest, spool.newest) {
            write!(
                f,
                "; newest arrived {} ago, oldest {} ago",
                age(self.now - newest),
                age(self.now - oldest)
            )?;
        }
        writeln!(f)?;
        if self.peers.is_empty() {
            writeln!(f, "no neighbours (add one with `newsmesh peer add`)")?;
        }
        for peer in &self.peers {
            self.peer(f, peer)?;
        }
        if !self.refusals.is_empty() {
            writeln!(f, "recent refusals:")?;
        }
        for r in &self.refusals {
            let by = if r.verdict == "peer-refused" {
                format!("refused by {}", r.peer)
            } else {
                format!("from {}", r.peer)
            };
            writeln!(f, "  {} {} {by}: {}", r.time, r.id, r.reason)?;
        }
        if !self.membership.is_empty() {
            writeln!(f, "membership:")?;
        }
        for line in &self.membership {
            writeln!(f, "  {line}")?;
        }
        if !self.top_authors.is_empty() {
            writeln!(f, "top authors today:")?;
        }
        for a in &self.top_authors {
            writeln!(f, "  {} articles={} bytes={}", a.key, a.articles, a.bytes)?;
        }
        Ok(())
    }
}

impl NodeStatus {
    fn peer(&self, f: &mut fmt::Formatter<'_>, p: &PeerStatus) -> fmt::Result {
        let address = p.address.as_deref().unwrap_or("passive");
        write!(f, "peer {} ({}, {address}): ", p.name, p.kind)?;
        match &p.last_sync {
            None if p.address.is_none() => write!(f, "dials us")?,
            None => write!(f, "never synced")?,
            Some(s) => {
                write!(
                    f,
                    "last sync {} ago {} (sent={} received={} refused={})",
                    age(self.now - s.outcome.at),
                    s.status,
                    s.outcome.sent,
                    s.outcome.received,
                    s.outcome.refused
                )?;
                if let Some(e) = &s.outcome.error {
                    write!(f, ": {e}")?;
                }
                if let (Some(ok), "failed") = (p.last_ok, s.status) {
                    write!(f, "; last success {} ago", age(self.now - ok))?;
                }
            }
        }
        if let Some(backlog) = p.backlog {
            write!(f, "; backlog {backlog}")?;
        }
        writeln!(f)?;
        if let Some(l) = &p.live {
            let how = if l.receives {
                "pushes and receives"
            } else {
                "pushes"
            };
            match (l.up, &l.error) {
                (true, _) => writeln!(f, "  live link: up {} ({how})", age(self.now - l.since))?,
                (false, Some(e)) => {
                    writeln!(f, "  live link: down {}: {e}", age(self.now - l.since))?
                }
                (false, None) => writeln!(f, "  live link: down {}", age(self.now - l.since))?,
            }
            if l.sent + l.received + l.duplicates > 0 {
                writeln!(
                    f,
                    "    moved: sent={} received={} duplicates={}",
                    l.sent, l.received, l.duplicates
                )?;
            }
        }
        if let Some(l) = &p.live_inbound {
            let (state, how) = if l.up {
                ("up", " (it waits here for our arrivals: MESH IDLE)")
            } else {
                ("down", "")
            };
            writeln!(
                f,
                "  its live link here: {state} {}{how}",
                age(self.now - l.since)
            )?;
        }
        if let Some(i) = &p.inbound {
            writeln!(
                f,
                "  its sessions here: last {} ago, {} in all, received={} refused={}",
                age(self.now - i.at),
                i.sessions,
                i.received,
                i.refused
            )?;
        }
        let t = &p.totals;
        if t.syncs > 0 {
            writeln!(
                f,
                "  totals: {} ({} failed), sent={} received={} refused={} bytes={}",
                count(t.syncs, "sync"),
                t.failures,
                t.sent,
                t.received,
                t.refused,
                t.bytes
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes_read_well() {
        assert_eq!(age(12), "12s");
        assert_eq!(age(250), "4m10s");
        assert_eq!(age(7500), "2h5m");
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 9), "3d4h");
        assert_eq!(age(-5), "0s");
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(1536 * 1024), "1.5 MiB");
        assert_eq!(
            (count(1, "group"), count(0, "group")),
            ("1 group".into(), "0 groups".into())
        );
    }
}
