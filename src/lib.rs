//! newsmesh: a private, fully decentralized newsgroup network.
//!
//! Every machine runs one node holding signed articles in an SQLite spool; nodes
//! exchange articles with the neighbours they name over NNTP (IHAVE/SENDME as RFC 4644
//! streaming), and newsreaders read and post through the node's NNTP service. See
//! ARCHITECTURE.md for the map of modules and the way of an article through them.

pub mod admission;
pub mod article;
pub mod cli;
pub mod clock;
pub mod compose;
pub mod config;
pub mod deflate;
pub mod demo;
pub mod error;
pub mod feed_policy;
pub mod files;
pub mod governance;
pub mod home;
pub mod inflight;
pub mod ingest;
pub mod invite;
pub mod net;
pub mod newslog;
pub mod protocol;
pub mod reader_names;
pub mod reconcile;
pub mod records;
pub mod relay;
pub mod rnews;
pub mod server;
pub mod sign;
pub mod simulate;
pub mod spool;
pub mod status;
pub mod sync;
pub mod testbed;
pub mod tls;
pub mod wildmat;

pub use error::{Error, Result};
