//! The host side of the contract's imports, one implementation for the component,
//! core-module and native hosts: the per-call random source and schema-driven values.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bson::{Bson, Document};
use forge_plugin_sdk::{BsonType, Field, Level};
use rand::{Rng as _, RngCore};

use crate::generate::Generator;
use crate::schema::model::{Node, NodeId, Scalar};
use crate::schema::paths::{Numeric, field_paths};
use crate::seed::{Rng, draw};

/// What a plugin's generation imports draw from: the run's generator and its schema's
/// fields. Shared by every instance of every plugin of a run.
#[derive(Debug)]
pub struct SchemaAccess {
    /// Per schema version (a scenario may switch a collection's schema), in order.
    versions: Vec<Version>,
    /// The schema text `init` receives (the first version's).
    pub text: String,
}

/// What plugins see of one schema version.
#[derive(Debug)]
struct Version {
    generator: Arc<Generator>,
    fields: Vec<Field>,
    nodes: HashMap<String, NodeId>,
}

impl SchemaAccess {
    pub fn new(generator: Arc<Generator>) -> Arc<Self> {
        Self::versioned(vec![generator])
    }

    /// Plugins that follow a collection's schema versions: each call sees the version
    /// in force for its operation ([`crate::generate::op_context::version`]).
    pub fn versioned(generators: Vec<Arc<Generator>>) -> Arc<Self> {
        let text = generators[0].schema().source.to_string();
        let versions = generators.into_iter().map(Version::new).collect();
        Arc::new(SchemaAccess { versions, text })
    }

    /// The version of the operation in progress on this thread.
    fn current(&self) -> &Version {
        let v = crate::generate::op_context::version();
        &self.versions[v.min(self.versions.len() - 1)]
    }
}

impl Version {
    fn new(generator: Arc<Generator>) -> Self {
        let paths = field_paths(&generator.schema().compiled);
        let fields = paths
            .iter()
            .map(|p| Field {
                path: p.path.clone(),
                kind: match p.numeric {
                    Some(Numeric::Int32) => BsonType::Int32,
                    Some(Numeric::Int64) => BsonType::Int64,
                    Some(Numeric::Double) => BsonType::Double,
                    Some(Numeric::Decimal128) => BsonType::Decimal128,
                    None => bson_type(generator.schema().compiled.node(p.node)),
                },
                optional: p.optional,
            })
            .collect();
        let nodes = paths.iter().map(|p| (p.path.clone(), p.node)).collect();
        Version { generator, fields, nodes }
    }
}

/// The contract's type of a field's node.
fn bson_type(node: &Node) -> BsonType {
    match node {
        Node::Object(_) => BsonType::Document,
        Node::Array(_) => BsonType::Array,
        Node::Scalar(s) => match s {
            Scalar::Null => BsonType::Null,
            Scalar::Bool => BsonType::Boolean,
            Scalar::Int32 { .. } => BsonType::Int32,
            Scalar::Int64 { .. } => BsonType::Int64,
            Scalar::Double { .. } => BsonType::Double,
            Scalar::Decimal128 { .. } => BsonType::Decimal128,
            Scalar::String(_) => BsonType::String,
            Scalar::ObjectId => BsonType::ObjectId,
            Scalar::DateTime { .. } => BsonType::DateTime,
            Scalar::Binary { .. } | Scalar::Uuid => BsonType::Binary,
            Scalar::Timestamp { .. } => BsonType::Timestamp,
            Scalar::Ref { .. } => BsonType::Mixed,
        },
        Node::Enum(values) => common_type(values),
        Node::WeightedEnum(f) => common_type(&f.values),
        Node::Const(v) => common_type(std::slice::from_ref(v)),
        Node::Choice(_) | Node::Pending => BsonType::Mixed,
    }
}

/// The type all `values` share, else `Mixed`.
fn common_type(values: &[Bson]) -> BsonType {
    let mut types = values.iter().map(|v| BsonType::of_element(v.element_type()));
    match types.next() {
        Some(Some(first)) if types.all(|t| t == Some(first)) => first,
        _ => BsonType::Mixed,
    }
}

/// Per-store host state. `rng` is replaced by the operation's generator before each
/// call and handed back after it, so a plugin's draws continue the planner's stream.
pub struct HostCalls {
    pub plugin: Arc<str>,
    pub rng: Rng,
    schema: Option<Arc<SchemaAccess>>,
    logged: u32,
    log_window: Instant,
}

/// Plugin log lines allowed per second; the rest are dropped.
const LOG_LINES_PER_SECOND: u32 = 10;

impl HostCalls {
    pub fn new(plugin: Arc<str>, schema: Option<Arc<SchemaAccess>>) -> Self {
        use rand::SeedableRng;
        HostCalls { plugin, rng: Rng::seed_from_u64(0), schema, logged: 0, log_window: Instant::now() }
    }

    pub fn random_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    pub fn random_below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { draw::below(&mut self.rng, n) }
    }

    pub fn random_range(&mut self, lo: i64, hi: i64) -> i64 {
        if lo > hi { lo } else { draw::range(&mut self.rng, lo, hi) }
    }

    pub fn random_bool(&mut self, p: f64) -> bool {
        draw::chance(&mut self.rng, p)
    }

    pub fn random_f64(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    pub fn fields(&self) -> &[Field] {
        self.schema.as_ref().map(|s| s.current().fields.as_slice()).unwrap_or_default()
    }

    /// A fresh document, `_id` left out (the host puts the target's back).
    pub fn generate_document(&mut self) -> Document {
        let Some(schema) = &self.schema else { return Document::new() };
        let mut doc = schema.current().generator.document_with_id(Bson::Null, &mut self.rng);
        doc.remove("_id");
        doc
    }

    pub fn generate_field(&mut self, path: &str) -> Result<Bson, FieldError> {
        let Some(schema) = &self.schema else { return Err(FieldError::NoSchema) };
        let version = schema.current();
        match version.nodes.get(path) {
            Some(node) => Ok(version.generator.value_of(*node, &mut self.rng)),
            None => Err(FieldError::Unknown(path.to_owned())),
        }
    }

    /// A plugin's log line, at its level, unless the plugin logged too much this second.
    pub fn log(&mut self, level: Level, message: &str) {
        if self.log_window.elapsed().as_secs() >= 1 {
            self.log_window = Instant::now();
            self.logged = 0;
        }
        self.logged += 1;
        if self.logged > LOG_LINES_PER_SECOND {
            return;
        }
        let (plugin, message) = (&self.plugin, message.trim_end());
        match level {
            Level::Debug => tracing::debug!("plugin {plugin}: {message}"),
            Level::Info => tracing::info!("plugin {plugin}: {message}"),
            Level::Warn => tracing::warn!("plugin {plugin}: {message}"),
            Level::Error => tracing::error!("plugin {plugin}: {message}"),
        }
    }
}

/// Why `generate-field` has no value for a plugin; the plugin receives the message.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("no schema is loaded")]
    NoSchema,
    #[error("the schema has no field '{0}'")]
    Unknown(String),
    #[error("no call in progress")]
    NoCall,
}
