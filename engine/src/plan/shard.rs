//! Which shard owns an `_id`: a stable hash, fixed by this file, so the same `_id`
//! lands on the same shard on every platform and forge release (`std`'s
//! `DefaultHasher` promises neither).

use bson::Bson;

use super::IdKey;

/// The shard (of `shards`) that materializes and writes every operation on `id`, in
/// plan order. Ids MongoDB considers equal (int 5 and long 5) share a shard.
pub fn shard_of(id: &Bson, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    (key_hash(&IdKey::of(id)) % shards as u64) as usize
}

/// The hash that partitions `_id`s among segments (`crate::segment::Segment::owns`):
/// the shard hash mixed once more, so that within a segment the shards stay even.
pub fn segment_hash(id: &Bson) -> u64 {
    finish(key_hash(&IdKey::of(id)) ^ 0x5345_474d_454e_5453)
}

/// FNV-1a over a tag byte and the key's bytes, then SplitMix64's finaliser so that
/// sequential integer `_id`s spread evenly.
fn key_hash(key: &IdKey) -> u64 {
    let (tag, bytes): (u8, &[u8]) = match key {
        IdKey::ObjectId(b) => (1, b),
        IdKey::Int(n) => return finish(fnv(2, &n.to_le_bytes())),
        IdKey::String(s) => (3, s.as_bytes()),
        IdKey::Other(b) => (4, b),
    };
    finish(fnv(tag, bytes))
}

fn fnv(tag: u8, bytes: &[u8]) -> u64 {
    let start = (0xcbf2_9ce4_8422_2325u64 ^ u64::from(tag)).wrapping_mul(0x0000_0100_0000_01b3);
    bytes.iter().fold(start, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;

    #[test]
    fn shards_are_fixed_by_the_algorithm() {
        // Golden values: a change here moves every _id to another shard, which changes
        // no document but breaks the promise that runs repeat shard for shard.
        let oid = Bson::ObjectId(ObjectId::parse_str("6774e6000102030405000007").unwrap());
        let got: Vec<usize> =
            [oid, Bson::Int32(7), Bson::String("seven".into())].iter().map(|id| shard_of(id, 8)).collect();
        assert_eq!(got, vec![GOLDEN_OID, GOLDEN_INT, GOLDEN_STR]);
        assert_eq!(shard_of(&Bson::Int32(7), 8), shard_of(&Bson::Int64(7), 8));
    }

    const GOLDEN_OID: usize = 6;
    const GOLDEN_INT: usize = 1;
    const GOLDEN_STR: usize = 1;

    #[test]
    fn sequential_ids_spread_evenly() {
        let mut counts = [0u32; 4];
        for i in 0..40_000 {
            counts[shard_of(&Bson::Int64(i), 4)] += 1;
        }
        assert!(counts.iter().all(|&n| (9_000..11_000).contains(&n)), "{counts:?}");
    }
}
