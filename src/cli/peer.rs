//! `newsmesh peer add|list|remove`: edits of the neighbour tables in newsmesh.toml,
//! `[[peer]]` (newsmesh nodes, which prove a node key) and `[[nntp_peer]]` (plain news
//! servers such as INN), which share one namespace of names.

use super::PeerCommand;
use crate::config::{edit, Config, NntpPeerConfig, NodeKey, PeerConfig};
use crate::error::{Error, Result};
use crate::home::Home;

pub fn run(home: &Home, cmd: PeerCommand) -> Result<()> {
    let path = home.config_path();
    if !path.exists() {
        return Err(Error::NoHome(home.dir().to_path_buf()));
    }
    match cmd {
        PeerCommand::Add {
            name,
            node_key,
            address,
            groups,
            nntp,
            hosts,
            no_tls,
            no_live,
        } => {
            if let Some(a) = &address {
                check_address(a)?;
            }
            super::peer_checks::check_groups(&groups)?;
            match node_key {
                Some(key) if !nntp => {
                    let key = NodeKey::parse(&key)?;
                    let config = Config::load(&path)?;
                    // A bad or taken name is refused first, by the edit itself.
                    let taken = config.peer(&name).is_some()
                        || config.nntp_peers.iter().any(|p| p.name == name);
                    if crate::config::is_valid_node_name(&name) && !taken {
                        super::peer_checks::check_key(home, &config, &name, &key)?;
                    }
                    edit::add_peer(
                        &path,
                        &PeerConfig {
                            name,
                            key,
                            address,
                            groups,
                            tls: !no_tls,
                            compress: true,
                            live: !no_live,
                        },
                    )?
                }
                _ => {
                    if address.is_none() && hosts.is_empty() {
                        return Err(Error::Invalid(
                            "an nntp peer needs --address (we feed it) or --hosts (it feeds us)"
                                .into(),
                        ));
                    }
                    edit::add_nntp_peer(
                        &path,
                        &NntpPeerConfig {
                            name,
                            address,
                            hosts,
                            groups,
                            // Unsigned articles are an explicit, separate decision.
                            unsigned_groups: String::new(),
                        },
                    )?
                }
            }
            say_when_it_applies(home);
        }
        PeerCommand::Edit(args) => {
            super::peer_edit::edit(home, &path, args)?;
            say_when_it_applies(home);
        }
        PeerCommand::List => {
            let config = Config::load(&path)?;
            for p in &config.peers {
                let address = p.address.as_deref().unwrap_or("passive");
                println!("{} {} {} {}", p.name, address, p.groups, p.key);
            }
            for p in &config.nntp_peers {
                println!("{}", nntp_line(p));
            }
        }
        PeerCommand::Remove { name } => {
            let config = Config::load(&path)?;
            if config.nntp_peers.iter().any(|p| p.name == name) {
                edit::remove_nntp_peer(&path, &name)?;
            } else {
                edit::remove_peer(&path, &name)?;
            }
            say_when_it_applies(home);
        }
    }
    Ok(())
}

/// Tells the operator when an edit of newsmesh.toml takes effect: on stderr, since
/// stdout of some commands is read by scripts (`user add` prints the author key).
pub(super) fn say_when_it_applies(home: &Home) {
    match crate::records::running(home) {
        Some(serve) => eprintln!(
            "newsmesh.toml updated: the running `newsmesh serve` (pid {}) applies it within \
             {} s (at once on SIGHUP), no restart needed",
            serve.pid,
            2 * crate::server::live::POLL_INTERVAL.as_secs()
        ),
        None => eprintln!(
            "newsmesh.toml updated; no `newsmesh serve` runs for this node: the next one \
             uses it (and `sync` does now)"
        ),
    }
}

/// `HOST:PORT` with a port number, or a usage error that says so.
pub(super) fn check_address(address: &str) -> Result<()> {
    match address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
    {
        Some(_) => Ok(()),
        None => Err(Error::Invalid(format!(
            "--address {address:?} is not HOST:PORT"
        ))),
    }
}

/// One `peer list` line for a plain news server: the columns of a mesh peer, with
/// `nntp hosts=...` where a mesh peer has its key.
fn nntp_line(p: &NntpPeerConfig) -> String {
    let address = p.address.as_deref().unwrap_or("passive");
    let hosts = if p.hosts.is_empty() {
        "none".to_string()
    } else {
        p.hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    format!("{} {address} {} nntp hosts={hosts}", p.name, p.groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nntp_lines() {
        let mut p = NntpPeerConfig {
            name: "inn.example".into(),
            address: Some("127.0.0.1:119".into()),
            hosts: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            groups: "mesh.*".into(),
            unsigned_groups: String::new(),
        };
        assert_eq!(
            nntp_line(&p),
            "inn.example 127.0.0.1:119 mesh.* nntp hosts=127.0.0.1,::1"
        );
        p.address = None;
        p.hosts.clear();
        assert_eq!(nntp_line(&p), "inn.example passive mesh.* nntp hosts=none");
    }
}
