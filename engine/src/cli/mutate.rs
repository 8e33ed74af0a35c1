//! `forge mutate`: updates and deletes against a collection that already has data.

use std::sync::Arc;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;

use super::error::Error;
use super::traffic::{ConnectionArgs, TrafficArgs};
use super::values::Seed;
use crate::generate::Generator;
use crate::mongo::targets::CollectionTargets;
use crate::plan::{DeleteTracking, OpKind, OpSelector, Sampling};
use crate::schema::Schema;
use crate::traffic::{RunInfo, Sink};

/// Documents read to describe a collection when no --schema is given.
const SCHEMA_SAMPLE: i64 = 200;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Relative weights of update, replace and delete
    #[arg(long, value_name = "MIX", default_value = "update:70,delete:30")]
    ratio: String,

    /// What an update does: regenerate (replaceOne with a fresh document; needs
    /// --schema), partial ($set/$unset of a few fields), increment ($inc of numbers),
    /// lifecycle (an enum field's next allowed state), drift (numbers moved a few
    /// percent), array ($push/$pull/$set of an array's elements), mixed, or the name of
    /// a --plugin mutator. Default: regenerate with --schema, else partial
    #[arg(long, value_name = "NAME")]
    update_strategy: Option<String>,

    /// Schema of the collection's documents (file or example:NAME). Without it, forge
    /// reads the field types off a sample of the collection
    #[arg(long, value_name = "FILE")]
    schema: Option<String>,

    /// How targets are drawn from the collection: each refill of --id-cache-size
    /// documents is a $sample (random, zipfian), the next ones in _id order
    /// (sequential), or the newest by --recent-field (weighted-recent, latest)
    #[arg(long, value_enum, default_value_t = Sampling::Random)]
    sampling: Sampling,

    /// Field that orders documents by age for --sampling weighted-recent and latest
    #[arg(long, value_name = "FIELD", default_value = "_id")]
    recent_field: String,

    /// Whether deleted _ids stay targetable: none (they may be targeted again),
    /// memory (never again), filter (a guard in the filter makes them match nothing)
    #[arg(long, value_enum, default_value_t = DeleteTracking::Memory)]
    delete_tracking: DeleteTracking,

    /// Number of operations planned (one a plugin answers `skip` to is counted in the
    /// report, not written). Default: until --duration or Ctrl-C
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,

    /// Seed for the operation stream: an integer, or any text (hashed the same way
    /// everywhere). Default: a random seed, printed on stderr
    #[arg(long, value_name = "SEED", value_parser = super::values::seed)]
    seed: Option<Seed>,

    /// No seed notice or progress lines on stderr
    #[arg(short, long)]
    quiet: bool,

    #[command(flatten, next_help_heading = "MongoDB")]
    connection: ConnectionArgs,

    #[command(flatten, next_help_heading = "MongoDB")]
    traffic: TrafficArgs,
}

pub fn run(args: Args) -> Result<(), Error> {
    let selector = OpSelector::parse(&args.ratio, &[OpKind::Update, OpKind::Replace, OpKind::Delete])
        .map_err(|e| Error::Usage(format!("--ratio: {e}")))?;
    let strategy_name = args
        .update_strategy
        .clone()
        .unwrap_or_else(|| if args.schema.is_some() { "regenerate" } else { "partial" }.to_string());
    let needs_schema = strategy_name == "regenerate" || (selector.shares().iter().any(|(k, _)| *k == OpKind::Replace));
    if needs_schema && args.schema.is_none() {
        return Err(Error::Usage(format!(
            "--schema is required for {} (a replacement is a whole generated document)",
            if strategy_name == "regenerate" { "--update-strategy regenerate" } else { "replace operations" }
        )));
    }
    let given_schema = args.schema.as_deref().map(|s| super::load_schema(Some(s))).transpose()?;
    let collection_name = args
        .connection
        .collection
        .clone()
        .ok_or_else(|| Error::Usage("--collection is required: the collection to mutate".into()))?;
    args.traffic.segments.segment()?; // before the seed notice: a bad one is one line
    let seed = super::resolve_seed(args.seed.clone(), args.quiet);
    let runtime = super::traffic::runtime()?;
    runtime.block_on(async {
        let (client, db) = args.connection.connect().await?;
        let coll = crate::mongo::collection(&client, &db, &collection_name);
        let namespace = format!("{db}.{collection_name}");
        let exists = client
            .database(&db)
            .list_collection_names()
            .filter(doc! { "name": &collection_name })
            .await
            .map_err(|e| Error::Runtime(format!("cannot list collections of {db}: {}", e.kind)))?;
        if exists.is_empty() {
            return Err(Error::Usage(format!("--collection: {namespace} does not exist")));
        }
        let sample: Vec<Document> = coll
            .aggregate([doc! { "$sample": { "size": SCHEMA_SAMPLE } }])
            .await
            .map_err(|e| Error::Runtime(format!("cannot read {namespace}: {}", e.kind)))?
            .try_collect()
            .await
            .map_err(|e| Error::Runtime(format!("cannot read {namespace}: {}", e.kind)))?;
        if sample.is_empty() {
            return Err(Error::Usage(format!("--collection: {namespace} is empty; there is nothing to mutate")));
        }
        let schema = match given_schema {
            Some(schema) => schema,
            None => Schema::from_value(crate::schema::sample::schema_from_samples(&sample))
                .map_err(|e| Error::Runtime(format!("describing {namespace} from a sample failed: {e}")))?,
        };
        let generator_schema = Arc::new(schema);
        let generator = Arc::new(Generator::new(generator_schema.clone(), seed.value));
        let cache_size = args.traffic.id_cache_size as usize;
        let mut targets = CollectionTargets::new(
            coll.clone(),
            tokio::runtime::Handle::current(),
            args.sampling,
            cache_size,
            args.recent_field.clone(),
        );
        // Segments of one mutate run split the documents by a stable hash of `_id`.
        targets.segment = args.traffic.segments.segment()?;
        let collection_name = coll.name().to_owned();
        let mut workload = args.traffic.workload(
            seed.value,
            selector,
            generator,
            &strategy_name,
            0,
            &collection_name,
            args.delete_tracking,
        )?;
        workload.planner = workload.planner.with_source(Box::new(targets), args.sampling, args.delete_tracking);
        let references = referenced_ids(&client, &db, generator_schema.as_ref()).await?;
        if !references.is_empty() {
            workload.planner =
                workload.planner.with_references(Box::new(crate::plan::ExistingIds::new(seed.value, references)));
        }
        let config = args.traffic.config(args.count, 0)?;
        let info = RunInfo {
            command: "mutate".into(),
            seed: seed.value,
            seed_given: seed.given,
            flags: super::traffic::redacted_flags(),
        };
        args.traffic.run(workload, Sink::Server { client, coll }, config, info, args.quiet).await
    })
}

/// `_id`s a referenced collection offers `forge mutate`'s references, at most.
const REFERENCE_POOL: i64 = 100_000;

/// The `_id`s each collection the schema references (`x-gen.ref`) holds: up to
/// [`REFERENCE_POOL`], the lowest, so the same data gives the same pool.
async fn referenced_ids(
    client: &mongodb::Client,
    db: &str,
    schema: &Schema,
) -> Result<Vec<(Arc<str>, Vec<Bson>)>, Error> {
    let mut pools: Vec<(Arc<str>, Vec<Bson>)> = Vec::new();
    for (path, target) in &schema.compiled.references {
        if pools.iter().any(|(name, _)| **name == **target) {
            continue;
        }
        let coll = crate::mongo::collection(client, db, target);
        let read = |e: mongodb::error::Error| {
            Error::Runtime(format!("cannot read {db}.{target}: {}", crate::mongo::one_line(&e.kind.to_string())))
        };
        let ids: Vec<Bson> = coll
            .find(doc! {})
            .projection(doc! { "_id": 1 })
            .sort(doc! { "_id": 1 })
            .limit(REFERENCE_POOL)
            .await
            .map_err(read)?
            .map_ok(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
            .try_collect()
            .await
            .map_err(read)?;
        if ids.is_empty() {
            return Err(Error::Usage(format!(
                "--schema: {path}: x-gen.ref: {db}.{target} holds no documents to reference"
            )));
        }
        pools.push((Arc::from(target.as_str()), ids));
    }
    Ok(pools)
}
