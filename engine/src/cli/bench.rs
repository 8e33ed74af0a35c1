//! `forge bench`: generation throughput, measured as ratios within one run because
//! the machines forge runs on are shared and noisy.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::generate::Generator;
use crate::output::{TextFormat, ejson};
use crate::pipeline::Job;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schemas to measure (files or example:NAME). Default: example:customers and
    /// example:orders
    #[arg(long, value_name = "FILE")]
    schema: Vec<String>,

    /// Documents per measurement
    #[arg(short = 'n', long, value_name = "N", default_value_t = 200_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,

    /// Threads for the parallel measurement. Default: all cores
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Measure {
    docs_per_s: f64,
    mb_per_s: f64,
}

pub fn run(args: Args) -> Result<(), Error> {
    let schemas = if args.schema.is_empty() {
        vec!["example:customers".to_string(), "example:orders".to_string()]
    } else {
        args.schema.clone()
    };
    let threads = args.threads.map_or_else(super::default_threads, usize::from);
    println!("forge bench: {} documents per measurement, {threads} threads for the parallel run", args.count);
    println!(
        "{:<22} {:>10} {:>14} {:>14} {:>10} {:>14} {:>10} {:>8}",
        "schema", "avg bytes", "build docs/s", "ndjson docs/s", "MB/s", "Nthr docs/s", "MB/s", "speedup"
    );
    for spec in &schemas {
        let schema = Arc::new(super::load_schema(Some(spec))?);
        let generator = Generator::new(schema, args.seed);
        let job = |threads| Job {
            generator: generator.clone(),
            start: 0,
            count: args.count,
            threads,
            format: TextFormat::Ndjson,
            mode: ejson::Mode::Relaxed,
        };
        // Warm caches and the allocator before timing anything.
        measure(&job(1), args.count / 10 + 1)?;
        let build = build_only(&generator, args.count);
        let single = measure(&job(1), args.count)?;
        let parallel = measure(&job(threads), args.count)?;
        let avg_bytes = single.mb_per_s * 1e6 / single.docs_per_s;
        println!(
            "{:<22} {:>10.0} {:>14.0} {:>14.0} {:>10.1} {:>14.0} {:>10.1} {:>7.2}x",
            spec,
            avg_bytes,
            build,
            single.docs_per_s,
            single.mb_per_s,
            parallel.docs_per_s,
            parallel.mb_per_s,
            parallel.docs_per_s / single.docs_per_s
        );
    }
    println!("build = BSON documents only; ndjson = generated and serialised as relaxed Extended JSON");
    if let Some(rss) = peak_rss_mb() {
        println!("peak RSS of this process: {rss:.1} MB");
    }
    Ok(())
}

fn build_only(generator: &Generator, count: u64) -> f64 {
    let started = Instant::now();
    let mut fields = 0usize;
    for i in 0..count {
        fields += generator.document(i).len();
    }
    std::hint::black_box(fields);
    count as f64 / started.elapsed().as_secs_f64()
}

fn measure(job: &Job, count: u64) -> Result<Measure, Error> {
    let job = Job { count, ..job.clone() };
    let started = Instant::now();
    let written = job.run(&mut io::sink()).map_err(|e| Error::Runtime(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Measure { docs_per_s: written.docs as f64 / secs, mb_per_s: written.bytes as f64 / 1e6 / secs })
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
