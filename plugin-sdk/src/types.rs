//! The values that cross the contract, as plugin code sees them.

use std::collections::BTreeMap;

use bson::{Bson, Document, RawDocumentBuf};

/// Which operation a call is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub run_seed: u64,
    pub op_index: u64,
    /// The writer the operation is routed to; all operations on one `_id` share one.
    pub worker: u32,
    pub collection: String,
    /// Always 0 today: a retried batch resends what was planned, without a new call.
    pub attempt: u32,
}

/// The operation's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: Bson,
    /// The document as forge last wrote it, when it knows. Raw BSON: read the fields
    /// you need (`get_str`, `get_f64`...) without decoding the whole document.
    pub current: Option<RawDocumentBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// An update document: `{"$set": {...}}`; see [`crate::update::Update`].
    Update(Document),
    /// A whole new document; forge keeps the target's `_id`.
    Replace(Document),
    /// Nothing to do for this target.
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeleteAction {
    /// Delete the document.
    Remove,
    /// Update it with this document instead (a soft delete).
    Tombstone(Document),
    /// Delete it, and keep its `_id` targetable.
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mutator,
    DeleteBehavior,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mutator => "mutator",
            Kind::DeleteBehavior => "delete-behavior",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub kind: Kind,
    pub version: String,
    pub contract_version: String,
}

impl Info {
    pub fn new(name: &str, kind: Kind, version: &str) -> Self {
        Info { name: name.into(), kind, version: version.into(), contract_version: crate::CONTRACT_VERSION.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidConfig,
    UnsupportedDocument,
    Internal,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::UnsupportedDocument => "unsupported-document",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "invalid-config" => ErrorKind::InvalidConfig,
            "unsupported-document" => ErrorKind::UnsupportedDocument,
            _ => ErrorKind::Internal,
        }
    }
}

/// A plugin's typed error; forge reports it with the plugin, export and op index.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::InvalidConfig, message: message.into() }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::UnsupportedDocument, message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Internal, message: message.into() }
    }

    #[doc(hidden)]
    pub fn not_initialized() -> Self {
        Error::internal("called before init")
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

/// This plugin's `--plugin-arg <name>.key=value` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config(pub BTreeMap<String, String>);

impl Config {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `key` parsed, `default` when absent; an unparsable value is an invalid-config error.
    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, Error> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| Error::invalid_config(format!("{key}: cannot use '{v}'"))),
        }
    }
}

/// A schema field, as [`crate::host::fields`] lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Dotted path: "address.city".
    pub path: String,
    /// "int", "long", "double", "decimal", "string", ...; "mixed" for unions.
    pub bson_type: String,
    /// May be absent (so `$unset` keeps documents valid).
    pub optional: bool,
}

impl Field {
    /// Whether `$inc` applies.
    pub fn is_numeric(&self) -> bool {
        matches!(self.bson_type.as_str(), "int" | "long" | "double" | "decimal")
    }
}
