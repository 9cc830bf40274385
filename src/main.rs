//! The `newsmesh` binary: parse the command line, run it, print one line on failure.

use clap::Parser;

fn main() {
    let cli = newsmesh::cli::Cli::parse();
    let default_level = match cli.command {
        newsmesh::cli::Command::Serve => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(err) = newsmesh::cli::run(cli) {
        eprintln!("newsmesh: {err}");
        std::process::exit(err.exit_code());
    }
}
