//! The compiled schema: what the generator walks for every document.
//!
//! Compilation (see `compile.rs`) resolves `$ref`s, unions, hints and field-name
//! heuristics once, so that generating a document is a walk over plain data with no
//! string matching or JSON look-ups on the hot path.

use bson::Bson;

/// Index of a node in [`CompiledSchema::nodes`]. Nodes live in an arena so that a
/// recursive `$ref` can point back at a node that is still being compiled.
pub type NodeId = usize;

#[derive(Debug)]
pub struct CompiledSchema {
    pub nodes: Vec<Node>,
    /// The document node; always an [`Node::Object`].
    pub root: NodeId,
    /// How `_id` is made; it is always the first field of a document.
    pub id: IdGen,
    /// For each node, the round of the termination analysis in which it was found to
    /// have a finite expansion; the generator's minimal mode follows decreasing ranks,
    /// so even a recursive schema always ends.
    pub rank: Vec<u32>,
    /// Its `x-gen.ref`s: (schema path, referenced collection).
    pub references: Vec<(String, String)>,
}

impl CompiledSchema {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }
}

#[derive(Debug)]
pub enum Node {
    /// Placeholder while a `$ref` target is compiled; never present after compilation.
    Pending,
    Object(ObjectNode),
    Array(ArrayNode),
    Scalar(Scalar),
    /// One of several alternatives (a type union, `anyOf`/`oneOf`), picked by weight.
    Choice(Vec<(f64, NodeId)>),
    Enum(Vec<Bson>),
    /// Enum values drawn with observed frequencies (`x-gen.enum.distribution`).
    WeightedEnum(Frequencies<Bson>),
    Const(Bson),
}

/// Values with relative frequencies, as the TypeScript original's `distribution` maps
/// record them; one uniform draw picks a value through the cumulative weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Frequencies<T> {
    pub values: Vec<T>,
    /// Running sums of the weights; the last one is the total.
    pub cumulative: Vec<f64>,
}

impl<T> Frequencies<T> {
    /// `None` when there is nothing to draw (no values, or only zero weights).
    pub fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Option<Self> {
        let (mut values, mut cumulative) = (Vec::new(), Vec::new());
        let mut total = 0.0;
        for (v, w) in pairs {
            total += w;
            values.push(v);
            cumulative.push(total);
        }
        (total > 0.0).then_some(Frequencies { values, cumulative })
    }

    /// The value at `u` (uniform in 0..1) of the cumulative distribution.
    pub fn pick(&self, u: f64) -> &T {
        let target = u * self.cumulative[self.cumulative.len() - 1];
        let i = self.cumulative.partition_point(|c| *c <= target).min(self.values.len() - 1);
        &self.values[i]
    }
}

#[derive(Debug)]
pub struct ObjectNode {
    pub fields: Vec<Field>,
    /// Extra keys that look like data (UUIDs, dates...), from `x-gen.keys` or the
    /// TypeScript original's `x-dynamic-keys`.
    pub dynamic: Option<DynamicKeys>,
}

#[derive(Debug)]
pub struct Field {
    pub name: String,
    /// Probability that the field is present; 1.0 for `required` fields.
    pub presence: f64,
    pub node: NodeId,
}

#[derive(Debug)]
pub struct DynamicKeys {
    pub key: KeyGen,
    pub count: LengthDist,
    pub value: NodeId,
}

#[derive(Debug, Clone)]
pub enum KeyGen {
    Uuid,
    ObjectId,
    Number { min: i64, max: i64 },
    Date,
    Word,
    Pattern(Box<rand_regex::Regex>),
}

#[derive(Debug)]
pub struct ArrayNode {
    /// Leading positional items (`items: [..]`), then `rest` for the remaining slots.
    pub prefix: Vec<NodeId>,
    pub rest: Option<NodeId>,
    pub len: LengthDist,
}

/// A distribution of lengths (array sizes, key counts).
#[derive(Debug, Clone, PartialEq)]
pub enum LengthDist {
    Uniform {
        min: u32,
        max: u32,
    },
    /// Piecewise-linear inverse CDF through (0, min), (.5, p50), (.9, p90), (.99, p99),
    /// (1, max); samples are rounded to the nearest integer so the observed percentiles
    /// land on the hinted ones.
    Percentiles {
        min: f64,
        p50: f64,
        p90: f64,
        p99: f64,
        max: f64,
    },
    /// Observed lengths and how often each was seen (the TypeScript original's
    /// `x-array-length-distribution`, `arrayLen.distribution`, `countDistribution`).
    Frequencies(Frequencies<u32>),
}

impl LengthDist {
    pub fn min(&self) -> u32 {
        match self {
            LengthDist::Uniform { min, .. } => *min,
            LengthDist::Percentiles { min, .. } => *min as u32,
            LengthDist::Frequencies(f) => f.values.iter().copied().min().unwrap_or(0),
        }
    }

    pub fn max(&self) -> u32 {
        match self {
            LengthDist::Uniform { max, .. } => *max,
            LengthDist::Percentiles { max, .. } => *max as u32,
            LengthDist::Frequencies(f) => f.values.iter().copied().max().unwrap_or(0),
        }
    }
}

#[derive(Debug)]
pub enum Scalar {
    Null,
    Bool,
    Int32 {
        min: i32,
        max: i32,
        shape: Option<Box<Quantiles>>,
    },
    Int64 {
        min: i64,
        max: i64,
        shape: Option<Box<Quantiles>>,
    },
    Double {
        min: f64,
        max: f64,
        decimals: Option<u32>,
        shape: Option<Box<Quantiles>>,
    },
    Decimal128 {
        min: f64,
        max: f64,
        scale: u32,
    },
    String(StringGen),
    ObjectId,
    /// Milliseconds since the Unix epoch, inclusive bounds.
    DateTime {
        min_ms: i64,
        max_ms: i64,
    },
    Binary {
        min_len: u32,
        max_len: u32,
    },
    Uuid,
    /// An `_id` of `collection`, drawn for the operation by the scenario's references
    /// (`x-gen.ref`); null where nothing drew one.
    Ref {
        collection: String,
    },
    Timestamp {
        min_s: u32,
        max_s: u32,
    },
}

/// The shape of a number distribution between its bounds (`x-gen.numericRange`):
/// without one, numbers are uniform. The quantile function passes through (0, min),
/// (.5, median), (.95, p95) and (1, max): linear below the median, `s^curve` within
/// each segment above it, with `curve` chosen so that the mean lands on the observed one.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    pub median: f64,
    pub p95: f64,
    pub curve: f64,
}

#[derive(Debug)]
pub struct StringGen {
    pub kind: StringKind,
    pub min_len: u32,
    pub max_len: u32,
    /// Target length distribution for free text (`x-gen.length`).
    pub len: Option<LengthDist>,
}

/// What a string holds. Formats come from `format`; the faker kinds from the field name.
#[derive(Debug)]
pub enum StringKind {
    Words,
    Sentence,
    Paragraph,
    Pattern(Box<rand_regex::Regex>),
    DateTime {
        min_ms: i64,
        max_ms: i64,
    },
    Date {
        min_ms: i64,
        max_ms: i64,
    },
    Time,
    Uuid,
    ObjectIdHex,
    Email,
    Uri,
    Ipv4,
    Ipv6,
    Hostname,
    Name,
    FirstName,
    LastName,
    Username,
    Phone,
    Street,
    City,
    State,
    Country,
    CountryCode,
    ZipCode,
    Company,
    JobTitle,
    CurrencyCode,
    Color,
    /// Random bytes, base64-encoded (the TypeScript original's `base64` format).
    Base64,
    /// A decimal number with two digits after the point (its `decimal` format).
    DecimalText,
}

/// How `_id` values are made. They must be unique within a run, so the generator
/// derives them from the document index rather than from the random stream.
#[derive(Debug)]
pub enum IdGen {
    /// ObjectId with a per-seed machine part and the document index as counter.
    ObjectId,
    /// `offset + index`, as Int32 or Int64.
    Int32 {
        offset: i32,
    },
    Int64 {
        offset: i64,
    },
    /// The hex form of the ObjectId above.
    HexString,
    /// A random UUID (collisions are negligible), as a string or BSON binary subtype 4.
    UuidString,
    UuidBinary,
    /// `_id`s of several types in one collection (an `anyOf`/`oneOf` of the above):
    /// document `index` takes alternative `index % n`. The integer alternatives share
    /// one offset, so their values never meet (int 5 and long 5 are the same `_id`).
    Mixed(Vec<IdGen>),
}

impl IdGen {
    /// Alternatives in turn, their integer offsets aligned (see [`IdGen::Mixed`]);
    /// nested mixes are flattened, and one alternative is just itself.
    pub fn mixed(alternatives: Vec<IdGen>) -> IdGen {
        let mut flat = Vec::new();
        for a in alternatives {
            match a {
                IdGen::Mixed(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1 {
            return flat.pop().expect("one alternative");
        }
        let base = flat
            .iter()
            .filter_map(|a| match a {
                IdGen::Int32 { offset } => Some(*offset as i64),
                IdGen::Int64 { offset } => Some(*offset),
                _ => None,
            })
            .max();
        if let Some(base) = base {
            for a in &mut flat {
                match a {
                    IdGen::Int32 { .. } => {
                        *a = match i32::try_from(base) {
                            Ok(offset) => IdGen::Int32 { offset },
                            Err(_) => IdGen::Int64 { offset: base },
                        }
                    }
                    IdGen::Int64 { offset } => *offset = base,
                    _ => {}
                }
            }
        }
        IdGen::Mixed(flat)
    }
}
