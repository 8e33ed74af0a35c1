//! Flag values: how the command line spells the library's settings. Parsers return
//! clap's plain-text errors (clap names the flag); the enums' spellings and help texts
//! live here, not on the library's types.

use std::collections::BTreeMap;

use clap::ValueEnum;
use clap::builder::PossibleValue;
use mongodb::options::{Acknowledgment, WriteConcern};

use crate::output::ejson::Mode;
use crate::plan::{DeleteTracking, OnPluginError, Sampling};

/// `--seed` as given, and the run seed it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub value: u64,
    pub given: String,
}

/// `--seed`: any text; an integer means itself, other text is hashed stably.
pub fn seed(s: &str) -> Result<Seed, String> {
    if s.is_empty() {
        return Err("a seed cannot be empty".into());
    }
    Ok(Seed { value: crate::seed::from_text(s), given: s.to_owned() })
}

/// `--rate-limit`: a positive number of operations per second.
pub fn positive_rate(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= 10_000_000.0)
        .ok_or_else(|| format!("'{s}' is not a positive number of operations per second"))
}

/// `--write-concern`: `majority`, a node count (`1`, `0` for unacknowledged), with
/// `,j` for journaled (`majority,j`).
pub fn write_concern(spec: &str) -> Result<WriteConcern, String> {
    let mut parts = spec.split(',').map(str::trim);
    let w = parts.next().unwrap_or_default();
    let w = w.strip_prefix("w:").unwrap_or(w);
    let acknowledgment = match w {
        "majority" => Acknowledgment::Majority,
        n => Acknowledgment::Nodes(n.parse().map_err(|_| {
            format!("'{spec}' is not a write concern (expected majority, a number such as 1 or 0, optionally ,j)")
        })?),
    };
    let mut journal = None;
    for part in parts {
        match part {
            "j" | "j:true" => journal = Some(true),
            "j:false" => journal = Some(false),
            other => return Err(format!("unknown write concern option '{other}' (expected j)")),
        }
    }
    let mut wc = WriteConcern::default();
    wc.w = Some(acknowledgment);
    wc.journal = journal;
    Ok(wc)
}

/// `--plugin-arg name.key=value`s, grouped by plugin name; the error names the
/// malformed one.
pub fn plugin_args(args: &[String]) -> Result<BTreeMap<String, Vec<(String, String)>>, String> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for a in args {
        let malformed = || format!("--plugin-arg '{a}': expected name.key=value");
        let (lhs, value) = a.split_once('=').ok_or_else(malformed)?;
        let (name, key) = lhs.split_once('.').ok_or_else(malformed)?;
        if name.is_empty() || key.is_empty() {
            return Err(malformed());
        }
        out.entry(name.to_owned()).or_default().push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

impl ValueEnum for Mode {
    fn value_variants<'a>() -> &'a [Self] {
        &[Mode::Relaxed, Mode::Canonical]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Mode::Relaxed => PossibleValue::new("relaxed")
                .help("ISO dates and plain numbers (64-bit integers stay wrapped so no type is lost)"),
            Mode::Canonical => {
                PossibleValue::new("canonical").help("Every number and date wrapped with its exact BSON type")
            }
        })
    }
}

impl ValueEnum for Sampling {
    fn value_variants<'a>() -> &'a [Self] {
        &[Sampling::Random, Sampling::Sequential, Sampling::WeightedRecent, Sampling::Zipfian, Sampling::Latest]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Sampling::Random => PossibleValue::new("random").help("Uniformly at random"),
            Sampling::Sequential => {
                PossibleValue::new("sequential").help("In _id order, through the whole collection, then again")
            }
            Sampling::WeightedRecent => PossibleValue::new("weighted-recent")
                .help("Favouring the newest gently: half the picks among the newest eighth of the targets"),
            Sampling::Zipfian => PossibleValue::new("zipfian").help(
                "Hot keys: Zipf over the targets in the order they were cached (exponent 0.99), the oldest \
                 the hottest: of 1,000 targets, one gets about 13% of the picks and 100 get two thirds",
            ),
            Sampling::Latest => PossibleValue::new("latest").help(
                "Zipf over recency (exponent 0.99): the newest target the hottest, the k-th newest picked in \
                 proportion to 1/k^0.99; far steeper than weighted-recent",
            ),
        })
    }
}

/// `generate --output mongo-cdc --sampling`: the samplings that make sense for targets
/// the run inserted itself (a sequential walk is `mutate`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdcSampling(pub Sampling);

impl ValueEnum for CdcSampling {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            CdcSampling(Sampling::Random),
            CdcSampling(Sampling::WeightedRecent),
            CdcSampling(Sampling::Zipfian),
            CdcSampling(Sampling::Latest),
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        self.0.to_possible_value()
    }
}

impl ValueEnum for DeleteTracking {
    fn value_variants<'a>() -> &'a [Self] {
        &[DeleteTracking::None, DeleteTracking::Memory, DeleteTracking::Filter]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            DeleteTracking::None => {
                PossibleValue::new("none").help("Deleted _ids may be targeted again (their updates then match nothing)")
            }
            DeleteTracking::Memory => PossibleValue::new("memory").help("Never target an _id this run deleted"),
            DeleteTracking::Filter => PossibleValue::new("filter")
                .help("Keep targeting, with a filter guard so that deleted targets match nothing"),
        })
    }
}

impl ValueEnum for OnPluginError {
    fn value_variants<'a>() -> &'a [Self] {
        &[OnPluginError::Fail, OnPluginError::Skip]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            OnPluginError::Fail => PossibleValue::new("fail")
                .help("Stop the run (after what was planned before is written) and report the error"),
            OnPluginError::Skip => PossibleValue::new("skip").help("Skip the operation, count the error, and go on"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_concerns_parse() {
        assert_eq!(write_concern("majority,j").unwrap().journal, Some(true));
        assert_eq!(write_concern("w:1").unwrap().w, Some(Acknowledgment::Nodes(1)));
        assert!(crate::mongo::is_unacknowledged(&write_concern("0").unwrap()));
        assert!(write_concern("most").unwrap_err().contains("most"));
    }

    #[test]
    fn seeds_keep_what_was_given() {
        assert_eq!(seed("7").unwrap(), Seed { value: 7, given: "7".into() });
        let named = seed("my-run").unwrap();
        assert_eq!((named.value, named.given.as_str()), (crate::seed::from_text("my-run"), "my-run"));
        assert!(seed("").is_err());
    }

    #[test]
    fn plugin_args_group_by_plugin() {
        let args = plugin_args(&["a.x=1".into(), "a.y=2".into(), "b.z=".into()]).unwrap();
        assert_eq!(args["a"], vec![("x".into(), "1".into()), ("y".into(), "2".into())]);
        assert_eq!(args["b"], vec![("z".into(), String::new())]);
        for bad in ["a", "a=1", ".x=1", "a.=1"] {
            assert!(plugin_args(&[bad.into()]).unwrap_err().contains(bad), "{bad}");
        }
    }
}
