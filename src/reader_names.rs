//! The names the home's self-signed reader certificate (`reader.crt`) holds, so that a
//! newsreader trusting exactly that certificate (`cafile=reader.crt`) also finds the name
//! or address it dialled in it: the node name, `localhost`, `127.0.0.1`, `::1`, the
//! addresses of `[node] listen` and `[tls] nntps_listen` when they name one host, and
//! every `[tls] names` entry (the public DNS names and addresses readers use).
//!
//! `serve` makes the certificate again when the configuration names something it does
//! not hold (a new `[tls] names` entry, another `listen`), and says so: a reader that
//! trusted the old one must copy the new one.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};

use crate::config::Config;

/// Every name the home's reader certificate should hold for `config`, without repeats.
pub fn wanted(config: &Config) -> Vec<String> {
    let mut names = vec![
        config.node.name.clone(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let listening = [Some(&config.node.listen), config.tls.nntps_listen.as_ref()];
    for addr in listening.into_iter().flatten() {
        if let Ok(addr) = addr.parse::<SocketAddr>() {
            if !addr.ip().is_unspecified() {
                names.push(addr.ip().to_string());
            }
        }
    }
    names.extend(config.tls.names.iter().cloned());
    let mut unique = Vec::new();
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
}

/// Whether the certificate in `pem` is valid for every one of `names`; false when it
/// cannot be read.
pub fn covers(pem: &Path, names: &[String]) -> bool {
    let Ok(der) = CertificateDer::from_pem_file(pem) else {
        return false;
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    names.iter().all(|name| {
        let server_name = match name.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => match ServerName::try_from(name.as_str()) {
                Ok(n) => n,
                Err(_) => return false,
            },
        };
        cert.verify_is_valid_for_subject_name(&server_name).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_holds_the_addresses_readers_dial() {
        let text = crate::config::edit::node_template("alpha", "192.0.2.1:1119").unwrap();
        let mut config = Config::parse(&text, Path::new("newsmesh.toml")).unwrap();
        config.tls.names = vec!["news.example.org".into(), "203.0.113.5".into()];
        let names = wanted(&config);
        for name in [
            "alpha",
            "localhost",
            "127.0.0.1",
            "::1",
            "192.0.2.1",
            "news.example.org",
            "203.0.113.5",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("reader.crt");
        let (cert, _) = crate::tls::reader_certificate_pem(&names).unwrap();
        std::fs::write(&pem, cert).unwrap();
        assert!(covers(&pem, &names));
        assert!(!covers(&pem, &["198.51.100.9".to_string()]));
        // An old certificate (node name and localhost only) does not cover 127.0.0.1.
        let (old, _) =
            crate::tls::reader_certificate_pem(&["alpha".into(), "localhost".into()]).unwrap();
        std::fs::write(&pem, old).unwrap();
        assert!(!covers(&pem, &names));
    }
}
