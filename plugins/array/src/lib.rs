//! `array`: changes one array field of the document as it stands now, as applications
//! do with line items and tags: `$push` a fresh element, `$pull` an existing one, or
//! `$set` one field of an existing element (or the whole element, for arrays of
//! scalars), keeping the array's size within the schema's bounds.
//!
//! `--plugin-arg array.field=items` (default: a random array field the document holds);
//! `--plugin-arg array.actions=push` (default `push,pull,set`): the actions it may take,
//! so that an array can only grow (to drive one past ten thousand elements).
//!
//! Fresh elements come from `host::generate_field` on the array's own path (the host
//! generates no path inside array items): one element of a freshly generated array.

use forge_plugin_sdk::bson::{Bson, Document, doc};
use forge_plugin_sdk::{Config, Context, Error, Field, Mutation, Mutator, Target, export_mutator, host};
use forge_plugin_support::schema::{Schema, x_gen};
use forge_plugin_support::{Draw, get_path, pick_distinct};
use serde_json::Value;

/// Attempts at generating a usable fresh element before giving up on an action.
const GENERATE_TRIES: usize = 3;

/// What the plugin draws from: randomness and fresh values.
pub trait Host: Draw {
    fn generate_field(&mut self, path: &str) -> Result<Bson, String>;
}

/// One array field and the sizes (and uniqueness) the schema allows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayField {
    pub path: String,
    pub min_items: usize,
    pub max_items: Option<usize>,
    pub unique: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Push,
    Pull,
    Set,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arrays {
    pub fields: Vec<ArrayField>,
    /// The actions it may take.
    pub actions: Vec<Action>,
}

impl Arrays {
    /// From the plugin's args, the schema and its fields (as `host::fields`).
    pub fn new(config: &Config, schema: &Schema, fields: &[Field]) -> Result<Self, Error> {
        let arrays: Vec<&str> =
            fields.iter().filter(|f| f.kind == forge_plugin_sdk::BsonType::Array).map(|f| f.path.as_str()).collect();
        let chosen: Vec<&str> = match config.get("field").map(str::trim) {
            Some(f) if arrays.contains(&f) => vec![f],
            Some(f) => {
                return Err(Error::invalid_config(format!(
                    "--plugin-arg array.field: '{f}' is not an array field of the schema (array fields: {})",
                    if arrays.is_empty() { "none".to_owned() } else { arrays.join(", ") }
                )));
            }
            None if arrays.is_empty() => {
                return Err(Error::invalid_config("array: the schema has no array field (outside other arrays)"));
            }
            None => arrays,
        };
        let fields = chosen
            .into_iter()
            .map(|path| {
                let node = schema.property(path).unwrap_or(&Value::Null);
                array_field(path, node).map_err(|e| Error::invalid_config(format!("schema field '{path}': {e}")))
            })
            .collect::<Result<_, _>>()?;
        let actions = match config.get("actions") {
            None => vec![Action::Push, Action::Pull, Action::Set],
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| match a {
                    "push" => Ok(Action::Push),
                    "pull" => Ok(Action::Pull),
                    "set" => Ok(Action::Set),
                    other => Err(Error::invalid_config(format!(
                        "--plugin-arg array.actions: '{other}' is not an action (push, pull, set)"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if actions.is_empty() {
            return Err(Error::invalid_config("--plugin-arg array.actions: name at least one of push, pull, set"));
        }
        Ok(Arrays { fields, actions })
    }

    /// The update for the document as it stands now; `Skip` when it holds none of the
    /// array fields, or no action keeps one within its bounds.
    pub fn mutate(&self, current: Option<&Document>, host: &mut impl Host) -> Mutation {
        let Some(doc) = current else { return Mutation::Skip };
        let present: Vec<(&ArrayField, &Vec<Bson>)> = self
            .fields
            .iter()
            .filter_map(|f| match get_path(doc, &f.path) {
                Some(Bson::Array(a)) => Some((f, a)),
                _ => None,
            })
            .collect();
        for i in pick_distinct(host, present.len(), present.len()) {
            let (field, items) = present[i];
            let mut actions = allowed(field, items.len());
            actions.retain(|a| self.actions.contains(a));
            while !actions.is_empty() {
                let action = actions.remove(host.below(actions.len() as u64) as usize);
                if let Some(update) = apply(action, field, items, host) {
                    return Mutation::Update(update);
                }
            }
        }
        Mutation::Skip
    }
}

fn array_field(path: &str, node: &Value) -> Result<ArrayField, String> {
    let size = |v: Option<&Value>, key: &str| -> Result<Option<usize>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .map(|n| Some(n as usize))
                .ok_or_else(|| format!("{key} must be a whole number, not {v}")),
        }
    };
    let len = x_gen(node, "arrayLen");
    let mins = [size(node.get("minItems"), "minItems")?, size(len.and_then(|l| l.get("min")), "x-gen.arrayLen.min")?];
    let maxes = [size(node.get("maxItems"), "maxItems")?, size(len.and_then(|l| l.get("max")), "x-gen.arrayLen.max")?];
    let min_items = mins.into_iter().flatten().max().unwrap_or(0);
    let max_items = maxes.into_iter().flatten().min();
    if max_items.is_some_and(|max| max < min_items) {
        return Err(format!("at most {} items but at least {min_items}", max_items.unwrap_or(0)));
    }
    let unique = node.get("uniqueItems") == Some(&Value::Bool(true));
    Ok(ArrayField { path: path.to_owned(), min_items, max_items, unique })
}

/// The actions the array's length allows: no push at the most items, no pull at the
/// fewest, nothing to set in an empty array.
pub fn allowed(field: &ArrayField, len: usize) -> Vec<Action> {
    let mut actions = Vec::with_capacity(3);
    if field.max_items.is_none_or(|max| len < max) {
        actions.push(Action::Push);
    }
    if len > field.min_items {
        actions.push(Action::Pull);
    }
    if len > 0 {
        actions.push(Action::Set);
    }
    actions
}

/// The update for `action`, or `None` when it cannot be done within the rules.
pub fn apply(action: Action, field: &ArrayField, items: &[Bson], host: &mut impl Host) -> Option<Document> {
    let path = field.path.as_str();
    match action {
        Action::Push => {
            let fresh = fresh_element(path, host, |e| !field.unique || !items.contains(e))?;
            Some(doc! { "$push": { path: fresh } })
        }
        Action::Pull => {
            // `$pull` removes every element that matches: count them all against the minimum.
            let candidates: Vec<usize> = (0..items.len())
                .filter(|&i| pullable(&items[i]))
                .filter(|&i| items.len() - items.iter().filter(|e| may_match(&items[i], e)).count() >= field.min_items)
                .collect();
            let i = *candidates.get(host.below(candidates.len().max(1) as u64) as usize)?;
            Some(doc! { "$pull": { path: items[i].clone() } })
        }
        Action::Set => {
            let i = host.below(items.len() as u64) as usize;
            let fresh = fresh_element(path, host, |_| true)?;
            let (set_path, element, value) = match (&items[i], fresh) {
                (Bson::Document(old), Bson::Document(new)) => {
                    let keys: Vec<&String> = new.keys().filter(|k| !k.contains('.') && !k.starts_with('$')).collect();
                    let key = (*keys.get(host.below(keys.len().max(1) as u64) as usize)?).clone();
                    let value = new.get(&key)?.clone();
                    let mut element = old.clone();
                    element.insert(key.clone(), value.clone());
                    (format!("{path}.{i}.{key}"), Bson::Document(element), value)
                }
                (_, fresh) => (format!("{path}.{i}"), fresh.clone(), fresh),
            };
            let duplicate = field.unique && items.iter().enumerate().any(|(j, e)| j != i && *e == element);
            (!duplicate).then(|| doc! { "$set": { set_path: value } })
        }
    }
}

/// One element of a freshly generated array at `path` that `ok` accepts.
fn fresh_element(path: &str, host: &mut impl Host, ok: impl Fn(&Bson) -> bool) -> Option<Bson> {
    for _ in 0..GENERATE_TRIES {
        if let Ok(Bson::Array(fresh)) = host.generate_field(path)
            && !fresh.is_empty()
        {
            let e = &fresh[host.below(fresh.len() as u64) as usize];
            if ok(e) {
                return Some(e.clone());
            }
        }
    }
    None
}

/// Whether `$pull` of this exact value removes it by equality: a regular expression
/// would match by pattern, a document with `$` keys would read as operators.
fn pullable(e: &Bson) -> bool {
    match e {
        Bson::RegularExpression(_) => false,
        Bson::Document(d) => !d.keys().any(|k| k.starts_with('$')),
        _ => true,
    }
}

/// Whether `$pull: {path: pulled}` may remove `e` (erring towards yes): a document
/// matches every element holding its fields, a scalar matches equal numbers of any
/// type and arrays containing it.
fn may_match(pulled: &Bson, e: &Bson) -> bool {
    match (pulled, e) {
        (Bson::Document(p), Bson::Document(d)) => p.iter().all(|(k, v)| d.get(k).is_some_and(|x| may_match(v, x))),
        (p, Bson::Array(a)) if !matches!(p, Bson::Array(_)) => a.iter().any(|x| may_match(p, x)),
        (p, x) => p == x || matches!((number(p), number(x)), (Some(a), Some(b)) if a == b),
    }
}

fn number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(i) => Some(*i as f64),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        Bson::Decimal128(d) => d.to_string().parse().ok(),
        _ => None,
    }
}

struct HostCalls;

impl Draw for HostCalls {
    fn below(&mut self, n: u64) -> u64 {
        host::random_below(n)
    }
    fn unit(&mut self) -> f64 {
        host::random_f64()
    }
}

impl Host for HostCalls {
    fn generate_field(&mut self, path: &str) -> Result<Bson, String> {
        host::generate_field(path)
    }
}

pub struct ArrayPlugin(Arrays);

impl Mutator for ArrayPlugin {
    const NAME: &'static str = "array";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(config: &Config, schema: &str) -> Result<Self, Error> {
        let schema = Schema::parse(schema).map_err(Error::invalid_config)?;
        Ok(ArrayPlugin(Arrays::new(config, &schema, &host::fields())?))
    }

    fn mutate(&mut self, _ctx: &Context, target: &Target) -> Result<Mutation, Error> {
        let current = match &target.current {
            Some(raw) => Some(Document::try_from(raw.as_ref()).map_err(|e| Error::unsupported(e.to_string()))?),
            None => None,
        };
        Ok(self.0.mutate(current.as_ref(), &mut HostCalls))
    }
}

export_mutator!(ArrayPlugin);

#[cfg(test)]
mod tests;
