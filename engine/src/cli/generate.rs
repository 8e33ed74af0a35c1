//! `forge generate`.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::generate::Generator;
use crate::output::{Target, TextFormat, ejson};
use crate::pipeline::Job;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON Schema file (draft-07 with x-gen hints), or example:NAME for a built-in
    /// one (customers, orders). Default: example:customers
    #[arg(long, value_name = "FILE")]
    schema: Option<String>,

    /// Number of documents
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    count: u64,

    /// Seed for all randomness: the same seed and flags give byte-identical output.
    /// Default: a random seed, printed on stderr
    #[arg(long, value_name = "S")]
    seed: Option<u64>,

    /// Index of the first document; splits one stream across processes
    /// (`--start 0 -n 1000` and `--start 1000 -n 1000` make the first 2000 documents)
    #[arg(long, value_name = "I", default_value_t = 0)]
    start: u64,

    /// Output layout
    #[arg(long, value_enum, default_value_t = TextFormat::Ndjson)]
    output: TextFormat,

    /// Output file, or - for standard output
    #[arg(long, value_name = "PATH", default_value = "-")]
    out: String,

    /// Extended JSON flavour; both load into MongoDB with their types intact
    #[arg(long, value_enum, default_value_t = ejson::Mode::Relaxed)]
    ejson: ejson::Mode,

    /// Generator threads (output is identical for any value). Default: all cores
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// No seed notice or summary on stderr
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let schema = super::load_schema(args.schema.as_deref())?;
    let seed = super::resolve_seed(args.seed, args.quiet);
    args.start.checked_add(args.count).ok_or_else(|| Error::Usage("--start plus --count overflows".into()))?;
    let job = Job {
        generator: Generator::new(Arc::new(schema), seed),
        start: args.start,
        count: args.count,
        threads: args.threads.map_or_else(super::default_threads, usize::from),
        format: args.output,
        mode: args.ejson,
    };
    let target = Target::parse(&args.out);
    let mut out = target.open()?;
    let started = Instant::now();
    let written = job.run(&mut out).map_err(|e| Error::Runtime(format!("writing to {}: {e}", target.name())))?;
    if !args.quiet && matches!(target, Target::File(_)) {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "wrote {} documents ({:.1} MB) to {} in {secs:.2}s ({:.0} docs/s)",
            written.docs,
            written.bytes as f64 / 1e6,
            target.name(),
            written.docs as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}
