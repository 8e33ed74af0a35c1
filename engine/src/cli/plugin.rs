//! `forge plugin`: what plugins there are, what a plugin file is, and what it does to
//! generated documents (for plugin authors).

use std::path::PathBuf;
use std::sync::Arc;

use bson::{Bson, Document, doc};
use forge_plugin_sdk::{DeleteAction, Kind, Mutation};

use super::error::Error;
use super::traffic::PluginArgs;
use crate::generate::Generator;
use crate::mutation::OpContext;
use crate::plugin::{Limits, Loaded, Registry, SchemaAccess, builtin};
use crate::seed::{self, Stream};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PluginCommand {
    /// The built-in plugins (and any --plugin files): name, kind, version, contract
    List {
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// What a plugin file is: name, kind, version, contract version, form, exports, imports
    Inspect {
        /// A .wasm component or core module (or, with --native, a native library)
        file: PathBuf,
        /// FILE is a native library (.so) built with the plugin SDK
        #[arg(long)]
        native: bool,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Run a plugin on generated documents and print the writes it asks for, as
    /// Extended JSON lines (updateOne / replaceOne / deleteOne)
    Test {
        /// A .wasm component or core module (or, with --native, a native library)
        file: PathBuf,
        /// FILE is a native library (.so) built with the plugin SDK
        #[arg(long)]
        native: bool,
        /// Schema of the documents (file or example:NAME)
        #[arg(long, value_name = "FILE")]
        schema: Option<String>,
        /// How many documents to run it on
        #[arg(short = 'n', long, default_value_t = 5)]
        count: u64,
        /// Seed of the documents and of the plugin's random source
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        plugins: PluginArgs,
    },
}

pub fn run(args: Args) -> Result<(), Error> {
    match args.command {
        PluginCommand::List { plugins } => list(&plugins),
        PluginCommand::Inspect { file, native, plugins } => {
            let registry = plugins.registry()?;
            let loaded = load(&registry, &file, native)?;
            out!("{}", describe(&loaded));
            Ok(())
        }
        PluginCommand::Test { file, native, schema, count, seed, plugins } => {
            test(&file, native, schema.as_deref(), count, seed, &plugins)
        }
    }
}

fn load(registry: &Registry, file: &std::path::Path, native: bool) -> Result<Loaded, Error> {
    let loaded =
        if native { crate::plugin::load_native(file) } else { crate::plugin::load_file(&registry.runtime, file) };
    loaded.map_err(|e| Error::Usage(e.to_string()))
}

fn describe(l: &Loaded) -> String {
    let mut out = format!(
        "name:      {}\nkind:      {}\nversion:   {}\ncontract:  {} (this forge runs {})\nform:      {}\nfrom:      {}\n",
        l.info.name,
        l.info.kind.name(),
        l.info.version,
        l.info.contract_version,
        crate::plugin::SUPPORTED_CONTRACT,
        l.form(),
        l.origin
    );
    out.push_str("exports:\n");
    for e in l.exports() {
        out.push_str(&format!("  {e}\n"));
    }
    out.push_str("imports:\n");
    if l.imports().is_empty() {
        out.push_str("  (none)\n");
    }
    for i in l.imports() {
        out.push_str(&format!("  {i}\n"));
    }
    out
}

fn list(plugins: &PluginArgs) -> Result<(), Error> {
    let registry = plugins.registry()?;
    outln!("{:<12} {:<16} {:<8} {:<9} {:<12} FROM", "NAME", "KIND", "VERSION", "CONTRACT", "FORM");
    let mut rows: Vec<Loaded> = Vec::new();
    for b in builtin::BUILTINS {
        let l = crate::plugin::load_wasm(&registry.runtime, b.wasm, b.name, crate::plugin::Origin::Builtin)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        rows.push(l);
    }
    for f in &plugins.files {
        rows.push(load(&registry, f, false)?);
    }
    for f in &plugins.natives {
        rows.push(load(&registry, f, true)?);
    }
    for l in &rows {
        outln!(
            "{:<12} {:<16} {:<8} {:<9} {:<12} {}",
            l.info.name,
            l.info.kind.name(),
            l.info.version,
            l.info.contract_version,
            l.form(),
            l.origin
        );
    }
    outln!("{:<12} {:<16} {:<8} {:<9} {:<12} built-in", "mixed", "mutator", "-", "-", "(choice)");
    Ok(())
}

fn test(
    file: &std::path::Path,
    native: bool,
    schema: Option<&str>,
    count: u64,
    seed: u64,
    plugins: &PluginArgs,
) -> Result<(), Error> {
    let schema = super::load_schema(schema)?;
    // Plugin authors see what their plugin prints (a Python traceback, say), unless
    // the run holds a secret: that output would bypass the scrubber.
    let stderr = !super::secrets::any();
    let registry = plugins.registry_with(Limits { stderr, ..plugins.limits() })?;
    let loaded = load(&registry, file, native)?;
    let generator = Arc::new(Generator::new(Arc::new(schema), seed));
    let args = plugins.config()?;
    let config = args.get(&loaded.info.name).cloned().unwrap_or_default();
    let mut plugin = loaded
        .start(&registry.runtime, SchemaAccess::new(generator.clone()), config, seed)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let mut failed = 0u64;
    for i in 0..count {
        let doc = generator.document(i);
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        let raw = bson::RawDocumentBuf::try_from(&doc).map_err(|e| Error::Runtime(e.to_string()))?;
        let mut rng = seed::rng(seed, Stream::Operation, i);
        let ctx =
            OpContext { run_seed: seed, op_index: i, shard: 0, collection: "test", target: &id, current: Some(&raw) };
        let call = ctx.call(&mut rng);
        let filter = doc! { "_id": id.clone() };
        let write: Result<Document, _> = match loaded.info.kind {
            Kind::Mutator => plugin.mutate(call).map(|m| match m {
                Mutation::Update(u) => doc! { "updateOne": { "filter": filter, "update": u } },
                Mutation::Replace(r) => doc! { "replaceOne": { "filter": filter, "replacement": r } },
                Mutation::Skip => doc! { "skip": { "filter": filter } },
            }),
            Kind::DeleteBehavior => plugin.on_delete(call).map(|a| match a {
                DeleteAction::Remove => doc! { "deleteOne": { "filter": filter }, "then": "forget" },
                DeleteAction::Keep => doc! { "deleteOne": { "filter": filter }, "then": "keep-targeting" },
                DeleteAction::Tombstone(u) => {
                    doc! { "updateOne": { "filter": filter, "update": u }, "then": "keep-targeting" }
                }
            }),
        };
        match write {
            Ok(w) => outln!("{}", Bson::Document(w).into_relaxed_extjson()),
            Err(e) => {
                failed += 1;
                errln!("{e}");
            }
        }
    }
    if failed > 0 {
        return Err(Error::Runtime(format!("{failed} of {count} calls failed")));
    }
    Ok(())
}
