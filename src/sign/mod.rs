//! Keys, article signatures and the trust policy: who may post where.

pub mod batch;
pub mod handshake;
pub mod keys;
pub mod signature;
pub mod trust;

pub use keys::{generate_secret, load_secret, parse_public_key, public_key_text, KeyError};
pub use signature::{check, message_id_for, prepare, sign_article, Prepared, SigStatus};
pub use trust::{Denied, TrustPolicy};
