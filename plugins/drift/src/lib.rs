//! `drift`: moves one to three numeric fields by a bounded relative step from their
//! current value (prices, stock levels, scores that wander rather than jump), keeping
//! each value's BSON type (and a decimal's scale) and the schema's bounds.
//!
//! `--plugin-arg drift.fields=price,qty` (default: every numeric field) and
//! `--plugin-arg drift.max-percent=5` (default 5): new = current × (1 + p/100), p
//! uniform in [-max, max].

mod number;

use forge_plugin_sdk::bson::{Bson, Document};
use forge_plugin_sdk::update::Update;
use forge_plugin_sdk::{Config, Context, Error, Field, Mutation, Mutator, Target, export_mutator, host};
use forge_plugin_support::schema::Schema;
use forge_plugin_support::{Draw, get_path, pick_distinct};

pub use number::{Bound, Bounds, Dec, step};

/// Most fields one update moves.
const MAX_FIELDS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// The fields to move, with the schema's bounds for each.
    pub fields: Vec<(String, Bounds)>,
    pub max_percent: f64,
}

impl Drift {
    /// From the plugin's args, the schema and its fields (as `host::fields`).
    pub fn new(config: &Config, schema: &Schema, fields: &[Field]) -> Result<Self, Error> {
        let numeric: Vec<&str> = fields.iter().filter(|f| f.is_numeric()).map(|f| f.path.as_str()).collect();
        let chosen: Vec<&str> = match config.get("fields") {
            Some(list) => {
                let chosen: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
                if chosen.is_empty() {
                    return Err(Error::invalid_config("--plugin-arg drift.fields: no field named"));
                }
                if let Some(bad) = chosen.iter().find(|c| !numeric.contains(c)) {
                    return Err(Error::invalid_config(format!(
                        "--plugin-arg drift.fields: '{bad}' is not a numeric field of the schema (numeric fields: {})",
                        if numeric.is_empty() { "none".to_owned() } else { numeric.join(", ") }
                    )));
                }
                chosen
            }
            None if numeric.is_empty() => {
                return Err(Error::invalid_config(
                    "drift: the schema has no numeric field (integer, long, double or decimal)",
                ));
            }
            None => numeric,
        };
        let max_percent = match config.get("max-percent") {
            None => 5.0,
            Some(v) => v.trim().parse::<f64>().ok().filter(|p| *p > 0.0 && *p <= 100.0).ok_or_else(|| {
                Error::invalid_config(format!(
                    "--plugin-arg drift.max-percent: cannot use '{v}' (above 0, at most 100)"
                ))
            })?,
        };
        let fields = chosen
            .into_iter()
            .map(|path| {
                let bounds = match schema.property(path) {
                    Some(node) => {
                        Bounds::of(node).map_err(|e| Error::invalid_config(format!("schema field '{path}': {e}")))?
                    }
                    None => Bounds::default(),
                };
                Ok((path.to_owned(), bounds))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Drift { fields, max_percent })
    }

    /// The update for the document as it stands now: `$set` of one to three of the
    /// fields it holds as numbers; `Skip` when it holds none.
    pub fn mutate(&self, current: Option<&Document>, draw: &mut impl Draw) -> Mutation {
        let Some(doc) = current else { return Mutation::Skip };
        let present: Vec<(&str, &Bounds, &Bson)> = self
            .fields
            .iter()
            .filter_map(|(path, b)| get_path(doc, path).filter(|v| number::is_number(v)).map(|v| (path.as_str(), b, v)))
            .collect();
        if present.is_empty() {
            return Mutation::Skip;
        }
        let n = 1 + draw.below(MAX_FIELDS.min(present.len()) as u64) as usize;
        let mut update = Update::new();
        for i in pick_distinct(draw, present.len(), n) {
            let (path, bounds, value) = present[i];
            let percent = (draw.unit() * 2.0 - 1.0) * self.max_percent;
            if let Some(new) = step(value, percent, bounds) {
                update = update.set(path, new);
            }
        }
        if update.is_empty() { Mutation::Skip } else { Mutation::Update(update.build()) }
    }
}

struct HostDraw;

impl Draw for HostDraw {
    fn below(&mut self, n: u64) -> u64 {
        host::random_below(n)
    }
    fn unit(&mut self) -> f64 {
        host::random_f64()
    }
}

pub struct DriftPlugin(Drift);

impl Mutator for DriftPlugin {
    const NAME: &'static str = "drift";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(config: &Config, schema: &str) -> Result<Self, Error> {
        let schema = Schema::parse(schema).map_err(Error::invalid_config)?;
        Ok(DriftPlugin(Drift::new(config, &schema, &host::fields())?))
    }

    fn mutate(&mut self, _ctx: &Context, target: &Target) -> Result<Mutation, Error> {
        let current = match &target.current {
            Some(raw) => Some(Document::try_from(raw.as_ref()).map_err(|e| Error::unsupported(e.to_string()))?),
            None => None,
        };
        Ok(self.0.mutate(current.as_ref(), &mut HostDraw))
    }
}

export_mutator!(DriftPlugin);

#[cfg(test)]
mod tests;
