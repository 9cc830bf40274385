//! The `newsmesh` binary: parse the command line, run it, print one line on failure.

use clap::Parser;

fn main() {
    let cli = newsmesh::cli::Cli::parse();
    if let Err(err) = newsmesh::cli::run(cli) {
        eprintln!("newsmesh: {err}");
        std::process::exit(err.exit_code());
    }
}
