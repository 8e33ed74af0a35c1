//! `forge infer`: a schema from a live collection.

use bson::{Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;

use super::error::Error;
use super::traffic::ConnectionArgs;
use crate::infer::{Collector, DEFAULT_DYNAMIC_KEY_THRESHOLD, to_schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InferSampling {
    /// $sample: a uniform random sample
    Random,
    /// The first documents in natural order
    FirstN,
    /// The newest documents by _id
    Recent,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,

    /// Documents to read
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    sample_size: u64,

    /// Which documents to read
    #[arg(long, value_enum, default_value_t = InferSampling::Random)]
    sampling: InferSampling,

    /// Objects with more distinct keys than this are maps with data keys (a key
    /// pattern, a value schema and a key-count distribution)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DYNAMIC_KEY_THRESHOLD)]
    dynamic_key_threshold: usize,

    /// Where to write the schema, or - for standard output
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: String,

    /// No progress on stderr
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let name = args.connection.collection.clone().ok_or_else(|| Error::Usage("--collection is required".into()))?;
    let runtime = super::traffic::runtime()?;
    let collector = runtime.block_on(async {
        let (client, db) = args.connection.connect().await?;
        let namespace = format!("{db}.{name}");
        let read_error = |e: mongodb::error::Error| match &*e.kind {
            mongodb::error::ErrorKind::Command(c) if c.code == 13 => {
                Error::Runtime(format!("no permission to read {namespace}: {}", c.message))
            }
            other => {
                Error::Runtime(format!("reading {namespace} failed: {}", crate::mongo::one_line(&other.to_string())))
            }
        };
        let exists =
            client.database(&db).list_collection_names().filter(doc! { "name": &name }).await.map_err(read_error)?;
        if exists.is_empty() {
            return Err(Error::Usage(format!("--collection: {namespace} does not exist")));
        }
        let coll = client.database(&db).collection::<RawDocumentBuf>(&name);
        let limit = args.sample_size as i64;
        let mut cursor = match args.sampling {
            InferSampling::Random => {
                coll.aggregate([doc! { "$sample": { "size": limit } }]).with_type::<RawDocumentBuf>().await
            }
            InferSampling::FirstN => coll.find(doc! {}).limit(limit).await,
            InferSampling::Recent => coll.find(doc! {}).sort(doc! { "_id": -1 }).limit(limit).await,
        }
        .map_err(read_error)?;
        let progress = (!args.quiet).then(|| {
            let bar = indicatif::ProgressBar::new(args.sample_size);
            bar.set_style(
                indicatif::ProgressStyle::with_template("sampling {bar:40} {pos}/{len} documents ({per_sec}, {eta})")
                    .expect("valid template"),
            );
            bar
        });
        let mut collector = Collector::new(args.dynamic_key_threshold);
        while let Some(raw) = cursor.try_next().await.map_err(read_error)? {
            let doc = Document::try_from(raw.as_ref())
                .map_err(|e| Error::Runtime(format!("a document of {namespace} is not valid BSON: {e}")))?;
            collector.observe(&doc, Some(raw.as_bytes().len()));
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        if collector.documents() == 0 {
            return Err(Error::Usage(format!("--collection: {namespace} is empty; there is nothing to infer from")));
        }
        Ok(collector)
    })?;
    let schema = to_schema(&collector, &name);
    let text = serde_json::to_string_pretty(&schema).expect("schemas serialise") + "\n";
    match args.out.as_str() {
        "-" => out!("{text}"),
        path => std::fs::write(path, text).map_err(|e| Error::Usage(format!("--out: cannot write '{path}': {e}")))?,
    }
    if !args.quiet {
        errln!("inferred a schema from {} documents of {name}", collector.documents());
    }
    Ok(())
}
