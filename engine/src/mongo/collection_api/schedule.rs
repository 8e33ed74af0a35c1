//! Grouping a batch into collection-level commands. Operations on different `_id`s
//! commute, so a batch needs only as many commands as its `_id`s' histories force: each
//! op joins the first command of its kind that comes no earlier than the command
//! holding the previous op on its `_id`. A 40/40/10/10 mix of 1,000 ops then takes
//! about three commands instead of some 580 runs of one kind in plan order, and every
//! `_id`'s ops still reach the server in plan order.

use std::collections::HashMap;

use crate::plan::{IdKey, Write};

/// The collection-level command that carries a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Insert,
    /// Updates and replaces (and tombstones, which are updates) share one command.
    Update,
    Delete,
}

impl CommandKind {
    pub fn of(write: &Write) -> Self {
        match write {
            Write::Insert(_) => CommandKind::Insert,
            Write::Update { .. } | Write::Replace { .. } => CommandKind::Update,
            Write::Delete { .. } => CommandKind::Delete,
        }
    }

    /// The command's name, which is also its first field.
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Insert => "insert",
            CommandKind::Update => "update",
            CommandKind::Delete => "delete",
        }
    }
}

/// What one command may carry.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Statements per command (the server's `maxWriteBatchSize`).
    pub max_ops: usize,
    /// Bytes of statements per command, array overhead included.
    pub max_bytes: usize,
}

/// MongoDB's limits since 3.6: 100,000 statements, and a command document of at most
/// 16 MiB plus 16 KiB. The statements get 16 MiB less 16 KiB, which leaves the
/// command's other fields (name, ordered, writeConcern, and the driver's lsid,
/// $clusterTime, $db) room within 16 MiB. A single larger statement goes alone: a
/// 16 MiB document still fits within the extra 16 KiB.
pub const SERVER_LIMITS: Limits = Limits { max_ops: 100_000, max_bytes: (16 << 20) - (16 << 10) };

/// An array element's bytes besides its value: type byte, decimal index (at most six
/// digits below 100,000), NUL.
pub const ELEMENT_OVERHEAD: usize = 8;

/// One statement to place: its command kind, encoded size and `_id`.
#[derive(Debug, Clone)]
pub struct Statement {
    pub kind: CommandKind,
    pub size: usize,
    pub id: IdKey,
}

/// One command to send: its kind and the batch positions it carries, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub kind: CommandKind,
    pub ops: Vec<usize>,
    bytes: usize,
}

/// The commands for a batch, in the order they must be sent. Every command carries at
/// least one statement and stays within `limits` (a statement over them goes alone);
/// for every `_id`, its statements come in batch order.
pub fn schedule(statements: &[Statement], limits: Limits) -> Vec<Cut> {
    let mut cuts: Vec<Cut> = Vec::new();
    // The command holding each _id's latest statement: its next one may not go earlier.
    let mut last: HashMap<&IdKey, usize> = HashMap::with_capacity(statements.len());
    for (i, s) in statements.iter().enumerate() {
        let item = s.size + ELEMENT_OVERHEAD;
        let earliest = last.get(&s.id).copied().unwrap_or(0);
        let fits = |c: &Cut| c.kind == s.kind && c.ops.len() < limits.max_ops && c.bytes + item <= limits.max_bytes;
        let at = match cuts.iter().skip(earliest).position(fits) {
            Some(offset) => earliest + offset,
            None => {
                cuts.push(Cut { kind: s.kind, ops: Vec::new(), bytes: 0 });
                cuts.len() - 1
            }
        };
        cuts[at].ops.push(i);
        cuts[at].bytes += item;
        last.insert(&s.id, at);
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::CommandKind::{Delete, Insert, Update};
    use super::*;

    fn st(kind: CommandKind, id: i64, size: usize) -> Statement {
        Statement { kind, size, id: IdKey::Int(id) }
    }

    fn shape(cuts: &[Cut]) -> Vec<(CommandKind, Vec<usize>)> {
        cuts.iter().map(|c| (c.kind, c.ops.clone())).collect()
    }

    #[test]
    fn different_ids_share_one_command_per_kind() {
        // A mixed batch on distinct _ids: one command of each kind, first seen first.
        let statements =
            [st(Insert, 1, 10), st(Update, 2, 10), st(Delete, 3, 10), st(Insert, 4, 10), st(Update, 5, 10)];
        assert_eq!(
            shape(&schedule(&statements, SERVER_LIMITS)),
            vec![(Insert, vec![0, 3]), (Update, vec![1, 4]), (Delete, vec![2])]
        );
        assert!(schedule(&[], SERVER_LIMITS).is_empty());
    }

    #[test]
    fn an_ids_history_keeps_its_order() {
        // _id 1: insert, update, delete, insert, update; _id 2 interleaved.
        let statements = [
            st(Insert, 1, 10),
            st(Update, 1, 10),
            st(Update, 2, 10),
            st(Delete, 1, 10),
            st(Insert, 1, 10),
            st(Insert, 2, 10),
            st(Update, 1, 10),
        ];
        let cuts = schedule(&statements, SERVER_LIMITS);
        assert_eq!(
            shape(&cuts),
            vec![(Insert, vec![0]), (Update, vec![1, 2]), (Delete, vec![3]), (Insert, vec![4, 5]), (Update, vec![6]),]
        );
        assert_orders_kept(&statements, &cuts);
    }

    /// Every statement is sent once, and each _id's statements in batch order.
    fn assert_orders_kept(statements: &[Statement], cuts: &[Cut]) {
        let sent: Vec<usize> = cuts.iter().flat_map(|c| c.ops.iter().copied()).collect();
        let mut all = sent.clone();
        all.sort_unstable();
        assert_eq!(all, (0..statements.len()).collect::<Vec<_>>());
        let mut seen: HashMap<&IdKey, usize> = HashMap::new();
        for &i in &sent {
            if let Some(&before) = seen.get(&statements[i].id) {
                assert!(before < i, "_id {:?}: {i} sent after {before}", statements[i].id);
            }
            seen.insert(&statements[i].id, i);
        }
        for c in cuts {
            assert!(c.ops.iter().all(|&i| statements[i].kind == c.kind));
        }
    }

    #[test]
    fn random_histories_keep_their_order() {
        // A small deterministic generator: 2,000 ops over 50 _ids.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let kinds = [Insert, Update, Delete];
        let statements: Vec<Statement> =
            (0..2000).map(|_| st(kinds[(next() % 3) as usize], (next() % 50) as i64, 10)).collect();
        let small = Limits { max_ops: 7, max_bytes: 1 << 20 };
        assert_orders_kept(&statements, &schedule(&statements, SERVER_LIMITS));
        let cuts = schedule(&statements, small);
        assert_orders_kept(&statements, &cuts);
        assert!(cuts.iter().all(|c| !c.ops.is_empty() && c.ops.len() <= 7));
    }

    #[test]
    fn a_command_holds_at_most_the_statement_count() {
        let statements: Vec<Statement> = (0..250_001).map(|i| st(Update, i, 10)).collect();
        let cuts = schedule(&statements, SERVER_LIMITS);
        let sizes: Vec<usize> = cuts.iter().map(|c| c.ops.len()).collect();
        assert_eq!(sizes, vec![100_000, 100_000, 50_001]);
        assert_eq!(cuts[1].ops[0], 100_000, "in batch order");
    }

    #[test]
    fn a_command_stays_within_the_bytes() {
        // 4 MiB documents: three fit with their overhead, a fourth would not.
        let big = 4 << 20;
        let statements: Vec<Statement> = (0..7).map(|i| st(Insert, i, big)).collect();
        let cuts = schedule(&statements, SERVER_LIMITS);
        assert_eq!(shape(&cuts), vec![(Insert, vec![0, 1, 2]), (Insert, vec![3, 4, 5]), (Insert, vec![6])]);
        // Exactly at the limit still fits; one byte more does not.
        let limits = Limits { max_ops: 100, max_bytes: 3 * (10 + ELEMENT_OVERHEAD) };
        let statements: Vec<Statement> = (0..4).map(|i| st(Update, i, 10)).collect();
        assert_eq!(shape(&schedule(&statements, limits)), vec![(Update, vec![0, 1, 2]), (Update, vec![3])]);
        let statements = [st(Update, 1, 10), st(Update, 2, 10), st(Update, 3, 11)];
        assert_eq!(shape(&schedule(&statements, limits)), vec![(Update, vec![0, 1]), (Update, vec![2])]);
    }

    #[test]
    fn a_statement_over_the_limit_goes_alone() {
        let statements = [st(Insert, 1, 10), st(Insert, 2, 17 << 20), st(Insert, 3, 10)];
        assert_eq!(shape(&schedule(&statements, SERVER_LIMITS)), vec![(Insert, vec![0, 2]), (Insert, vec![1])]);
    }
}
