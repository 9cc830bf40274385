//! AUTHINFO password hashes as `[[user]]` entries store them. New hashes are Argon2id PHC
//! strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`): memory-hard, so a stolen
//! `newsmesh.toml` costs a guesser memory as well as time for every guess. Entries written
//! by older versions hold `salt$hex(sha256(salt || password))`; they still check, and
//! `serve` rewrites them as Argon2id on the user's next successful login.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Most memory (KiB) a stored Argon2 hash may ask for: checking a password must not let
/// one config entry take the server past its memory bounds.
const MAX_M_COST_KIB: u32 = 64 * 1024;
/// Most passes a stored Argon2 hash may ask for.
const MAX_T_COST: u32 = 16;
/// Most lanes a stored Argon2 hash may ask for.
const MAX_P_COST: u32 = 4;

/// What a password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMatch {
    /// The password is wrong (or the stored value matches nothing).
    No,
    /// The password is right.
    Yes,
    /// The password is right, and the stored hash is the legacy salted SHA-256: it should be
    /// replaced by [`hash_password`]'s.
    YesLegacy,
}

impl PasswordMatch {
    /// Whether the password is right.
    pub fn accepted(self) -> bool {
        self != PasswordMatch::No
    }
}

/// A new stored hash for `password`: Argon2id with the crate's default cost (19 MiB, two
/// passes) and a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    match Argon2::default().hash_password(password.as_bytes(), &salt) {
        Ok(hash) => hash.to_string(),
        // Unreachable with the default parameters and a generated salt; a value that
        // matches nothing is the safe answer anyway.
        Err(_) => String::from("!"),
    }
}

/// Checks `password` against a stored hash (PHC Argon2 or legacy `salt$hex`). Takes the
/// same time wherever the first difference is; a malformed stored value matches nothing.
pub fn check(stored: &str, password: &str) -> PasswordMatch {
    if stored.starts_with('$') {
        let ok = PasswordHash::new(stored).is_ok_and(|hash| {
            acceptable(&hash).is_ok()
                && Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
        });
        return if ok {
            PasswordMatch::Yes
        } else {
            PasswordMatch::No
        };
    }
    let (salt, digest) = split_legacy(stored).unwrap_or(("", [0u8; 32]));
    let computed = salted_sha256(salt, password);
    let diff = computed
        .iter()
        .zip(digest.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if std::hint::black_box(diff) == 0 && !salt.is_empty() {
        PasswordMatch::YesLegacy
    } else {
        PasswordMatch::No
    }
}

/// As much work as checking a password against a real entry: answers for unknown user
/// names take as long as for wrong passwords, so timing does not tell which names exist.
pub fn check_nobody(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("no user has this password"));
    let _ = check(dummy, password);
}

/// Why a stored value is not a usable hash, if it is not.
pub fn validate(stored: &str) -> Result<(), String> {
    if stored.starts_with('$') {
        let hash = PasswordHash::new(stored).map_err(|e| format!("not a PHC string ({e})"))?;
        return acceptable(&hash);
    }
    split_legacy(stored).map(|_| ()).ok_or_else(|| {
        "neither an Argon2 PHC string nor the legacy \"salt$hex(sha256(salt || password))\""
            .to_string()
    })
}

/// An Argon2 hash whose cost is within the bounds above.
fn acceptable(hash: &PasswordHash<'_>) -> Result<(), String> {
    let algorithm = hash.algorithm.as_str();
    if !matches!(algorithm, "argon2id" | "argon2i" | "argon2d") {
        return Err(format!("algorithm {algorithm} is not Argon2"));
    }
    let param = |name: &str| hash.params.get_decimal(name);
    let within = |name: &str, max: u32| param(name).is_none_or(|v| v <= max);
    if within("m", MAX_M_COST_KIB) && within("t", MAX_T_COST) && within("p", MAX_P_COST) {
        Ok(())
    } else {
        Err(format!(
            "Argon2 cost above m={MAX_M_COST_KIB},t={MAX_T_COST},p={MAX_P_COST} \
             (checking it would take too much memory or time)"
        ))
    }
}

/// `sha256(salt || password)`.
fn salted_sha256(salt: &str, password: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

/// Splits a legacy `salt$hex` into the salt and the 32-byte digest.
fn split_legacy(value: &str) -> Option<(&str, [u8; 32])> {
    let (salt, hex) = value.split_once('$')?;
    if salt.is_empty() || salt.contains('$') {
        return None;
    }
    let digest = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .ok()?;
    Some((salt, digest.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hashes_are_argon2id_and_check() {
        let stored = hash_password("s3cret");
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert_eq!(validate(&stored), Ok(()));
        assert_eq!(check(&stored, "s3cret"), PasswordMatch::Yes);
        assert_eq!(check(&stored, "s3cret "), PasswordMatch::No);
        assert_eq!(check(&stored, ""), PasswordMatch::No);
        // Salted: two hashes of one password differ, and both check.
        let other = hash_password("s3cret");
        assert_ne!(other, stored);
        assert!(check(&other, "s3cret").accepted());
    }

    #[test]
    fn legacy_hashes_still_check_and_ask_for_an_upgrade() {
        use sha2::{Digest, Sha256};
        let stored = format!(
            "pepper${}",
            data_encoding::HEXLOWER.encode(&Sha256::digest(b"pepperpw"))
        );
        assert_eq!(validate(&stored), Ok(()));
        assert_eq!(check(&stored, "pw"), PasswordMatch::YesLegacy);
        assert_eq!(check(&stored, "pepperpw"), PasswordMatch::No);
    }

    #[test]
    fn malformed_or_too_costly_values_match_nothing() {
        let costly = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$\
                      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let sha = "$sha256$x";
        for bad in ["", "nodollar", "$abcd", "salt$zz", "salt$abcd", costly, sha] {
            assert!(validate(bad).is_err(), "{bad}");
            assert_eq!(check(bad, ""), PasswordMatch::No, "{bad}");
            assert_eq!(check(bad, "pw"), PasswordMatch::No, "{bad}");
        }
        check_nobody("pw");
    }
}
