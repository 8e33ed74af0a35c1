//! Termination analysis: which nodes are shown to expand finitely, and in which
//! round. The generator's minimal mode follows strictly decreasing ranks, so a
//! recursive schema always ends; what can never end is refused or pruned here.

use crate::schema::model::{LengthDist, Node, NodeId};

/// For each node, the round in which it was shown to expand finitely (`u32::MAX`:
/// never). A least fixpoint: scalars first, then containers whose required parts are
/// already known finite.
pub fn ranks(nodes: &[Node]) -> Vec<u32> {
    let mut rank = vec![u32::MAX; nodes.len()];
    for round in 0.. {
        let finite = |n: NodeId, rank: &[u32]| rank[n] < round;
        let mut changed = false;
        for (i, node) in nodes.iter().enumerate() {
            if rank[i] != u32::MAX {
                continue;
            }
            let done = match node {
                Node::Pending => false,
                Node::Scalar(_) | Node::Enum(_) | Node::WeightedEnum(_) | Node::Const(_) => true,
                Node::Object(o) => {
                    o.fields.iter().all(|f| f.presence < 1.0 || finite(f.node, &rank))
                        && o.dynamic.as_ref().is_none_or(|d| d.count.min() == 0 || finite(d.value, &rank))
                }
                Node::Array(a) => (0..a.len.min() as usize)
                    .all(|i| a.prefix.get(i).copied().or(a.rest).is_some_and(|n| finite(n, &rank))),
                Node::Choice(c) => c.iter().any(|(w, n)| *w > 0.0 && finite(*n, &rank)),
            };
            if done {
                rank[i] = round;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rank
}

/// Drops what can never be generated (an optional field, union branch or extra array
/// item that only recurses), so that generation only enters nodes that end.
pub fn prune_endless(nodes: &mut [Node], rank: &[u32], warnings: &mut Vec<String>) {
    let endless = |n: NodeId| rank[n] == u32::MAX;
    for node in nodes.iter_mut() {
        match node {
            Node::Object(o) => {
                let before = o.fields.len();
                o.fields.retain(|f| !endless(f.node));
                if o.fields.len() < before {
                    warnings.push(format!(
                        "{} optional field(s) recurse without end and are never generated",
                        before - o.fields.len()
                    ));
                }
                if let Some(d) = &mut o.dynamic
                    && endless(d.value)
                {
                    d.count = LengthDist::Uniform { min: 0, max: 0 };
                }
            }
            Node::Array(a) => {
                // Positions past the prefix all take `rest`, so checking one of them is enough.
                let usable = (0..=a.prefix.len()).find(|&i| a.prefix.get(i).copied().or(a.rest).is_none_or(endless));
                if let Some(cap) = usable
                    && (cap as u32) < a.len.max()
                {
                    let min = a.len.min().min(cap as u32);
                    a.len = LengthDist::Uniform { min, max: cap as u32 };
                }
            }
            Node::Choice(c) => c.retain(|(_, n)| !endless(*n)),
            _ => {}
        }
    }
}
