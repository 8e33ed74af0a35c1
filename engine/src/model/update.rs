//! MongoDB's update operators applied to a document held in memory, with the server's
//! semantics and type rules, so the model predicts what a write does and refuses what
//! the server would refuse.
//!
//! Like the server, an update is first parsed into a tree of the paths it touches (two
//! operators touching one path, or a path and its prefix, conflict), then applied in
//! the tree's order: field names sorted, numeric names by number. Fields an update
//! creates are appended to their document in that order, as the server does.

use std::cmp::Ordering;

use bson::{Bson, DateTime, Document, Timestamp};
use thiserror::Error;

use super::compare::{cmp, equal, identical, type_name};
use super::decimal::Dec;
use super::filter::{array_index, document_matches, is_operator_expression, value_satisfies};

/// Why an update cannot apply, naming the operator and the path.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum UpdateError {
    #[error("the update has no operators")]
    Empty,
    #[error("{op}: not an update operator")]
    UnknownOperator { op: String },
    #[error("{op}: its argument is {found}, not a document of paths")]
    NotADocument { op: String, found: &'static str },
    #[error("{op} on '{path}': {problem}")]
    Invalid { op: String, path: String, problem: String },
    #[error("{op} on '{path}': conflicts with {other_op} on '{other}'")]
    Conflict { op: String, path: String, other_op: String, other: String },
    #[error("{op} on '{path}': '_id' cannot be modified")]
    ImmutableId { op: String, path: String },
}

impl UpdateError {
    fn invalid(op: Op, path: &str, problem: impl Into<String>) -> UpdateError {
        UpdateError::Invalid { op: op.name().into(), path: path.into(), problem: problem.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Unset,
    Inc,
    Mul,
    Min,
    Max,
    Rename,
    Push,
    AddToSet,
    Pull,
    Pop,
    CurrentDate,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "$set" => Op::Set,
            "$unset" => Op::Unset,
            "$inc" => Op::Inc,
            "$mul" => Op::Mul,
            "$min" => Op::Min,
            "$max" => Op::Max,
            "$rename" => Op::Rename,
            "$push" => Op::Push,
            "$addToSet" => Op::AddToSet,
            "$pull" => Op::Pull,
            "$pop" => Op::Pop,
            "$currentDate" => Op::CurrentDate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Set => "$set",
            Op::Unset => "$unset",
            Op::Inc => "$inc",
            Op::Mul => "$mul",
            Op::Min => "$min",
            Op::Max => "$max",
            Op::Rename => "$rename",
            Op::Push => "$push",
            Op::AddToSet => "$addToSet",
            Op::Pull => "$pull",
            Op::Pop => "$pop",
            Op::CurrentDate => "$currentDate",
        }
    }
}

/// What one operator does at one path.
#[derive(Debug, Clone)]
enum Action {
    Set(Bson),
    Unset,
    Inc(Bson),
    Mul(Bson),
    Min(Bson),
    Max(Bson),
    Push(Push),
    AddToSet(Vec<Bson>),
    Pull(Pull),
    /// `true`: the first element.
    Pop(bool),
    /// `true`: a timestamp rather than a date.
    CurrentDate(bool),
    /// The destination of the rename with this index in [`Plan::renames`].
    RenameTo(usize),
    /// The source of a rename: removed after the tree is applied.
    RenameFrom,
}

#[derive(Debug, Clone)]
struct Push {
    each: Vec<Bson>,
    position: Option<i64>,
    slice: Option<i64>,
    sort: Option<Sort>,
}

#[derive(Debug, Clone)]
enum Sort {
    /// Whole elements, ascending when `true`.
    Value(bool),
    /// By fields of document elements: (path, ascending).
    Fields(Vec<(String, bool)>),
}

#[derive(Debug, Clone)]
enum Pull {
    /// Elements equal to the value.
    Equal(Bson),
    /// Elements satisfying an operator expression.
    Satisfies(Document),
    /// Document elements matching a query.
    Matches(Document),
}

#[derive(Debug, Clone)]
struct Leaf {
    op: Op,
    path: String,
    action: Action,
}

#[derive(Debug)]
enum Node {
    Inner { path: String, children: Vec<(String, Node)> },
    Leaf(Leaf),
}

#[derive(Debug)]
struct Rename {
    from: Vec<String>,
    to: Vec<String>,
    from_path: String,
}

/// A parsed update: the tree of paths, and the renames it holds.
#[derive(Debug)]
struct Plan {
    root: Vec<(String, Node)>,
    renames: Vec<Rename>,
}

/// Applies `update` to `doc` as the server would, `now` standing for the server's clock
/// (`$currentDate`). On error `doc` is left as it was.
pub fn apply(doc: &mut Document, update: &Document, now: DateTime) -> Result<(), UpdateError> {
    *doc = apply_owned(doc.clone(), update, now)?;
    Ok(())
}

/// [`apply`] to a document the caller gives up: no copy is made to fall back on (the
/// document model keeps its encoded form for that).
pub fn apply_owned(mut out: Document, update: &Document, now: DateTime) -> Result<Document, UpdateError> {
    let plan = Plan::parse(update)?;
    let values = plan.rename_values(&out)?;
    let ctx = Ctx { now, renames: values };
    let id_before = out.get("_id").cloned();
    apply_children(&plan.root, Container::Doc(&mut out), &ctx)?;
    for (rename, value) in plan.renames.iter().zip(&ctx.renames) {
        if value.is_some() {
            remove_path(&mut out, &rename.from);
        }
    }
    if !same_id(id_before.as_ref(), out.get("_id")) {
        let leaf = plan.first_leaf_at("_id").expect("only a path under _id changes _id");
        return Err(UpdateError::ImmutableId { op: leaf.op.name().into(), path: leaf.path.clone() });
    }
    Ok(out)
}

/// Whether the server would accept `update` at all: known operators, valid arguments,
/// no conflicting paths. What depends on the document (types, `_id`) is left to
/// [`apply`].
pub fn validate(update: &Document) -> Result<(), UpdateError> {
    Plan::parse(update).map(|_| ())
}

fn same_id(before: Option<&Bson>, after: Option<&Bson>) -> bool {
    match (before, after) {
        (Some(a), Some(b)) => identical(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl Plan {
    fn parse(update: &Document) -> Result<Plan, UpdateError> {
        if update.is_empty() {
            return Err(UpdateError::Empty);
        }
        let mut plan = Plan { root: Vec::new(), renames: Vec::new() };
        for (name, args) in update {
            let op = Op::parse(name).ok_or_else(|| UpdateError::UnknownOperator { op: name.clone() })?;
            let Bson::Document(args) = args else {
                return Err(UpdateError::NotADocument { op: name.clone(), found: type_name(args) });
            };
            for (path, arg) in args {
                let parts = split_path(op, path)?;
                if op == Op::Rename {
                    let Bson::String(to) = arg else {
                        return Err(UpdateError::invalid(
                            op,
                            path,
                            format!("the new name is {}, not a string", type_name(arg)),
                        ));
                    };
                    let to_parts = split_path(op, to)?;
                    let shorter = parts.len().min(to_parts.len());
                    if parts[..shorter] == to_parts[..shorter] {
                        return Err(UpdateError::invalid(
                            op,
                            path,
                            format!("the source and the target '{to}' are on one path"),
                        ));
                    }
                    let index = plan.renames.len();
                    plan.renames.push(Rename { from: parts.clone(), to: to_parts.clone(), from_path: path.clone() });
                    plan.insert(&parts, Leaf { op, path: path.clone(), action: Action::RenameFrom })?;
                    plan.insert(&to_parts, Leaf { op, path: to.clone(), action: Action::RenameTo(index) })?;
                    continue;
                }
                let action = parse_action(op, path, arg)?;
                plan.insert(&parts, Leaf { op, path: path.clone(), action })?;
            }
        }
        sort_tree(&mut plan.root);
        Ok(plan)
    }

    /// Adds a leaf, refusing a path equal to, under, or above one already there.
    fn insert(&mut self, parts: &[String], leaf: Leaf) -> Result<(), UpdateError> {
        let conflict = |leaf: &Leaf, other: &Leaf| UpdateError::Conflict {
            op: leaf.op.name().into(),
            path: leaf.path.clone(),
            other_op: other.op.name().into(),
            other: other.path.clone(),
        };
        let mut children = &mut self.root;
        let (last, above) = parts.split_last().expect("paths have at least one component");
        for (depth, part) in above.iter().enumerate() {
            let at = match children.iter().position(|(name, _)| name == part) {
                Some(at) => at,
                None => {
                    let path = parts[..=depth].join(".");
                    children.push((part.clone(), Node::Inner { path, children: Vec::new() }));
                    children.len() - 1
                }
            };
            match &mut children[at].1 {
                Node::Leaf(other) => return Err(conflict(&leaf, other)),
                Node::Inner { children: next, .. } => children = next,
            }
        }
        match children.iter().find(|(name, _)| name == last) {
            Some((_, node)) => Err(conflict(&leaf, first_leaf(node).expect("inner nodes hold leaves"))),
            None => {
                children.push((last.clone(), Node::Leaf(leaf)));
                Ok(())
            }
        }
    }

    /// The source values of the renames, checked as the server checks them.
    fn rename_values(&self, doc: &Document) -> Result<Vec<Option<Bson>>, UpdateError> {
        let mut values = Vec::with_capacity(self.renames.len());
        for rename in &self.renames {
            let (value, through_array) = find(doc, &rename.from);
            if value.is_some() && through_array {
                return Err(UpdateError::invalid(Op::Rename, &rename.from_path, "the source is inside an array"));
            }
            if value.is_some() && prefix_holds_array(doc, &rename.to) {
                return Err(UpdateError::invalid(
                    Op::Rename,
                    &rename.from_path,
                    format!("the target '{}' is inside an array", rename.to.join(".")),
                ));
            }
            values.push(value.cloned());
        }
        Ok(values)
    }

    /// The leaf under a top-level field (renames of `_id` have one there too).
    fn first_leaf_at(&self, name: &str) -> Option<&Leaf> {
        self.root.iter().find(|(n, _)| n == name).and_then(|(_, node)| first_leaf(node))
    }
}

fn first_leaf(node: &Node) -> Option<&Leaf> {
    match node {
        Node::Leaf(leaf) => Some(leaf),
        Node::Inner { children, .. } => children.iter().find_map(|(_, n)| first_leaf(n)),
    }
}

/// The server's order: numeric names by number, others (and mixed) bytewise.
fn field_order(a: &str, b: &str) -> Ordering {
    match (array_index(a), array_index(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.as_bytes().cmp(b.as_bytes()),
    }
}

fn sort_tree(children: &mut [(String, Node)]) {
    children.sort_by(|a, b| field_order(&a.0, &b.0));
    for (_, node) in children {
        if let Node::Inner { children, .. } = node {
            sort_tree(children);
        }
    }
}

fn split_path(op: Op, path: &str) -> Result<Vec<String>, UpdateError> {
    if path.is_empty() {
        return Err(UpdateError::invalid(op, path, "the path is empty"));
    }
    let parts: Vec<String> = path.split('.').map(str::to_string).collect();
    for part in &parts {
        if part.is_empty() {
            return Err(UpdateError::invalid(op, path, "the path has an empty component"));
        }
        if part == "$" || part.starts_with("$[") {
            return Err(UpdateError::invalid(
                op,
                path,
                "positional paths need the query; the model does not take them",
            ));
        }
        if part.starts_with('$') {
            return Err(UpdateError::invalid(op, path, format!("the component '{part}' starts with '$'")));
        }
    }
    Ok(parts)
}

fn is_number(v: &Bson) -> bool {
    matches!(v, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))
}

/// An integral number (int32, int64, or a double without fraction) as i64.
fn integral(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
        Bson::Decimal128(d) => d.to_string().parse::<i64>().ok(),
        _ => None,
    }
}

fn parse_action(op: Op, path: &str, arg: &Bson) -> Result<Action, UpdateError> {
    let bad = |problem: String| Err(UpdateError::invalid(op, path, problem));
    Ok(match op {
        Op::Set => Action::Set(arg.clone()),
        Op::Unset => Action::Unset,
        Op::Inc | Op::Mul => {
            if !is_number(arg) {
                return bad(format!("the argument is {}, not a number", type_name(arg)));
            }
            if op == Op::Inc { Action::Inc(arg.clone()) } else { Action::Mul(arg.clone()) }
        }
        Op::Min => Action::Min(arg.clone()),
        Op::Max => Action::Max(arg.clone()),
        Op::Push => Action::Push(parse_push(path, arg)?),
        Op::AddToSet => match arg {
            Bson::Document(d) if d.keys().next().map(String::as_str) == Some("$each") => {
                if d.len() > 1 {
                    return bad("$each takes no other clause in $addToSet".into());
                }
                match d.get("$each") {
                    Some(Bson::Array(each)) => Action::AddToSet(each.clone()),
                    Some(other) => return bad(format!("$each is {}, not an array", type_name(other))),
                    None => unreachable!("checked above"),
                }
            }
            other => Action::AddToSet(vec![other.clone()]),
        },
        Op::Pull => Action::Pull(match arg {
            Bson::Document(d) if is_operator_expression(d) => Pull::Satisfies(d.clone()),
            Bson::Document(d) => Pull::Matches(d.clone()),
            other => Pull::Equal(other.clone()),
        }),
        Op::Pop => match integral(arg) {
            Some(1) if is_number(arg) => Action::Pop(false),
            Some(-1) if is_number(arg) => Action::Pop(true),
            _ => return bad(format!("the argument must be 1 or -1, not {arg}")),
        },
        Op::CurrentDate => match arg {
            Bson::Boolean(_) => Action::CurrentDate(false),
            Bson::Document(d) if d.len() == 1 => match d.get("$type") {
                Some(Bson::String(t)) if t == "date" => Action::CurrentDate(false),
                Some(Bson::String(t)) if t == "timestamp" => Action::CurrentDate(true),
                _ => return bad(format!("expected true, {{$type: \"date\"}} or {{$type: \"timestamp\"}}, not {arg}")),
            },
            _ => return bad(format!("expected true, {{$type: \"date\"}} or {{$type: \"timestamp\"}}, not {arg}")),
        },
        Op::Rename => unreachable!("renames are parsed by the caller"),
    })
}

fn parse_push(path: &str, arg: &Bson) -> Result<Push, UpdateError> {
    let bad = |problem: String| Err(UpdateError::invalid(Op::Push, path, problem));
    let Bson::Document(d) = arg else {
        return Ok(Push { each: vec![arg.clone()], position: None, slice: None, sort: None });
    };
    if !d.contains_key("$each") {
        return Ok(Push { each: vec![arg.clone()], position: None, slice: None, sort: None });
    }
    let mut push = Push { each: Vec::new(), position: None, slice: None, sort: None };
    for (clause, value) in d {
        match clause.as_str() {
            "$each" => match value {
                Bson::Array(each) => push.each = each.clone(),
                other => return bad(format!("$each is {}, not an array", type_name(other))),
            },
            "$position" => match integral(value) {
                Some(n) => push.position = Some(n),
                None => return bad(format!("$position must be an integer, not {value}")),
            },
            "$slice" => match integral(value) {
                Some(n) => push.slice = Some(n),
                None => return bad(format!("$slice must be an integer, not {value}")),
            },
            "$sort" => {
                push.sort = Some(match value {
                    v if integral(v) == Some(1) => Sort::Value(true),
                    v if integral(v) == Some(-1) => Sort::Value(false),
                    Bson::Document(spec) if !spec.is_empty() => {
                        let mut fields = Vec::new();
                        for (field, dir) in spec {
                            match integral(dir) {
                                Some(1) => fields.push((field.clone(), true)),
                                Some(-1) => fields.push((field.clone(), false)),
                                _ => return bad(format!("$sort directions are 1 or -1, not {dir}")),
                            }
                        }
                        Sort::Fields(fields)
                    }
                    other => return bad(format!("$sort must be 1, -1 or a document of fields, not {other}")),
                })
            }
            other => return bad(format!("{other} is not a $push clause")),
        }
    }
    Ok(push)
}

struct Ctx {
    now: DateTime,
    renames: Vec<Option<Bson>>,
}

enum Container<'a> {
    Doc(&'a mut Document),
    Arr(&'a mut Vec<Bson>),
}

/// What applying a leaf to an existing value leaves behind.
enum Outcome {
    Keep,
    Remove,
}

impl Leaf {
    /// Whether this leaf creates its path when it is missing.
    fn creates(&self, ctx: &Ctx) -> bool {
        match &self.action {
            Action::Unset | Action::Pull(_) | Action::Pop(_) | Action::RenameFrom => false,
            Action::RenameTo(i) => ctx.renames[*i].is_some(),
            _ => true,
        }
    }

    fn err(&self, problem: impl Into<String>) -> UpdateError {
        UpdateError::invalid(self.op, &self.path, problem)
    }

    /// The value a missing field takes, if any.
    fn create(&self, ctx: &Ctx) -> Result<Option<Bson>, UpdateError> {
        Ok(match &self.action {
            Action::Set(v) | Action::Inc(v) | Action::Min(v) | Action::Max(v) => Some(v.clone()),
            Action::Mul(by) => Some(self.arith(Arith::Mul, &Bson::Int32(0), by)?),
            Action::Push(push) => {
                let mut items = Vec::new();
                push.apply(&mut items);
                Some(Bson::Array(items))
            }
            Action::AddToSet(values) => {
                let mut items = Vec::new();
                add_to_set(&mut items, values);
                Some(Bson::Array(items))
            }
            Action::CurrentDate(ts) => Some(current_date(*ts, ctx.now)),
            Action::RenameTo(i) => ctx.renames[*i].clone(),
            Action::Unset | Action::Pull(_) | Action::Pop(_) | Action::RenameFrom => None,
        })
    }

    fn apply_existing(&self, value: &mut Bson, ctx: &Ctx) -> Result<Outcome, UpdateError> {
        match &self.action {
            Action::Set(v) => *value = v.clone(),
            Action::Unset => return Ok(Outcome::Remove),
            Action::Inc(by) | Action::Mul(by) => {
                if !is_number(value) {
                    return Err(self.err(format!("the current value is {}, not a number", type_name(value))));
                }
                let arith = if matches!(self.action, Action::Inc(_)) { Arith::Add } else { Arith::Mul };
                *value = self.arith(arith, value, by)?;
            }
            Action::Min(v) if cmp(v, value) == Ordering::Less => *value = v.clone(),
            Action::Max(v) if cmp(v, value) == Ordering::Greater => *value = v.clone(),
            Action::Min(_) | Action::Max(_) => {}
            Action::Push(push) => push.apply(self.array(value)?),
            Action::AddToSet(values) => add_to_set(self.array(value)?, values),
            Action::Pull(pull) => {
                let items = self.array(value)?;
                let mut kept = Vec::with_capacity(items.len());
                for item in items.drain(..) {
                    if !pull.removes(&item).map_err(|problem| self.err(problem))? {
                        kept.push(item);
                    }
                }
                *items = kept;
            }
            Action::Pop(first) => {
                let items = self.array(value)?;
                if !items.is_empty() {
                    if *first {
                        items.remove(0);
                    } else {
                        items.pop();
                    }
                }
            }
            Action::CurrentDate(ts) => *value = current_date(*ts, ctx.now),
            Action::RenameTo(i) => {
                if let Some(v) = &ctx.renames[*i] {
                    *value = v.clone();
                }
            }
            Action::RenameFrom => {}
        }
        Ok(Outcome::Keep)
    }

    fn array<'v>(&self, value: &'v mut Bson) -> Result<&'v mut Vec<Bson>, UpdateError> {
        match value {
            Bson::Array(items) => Ok(items),
            other => Err(self.err(format!("the current value is {}, not an array", type_name(other)))),
        }
    }

    fn arith(&self, arith: Arith, a: &Bson, b: &Bson) -> Result<Bson, UpdateError> {
        arithmetic(arith, a, b).map_err(|problem| self.err(problem))
    }
}

fn current_date(timestamp: bool, now: DateTime) -> Bson {
    if timestamp {
        let secs = now.timestamp_millis().div_euclid(1000).clamp(0, u32::MAX as i64) as u32;
        Bson::Timestamp(Timestamp { time: secs, increment: 1 })
    } else {
        Bson::DateTime(now)
    }
}

fn add_to_set(items: &mut Vec<Bson>, values: &[Bson]) {
    for v in values {
        if !items.iter().any(|e| equal(e, v)) {
            items.push(v.clone());
        }
    }
}

impl Push {
    /// Inserts at `$position`, then sorts, then slices, as the server does.
    fn apply(&self, items: &mut Vec<Bson>) {
        let len = items.len() as i64;
        let at = match self.position {
            None => len,
            Some(p) if p >= 0 => p.min(len),
            Some(p) => (len + p).max(0),
        } as usize;
        items.splice(at..at, self.each.iter().cloned());
        match &self.sort {
            Some(Sort::Value(asc)) => items.sort_by(|a, b| directed(cmp(a, b), *asc)),
            Some(Sort::Fields(fields)) => items.sort_by(|a, b| {
                fields.iter().fold(Ordering::Equal, |o, (field, asc)| {
                    o.then_with(|| {
                        let get = |v: &Bson| match v {
                            Bson::Document(d) => super::filter::lookup(d, field).cloned().unwrap_or(Bson::Null),
                            _ => Bson::Null,
                        };
                        directed(cmp(&get(a), &get(b)), *asc)
                    })
                })
            }),
            None => {}
        }
        match self.slice {
            Some(n) if n >= 0 => items.truncate(n as usize),
            Some(n) => {
                let keep = n.unsigned_abs() as usize;
                if items.len() > keep {
                    items.drain(..items.len() - keep);
                }
            }
            None => {}
        }
    }
}

fn directed(o: Ordering, ascending: bool) -> Ordering {
    if ascending { o } else { o.reverse() }
}

impl Pull {
    fn removes(&self, item: &Bson) -> Result<bool, String> {
        match self {
            Pull::Equal(v) => Ok(equal(item, v)),
            Pull::Satisfies(ops) => value_satisfies(Some(item), ops),
            Pull::Matches(query) => match item {
                Bson::Document(d) => document_matches(d, query),
                _ => Ok(false),
            },
        }
    }
}

#[derive(Clone, Copy)]
enum Arith {
    Add,
    Mul,
}

/// `$inc`/`$mul` arithmetic: int32 overflows into int64, int64 overflow is an error,
/// a double operand makes a double, a Decimal128 operand a Decimal128.
fn arithmetic(arith: Arith, a: &Bson, b: &Bson) -> Result<Bson, String> {
    use Bson::{Decimal128 as D, Double as F, Int32 as I, Int64 as L};
    let as_i64 = |v: &Bson| match v {
        I(i) => Some(*i as i64),
        L(i) => Some(*i),
        _ => None,
    };
    let as_f64 = |v: &Bson| match v {
        I(i) => *i as f64,
        L(i) => *i as f64,
        F(f) => *f,
        _ => f64::NAN,
    };
    match (a, b) {
        (D(_), _) | (_, D(_)) => {
            let dec = |v: &Bson| match v {
                I(i) => Some(Dec::from_i64(*i as i64)),
                L(i) => Some(Dec::from_i64(*i)),
                F(f) => Dec::from_f64_15(*f),
                D(d) => match super::decimal::real_of_decimal(d) {
                    super::decimal::Real::Finite(x) => Some(x),
                    _ => None,
                },
                _ => None,
            };
            let (Some(x), Some(y)) = (dec(a), dec(b)) else {
                return Err("Decimal128 arithmetic on NaN or infinity is not modelled".into());
            };
            let r = match arith {
                Arith::Add => x.add(&y),
                Arith::Mul => x.mul(&y),
            };
            r.to_decimal128().map(D).ok_or_else(|| "the Decimal128 result is out of range".into())
        }
        (F(_), _) | (_, F(_)) => Ok(F(match arith {
            Arith::Add => as_f64(a) + as_f64(b),
            Arith::Mul => as_f64(a) * as_f64(b),
        })),
        (I(x), I(y)) => Ok(match arith {
            Arith::Add => x.checked_add(*y).map_or(L(*x as i64 + *y as i64), I),
            Arith::Mul => x.checked_mul(*y).map_or(L(*x as i64 * *y as i64), I),
        }),
        _ => {
            let (x, y) = (as_i64(a).expect("an integer"), as_i64(b).expect("an integer"));
            let r = match arith {
                Arith::Add => x.checked_add(y),
                Arith::Mul => x.checked_mul(y),
            };
            r.map(L).ok_or_else(|| format!("{x} and {y} overflow int64"))
        }
    }
}

fn apply_children(children: &[(String, Node)], mut container: Container, ctx: &Ctx) -> Result<(), UpdateError> {
    for (name, node) in children {
        match &mut container {
            Container::Doc(doc) => match doc.get_mut(name) {
                Some(value) => {
                    if let Outcome::Remove = apply_existing(node, value, ctx)? {
                        doc.remove(name);
                    }
                }
                None => {
                    if let Some(value) = create(node, ctx)? {
                        doc.insert(name.clone(), value);
                    }
                }
            },
            Container::Arr(items) => {
                let Some(index) = array_index(name) else {
                    if let Some(leaf) = creating_leaf(node, ctx) {
                        return Err(leaf.err(format!("cannot create the field '{name}' inside an array")));
                    }
                    continue;
                };
                if index < items.len() {
                    if let Outcome::Remove = apply_existing(node, &mut items[index], ctx)? {
                        // Removing an element would shift the others: the server nulls it.
                        items[index] = Bson::Null;
                    }
                } else if let Some(value) = create(node, ctx)? {
                    items.resize(index, Bson::Null);
                    items.push(value);
                }
            }
        }
    }
    Ok(())
}

fn creating_leaf<'n>(node: &'n Node, ctx: &Ctx) -> Option<&'n Leaf> {
    match node {
        Node::Leaf(leaf) => leaf.creates(ctx).then_some(leaf),
        Node::Inner { children, .. } => children.iter().find_map(|(_, n)| creating_leaf(n, ctx)),
    }
}

fn apply_existing(node: &Node, value: &mut Bson, ctx: &Ctx) -> Result<Outcome, UpdateError> {
    match node {
        Node::Leaf(leaf) => leaf.apply_existing(value, ctx),
        Node::Inner { path, children } => {
            match value {
                Bson::Document(doc) => apply_children(children, Container::Doc(doc), ctx)?,
                Bson::Array(items) => apply_children(children, Container::Arr(items), ctx)?,
                other => {
                    if let Some(leaf) = creating_leaf(node, ctx) {
                        return Err(
                            leaf.err(format!("'{path}' is {}, so no field can be created inside it", type_name(other)))
                        );
                    }
                }
            }
            Ok(Outcome::Keep)
        }
    }
}

fn create(node: &Node, ctx: &Ctx) -> Result<Option<Bson>, UpdateError> {
    match node {
        Node::Leaf(leaf) => leaf.create(ctx),
        Node::Inner { children, .. } => {
            if creating_leaf(node, ctx).is_none() {
                return Ok(None);
            }
            let mut doc = Document::new();
            apply_children(children, Container::Doc(&mut doc), ctx)?;
            Ok(Some(Bson::Document(doc)))
        }
    }
}

/// The value at `parts` and whether the walk went through an array.
fn find<'d>(doc: &'d Document, parts: &[String]) -> (Option<&'d Bson>, bool) {
    let mut through_array = false;
    let Some(mut value) = doc.get(&parts[0]) else { return (None, false) };
    for part in &parts[1..] {
        value = match value {
            Bson::Document(d) => match d.get(part) {
                Some(v) => v,
                None => return (None, through_array),
            },
            Bson::Array(items) => {
                through_array = true;
                match array_index(part).and_then(|i| items.get(i)) {
                    Some(v) => v,
                    None => return (None, true),
                }
            }
            _ => return (None, through_array),
        };
    }
    (Some(value), through_array)
}

/// Whether an existing value strictly above the end of `parts` is an array.
fn prefix_holds_array(doc: &Document, parts: &[String]) -> bool {
    (1..parts.len()).any(|n| matches!(find(doc, &parts[..n]), (Some(Bson::Array(_)), _)))
}

/// Removes the field at `parts`, reached through documents only.
fn remove_path(doc: &mut Document, parts: &[String]) {
    match parts {
        [last] => {
            doc.remove(last);
        }
        [head, rest @ ..] => {
            if let Some(Bson::Document(sub)) = doc.get_mut(head) {
                remove_path(sub, rest);
            }
        }
        [] => {}
    }
}

#[cfg(test)]
mod tests;
