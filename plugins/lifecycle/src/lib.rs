//! `lifecycle`: moves a string enum field (an order's `status`) one step along its
//! allowed transitions, read from the document as it stands now. A document in a final
//! state, without the field, or not known to forge is skipped: never an illegal move.
//!
//! Transitions: `--plugin-arg lifecycle.transitions=pending>paid|cancelled,paid>shipped`
//! (equal weights, or `paid:0.8|cancelled:0.2`), else the field's `x-gen.transitions`
//! in the schema: `{"pending": {"paid": 0.8, "cancelled": 0.2}, "paid": {"shipped": 1}}`.

use forge_plugin_sdk::bson::{Bson, Document};
use forge_plugin_sdk::update::Update;
use forge_plugin_sdk::{Config, Context, Error, Field, Mutation, Mutator, Target, export_mutator, host};
use forge_plugin_support::schema::{Schema, x_gen};
use forge_plugin_support::{Draw, get_path};
use serde_json::Value;

/// Each state and where it may go: (next state, weight), weights positive, in the
/// order given.
pub type Moves = Vec<(String, Vec<(String, f64)>)>;

/// The field the strategy moves, and where each state may go.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub field: String,
    pub moves: Moves,
}

impl Machine {
    /// From the plugin's args, the schema and the schema's fields (as `host::fields`).
    pub fn new(config: &Config, schema: &Schema, fields: &[Field]) -> Result<Self, Error> {
        let from_schema = |f: &Field| schema.property(&f.path).and_then(|p| x_gen(p, "transitions")).is_some();
        let field = match config.get("field") {
            Some(f) => f.trim().to_owned(),
            None => fields.iter().find(|f| from_schema(f)).map_or_else(|| "status".to_owned(), |f| f.path.clone()),
        };
        let Some(meta) = fields.iter().find(|f| f.path == field) else {
            let hint = if config.get("field").is_some() { "--plugin-arg lifecycle.field" } else { "lifecycle" };
            return Err(Error::invalid_config(format!(
                "{hint}: the schema has no field '{field}' (name one with --plugin-arg lifecycle.field=...)"
            )));
        };
        // An enum of strings is listed as `mixed` (its node is an enum, not a string).
        if !matches!(meta.kind, forge_plugin_sdk::BsonType::String | forge_plugin_sdk::BsonType::Mixed) {
            return Err(Error::invalid_config(format!(
                "lifecycle.field: '{field}' is a {} field; lifecycle moves string enum fields",
                meta.kind.name()
            )));
        }
        let node = schema.property(&field);
        let moves = match config.get("transitions") {
            Some(arg) => {
                parse_arg(arg).map_err(|e| Error::invalid_config(format!("--plugin-arg lifecycle.transitions: {e}")))?
            }
            None => match node.and_then(|n| x_gen(n, "transitions")) {
                Some(v) => parse_schema(v)
                    .map_err(|e| Error::invalid_config(format!("schema field '{field}' x-gen.transitions: {e}")))?,
                None => {
                    return Err(Error::invalid_config(format!(
                        "lifecycle: no transitions for '{field}': give --plugin-arg lifecycle.transitions=from>to|to,... \
                         or x-gen.transitions on the field in the schema"
                    )));
                }
            },
        };
        if let Some(allowed) = node.and_then(|n| n.get("enum")).and_then(Value::as_array) {
            let states = moves.iter().flat_map(|(from, to)| std::iter::once(from).chain(to.iter().map(|(s, _)| s)));
            for s in states {
                if !allowed.iter().any(|a| a.as_str() == Some(s)) {
                    let origin = if config.get("transitions").is_some() {
                        "--plugin-arg lifecycle.transitions".to_owned()
                    } else {
                        format!("schema field '{field}' x-gen.transitions")
                    };
                    return Err(Error::invalid_config(format!("{origin}: '{s}' is not in the enum of '{field}'")));
                }
            }
        }
        Ok(Machine { field, moves })
    }

    /// Where `state` goes, by weight, `unit` uniform in [0, 1); `None` for a final state.
    pub fn next(&self, state: &str, unit: f64) -> Option<&str> {
        let (_, to) = self.moves.iter().find(|(from, _)| from == state)?;
        let total: f64 = to.iter().map(|(_, w)| w).sum();
        let mut at = unit * total;
        for (s, w) in to {
            if at < *w {
                return Some(s);
            }
            at -= w;
        }
        to.last().map(|(s, _)| s.as_str())
    }

    /// The update for the document as it stands now.
    pub fn mutate(&self, current: Option<&Document>, draw: &mut impl Draw) -> Mutation {
        let Some(Bson::String(state)) = current.and_then(|d| get_path(d, &self.field)) else {
            return Mutation::Skip;
        };
        match self.next(state, draw.unit()) {
            Some(to) => Mutation::Update(Update::new().set(self.field.clone(), to).build()),
            None => Mutation::Skip,
        }
    }
}

/// `pending>paid|cancelled,paid>shipped`, each target with an optional `:weight`.
pub fn parse_arg(arg: &str) -> Result<Moves, String> {
    let mut moves: Moves = Vec::new();
    for rule in arg.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let (from, to) =
            rule.split_once('>').ok_or_else(|| format!("'{rule}' has no '>' (expected from>to|to,...)"))?;
        let from = state_name(from, rule)?;
        let mut targets = Vec::new();
        for t in to.split('|') {
            let (name, weight) = match t.split_once(':') {
                Some((n, w)) => {
                    (n, w.trim().parse::<f64>().map_err(|_| format!("'{t}': weight '{w}' is not a number"))?)
                }
                None => (t, 1.0),
            };
            targets.push((state_name(name, rule)?, weight));
        }
        add(&mut moves, from, targets)?;
    }
    if moves.is_empty() {
        return Err("no transitions given (expected from>to|to,...)".into());
    }
    Ok(moves)
}

fn state_name(s: &str, rule: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() { Err(format!("'{rule}' has an empty state name")) } else { Ok(s.to_owned()) }
}

/// `{"pending": {"paid": 0.8, "cancelled": 0.2}, "paid": {"shipped": 1}}`.
pub fn parse_schema(v: &Value) -> Result<Moves, String> {
    let obj = v.as_object().ok_or("must be an object of states: {\"from\": {\"to\": weight}}")?;
    let mut moves = Vec::new();
    for (from, to) in obj {
        let to = to.as_object().ok_or_else(|| format!("'{from}' must map to an object {{\"to\": weight}}"))?;
        let mut targets = Vec::new();
        for (name, w) in to {
            let w = w.as_f64().ok_or_else(|| format!("'{from}' > '{name}': the weight must be a number"))?;
            targets.push((name.clone(), w));
        }
        add(&mut moves, from.clone(), targets)?;
    }
    Ok(moves)
}

/// Adds `from`'s targets (merging a repeated `from`), keeping only positive weights.
fn add(moves: &mut Moves, from: String, targets: Vec<(String, f64)>) -> Result<(), String> {
    if let Some((name, w)) = targets.iter().find(|(_, w)| !w.is_finite() || *w < 0.0) {
        return Err(format!("'{from}' > '{name}': weight {w} is not a non-negative number"));
    }
    let targets = targets.into_iter().filter(|(_, w)| *w > 0.0);
    match moves.iter_mut().find(|(f, _)| *f == from) {
        Some((_, to)) => to.extend(targets),
        None => moves.push((from, targets.collect())),
    }
    // A state whose targets all weigh zero is final.
    moves.retain(|(_, to)| !to.is_empty());
    Ok(())
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

pub struct Lifecycle {
    machine: Machine,
}

impl Mutator for Lifecycle {
    const NAME: &'static str = "lifecycle";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(config: &Config, schema: &str) -> Result<Self, Error> {
        let schema = Schema::parse(schema).map_err(Error::invalid_config)?;
        Ok(Lifecycle { machine: Machine::new(config, &schema, &host::fields())? })
    }

    fn mutate(&mut self, _ctx: &Context, target: &Target) -> Result<Mutation, Error> {
        let current = match &target.current {
            Some(raw) => Some(Document::try_from(raw.as_ref()).map_err(|e| Error::unsupported(e.to_string()))?),
            None => None,
        };
        Ok(self.machine.mutate(current.as_ref(), &mut HostDraw))
    }
}

export_mutator!(Lifecycle);

#[cfg(test)]
mod tests;
