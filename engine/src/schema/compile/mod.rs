//! JSON Schema (draft-07 + `x-gen`, and the TypeScript original's vendor keywords)
//! → [`CompiledSchema`].
//!
//! Split by concern so each part can be read on its own: `walk` turns schema nodes into
//! arena nodes, `keywords` reads the values of individual keywords, `original` reads
//! the TypeScript original's vendor keywords, and `termination` proves that recursive
//! schemas end.

mod keywords;
mod original;
mod termination;
mod walk;

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::SchemaError;
use super::model::*;

/// Presence of a field that is not in `required` and has no `x-gen.presence`.
pub const DEFAULT_PRESENCE: f64 = 0.5;

/// Default date range: the six years up to the end of 2025. Fixed, not "now", so the
/// same seed gives the same documents on any day.
pub const DEFAULT_MIN_DATE_MS: i64 = 1_577_836_800_000; // 2020-01-01T00:00:00Z
pub const DEFAULT_MAX_DATE_MS: i64 = 1_767_225_599_999; // 2025-12-31T23:59:59.999Z

/// Nesting beyond which a recursive `$ref` stops: optional fields are dropped and
/// arrays take their minimum length.
pub const MAX_DEPTH: usize = 24;

/// Compiles one schema document; nodes go into an arena so that `$ref` cycles become
/// back-pointers.
pub struct Compiler<'a> {
    doc: &'a Value,
    nodes: Vec<Node>,
    refs: HashMap<String, NodeId>,
    warned: HashSet<String>,
    pub warnings: Vec<String>,
    /// `x-gen.ref`s met: (schema path, referenced collection).
    references: Vec<(String, String)>,
}

impl<'a> Compiler<'a> {
    pub fn new(doc: &'a Value) -> Self {
        Compiler {
            doc,
            nodes: Vec::new(),
            refs: HashMap::new(),
            warned: HashSet::new(),
            warnings: Vec::new(),
            references: Vec::new(),
        }
    }

    pub fn compile_document(mut self) -> Result<(CompiledSchema, Vec<String>), SchemaError> {
        let root = self.compile(self.doc, "#", "")?;
        let Node::Object(obj) = &mut self.nodes[root] else {
            return Err(SchemaError::new("#", "the document schema must be of type object"));
        };
        let id = match obj.fields.iter().position(|f| f.name == "_id") {
            Some(i) => {
                let field = obj.fields.remove(i);
                keywords::id_gen(&self.nodes, field.node)?
            }
            None => IdGen::ObjectId,
        };
        let rank = termination::ranks(&self.nodes);
        if rank[root] == u32::MAX {
            return Err(SchemaError::new(
                "#",
                "the schema recurses without end: a $ref cycle is reached through required fields, array minimums or unions only",
            ));
        }
        termination::prune_endless(&mut self.nodes, &rank, &mut self.warnings);
        let references = self.references;
        Ok((CompiledSchema { nodes: self.nodes, root, id, rank, references }, self.warnings))
    }
}
