//! Scenarios: several collections written at once through phases (`forge run FILE`).
//!
//! A scenario file ([`format`]) is read and checked whole before anything is written
//! ([`Scenario::load`]); every mistake names its key. Each collection then runs as a
//! traffic run of its own (its planner, shards, writers, journal and report), all on
//! one schedule: the phases make one rate profile ([`crate::rate::Profile`]) that each
//! collection follows scaled by its share, from one shared start time. Everything
//! random is drawn from the scenario seed, so the same seed gives the same
//! per-collection operation streams. References between collections
//! ([`references`]) are drawn by the planners, deterministically.

pub mod error;
pub mod format;
pub mod references;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::ScenarioError;
use format::{PhaseFile, RateFile, ScenarioFile};

use crate::plan::{OpKind, OpSelector};
use crate::rate::{Profile, Stage};
use crate::schema::Schema;

/// A scenario, checked and ready to run.
#[derive(Debug)]
pub struct Scenario {
    /// The seed as written in the file, if it has one.
    pub seed: Option<String>,
    pub database: Option<String>,
    /// Plugin files, resolved against the scenario's directory.
    pub plugins: Vec<PathBuf>,
    pub collections: Vec<Collection>,
    /// Streams of multi-document transactions, each writing collections of its own.
    pub transactions: Vec<Transactions>,
    pub phases: Vec<Phase>,
}

/// One collection of a scenario.
#[derive(Debug)]
pub struct Collection {
    pub name: String,
    pub schema: Arc<Schema>,
    /// The mix of every phase that does not set its own.
    pub mix: OpSelector,
    /// Per phase: its share of the phase's operations (0: it rests), and its mix.
    pub phases: Vec<(f64, OpSelector)>,
    pub update_strategy: String,
    pub delete_behavior: String,
    pub id_cache_size: usize,
    /// How updates and deletes choose their targets.
    pub sampling: crate::plan::Sampling,
    /// The share of inserts that insert a deleted `_id` again.
    pub reinsert: f64,
    /// Plugin arguments by plugin name.
    pub plugin_args: BTreeMap<String, Vec<(String, String)>>,
    /// The collections its schemas reference (indices into the scenario's).
    pub references: Vec<usize>,
    /// Later schema versions: (the phase it takes over at, the schema).
    pub versions: Vec<(usize, Arc<Schema>)>,
}

/// A stream of multi-document transactions (see [`crate::transaction`]).
#[derive(Debug)]
pub struct Transactions {
    pub name: String,
    /// Per phase: its share of the phase's rate, in transactions (0: it rests).
    pub phases: Vec<f64>,
    pub spec: crate::transaction::Spec,
}

impl Transactions {
    /// The collections it writes: the updated one, then the inserted one.
    pub fn collections(&self) -> Vec<&str> {
        let update = self.spec.update.as_ref().map(|u| u.collection.as_str());
        update.into_iter().chain(self.spec.insert.as_ref().map(|i| i.collection.as_str())).collect()
    }
}

/// One phase: its name and its stage of the rate profile (all collections together).
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub stage: Stage,
}

impl Scenario {
    /// Reads and checks a scenario file; schemas and plugins are resolved against its
    /// directory.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::parse(&text, &file, &base)
    }

    /// Checks a scenario's text; `file` names it in errors, `base` resolves its paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Scenario, ScenarioError> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let parsed: ScenarioFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            ScenarioError::Format { file: file.into(), path: if path == "." { "(top)".into() } else { path }, message }
        })?;
        Checker { file, base }.scenario(parsed)
    }

    /// The profile of the whole scenario: its phases' stages, in order.
    pub fn profile(&self) -> Profile {
        Profile::new(self.phases.iter().map(|p| p.stage).collect()).expect("stages checked when loaded")
    }

    /// Collection `c`'s profile: each phase's stage scaled by the collection's part of
    /// it (its share over all the shares, collections' and transactions', in that
    /// phase).
    pub fn collection_profile(&self, c: usize) -> Profile {
        self.profile_of(|i| self.collections[c].phases[i].0)
    }

    /// Transaction stream `t`'s profile, in transactions, as [`Scenario::collection_profile`].
    pub fn transaction_profile(&self, t: usize) -> Profile {
        self.profile_of(|i| self.transactions[t].phases[i])
    }

    fn profile_of(&self, share: impl Fn(usize) -> f64) -> Profile {
        let stages = self
            .phases
            .iter()
            .enumerate()
            .map(|(i, phase)| {
                let total: f64 = self.collections.iter().map(|c| c.phases[i].0).sum::<f64>()
                    + self.transactions.iter().map(|t| t.phases[i]).sum::<f64>();
                let part = if total > 0.0 { share(i) / total } else { 0.0 };
                scale(&phase.stage, part)
            })
            .collect();
        Profile::new(stages).expect("scaled stages stay valid")
    }

    /// The seed of collection `c` in a scenario seeded with `seed`: its own, so two
    /// collections with one schema differ, and fixed by its name.
    pub fn collection_seed(&self, seed: u64, c: usize) -> u64 {
        named_seed(seed, &self.collections[c].name)
    }

    /// The seed of transaction stream `t`, as [`Scenario::collection_seed`].
    pub fn transaction_seed(&self, seed: u64, t: usize) -> u64 {
        named_seed(seed, &self.transactions[t].name)
    }
}

/// The seed of what the scenario names `name` in a scenario seeded with `seed`
/// (names are unique across collections, transaction streams and their collections).
pub fn named_seed(seed: u64, name: &str) -> u64 {
    crate::seed::derive(seed, crate::seed::Stream::Collection, crate::seed::from_text(name))
}

/// A stage at `share` of its rate or operations; a collection that rests in it
/// waits as long as it lasts.
fn scale(stage: &Stage, share: f64) -> Stage {
    match stage.scaled(share) {
        Stage::Paced { duration, .. } if share == 0.0 => Stage::Pause(duration),
        scaled => scaled,
    }
}

struct Checker<'a> {
    file: &'a str,
    base: &'a Path,
}

impl Checker<'_> {
    fn invalid(&self, path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid { file: self.file.into(), path: path.into(), message: message.into() }
    }

    fn scenario(&self, file: ScenarioFile) -> Result<Scenario, ScenarioError> {
        if file.collections.is_empty() && file.transactions.is_empty() {
            return Err(self.invalid("collections", "a scenario needs at least one collection or transaction stream"));
        }
        if file.phases.is_empty() {
            return Err(self.invalid("phases", "a scenario needs at least one phase"));
        }
        let names: Vec<String> = file.collections.keys().cloned().collect();
        let streams: Vec<String> = file.transactions.keys().cloned().collect();
        let phases = file
            .phases
            .iter()
            .enumerate()
            .map(|(i, p)| self.phase(i, p, &names, &streams))
            .collect::<Result<Vec<_>, _>>()?;
        let mut collections = Vec::new();
        for (name, c) in &file.collections {
            let at = format!("collections.{name}");
            self.collection_name(name, &at)?;
            let schema = self.schema(&c.schema, &format!("{at}.schema"))?;
            let mix = match &c.mix {
                Some(mix) => self.mix(mix, &format!("{at}.mix"))?,
                None => OpSelector::only(OpKind::Insert),
            };
            let share = c.share.unwrap_or(1.0);
            if !(share.is_finite() && share > 0.0) {
                return Err(self.invalid(format!("{at}.share"), format!("must be more than zero, not {share}")));
            }
            let phase_settings = file
                .phases
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mix = match p.mix.get(name) {
                        Some(m) => self.mix(m, &format!("phases[{i}].mix.{name}"))?,
                        None => mix.clone(),
                    };
                    Ok((p.share.get(name).copied().unwrap_or(share), mix))
                })
                .collect::<Result<Vec<_>, ScenarioError>>()?;
            let mut versions = Vec::new();
            for (i, p) in file.phases.iter().enumerate() {
                if let Some(spec) = p.schema.get(name) {
                    let key = format!("phases[{i}].schema.{name}");
                    let version = self.schema(spec, &key)?;
                    // The planner makes `_id`s before any version is chosen.
                    if format!("{:?}", version.compiled.id) != format!("{:?}", schema.compiled.id) {
                        return Err(self.invalid(key, "a new schema version must keep the first one's _id"));
                    }
                    versions.push((i, version));
                }
            }
            let mut references = Vec::new();
            let all = std::iter::once(("schema".to_string(), &schema))
                .chain(versions.iter().map(|(i, s)| (format!("phases[{i}].schema.{name}"), s)));
            let all: Vec<_> = all
                .flat_map(|(key, s)| {
                    s.compiled.references.iter().map(move |(path, target)| (key.clone(), path, target))
                })
                .collect();
            for (key, path, target) in all {
                let at = if key == "schema" { format!("{at}.schema: {path}") } else { format!("{key}: {path}") };
                let Some(index) = names.iter().position(|n| n == target) else {
                    return Err(self.invalid(
                        at,
                        format!("no collection '{target}' in the scenario (collections: {})", names.join(", ")),
                    ));
                };
                if *target == *name {
                    return Err(self.invalid(at, "a collection cannot reference itself"));
                }
                if !references.contains(&index) {
                    references.push(index);
                }
            }
            let reinsert = c.reinsert.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&reinsert) {
                return Err(self.invalid(format!("{at}.reinsert"), format!("must be from 0 to 1, not {reinsert}")));
            }
            if reinsert > 0.0 && c.delete_behavior.as_deref().is_some_and(|d| d != "remove") {
                return Err(self.invalid(format!("{at}.reinsert"), "re-inserts follow deletes that remove"));
            }
            let id_cache_size = c.id_cache_size.unwrap_or(10_000);
            if !(1..=100_000_000).contains(&id_cache_size) {
                return Err(self.invalid(format!("{at}.id_cache_size"), "must be from 1 to 100000000"));
            }
            collections.push(Collection {
                name: name.clone(),
                schema: Arc::new(schema),
                mix,
                phases: phase_settings,
                update_strategy: c.update_strategy.clone().unwrap_or_else(|| "partial".into()),
                delete_behavior: c.delete_behavior.clone().unwrap_or_else(|| "remove".into()),
                id_cache_size: id_cache_size as usize,
                sampling: c.sampling.map_or(crate::plan::Sampling::Random, |s| s.sampling()),
                reinsert,
                plugin_args: c
                    .plugin_args
                    .iter()
                    .map(|(plugin, args)| (plugin.clone(), args.iter().map(|(k, v)| (k.clone(), v.text())).collect()))
                    .collect(),
                references,
                versions: versions.into_iter().map(|(i, s)| (i, Arc::new(s))).collect(),
            });
        }
        self.acyclic(&collections)?;
        let mut taken: Vec<String> = names.clone();
        let mut transactions = Vec::new();
        for (name, t) in &file.transactions {
            transactions.push(self.transactions(name, t, &file.phases, &mut taken)?);
        }
        Ok(Scenario {
            seed: file.seed.map(|s| match s {
                format::SeedText::Number(n) => n.to_string(),
                format::SeedText::Text(t) => t,
            }),
            database: file.database,
            plugins: file.plugins.iter().map(|p| self.base.join(p)).collect(),
            collections,
            transactions,
            phases,
        })
    }

    /// A transaction stream; `taken` holds the names used so far (each collection
    /// has one writer: its own traffic run or one transaction stream).
    fn transactions(
        &self,
        name: &str,
        t: &format::TransactionFile,
        phases: &[PhaseFile],
        taken: &mut Vec<String>,
    ) -> Result<Transactions, ScenarioError> {
        let at = format!("transactions.{name}");
        let mut claim = |key: String, what: &str| {
            if taken.iter().any(|n| n == what) {
                return Err(self.invalid(
                    key,
                    format!("'{what}' is already a name in the scenario: each collection has one writer"),
                ));
            }
            taken.push(what.to_string());
            Ok(())
        };
        claim(at.clone(), name)?;
        let share = t.share.unwrap_or(1.0);
        if !(share.is_finite() && share > 0.0) {
            return Err(self.invalid(format!("{at}.share"), format!("must be more than zero, not {share}")));
        }
        let (min, max) = match &t.size {
            None => (1, 1),
            Some(format::SizeFile::Fixed(n)) => (*n, *n),
            Some(format::SizeFile::Range(r)) => (r.min, r.max),
        };
        if min == 0 || max < min {
            return Err(self.invalid(format!("{at}.size"), format!("needs 1 <= min <= max, not {min}..{max}")));
        }
        let (commit, abort) = (t.commit.unwrap_or(1.0), t.abort.unwrap_or(0.0));
        for (key, w) in [("commit", commit), ("abort", abort)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(self.invalid(format!("{at}.{key}"), format!("must be zero or more, not {w}")));
            }
        }
        if commit + abort <= 0.0 {
            return Err(self.invalid(format!("{at}.commit"), "commit and abort cannot both weigh zero"));
        }
        let update = match &t.update {
            None => None,
            Some(u) => {
                let key = format!("{at}.update");
                claim(format!("{key}.collection"), &u.collection)?;
                self.collection_name(&u.collection, &format!("{key}.collection"))?;
                if u.documents < max {
                    return Err(self.invalid(
                        format!("{key}.documents"),
                        format!("a transaction updates up to {max} distinct documents: load at least as many"),
                    ));
                }
                if u.inc.is_empty() {
                    return Err(self.invalid(format!("{key}.inc"), "name at least one field to $inc"));
                }
                let mut inc = bson::Document::new();
                for (field, n) in &u.inc {
                    if field.is_empty() || field.starts_with('$') || field == "_id" {
                        return Err(self.invalid(format!("{key}.inc.{field}"), "not a field forge may $inc"));
                    }
                    let value = match (n.as_i64(), n.as_f64()) {
                        (Some(i), _) => i32::try_from(i).map_or(bson::Bson::Int64(i), bson::Bson::Int32),
                        (None, Some(f)) => bson::Bson::Double(f),
                        (None, None) => return Err(self.invalid(format!("{key}.inc.{field}"), "not a number")),
                    };
                    inc.insert(field.clone(), value);
                }
                let schema = Arc::new(self.schema(&u.schema, &format!("{key}.schema"))?);
                Some(crate::transaction::Updated {
                    collection: u.collection.clone(),
                    schema,
                    documents: u.documents,
                    inc,
                })
            }
        };
        let insert = match &t.insert {
            None => None,
            Some(i) => {
                let key = format!("{at}.insert");
                claim(format!("{key}.collection"), &i.collection)?;
                self.collection_name(&i.collection, &format!("{key}.collection"))?;
                if let Some(field) = &i.record
                    && (field.is_empty() || field.contains('.') || field.starts_with('$') || field == "_id")
                {
                    return Err(self.invalid(format!("{key}.record"), "a top-level field other than _id"));
                }
                let schema = Arc::new(self.schema(&i.schema, &format!("{key}.schema"))?);
                Some(crate::transaction::Inserted {
                    collection: i.collection.clone(),
                    schema,
                    record: i.record.clone(),
                })
            }
        };
        if update.is_none() && insert.is_none() {
            return Err(self.invalid(&at, "a transaction needs an update, an insert, or both"));
        }
        if update.is_none() && max > 1 {
            return Err(self.invalid(format!("{at}.size"), "size counts the documents updated: give an update"));
        }
        for (key, schema) in
            update.iter().map(|u| ("update", &u.schema)).chain(insert.iter().map(|i| ("insert", &i.schema)))
        {
            if let Some((path, _)) = schema.compiled.references.first() {
                return Err(self.invalid(format!("{at}.{key}.schema: {path}"), "transactions do not draw references"));
            }
        }
        Ok(Transactions {
            name: name.to_string(),
            phases: phases.iter().map(|p| p.share.get(name).copied().unwrap_or(share)).collect(),
            spec: crate::transaction::Spec { size: (min, max), commit, abort, update, insert },
        })
    }

    fn collection_name(&self, name: &str, at: &str) -> Result<(), ScenarioError> {
        if name.is_empty() || name.contains('$') || name.contains('\0') {
            return Err(self.invalid(at, "not a collection name"));
        }
        Ok(())
    }

    fn phase(&self, i: usize, p: &PhaseFile, names: &[String], streams: &[String]) -> Result<Phase, ScenarioError> {
        let at = format!("phases[{i}]");
        let name = p.name.clone().unwrap_or_else(|| format!("phase-{}", i + 1));
        for key in p.mix.keys().chain(p.schema.keys()) {
            if streams.contains(key) {
                let which = if p.mix.contains_key(key) { "mix" } else { "schema" };
                return Err(self.invalid(format!("{at}.{which}.{key}"), "a transaction stream takes only a share"));
            }
        }
        for key in p.mix.keys().chain(p.share.keys()).chain(p.schema.keys()) {
            if !names.contains(key) && !streams.contains(key) {
                let which = if p.mix.contains_key(key) {
                    "mix"
                } else if p.share.contains_key(key) {
                    "share"
                } else {
                    "schema"
                };
                return Err(self.invalid(
                    format!("{at}.{which}.{key}"),
                    format!("no collection '{key}' in the scenario (collections: {})", names.join(", ")),
                ));
            }
        }
        for (key, share) in &p.share {
            if !(share.is_finite() && *share >= 0.0) {
                return Err(self.invalid(format!("{at}.share.{key}"), format!("must be zero or more, not {share}")));
            }
        }
        if let Some(pause) = &p.pause {
            let extra = [
                ("duration", p.duration.is_some()),
                ("ops", p.ops.is_some()),
                ("rate", p.rate.is_some()),
                ("mix", !p.mix.is_empty()),
                ("share", !p.share.is_empty()),
                ("schema", !p.schema.is_empty()),
            ];
            if let Some((key, _)) = extra.iter().find(|(_, given)| *given) {
                return Err(self.invalid(format!("{at}.{key}"), "a pause has no operations: only name and pause"));
            }
            let duration = self.duration(pause, &format!("{at}.pause"))?;
            return Ok(Phase { name, stage: Stage::Pause(duration) });
        }
        let duration = p.duration.as_ref().map(|d| self.duration(d, &format!("{at}.duration"))).transpose()?;
        let stage = match (&p.rate, duration, p.ops) {
            (_, Some(_), Some(_)) => return Err(self.invalid(format!("{at}.ops"), "give duration or ops, not both")),
            (None, Some(_), None) => {
                return Err(self.invalid(
                    format!("{at}.duration"),
                    "a phase without a rate runs as fast as possible: give its ops, or a rate",
                ));
            }
            (None, None, None) | (Some(_), None, None) => {
                return Err(self.invalid(&at, "needs a duration, ops or pause"));
            }
            (None, None, Some(ops)) => Stage::Unpaced { ops },
            (Some(rate), duration, ops) => {
                let (from, to) = match rate {
                    RateFile::Constant(r) => (*r, *r),
                    RateFile::Ramp(ramp) => (ramp.from, ramp.to),
                };
                let key = |end: &str| match rate {
                    RateFile::Constant(_) => format!("{at}.rate"),
                    RateFile::Ramp(_) => format!("{at}.rate.{end}"),
                };
                for (end, value) in [("from", from), ("to", to)] {
                    if !value.is_finite() || value < 0.0 {
                        return Err(self.invalid(key(end), format!("must be zero or more, not {value}")));
                    }
                }
                if from + to <= 0.0 {
                    return Err(self.invalid(key("to"), "a rate of zero throughout is a pause: use pause"));
                }
                let duration = match (duration, ops) {
                    (Some(d), _) => d,
                    // The time the count takes at the (average) rate.
                    (None, Some(ops)) => Duration::from_secs_f64(2.0 * ops as f64 / (from + to)),
                    (None, None) => unreachable!("matched above"),
                };
                Stage::Paced { from, to, duration }
            }
        };
        Profile::new(vec![stage]).map_err(|e| self.invalid(&at, e.to_string()))?;
        Ok(Phase { name, stage })
    }

    fn duration(&self, text: &str, at: &str) -> Result<Duration, ScenarioError> {
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(self.invalid(at, "must be more than zero")),
            Err(e) => Err(self.invalid(at, format!("'{text}' is not a duration (30s, 5m): {e}"))),
        }
    }

    fn mix(&self, text: &str, at: &str) -> Result<OpSelector, ScenarioError> {
        OpSelector::parse(text, &OpKind::ALL).map_err(|e| self.invalid(at, e.to_string()))
    }

    fn schema(&self, spec: &str, at: &str) -> Result<Schema, ScenarioError> {
        let loaded = match spec.strip_prefix("example:") {
            Some(name) => match crate::examples::find(name) {
                Some(example) => Schema::from_json_str(example.json),
                None => return Err(self.invalid(at, format!("no built-in example '{name}'"))),
            },
            None => Schema::from_file(&self.base.join(spec)),
        };
        loaded.map_err(|e| self.invalid(at, e.to_string()))
    }

    /// References must not go round in a circle: each waits for the other.
    fn acyclic(&self, collections: &[Collection]) -> Result<(), ScenarioError> {
        fn reaches(collections: &[Collection], from: usize, to: usize, depth: usize) -> bool {
            depth <= collections.len()
                && collections[from].references.iter().any(|&r| r == to || reaches(collections, r, to, depth + 1))
        }
        for (i, c) in collections.iter().enumerate() {
            if c.references.iter().any(|&r| reaches(collections, r, i, 0)) {
                return Err(self.invalid(
                    format!("collections.{}.schema", c.name),
                    "its references go round in a circle back to it",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
