//! The `strata` binary: parses flags, sets up logging and the runtime, runs a subcommand.

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "strata", version, about = "Strata, a clustered log database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (embedded single node by default; a cluster member with --kafka-brokers).
    Serve(Box<strata::config::ServeArgs>),
    /// Generate ingest load against a running node and report throughput and latency.
    Loadgen(strata::loadgen::LoadgenArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            let cfg = strata::config::Config::resolve(*args)?;
            rt.block_on(strata::node::run(cfg))
        }
        Command::Loadgen(args) => rt.block_on(strata::loadgen::run(args)),
    }
}
