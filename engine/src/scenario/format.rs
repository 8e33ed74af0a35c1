//! A scenario file as written (YAML): what `forge run` reads, and what the published
//! JSON Schema (`forge run --print-schema`) describes. Unknown keys are errors, so a
//! misspelt option never silently does nothing.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// A forge scenario: several collections written at once, through a sequence of
/// phases (ramps, steady rates, spikes, pauses).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "forge scenario")]
pub struct ScenarioFile {
    /// Seed of every random choice: an integer, or any text (hashed). `forge run
    /// --seed` overrides it; without either, a random seed is drawn and printed.
    #[serde(default)]
    pub seed: Option<SeedText>,
    /// Database of the collections (default: --db, else the one in --uri, else forge).
    #[serde(default)]
    pub database: Option<String>,
    /// WebAssembly plugin files (relative to this file) whose strategies and delete
    /// behaviors collections may name.
    #[serde(default)]
    pub plugins: Vec<String>,
    /// The collections, by name.
    #[serde(default)]
    pub collections: IndexMap<String, CollectionFile>,
    /// Multi-document transactions, by name: each writes collections of its own (not
    /// listed under `collections`), atomically, and commits or aborts.
    #[serde(default)]
    pub transactions: IndexMap<String, TransactionFile>,
    /// What happens, in order. Each phase's rate and operation count is shared by the
    /// collections and transactions in proportion to their `share` (a transaction
    /// counts as one operation).
    pub phases: Vec<PhaseFile>,
}

/// A stream of multi-document transactions: each updates `size` documents of one
/// collection and inserts one document into another, then commits or aborts (by
/// weight). Both collections are written by these transactions alone.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionFile {
    /// Its share of every phase's rate, in transactions (default 1).
    #[serde(default)]
    pub share: Option<f64>,
    /// How many documents of `update.collection` one transaction updates: a number,
    /// or {min, max} (default 1).
    #[serde(default)]
    pub size: Option<SizeFile>,
    /// Relative weight of transactions that commit (default 1).
    #[serde(default)]
    pub commit: Option<f64>,
    /// Relative weight of transactions that write and then abort (default 0).
    #[serde(default)]
    pub abort: Option<f64>,
    /// The documents each transaction changes.
    #[serde(default)]
    pub update: Option<TxnUpdateFile>,
    /// The document each transaction inserts.
    #[serde(default)]
    pub insert: Option<TxnInsertFile>,
}

/// A count, or a range of counts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SizeFile {
    Fixed(u64),
    Range(SizeRange),
}

/// A range of counts, both ends included.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeRange {
    pub min: u64,
    pub max: u64,
}

/// The collection a transaction updates.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TxnUpdateFile {
    /// Its name.
    pub collection: String,
    /// JSON Schema file of its documents (relative to this file), or example:NAME.
    pub schema: String,
    /// Documents inserted before the first phase: those the transactions update.
    pub documents: u64,
    /// What one update does: $inc of these fields by these amounts, e.g. {stock: -1}
    /// (an integer keeps an integer field an integer).
    pub inc: IndexMap<String, serde_json::Number>,
}

/// The collection a transaction inserts into.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TxnInsertFile {
    /// Its name.
    pub collection: String,
    /// JSON Schema file of its documents (relative to this file), or example:NAME.
    pub schema: String,
    /// A top-level field set to the `_id`s the transaction updated, in order (so a
    /// reader can check the updates against the inserts).
    #[serde(default)]
    pub record: Option<String>,
}

/// A seed: an integer or any text.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SeedText {
    Number(u64),
    Text(String),
}

/// One collection of the scenario and how it is written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionFile {
    /// JSON Schema file of its documents (relative to this file; x-gen hints, and
    /// `x-gen.ref: {collection, path: _id}` for references), or example:NAME.
    pub schema: String,
    /// Its share of every phase's rate and operations (default 1).
    #[serde(default)]
    pub share: Option<f64>,
    /// Operation mix: relative weights, e.g. insert:60,update:30,delete:10 (default
    /// insert:100).
    #[serde(default)]
    pub mix: Option<String>,
    /// What an update does: regenerate, partial, increment, lifecycle, drift, array,
    /// mixed, or a plugin's name (default partial).
    #[serde(default)]
    pub update_strategy: Option<String>,
    /// What a delete does: remove, keep, tombstone, or a plugin's name (default remove).
    #[serde(default)]
    pub delete_behavior: Option<String>,
    /// How many recent _ids updates and deletes choose from (default 10000).
    #[serde(default)]
    pub id_cache_size: Option<u64>,
    /// How updates and deletes choose among them: random (default), weighted-recent,
    /// zipfian (hot keys: the oldest hottest), latest (the newest hottest).
    #[serde(default)]
    pub sampling: Option<SamplingName>,
    /// The share of inserts (0 to 1) that insert a deleted `_id` again, with its first
    /// document: delete and re-insert of one `_id` (default 0). Needs the remove delete
    /// behavior.
    #[serde(default)]
    pub reinsert: Option<f64>,
    /// Plugin arguments: PLUGIN: {KEY: VALUE}.
    #[serde(default)]
    pub plugin_args: BTreeMap<String, BTreeMap<String, ArgValue>>,
}

/// How targets are chosen.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SamplingName {
    Random,
    WeightedRecent,
    Zipfian,
    Latest,
}

impl SamplingName {
    pub fn sampling(self) -> crate::plan::Sampling {
        use crate::plan::Sampling;
        match self {
            SamplingName::Random => Sampling::Random,
            SamplingName::WeightedRecent => Sampling::WeightedRecent,
            SamplingName::Zipfian => Sampling::Zipfian,
            SamplingName::Latest => Sampling::Latest,
        }
    }
}

/// A plugin argument's value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ArgValue {
    Text(String),
    Number(f64),
    Bool(bool),
}

impl ArgValue {
    pub fn text(&self) -> String {
        match self {
            ArgValue::Text(t) => t.clone(),
            ArgValue::Number(n) => n.to_string(),
            ArgValue::Bool(b) => b.to_string(),
        }
    }
}

/// One phase: operations at a rate for a time (or a count), or a pause.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    /// Its name in reports (default: phase-N).
    #[serde(default)]
    pub name: Option<String>,
    /// How long it lasts (30s, 5m); with a rate, its operation count follows from it.
    #[serde(default)]
    pub duration: Option<String>,
    /// How many operations, all collections together: without a rate (as fast as
    /// possible), or instead of a duration.
    #[serde(default)]
    pub ops: Option<u64>,
    /// Operations per second, all collections together: a number, or {from, to} for
    /// a linear ramp. Without one, as fast as possible (then `ops` is needed).
    #[serde(default)]
    pub rate: Option<RateFile>,
    /// A pause: no operations for this long (a consumer's catch-up, the change
    /// stream's history window). A pause has no other keys but `name`.
    #[serde(default)]
    pub pause: Option<String>,
    /// Operation mixes for this phase: COLLECTION: kind:weight.
    #[serde(default)]
    pub mix: BTreeMap<String, String>,
    /// Shares for this phase: COLLECTION or TRANSACTION: share (0: it rests).
    #[serde(default)]
    pub share: BTreeMap<String, f64>,
    /// Schema evolution: COLLECTION: a new schema file, in force from this phase on
    /// (inserts and regenerating or partial updates follow it; the journal records
    /// the switch and verify checks each document against the version it was last
    /// written under).
    #[serde(default)]
    pub schema: BTreeMap<String, String>,
}

/// A constant rate, or a linear ramp.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RateFile {
    Constant(f64),
    Ramp(Ramp),
}

/// A linear ramp of the rate over the phase.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    /// Operations per second at the start.
    pub from: f64,
    /// Operations per second at the end.
    pub to: f64,
}

/// The JSON Schema of the format, for editors.
pub fn json_schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(ScenarioFile)).expect("schemas serialise")
}
