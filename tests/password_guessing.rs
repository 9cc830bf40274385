//! AUTHINFO against a real `serve`: password guessing from one source address is paced
//! server-wide (a few checks per second, over any number of connections), other users
//! and readers are still served, and a password stored by an older version (salted
//! SHA-256) is rewritten as Argon2id in `newsmesh.toml` at its user's next login.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;

/// `AUTHINFO USER name` then `AUTHINFO PASS password`; returns the answer to PASS.
fn login(peer: &mut RawPeer, name: &str, password: &str) -> String {
    let user = peer.cmd(&format!("AUTHINFO USER {name}"));
    assert_eq!(RawPeer::code(&user), 381, "{user:?}");
    peer.cmd(&format!("AUTHINFO PASS {password}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// Finding 7: eight connections from one address guess ann's password as fast as the
/// server answers. At most 10 guesses a second are checked, in any second; the rest wait
/// their turn or are refused unchecked (400). Meanwhile bob logs in from elsewhere.
#[test]
fn guesses_from_one_source_are_paced_however_many_connections_it_opens() {
    const CONNECTIONS: usize = 8;
    const ATTACK: Duration = Duration::from_secs(3);
    let mut alpha = Node::init("alpha");
    alpha
        .cli_stdin(&["user", "add", "ann"], b"correct horse\n")
        .ok();
    alpha
        .cli_stdin(&["user", "add", "bob"], b"battery staple\n")
        .ok();
    // Waits are capped at 2 s (default 16) so the attack's last answers come soon.
    alpha.set_limit("auth_max_backoff_secs", "2");
    // The guessers reconnect as soon as they are closed: let one address hold more
    // unauthenticated connections than the default, so that pacing (not admission) is
    // what stops them.
    alpha.set_limit("max_unauthenticated_per_address", "64");
    // Guessers and users come from other addresses (other machines) over plain TCP:
    // this test is about pacing, not about AUTHINFO needing TLS there.
    alpha.set_config("allow_plaintext_auth", "true");
    alpha.start();
    let started = Instant::now();
    let guessers: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let addr = alpha.addr;
            std::thread::spawn(move || {
                let mut checked = Vec::new();
                let mut refused = 0;
                let mut guess = 0;
                while started.elapsed() < ATTACK {
                    let mut peer = RawPeer::connect_from(addr, ip("127.0.0.2"));
                    while started.elapsed() < ATTACK {
                        guess += 1;
                        let answer = login(&mut peer, "ann", &format!("guess-{c}-{guess}"));
                        match RawPeer::code(&answer) {
                            481 => checked.push(started.elapsed()),
                            400 => {
                                refused += 1;
                                break;
                            }
                            _ => panic!("unexpected answer {answer:?}"),
                        }
                        if answer.contains("closing") {
                            break;
                        }
                    }
                }
                (checked, refused)
            })
        })
        .collect();
    // Bob, from another address, is served while ann's guessers wait in line.
    std::thread::sleep(Duration::from_millis(500));
    let mut bob = RawPeer::connect_from(alpha.addr, ip("127.0.0.3"));
    let answer = login(&mut bob, "bob", "battery staple");
    assert_eq!(RawPeer::code(&answer), 281, "{answer:?}");

    let mut checked = Vec::new();
    let mut refused = 0;
    for guesser in guessers {
        let (times, unchecked) = guesser.join().expect("guesser");
        checked.extend(times);
        refused += unchecked;
    }
    let elapsed = started.elapsed().as_secs_f64();
    checked.sort();
    let busiest = checked
        .iter()
        .map(|t| {
            checked
                .iter()
                .filter(|u| **u >= *t && **u < *t + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 10,
        "{busiest} guesses checked within one second ({} in {elapsed:.1} s)",
        checked.len()
    );
    assert!(
        checked.len() as f64 <= 10.0 * elapsed,
        "{} guesses checked in {elapsed:.1} s",
        checked.len()
    );
    assert!(refused > 0, "nobody was refused outright");
    assert!(alpha
        .serve_logs()
        .contains("AUTHINFO failed for user \"ann\""));
    // A fresh reader is served, and ann herself gets in once the backoff has passed.
    let mut reader = RawPeer::connect(&alpha);
    assert_eq!(RawPeer::code(&reader.cmd("GROUP mesh.test")), 211);
    let mut ann = RawPeer::connect_from(alpha.addr, ip("127.0.0.4"));
    let mut answer = login(&mut ann, "ann", "correct horse");
    for _ in 0..20 {
        if RawPeer::code(&answer) != 400 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        ann = RawPeer::connect_from(alpha.addr, ip("127.0.0.4"));
        answer = login(&mut ann, "ann", "correct horse");
    }
    assert_eq!(RawPeer::code(&answer), 281, "{answer:?}");
}

/// A `[[user]]` entry from an older version (salted SHA-256 under `password_sha256`)
/// still logs in, and that login rewrites it in place as an Argon2id `password_hash`,
/// keeping the file's comments; the new hash works after a restart.
#[test]
fn a_legacy_password_hash_is_rewritten_as_argon2id_at_the_next_login() {
    use sha2::{Digest, Sha256};
    let mut alpha = Node::init("alpha");
    let legacy = format!(
        "pepper${}",
        data_encoding::HEXLOWER.encode(&Sha256::digest(b"pepperopen sesame"))
    );
    alpha.append_config(&format!(
        "# Ann, since 2024.\n[[user]]\nname = \"ann\"\npassword_sha256 = \"{legacy}\"\n\
         author_key = \"authors/ann.key\"\n"
    ));
    alpha.start();
    let mut peer = RawPeer::connect(&alpha);
    assert_eq!(RawPeer::code(&login(&mut peer, "ann", "open sesame")), 281);
    let config = std::fs::read_to_string(alpha.config_path()).expect("config");
    assert!(config.contains("# Ann, since 2024.\n[[user]]"), "{config}");
    assert!(
        config.contains("name = \"ann\"\npassword_hash = \"$argon2id$v=19$"),
        "{config}"
    );
    assert!(!config.contains(&legacy), "{config}");
    alpha.stop();
    alpha.start();
    let mut peer = RawPeer::connect(&alpha);
    assert_eq!(RawPeer::code(&login(&mut peer, "ann", "open sesame ")), 481);
    let mut peer = RawPeer::connect(&alpha);
    assert_eq!(RawPeer::code(&login(&mut peer, "ann", "open sesame")), 281);
    assert!(alpha.serve_logs().contains("to Argon2id"));
}
