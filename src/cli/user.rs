//! `newsmesh user add|list|remove`: the `[[user]]` entries newsreaders authenticate as
//! (AUTHINFO USER/PASS), each with its own author key.

use std::io::{BufRead, IsTerminal, Write};

use super::UserCommand;
use crate::config::{edit, hash_password, is_valid_user_name, Config, UserConfig};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::sign::public_key_text;

pub fn run(home: &Home, cmd: UserCommand) -> Result<()> {
    let path = home.config_path();
    if !path.exists() {
        return Err(Error::NoHome(home.dir().to_path_buf()));
    }
    match cmd {
        UserCommand::Add { name } => add(home, &name),
        UserCommand::List => {
            for u in Config::load(&path)?.users {
                println!("{} {}", u.name, u.author_key);
            }
            Ok(())
        }
        UserCommand::Remove { name } => {
            edit::remove_user(&path, &name)?;
            super::peer::say_when_it_applies(home);
            Ok(())
        }
    }
}

/// The shortest password `user add` takes: AUTHINFO is guessed online, slowly (Argon2id
/// and the per-address limits), but "ab" would still fall at once.
const MIN_PASSWORD_CHARS: usize = 8;

fn add(home: &Home, name: &str) -> Result<()> {
    if !is_valid_user_name(name) {
        return Err(Error::Invalid(format!(
            "user name {name:?} is not valid (letters, digits, '.', '-', '_')"
        )));
    }
    let path = home.config_path();
    if Config::load(&path)?.user(name).is_some() {
        return Err(Error::Invalid(format!(
            "a user named {name:?} already exists (remove it first with `newsmesh user remove {name}`)"
        )));
    }
    let password = read_password()?;
    if password.is_empty() {
        return Err(Error::Invalid("empty password; no user added".into()));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "the password has {} characters; at least {MIN_PASSWORD_CHARS}; no user added",
            password.chars().count()
        )));
    }
    // The user's author key: reuse one made earlier (`key --generate --author NAME`).
    let key_path = home.author_key_path(name);
    let key = if key_path.exists() {
        eprintln!("using the existing author key {}", key_path.display());
        home.author_key(name)?
    } else {
        if let Some(dir) = key_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        crate::sign::generate_secret(&key_path)?
    };
    edit::add_user(
        &path,
        &UserConfig {
            name: name.to_string(),
            password_hash: hash_password(&password),
            author_key: format!("authors/{name}.key"),
        },
    )?;
    super::peer::say_when_it_applies(home);
    println!("{}", public_key_text(&key.verifying_key()));
    Ok(())
}

/// The password: the first line of stdin (without its line end). On a terminal it is
/// asked for without echo.
fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let _echo = terminal.then(|| {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        EchoOff::new()
    });
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("<stdin>", e))?;
    if terminal {
        eprintln!();
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Turns terminal echo off on stdin while alive.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios they fill in.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return EchoOff(None);
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &quiet) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores the settings tcgetattr returned.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, saved);
            }
        }
    }
}
