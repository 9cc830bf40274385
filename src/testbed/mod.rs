//! The one way to start nodes outside production: tests, benchmarks and `newsmesh demo`.
//! A [`Node`] is a node home with its port bound from the start, configured through
//! `config::edit`, stored into through `ingest`, driven through the CLI with a deadline
//! ([`Run`]), and served in this process or as a child `newsmesh serve`; a [`Mesh`] is
//! nodes linked along edges and served together.

mod articles;
mod mesh;
mod node;
mod run;

pub use articles::signed_articles;
pub use mesh::{link, random_regular_graph, Link, Mesh};
pub use node::{clean_env, default_binary, runtime, Node};
pub use run::{run, Run, DEFAULT_TIMEOUT};
