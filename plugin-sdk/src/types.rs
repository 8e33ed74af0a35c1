//! The values that cross the contract, as plugin code sees them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bson::spec::ElementType;
use bson::{Bson, Document, RawDocumentBuf};

/// Which operation a call is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub run_seed: u64,
    pub op_index: u64,
    /// The shard this call runs on (of `--workers`). Every operation on one `_id` runs
    /// on the same shard, in plan order, with that shard's own instance of the plugin:
    /// keep per-document state in the document, never in the plugin.
    pub shard: u32,
    pub collection: String,
}

/// The operation's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: Bson,
    /// The document as it stands after every earlier write of the run to it; `None`
    /// only when it no longer exists (deleted by a `keep` behavior). Raw BSON: read the
    /// fields you need (`get_str`, `get_f64`...) without decoding the whole document.
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

/// What a delete behavior's deletes do, declared in its [`Info`]. forge plans its
/// targets from it (a removed `_id` is never targeted again, a kept or tombstoned one
/// may be), so every [`DeleteAction`] must be of the declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteShape {
    /// Deletes the document ([`DeleteAction::Remove`]).
    Remove,
    /// Deletes the document and keeps its `_id` targetable ([`DeleteAction::Keep`]).
    Keep,
    /// Updates the document instead ([`DeleteAction::Tombstone`]), `$set`ting `flag` to
    /// true and, when declared, `$currentDate`-ing `deleted_at`.
    Tombstone { flag: Cow<'static, str>, deleted_at: Option<Cow<'static, str>> },
}

impl DeleteShape {
    /// A tombstone shape, usable in a `const`.
    pub const fn tombstone(flag: &'static str, deleted_at: Option<&'static str>) -> Self {
        DeleteShape::Tombstone {
            flag: Cow::Borrowed(flag),
            deleted_at: match deleted_at {
                Some(d) => Some(Cow::Borrowed(d)),
                None => None,
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DeleteShape::Remove => "remove",
            DeleteShape::Keep => "keep",
            DeleteShape::Tombstone { .. } => "tombstone",
        }
    }

    /// Whether the shape's field names can be written: not empty, not an operator, not
    /// `_id`, and two different fields.
    pub fn validate(&self) -> Result<(), String> {
        let DeleteShape::Tombstone { flag, deleted_at } = self else { return Ok(()) };
        for name in std::iter::once(flag).chain(deleted_at) {
            if name.is_empty() || name.starts_with('$') || name.as_ref() == "_id" {
                return Err(format!("'{name}' cannot be a tombstone field"));
            }
        }
        if deleted_at.as_ref() == Some(flag) {
            return Err(format!("the tombstone flag and time are both '{flag}'"));
        }
        Ok(())
    }

    /// Whether `action` is of this shape; the error says how it is not.
    pub fn check(&self, action: &DeleteAction) -> Result<(), String> {
        let answered = match action {
            DeleteAction::Remove => "remove",
            DeleteAction::Keep => "keep",
            DeleteAction::Tombstone(_) => "tombstone",
        };
        match (self, action) {
            (DeleteShape::Remove, DeleteAction::Remove) | (DeleteShape::Keep, DeleteAction::Keep) => Ok(()),
            (DeleteShape::Tombstone { flag, deleted_at }, DeleteAction::Tombstone(update)) => {
                let set = update.get_document("$set").ok().and_then(|s| s.get(flag.as_ref()));
                if set != Some(&Bson::Boolean(true)) {
                    return Err(format!("the tombstone does not $set its declared flag '{flag}' to true"));
                }
                if let Some(at) = deleted_at
                    && update.get_document("$currentDate").map_or(true, |c| !c.contains_key(at.as_ref()))
                {
                    return Err(format!("the tombstone does not $currentDate its declared time field '{at}'"));
                }
                Ok(())
            }
            _ => Err(format!("answered {answered}, but its declared delete shape is {}", self.name())),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub kind: Kind,
    pub version: String,
    pub contract_version: String,
    /// A delete behavior's shape; `None` for a mutator.
    pub deletes: Option<DeleteShape>,
}

impl Info {
    pub fn new(name: &str, kind: Kind, version: &str) -> Self {
        Info {
            name: name.into(),
            kind,
            version: version.into(),
            contract_version: crate::CONTRACT_VERSION.into(),
            deletes: None,
        }
    }

    pub fn with_deletes(self, shape: DeleteShape) -> Self {
        Info { deletes: Some(shape), ..self }
    }
}

/// How much a [`crate::host::log`] line matters; forge logs it at that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// The core-module ABI's number: 0 debug … 3 error.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The level of an ABI number; a number above 3 counts as an error.
    pub fn from_number(n: i32) -> Self {
        match n {
            0 => Level::Debug,
            1 => Level::Info,
            2 => Level::Warn,
            _ => Level::Error,
        }
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

/// A BSON type, as the contract names them. `Mixed` only describes a schema field
/// whose values vary in type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BsonType {
    Double,
    String,
    Document,
    Array,
    Binary,
    ObjectId,
    Boolean,
    DateTime,
    Null,
    Regex,
    Int32,
    Timestamp,
    Int64,
    Decimal128,
    Mixed,
}

impl BsonType {
    pub const ALL: [BsonType; 15] = [
        BsonType::Double,
        BsonType::String,
        BsonType::Document,
        BsonType::Array,
        BsonType::Binary,
        BsonType::ObjectId,
        BsonType::Boolean,
        BsonType::DateTime,
        BsonType::Null,
        BsonType::Regex,
        BsonType::Int32,
        BsonType::Timestamp,
        BsonType::Int64,
        BsonType::Decimal128,
        BsonType::Mixed,
    ];

    /// The WIT enum's name: "int32", "date-time", "object-id"...
    pub fn name(self) -> &'static str {
        match self {
            BsonType::Double => "double",
            BsonType::String => "string",
            BsonType::Document => "document",
            BsonType::Array => "array",
            BsonType::Binary => "binary",
            BsonType::ObjectId => "object-id",
            BsonType::Boolean => "boolean",
            BsonType::DateTime => "date-time",
            BsonType::Null => "null",
            BsonType::Regex => "regex",
            BsonType::Int32 => "int32",
            BsonType::Timestamp => "timestamp",
            BsonType::Int64 => "int64",
            BsonType::Decimal128 => "decimal128",
            BsonType::Mixed => "mixed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        BsonType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether `$inc` applies.
    pub fn is_numeric(self) -> bool {
        matches!(self, BsonType::Int32 | BsonType::Int64 | BsonType::Double | BsonType::Decimal128)
    }

    /// The BSON element type; `None` for `Mixed`.
    pub fn element_type(self) -> Option<ElementType> {
        Some(match self {
            BsonType::Double => ElementType::Double,
            BsonType::String => ElementType::String,
            BsonType::Document => ElementType::EmbeddedDocument,
            BsonType::Array => ElementType::Array,
            BsonType::Binary => ElementType::Binary,
            BsonType::ObjectId => ElementType::ObjectId,
            BsonType::Boolean => ElementType::Boolean,
            BsonType::DateTime => ElementType::DateTime,
            BsonType::Null => ElementType::Null,
            BsonType::Regex => ElementType::RegularExpression,
            BsonType::Int32 => ElementType::Int32,
            BsonType::Timestamp => ElementType::Timestamp,
            BsonType::Int64 => ElementType::Int64,
            BsonType::Decimal128 => ElementType::Decimal128,
            BsonType::Mixed => return None,
        })
    }

    /// The contract's type of a BSON element type; `None` for the types it does not
    /// carry (JavaScript code, symbols, min/max keys...).
    pub fn of_element(t: ElementType) -> Option<Self> {
        BsonType::ALL.into_iter().find(|b| b.element_type() == Some(t))
    }
}

impl std::fmt::Display for BsonType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A schema field, as [`crate::host::fields`] lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Dotted path: "address.city".
    pub path: String,
    /// Its BSON type; [`BsonType::Mixed`] for unions.
    pub kind: BsonType,
    /// May be absent (so `$unset` keeps documents valid).
    pub optional: bool,
}

impl Field {
    /// Whether `$inc` applies.
    pub fn is_numeric(&self) -> bool {
        self.kind.is_numeric()
    }
}
