//! Ed25519 keys: the node identity (`node.key`) and author identities (`authors/*.key`).
//!
//! On disk a secret key is one line, `ed25519-secret:<base64 of the 32-byte seed>`, in a
//! file created with mode 0600. A public key's text form — what `newsmesh key` prints, what
//! `peer add` and `newsmesh.toml` take — is the standard base64 of its 32 bytes, optionally
//! prefixed by `ed25519:`.

use std::io::Write;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use ed25519_dalek::{SigningKey, VerifyingKey};

/// What can go wrong with a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file exists but does not hold a key.
    #[error(
        "key file {0}: not an ed25519 secret key (expected one line `ed25519-secret:<base64>`)"
    )]
    BadSecretFile(PathBuf),
    /// A public key in text form is malformed.
    #[error("malformed public key {0:?}: expected 44 characters of base64 (32 bytes), as printed by `newsmesh key`")]
    BadPublicKey(String),
    /// A key file would be overwritten.
    #[error("key file {0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
}

const SECRET_PREFIX: &str = "ed25519-secret:";

/// Text form of a public key (standard base64, 44 characters).
pub fn public_key_text(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// Parses the text form of a public key; accepts an optional `ed25519:` prefix.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bad = || KeyError::BadPublicKey(text.to_string());
    let body = text.trim();
    let body = body.strip_prefix("ed25519:").unwrap_or(body);
    let bytes = BASE64.decode(body.as_bytes()).map_err(|_| bad())?;
    let array: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    VerifyingKey::from_bytes(&array).map_err(|_| bad())
}

/// Most decoded keys kept per thread by [`parse_public_key_cached`].
const KEY_CACHE: usize = 4096;

thread_local! {
    static DECODED: std::cell::RefCell<std::collections::HashMap<String, VerifyingKey>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`parse_public_key`] with a per-thread cache: decoding a key decompresses a curve
/// point (a field inversion, ~10 µs), and a mesh has few authors and many articles.
pub fn parse_public_key_cached(text: &str) -> Result<VerifyingKey, KeyError> {
    if let Some(key) = DECODED.with(|c| c.borrow().get(text).copied()) {
        return Ok(key);
    }
    let key = parse_public_key(text)?;
    DECODED.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= KEY_CACHE {
            cache.clear();
        }
        cache.insert(text.to_string(), key);
    });
    Ok(key)
}

/// Reads a secret key file.
pub fn load_secret(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = || KeyError::BadSecretFile(path.to_path_buf());
    let encoded = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(bad)?;
    let seed: [u8; 32] = BASE64
        .decode(encoded.as_bytes())
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Generates a key and writes it to `path` (mode 0600), refusing to overwrite.
pub fn generate_secret(path: &Path) -> Result<SigningKey, KeyError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_path_buf()),
        _ => io(e),
    })?;
    let line = format!("{SECRET_PREFIX}{}\n", BASE64.encode(key.as_bytes()));
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = generate_secret(&path).unwrap();
        assert_eq!(load_secret(&path).unwrap().to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(generate_secret(&path), Err(KeyError::Exists(_))));
    }

    #[test]
    fn public_text_round_trip() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let text = public_key_text(&key);
        assert_eq!(text.len(), 44);
        assert_eq!(parse_public_key(&text).unwrap(), key);
        assert_eq!(parse_public_key(&format!("ed25519:{text}")).unwrap(), key);
        assert!(parse_public_key("abc").is_err());
        assert!(parse_public_key(&text[..40]).is_err());
    }

    #[test]
    fn garbage_secret_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        std::fs::write(&path, "hello").unwrap();
        assert!(matches!(
            load_secret(&path),
            Err(KeyError::BadSecretFile(_))
        ));
    }
}
