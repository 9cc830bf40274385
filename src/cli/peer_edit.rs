//! `newsmesh peer edit NAME`: changes one neighbour in place, with the checks `peer add`
//! makes, instead of a remove and an add that would lose its comments and place.

use std::path::Path;

use toml_edit::Value;

use super::PeerEditArgs;
use crate::config::{edit, Config, NodeKey};
use crate::error::{Error, Result};
use crate::home::Home;

pub fn edit(home: &Home, path: &Path, args: PeerEditArgs) -> Result<()> {
    let config = Config::load(path)?;
    let is_peer = match (
        config.peer(&args.name).is_some(),
        config.nntp_peers.iter().any(|p| p.name == args.name),
    ) {
        (true, _) => true,
        (false, true) => false,
        (false, false) => {
            return Err(Error::Invalid(format!(
                "no peer named {:?} (see `newsmesh peer list`)",
                args.name
            )))
        }
    };
    let mut changes: Vec<edit::Change> = Vec::new();
    if let Some(new) = &args.rename {
        changes.push(("name", Some(Value::from(new.as_str()))));
    }
    if let Some(key) = &args.key {
        if !is_peer {
            return Err(Error::Invalid(
                "a plain news server (--nntp) has no node key".into(),
            ));
        }
        let key = NodeKey::parse(key)?;
        super::peer_checks::check_key(home, &config, &args.name, &key)?;
        changes.push(("key", Some(Value::from(key.to_string()))));
    }
    if let Some(address) = &args.address {
        super::peer::check_address(address)?;
        changes.push(("address", Some(Value::from(address.as_str()))));
    }
    if args.passive {
        changes.push(("address", None));
    }
    if let Some(groups) = &args.groups {
        super::peer_checks::check_groups(groups)?;
        changes.push(("groups", Some(Value::from(groups.as_str()))));
    }
    if let Some(hosts) = &args.hosts {
        if is_peer {
            return Err(Error::Invalid(
                "--hosts is for a plain news server (--nntp); a newsmesh node proves its key"
                    .into(),
            ));
        }
        let list: toml_edit::Array = hosts.iter().map(ToString::to_string).collect();
        changes.push(("hosts", Some(Value::from(list))));
    }
    for (key, set) in [("tls", args.tls), ("live", args.live)] {
        if let Some(on) = set {
            if !is_peer {
                return Err(Error::Invalid(format!(
                    "--{key} is for a newsmesh node; a plain news server link is always in clear"
                )));
            }
            changes.push((key, Some(Value::from(on))));
        }
    }
    if changes.is_empty() {
        return Err(Error::Invalid(
            "nothing to change: give --name, --key, --address, --passive, --groups, --hosts, \
             --tls or --live"
                .into(),
        ));
    }
    edit::amend_neighbour(path, &args.name, &changes)?;
    Ok(())
}
