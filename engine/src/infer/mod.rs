//! `forge infer`: statistics of sampled documents → a schema `generate` reads
//! (draft-07 + `x-gen`), so the path is infer → generate → mutate/CDC.

pub mod formats;
pub mod stats;
mod to_schema;

use bson::Document;

pub use stats::{Counts, Stats};
pub use to_schema::to_schema;

/// Distinct keys beyond which an object's keys are taken for data.
pub const DEFAULT_DYNAMIC_KEY_THRESHOLD: usize = 50;

/// Everything `infer` and `validate` learn from a stream of documents.
#[derive(Debug, Default)]
pub struct Collector {
    pub root: Stats,
    /// BSON size of each document, in bytes.
    pub doc_sizes: Counts,
    pub dynamic_key_threshold: usize,
}

impl Collector {
    pub fn new(dynamic_key_threshold: usize) -> Self {
        Collector { dynamic_key_threshold, ..Default::default() }
    }

    pub fn observe(&mut self, doc: &Document, bson_size: Option<usize>) {
        let size = bson_size.or_else(|| bson::serialize_to_vec(doc).ok().map(|v| v.len())).unwrap_or(0);
        self.doc_sizes.add(size as u64);
        // The document itself is an object value at the root.
        self.root.count += 1;
        self.root.observe_object(doc, self.dynamic_key_threshold);
    }

    pub fn documents(&self) -> u64 {
        self.doc_sizes.total()
    }

    /// The statistics at a path of field names, with `[]` for array items
    /// (`items[].sku` is `["items", "[]", "sku"]`).
    pub fn at(&self, path: &[&str]) -> Option<&Stats> {
        let mut stats = &self.root;
        for seg in path {
            stats = if *seg == "[]" {
                &stats.array.as_ref()?.items
            } else {
                let obj = stats.object.as_ref()?;
                match &obj.dynamic {
                    Some(d) if *seg == "{}" => d,
                    _ => &obj.fields.get(*seg)?.stats,
                }
            };
        }
        Some(stats)
    }

    /// Share of objects at `parent` that had `field`.
    pub fn presence(&self, parent: &[&str], field: &str) -> Option<f64> {
        let obj = self.at(parent)?.object.as_ref()?;
        let total = obj.key_counts.total();
        let present = obj.fields.get(field)?.present;
        (total > 0).then(|| present as f64 / total as f64)
    }
}
