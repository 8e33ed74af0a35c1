//! `forge generate`: documents to a file, to MongoDB, or as a CDC simulation.

use std::sync::Arc;
use std::time::Instant;

use super::error::Error;
use super::traffic::{ConnectionArgs, TrafficArgs};
use super::values::{CdcSampling, Seed};
use crate::generate::Generator;
use crate::output::render::Job;
use crate::output::{Target, TextFormat, ejson};
use crate::plan::{DeleteTracking, OpKind, OpSelector, Sampling};
use crate::schema::Schema;
use crate::traffic::{RunInfo, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Extended JSON, one document per line (what mongoimport reads)
    Ndjson,
    /// Extended JSON, one array (mongoimport --jsonArray)
    Json,
    /// Bulk inserts into --collection
    Mongo,
    /// Change-data-capture traffic: inserts, updates, replaces and deletes against the
    /// documents this run inserted, in the mix of --operation-ratios
    MongoCdc,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON Schema file (draft-07 with x-gen hints), or example:NAME for a built-in
    /// one (customers, orders). Default: example:customers
    #[arg(long, value_name = "FILE")]
    schema: Option<String>,

    /// Number of documents (operations planned for mongo-cdc: one a plugin answers
    /// `skip` to is counted in the report, not written). Default: 10 for file output;
    /// for MongoDB output, until --duration or Ctrl-C
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,

    /// Seed for all randomness: the same seed and flags give byte-identical output and
    /// the same operation stream. An integer, or any text (`nightly-orders`), which is
    /// hashed the same way everywhere. Default: a random seed, printed on stderr
    #[arg(long, value_name = "SEED", value_parser = super::values::seed)]
    seed: Option<Seed>,

    /// Index of the first document; splits one stream across processes
    /// (`--start 0 -n 1000` and `--start 1000 -n 1000` make the first 2000 documents)
    #[arg(long, value_name = "I", default_value_t = 0)]
    start: u64,

    /// Where documents go
    #[arg(long, value_enum, default_value_t = Output::Ndjson)]
    output: Output,

    /// Output file, or - for standard output (ndjson and json)
    #[arg(long, value_name = "PATH", default_value = "-")]
    out: String,

    /// Extended JSON flavour; both load into MongoDB with their types intact
    #[arg(long, value_enum, default_value_t = ejson::Mode::Relaxed)]
    ejson: ejson::Mode,

    /// Generator threads for file output (the output is identical for any value).
    /// Default: all cores
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// No seed notice, progress lines or file summary on stderr
    #[arg(short, long)]
    quiet: bool,

    /// mongo-cdc: relative weights of insert, update, replace and delete
    #[arg(
        long,
        value_name = "MIX",
        default_value = "insert:100",
        help_heading = "CDC simulation (--output mongo-cdc)"
    )]
    operation_ratios: String,

    /// mongo-cdc: inserts made before the mix starts (not counted in -n)
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "CDC simulation (--output mongo-cdc)")]
    warmup_inserts: u64,

    /// mongo-cdc: what an update does: regenerate (replaceOne with a fresh document),
    /// partial ($set/$unset of a few fields), increment ($inc of numbers), lifecycle
    /// (an enum field's next allowed state), drift (numbers moved a few percent), array
    /// ($push/$pull/$set of an array's elements), mixed (a seeded pick of regenerate,
    /// partial and, when the schema suits them, increment, lifecycle and drift), or the
    /// name of a --plugin mutator
    #[arg(long, value_name = "NAME", default_value = "partial", help_heading = "CDC simulation (--output mongo-cdc)")]
    update_strategy: String,

    /// mongo-cdc: how updates, replaces and deletes choose their target among the
    /// _ids this run inserted: the newest --id-cache-size of them, or for zipfian the
    /// first ones (a full cache keeps its hot set; later inserts go untargeted until
    /// deletes make room) [default: random]
    #[arg(long, value_enum, value_name = "HOW", help_heading = "CDC simulation (--output mongo-cdc)")]
    sampling: Option<CdcSampling>,

    /// mongo, mongo-cdc: plan, materialize (plugins included) and serialise every write,
    /// send nothing, and print the usual report: what your flags and plugins do, and how
    /// fast forge can do it, without a server
    #[arg(long)]
    dry_run: bool,

    /// With --segments N: run all N segments here, as N processes side by side (one
    /// per core; or to rehearse a Kubernetes Job), and print their merged report.
    /// Without --start-at they start 2s after this command. --journal needs {segment}
    #[arg(long, help_heading = "Segments: one run split across processes or machines")]
    spawn: bool,

    #[command(flatten, next_help_heading = "MongoDB output (--output mongo, mongo-cdc)")]
    connection: ConnectionArgs,

    #[command(flatten, next_help_heading = "MongoDB output (--output mongo, mongo-cdc)")]
    traffic: TrafficArgs,
}

pub fn run(args: Args) -> Result<(), Error> {
    check_flags(&args)?;
    let schema = super::load_schema(args.schema.as_deref())?;
    // Before the seed notice: bad segment flags are one line.
    if args.spawn {
        check_spawn(&args)?;
    } else if !to_file_output(&args) {
        args.traffic.segments.segment()?;
    }
    let seed = super::resolve_seed(args.seed.clone(), args.quiet);
    if args.spawn {
        return spawn(&args, &seed);
    }
    match args.output {
        Output::Ndjson | Output::Json => to_file(args, schema, seed),
        Output::Mongo | Output::MongoCdc => to_mongo(args, schema, seed),
    }
}

fn to_file_output(args: &Args) -> bool {
    matches!(args.output, Output::Ndjson | Output::Json)
}

/// Flags of one kind of output given to the other are mistakes, not no-ops.
fn check_flags(args: &Args) -> Result<(), Error> {
    let to_file = to_file_output(args);
    let t = &args.traffic;
    let mongo_only = [
        ("--journal", t.journal.is_some()),
        ("--report", t.report.is_some()),
        ("--rate-limit", t.rate_limit.is_some()),
        ("--duration", t.duration.is_some()),
        ("--write-concern", t.write_concern.is_some()),
        ("--collection", args.connection.collection.is_some()),
        ("--db", args.connection.db.is_some()),
        ("--warmup-inserts", args.warmup_inserts > 0),
        ("--operation-ratios", args.operation_ratios != "insert:100"),
        ("--sampling", args.sampling.is_some()),
        ("--segments", t.segments.segments > 1),
        ("--segment", t.segments.segment.is_some()),
        ("--start-at", t.segments.start_at.is_some()),
        ("--spawn", args.spawn),
    ];
    let file_only = [("--out", args.out != "-"), ("--threads", args.threads.is_some())];
    let (wrong, wanted) = if to_file {
        (&mongo_only[..], "--output mongo or mongo-cdc")
    } else {
        (&file_only[..], "--output ndjson or json")
    };
    match wrong.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(Error::Usage(format!("{flag} applies to {wanted}"))),
        None => Ok(()),
    }
}

/// `--spawn`'s flags make sense together.
fn check_spawn(args: &Args) -> Result<(), Error> {
    let t = &args.traffic;
    let refuse = |why: &str| Err(Error::Usage(format!("--spawn: {why}")));
    if t.segments.segments < 2 {
        return refuse("needs --segments N, N of 2 or more");
    }
    if t.segments.segment.is_some() {
        return refuse("runs every segment; --segment picks one");
    }
    if t.metrics_listen.is_some() {
        return refuse("--metrics-listen would be one address for every segment; run them yourself");
    }
    if let Some(journal) = &t.journal
        && !journal.to_string_lossy().contains("{segment}")
    {
        return refuse("every segment writes its own journal: put {segment} in --journal's file name");
    }
    let merged = [("--report", &t.report), ("--report-html", &t.report_html)];
    if let Some((flag, _)) =
        merged.iter().find(|(_, p)| p.as_ref().is_some_and(|p| p.to_string_lossy().contains("{segment}")))
    {
        return refuse(&format!("{flag} is the merged report's: a name without {{segment}}"));
    }
    Ok(())
}

/// `--spawn`: every segment as a process of this machine.
fn spawn(args: &Args, seed: &Seed) -> Result<(), Error> {
    let t = &args.traffic;
    super::spawn::run(super::spawn::Spawn {
        segments: t.segments.segments,
        seed: &seed.given,
        start_at: t.segments.start_at,
        report: t.report.clone(),
        report_html: t.report_html.clone(),
    })
}

fn to_file(args: Args, schema: Schema, seed: Seed) -> Result<(), Error> {
    let count = args.count.unwrap_or(10);
    args.start.checked_add(count).ok_or_else(|| Error::Usage("--start plus --count overflows".into()))?;
    let job = Job {
        generator: Generator::new(Arc::new(schema), seed.value),
        start: args.start,
        count,
        threads: args.threads.map_or_else(super::default_threads, usize::from),
        format: if args.output == Output::Json { TextFormat::Json } else { TextFormat::Ndjson },
        mode: args.ejson,
    };
    let target = Target::parse(&args.out);
    let mut out = target.open().map_err(|e| Error::Usage(format!("--out: cannot create '{}': {e}", target.name())))?;
    let started = Instant::now();
    let written = job.run(&mut out).map_err(|e| Error::Runtime(format!("writing to {}: {e}", target.name())))?;
    if !args.quiet && matches!(target, Target::File(_)) {
        let secs = started.elapsed().as_secs_f64();
        errln!(
            "wrote {} documents ({:.1} MB) to {} in {secs:.2}s ({:.0} docs/s)",
            written.docs,
            written.bytes as f64 / 1e6,
            target.name(),
            written.docs as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}

fn to_mongo(args: Args, schema: Schema, seed: Seed) -> Result<(), Error> {
    let cdc = args.output == Output::MongoCdc;
    let selector = if cdc {
        OpSelector::parse(&args.operation_ratios, &OpKind::ALL)
            .map_err(|e| Error::Usage(format!("--operation-ratios: {e}")))?
    } else {
        if args.operation_ratios != "insert:100" {
            return Err(Error::Usage("--operation-ratios needs --output mongo-cdc".into()));
        }
        if args.sampling.is_some() {
            return Err(Error::Usage("--sampling needs --output mongo-cdc".into()));
        }
        OpSelector::only(OpKind::Insert)
    };
    let collection = args.connection.collection.clone().unwrap_or_else(|| default_collection(&schema));
    let generator = Arc::new(Generator::new(Arc::new(schema), seed.value));
    let mut workload = args.traffic.workload(
        seed.value,
        selector,
        generator,
        &args.update_strategy,
        args.start,
        &collection,
        DeleteTracking::None,
    )?;
    workload.planner = workload.planner.with_sampling(args.sampling.map_or(Sampling::Random, |s| s.0));
    let config = args.traffic.config(args.count, if cdc { args.warmup_inserts } else { 0 })?;
    let info = RunInfo {
        command: if cdc { "generate (mongo-cdc)" } else { "generate (mongo)" }.into(),
        seed: seed.value,
        seed_given: seed.given,
        flags: super::traffic::redacted_flags(),
    };
    super::traffic::runtime()?.block_on(async {
        let sink = if args.dry_run {
            let db = args.connection.db.clone().unwrap_or_else(|| "forge".into());
            Sink::Null { namespace: format!("{db}.{collection}") }
        } else {
            let (client, db) = args.connection.connect().await?;
            let coll = crate::mongo::collection(&client, &db, &collection);
            Sink::Server { client, coll }
        };
        args.traffic.run(workload, sink, config, info, args.quiet).await
    })
}

/// The schema's title when it makes a collection name, else "documents".
fn default_collection(schema: &Schema) -> String {
    schema
        .source
        .get("title")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or("documents")
        .to_string()
}
