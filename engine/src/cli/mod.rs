//! The `forge` command line.

// First: its printing macros serve the modules below.
#[macro_use]
pub mod secrets;

mod bench;
mod bench_api;
mod bench_cdc;
mod bench_plugins;
mod bench_segments;
mod bench_verify;
pub mod error;
mod generate;
mod infer;
pub mod log;
mod metrics_listen;
mod mutate;
mod plugin;
mod progress;
mod report;
mod run;
mod segments;
mod spawn;
mod traffic;
mod validate;
mod values;
mod verify;
mod watch;

use clap::{Parser, Subcommand};

use crate::examples;
use crate::schema::Schema;
pub use error::Error;

#[derive(Debug, Parser)]
#[command(
    name = "forge",
    version,
    about = "Reproducible, realistic MongoDB write traffic for load tests and CDC pipelines",
    long_about = "forge generates documents from a JSON Schema (draft-07 with x-gen hints) with real \
BSON types, byte-identical for the same --seed.\n\nStart with `forge generate`: it prints ten \
documents of the built-in example schema.",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate documents from a schema: to a file, into MongoDB, or as CDC traffic
    Generate(generate::Args),
    /// Run a scenario file: several collections at once, through phases (ramps,
    /// spikes, pauses), with references between them
    Run(run::Args),
    /// Update and delete documents of an existing collection
    Mutate(mutate::Args),
    /// Write a schema (for generate) describing a live collection
    Infer(infer::Args),
    /// Check documents against a schema: conformance and distributions
    Validate(validate::Args),
    /// Check a collection against the journal of a run: missing, extra, stale documents
    Verify(verify::Args),
    /// Print a collection's change stream as Extended JSON lines
    Watch(watch::Args),
    /// Measure generation throughput (docs/s, MB/s) on one thread and on all threads
    Bench(bench::Args),
    /// List, inspect and try out mutation and delete-behavior plugins
    Plugin(plugin::Args),
    /// Turn a run's JSON report (--report) into an HTML page with charts
    Report(report::Args),
}

pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Run(args) => run::run(args),
        Command::Mutate(args) => mutate::run(args),
        Command::Infer(args) => infer::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Plugin(args) => plugin::run(args),
        Command::Report(args) => report::run(args),
    }
}

/// Loads `--schema`: a file, `example:NAME` for a built-in one, or the default example.
pub fn load_schema(arg: Option<&str>) -> Result<Schema, Error> {
    let schema = match arg {
        None => Schema::from_json_str(examples::CUSTOMERS.json)?,
        Some(spec) if spec.starts_with("example:") => {
            let name = &spec["example:".len()..];
            let example = examples::find(name).ok_or_else(|| {
                let names: Vec<_> = examples::ALL.iter().map(|e| e.name).collect();
                Error::Usage(format!("--schema: no built-in example '{name}' (available: {})", names.join(", ")))
            })?;
            Schema::from_json_str(example.json)?
        }
        Some(path) => Schema::from_file(std::path::Path::new(path))?,
    };
    for warning in &schema.warnings {
        errln!("warning: {warning}");
    }
    Ok(schema)
}

/// The seed to use: the one given, or a fresh one that is reported so the run can be
/// repeated.
pub fn resolve_seed(seed: Option<values::Seed>, quiet: bool) -> values::Seed {
    seed.unwrap_or_else(|| {
        let value = rand::random::<u64>() >> 11; // short enough to type back
        if !quiet {
            errln!("seed: {value} (repeat this run with --seed {value})");
        }
        values::Seed { value, given: value.to_string() }
    })
}

pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
