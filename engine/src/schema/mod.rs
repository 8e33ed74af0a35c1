//! Schemas: loading a JSON Schema file and compiling it for the generator.

mod compile;
mod hints;
pub mod model;
mod names;
pub mod paths;
mod pattern;
pub mod sample;
pub mod validate;

use std::path::Path;

pub use compile::{DEFAULT_MAX_DATE_MS, DEFAULT_MIN_DATE_MS, DEFAULT_PRESENCE, MAX_DEPTH};
pub use model::CompiledSchema;

/// A schema problem, located by the JSON pointer of the offending node.
#[derive(Debug, Clone, thiserror::Error)]
#[error("schema error at {path}: {message}")]
pub struct SchemaError {
    pub path: String,
    pub message: String,
}

impl SchemaError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SchemaError { path: path.into(), message: message.into() }
    }
}

/// Why a schema could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read schema file '{path}': {source}")]
    Read { path: String, source: std::io::Error },
    #[error("schema file '{path}' is not valid JSON: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{0}")]
    Schema(#[from] SchemaError),
}

/// A compiled schema, ready to generate from, and the warnings compiling it raised.
#[derive(Debug)]
pub struct Schema {
    pub compiled: CompiledSchema,
    /// One line per ignored keyword or questionable construct.
    pub warnings: Vec<String>,
    /// The schema as written, for tools that want to show or re-emit it.
    pub source: serde_json::Value,
}

impl Schema {
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: shown.clone(), source })?;
        Self::from_json_str(&text).map_err(|e| match e {
            LoadError::Json { source, .. } => LoadError::Json { path: shown, source },
            other => other,
        })
    }

    pub fn from_json_str(text: &str) -> Result<Self, LoadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| LoadError::Json { path: "<inline>".into(), source })?;
        Ok(Self::from_value(value)?)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Self, SchemaError> {
        let (compiled, warnings) = compile::Compiler::new(&value).compile_document()?;
        Ok(Schema { compiled, warnings, source: value })
    }
}

#[cfg(test)]
mod tests;
