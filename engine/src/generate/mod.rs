//! The document generator: (schema, seed, document index) → BSON document.
//!
//! A pure function of its inputs: document `i` is the same whichever thread makes it
//! and whatever was generated before, which is what makes parallel generation and
//! split runs byte-identical to a single-threaded one.

mod ids;
pub mod length;
pub mod op_context;
pub mod scalars;
mod sink;
pub mod text;

#[cfg(test)]
mod original_dialect_tests;
#[cfg(test)]
mod raw_tests;

use std::collections::HashSet;
use std::sync::Arc;

use bson::{Bson, Document, RawDocumentBuf};
use rand::Rng as _;

pub use ids::IdMaker;
pub use sink::EncodeError;
use sink::{Key, RawSink, Sink, TreeSink};

use crate::schema::model::{CompiledSchema, KeyGen, Node, NodeId, ObjectNode};
use crate::schema::{MAX_DEPTH, Schema};
use crate::seed::{self, Rng, Stream};

#[derive(Debug, Clone)]
pub struct Generator {
    schema: Arc<Schema>,
    seed: u64,
    ids: IdMaker,
}

impl Generator {
    pub fn new(schema: Arc<Schema>, seed: u64) -> Self {
        Generator { ids: IdMaker::new(seed), schema, seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn compiled(&self) -> &CompiledSchema {
        &self.schema.compiled
    }

    /// Document number `index` of this run.
    pub fn document(&self, index: u64) -> Document {
        let mut rng = seed::rng(self.seed, Stream::Document, index);
        let id = self.ids.make(&self.compiled().id, index, &mut rng);
        self.document_with_id(id, &mut rng)
    }

    /// The `_id` of document number `index`, without generating the rest: what the
    /// planner needs to route an insert.
    pub fn id(&self, index: u64) -> Bson {
        let mut rng = seed::rng(self.seed, Stream::Document, index);
        self.ids.make(&self.compiled().id, index, &mut rng)
    }

    /// Document number `index` as BSON bytes, written while walking the schema: the
    /// same document as [`Generator::document`], without building it first.
    pub fn raw_document(&self, index: u64) -> Result<RawDocumentBuf, EncodeError> {
        let mut out = Vec::with_capacity(RAW_CAPACITY);
        self.write_raw_document(index, &mut out)?;
        Ok(RawDocumentBuf::from_bytes(out).expect("the sink writes whole documents"))
    }

    /// Appends document number `index`, as BSON, to `out` (a buffer reused across
    /// documents saves an allocation each). On error `out` holds a partial document.
    pub fn write_raw_document(&self, index: u64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut rng = seed::rng(self.seed, Stream::Document, index);
        let id = self.ids.make(&self.compiled().id, index, &mut rng);
        let mut sink = RawSink::document(out);
        sink.scalar(Key::Name("_id"), id);
        self.fill_root(&mut sink, &mut rng);
        sink.finish()
    }

    /// A document drawn from `rng` with the given `_id` (replacements keep their target's).
    pub fn document_with_id(&self, id: Bson, rng: &mut Rng) -> Document {
        let mut doc = Document::new();
        doc.insert("_id", id);
        let mut sink = TreeSink::document(doc);
        self.fill_root(&mut sink, rng);
        sink.into_document()
    }

    /// A fresh value for one schema node (a field's new value in an update).
    pub fn value_of(&self, node: NodeId, rng: &mut Rng) -> Bson {
        let mut sink = TreeSink::value();
        self.emit(Key::Name(""), node, &mut sink, rng, &mut Walk { depth: 1, produced: 0 });
        sink.into_value()
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The top-level fields, after an `_id` the sink already holds.
    fn fill_root<S: Sink>(&self, sink: &mut S, rng: &mut Rng) {
        let schema = self.compiled();
        let Node::Object(root) = schema.node(schema.root) else {
            unreachable!("compilation guarantees an object root")
        };
        self.fill_object(root, true, sink, rng, &mut Walk::default());
    }

    /// The fields of `obj` into the open document of `sink`; `root` says that document
    /// already holds `_id`.
    fn fill_object<S: Sink>(&self, obj: &ObjectNode, root: bool, sink: &mut S, rng: &mut Rng, walk: &mut Walk) {
        let minimal = walk.minimal();
        // The names present so far, for dynamic keys to avoid (only when there are some).
        let mut taken: Vec<&str> = Vec::new();
        if obj.dynamic.is_some() && root {
            taken.push("_id");
        }
        for field in &obj.fields {
            // Only optional fields draw, so making a field required does not shift the
            // random stream of the others more than necessary.
            if field.presence < 1.0 && (minimal || rng.random::<f64>() >= field.presence) {
                continue;
            }
            walk.descend(|walk| self.emit(Key::Name(&field.name), field.node, sink, rng, walk));
            if obj.dynamic.is_some() {
                taken.push(&field.name);
            }
        }
        if let Some(dynamic) = &obj.dynamic {
            let n = if minimal { dynamic.count.min() } else { length::sample(&dynamic.count, rng) };
            let (mut added, mut tries) = (0, 0);
            let mut keys = KeySet::default();
            // Keys can collide (a word key space is small); bounded retries keep this finite.
            while added < n && tries < n * 4 + 8 {
                tries += 1;
                let key = dynamic_key(&dynamic.key, rng);
                if !taken.contains(&key.as_str()) && keys.insert(&key) {
                    walk.descend(|walk| self.emit(Key::Name(&key), dynamic.value, sink, rng, walk));
                    added += 1;
                }
            }
        }
    }

    fn emit<S: Sink>(&self, key: Key<'_>, id: NodeId, sink: &mut S, rng: &mut Rng, walk: &mut Walk) {
        walk.produced += 1;
        match self.compiled().node(id) {
            Node::Scalar(s) => sink.scalar(key, scalars::scalar(s, rng)),
            Node::Object(obj) => {
                sink.begin_document(key);
                self.fill_object(obj, false, sink, rng, walk);
                sink.end_document();
            }
            Node::Array(arr) => {
                let n = if walk.minimal() { arr.len.min() } else { length::sample(&arr.len, rng) } as usize;
                sink.begin_array(key);
                for i in 0..n {
                    match arr.prefix.get(i).copied().or(arr.rest) {
                        Some(node) => walk.descend(|walk| self.emit(Key::Index(i), node, sink, rng, walk)),
                        None => break,
                    }
                }
                sink.end_array();
            }
            Node::Choice(choices) => {
                let pick = if walk.minimal() {
                    // The branch that ends soonest: ranks strictly decrease from here.
                    let rank = &self.compiled().rank;
                    choices
                        .iter()
                        .filter(|(w, _)| *w > 0.0)
                        .map(|(_, n)| *n)
                        .min_by_key(|n| rank[*n])
                        .expect("termination analysis keeps a weighted branch")
                } else {
                    let total: f64 = choices.iter().map(|(w, _)| w).sum();
                    let mut r = rng.random::<f64>() * total;
                    let mut pick = choices[choices.len() - 1].1;
                    for (w, node) in choices {
                        if r < *w {
                            pick = *node;
                            break;
                        }
                        r -= w;
                    }
                    pick
                };
                self.emit(key, pick, sink, rng, walk)
            }
            Node::Enum(values) => sink.copy(key, &values[rng.random_range(0..values.len())]),
            Node::WeightedEnum(f) => sink.copy(key, f.pick(rng.random())),
            Node::Const(v) => sink.copy(key, v),
            Node::Pending => unreachable!("compilation resolves every $ref"),
        }
    }
}

/// First capacity of a raw document's buffer: most documents fit without regrowing.
const RAW_CAPACITY: usize = 1024;

/// The dynamic keys of one object so far: a short list, a hash set once it grows.
#[derive(Debug, Default)]
struct KeySet {
    list: Vec<String>,
    set: HashSet<String>,
}

impl KeySet {
    /// Adds `key`; false when it was already there.
    fn insert(&mut self, key: &str) -> bool {
        if self.set.is_empty() {
            if self.list.iter().any(|k| k == key) {
                return false;
            }
            self.list.push(key.to_owned());
            if self.list.len() > 16 {
                self.set.extend(self.list.drain(..));
            }
            true
        } else {
            self.set.insert(key.to_owned())
        }
    }
}

/// Values one document may hold before generation turns minimal (optional fields
/// left out, minimum lengths): bounds recursive and very wide schemas.
const VALUE_BUDGET: u32 = 100_000;

/// Where the generator is within one document.
#[derive(Debug, Default)]
struct Walk {
    depth: usize,
    produced: u32,
}

impl Walk {
    fn minimal(&self) -> bool {
        self.depth > MAX_DEPTH || self.produced > VALUE_BUDGET
    }

    fn descend<T>(&mut self, f: impl FnOnce(&mut Walk) -> T) -> T {
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }
}

fn dynamic_key(key: &KeyGen, rng: &mut Rng) -> String {
    match key {
        KeyGen::Uuid => scalars::uuid(rng).to_string(),
        KeyGen::ObjectId => scalars::object_id(rng).to_hex(),
        KeyGen::Number { min, max } => rng.random_range(*min..=*max).to_string(),
        KeyGen::Date => {
            let mut s = text::rfc3339(
                rng.random_range(crate::schema::DEFAULT_MIN_DATE_MS..=crate::schema::DEFAULT_MAX_DATE_MS),
            );
            s.truncate(10);
            s
        }
        KeyGen::Word => {
            use fake::Fake;
            let word: &str = fake::faker::lorem::en::Word().fake_with_rng(rng);
            format!("{word}_{}", rng.random_range(0..1000))
        }
        KeyGen::Pattern(re) => rng.sample::<String, _>(re.as_ref()),
    }
}
