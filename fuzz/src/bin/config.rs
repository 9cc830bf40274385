//! Fuzz target: the config loader (`Config::parse`), i.e. `newsmesh.toml` as an
//! operator (or a script) wrote it.
//!
//! Properties: loading never panics, only UTF-8 text gets that far; a config that
//! loads yields a trust policy, article limits, peer feeds (wildmats matched against
//! a group), retention rules and password checks without panicking.

use std::path::Path;

use afl::fuzz;
use newsmesh::config::Config;

fn main() {
    fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(config) = Config::parse(text, Path::new("newsmesh.toml")) else {
            return;
        };
        assert!(
            config.trust_policy().is_ok(),
            "loaded config without a trust policy"
        );
        let _ = config.limits.article_limits();
        for peer in &config.peers {
            assert!(config.peer(&peer.name).is_some());
            let _ = peer.feed().matches("mesh.test");
        }
        for nntp in &config.nntp_peers {
            let _ = nntp.feed().matches("mesh.test");
        }
        for user in &config.users {
            let _ = user.check_password("secret");
        }
        for group in ["mesh.test", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", ""] {
            let _ = config.expire.days_for(group);
        }
    });
}
