//! `newsmesh peer add|list|remove`: edits of the `[[peer]]` tables in newsmesh.toml.

use super::PeerCommand;
use crate::config::{edit, Config, PeerConfig};
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
        } => {
            if let Some(a) = &address {
                if a.rsplit_once(':')
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .is_none()
                {
                    return Err(Error::Invalid(format!("--address {a:?} is not HOST:PORT")));
                }
            }
            edit::add_peer(
                &path,
                &PeerConfig {
                    name,
                    key: node_key,
                    address,
                    groups,
                },
            )?;
        }
        PeerCommand::List => {
            for p in Config::load(&path)?.peers {
                let address = p.address.as_deref().unwrap_or("passive");
                println!("{} {} {} {}", p.name, address, p.groups, p.key);
            }
        }
        PeerCommand::Remove { name } => edit::remove_peer(&path, &name)?,
    }
    Ok(())
}
