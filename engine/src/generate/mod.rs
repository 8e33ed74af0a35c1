//! The document generator: (schema, seed, document index) → BSON document.
//!
//! A pure function of its inputs: document `i` is the same whichever thread makes it
//! and whatever was generated before, which is what makes parallel generation and
//! split runs byte-identical to a single-threaded one.

mod ids;
pub mod length;
pub mod scalars;
pub mod text;

#[cfg(test)]
mod original_dialect_tests;

use std::sync::Arc;

use bson::{Bson, Document};
use rand::Rng as _;

pub use ids::IdMaker;

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

    /// A document drawn from `rng` with the given `_id` (replacements keep their target's).
    pub fn document_with_id(&self, id: Bson, rng: &mut Rng) -> Document {
        let schema = self.compiled();
        let mut doc = Document::new();
        doc.insert("_id", id);
        let Node::Object(root) = schema.node(schema.root) else {
            unreachable!("compilation guarantees an object root")
        };
        self.fill_object(root, &mut doc, rng, &mut Walk::default());
        doc
    }

    /// A fresh value for one schema node (a field's new value in an update).
    pub fn value_of(&self, node: NodeId, rng: &mut Rng) -> Bson {
        self.value(node, rng, &mut Walk { depth: 1, produced: 0 })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    fn fill_object(&self, obj: &ObjectNode, doc: &mut Document, rng: &mut Rng, walk: &mut Walk) {
        let minimal = walk.minimal();
        for field in &obj.fields {
            // Only optional fields draw, so making a field required does not shift the
            // random stream of the others more than necessary.
            if field.presence < 1.0 && (minimal || rng.random::<f64>() >= field.presence) {
                continue;
            }
            let value = walk.descend(|walk| self.value(field.node, rng, walk));
            doc.insert(field.name.clone(), value);
        }
        if let Some(dynamic) = &obj.dynamic {
            let n = if minimal { dynamic.count.min() } else { length::sample(&dynamic.count, rng) };
            let (mut added, mut tries) = (0, 0);
            // Keys can collide (a word key space is small); bounded retries keep this finite.
            while added < n && tries < n * 4 + 8 {
                tries += 1;
                let key = dynamic_key(&dynamic.key, rng);
                if !doc.contains_key(&key) {
                    let value = walk.descend(|walk| self.value(dynamic.value, rng, walk));
                    doc.insert(key, value);
                    added += 1;
                }
            }
        }
    }

    fn value(&self, id: NodeId, rng: &mut Rng, walk: &mut Walk) -> Bson {
        walk.produced += 1;
        match self.compiled().node(id) {
            Node::Scalar(s) => scalars::scalar(s, rng),
            Node::Object(obj) => {
                let mut doc = Document::new();
                self.fill_object(obj, &mut doc, rng, walk);
                Bson::Document(doc)
            }
            Node::Array(arr) => {
                let n = if walk.minimal() { arr.len.min() } else { length::sample(&arr.len, rng) } as usize;
                let mut items = Vec::with_capacity(n);
                for i in 0..n {
                    match arr.prefix.get(i).copied().or(arr.rest) {
                        Some(node) => items.push(walk.descend(|walk| self.value(node, rng, walk))),
                        None => break,
                    }
                }
                Bson::Array(items)
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
                self.value(pick, rng, walk)
            }
            Node::Enum(values) => values[rng.random_range(0..values.len())].clone(),
            Node::WeightedEnum(f) => f.pick(rng.random()).clone(),
            Node::Const(v) => v.clone(),
            Node::Pending => unreachable!("compilation resolves every $ref"),
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
