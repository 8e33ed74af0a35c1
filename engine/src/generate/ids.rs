//! `_id` values: unique within a run and reproducible from (seed, document index).

use bson::oid::ObjectId;
use bson::{Binary, Bson};
use rand::RngCore;

use crate::schema::model::IdGen;
use crate::seed::{self, Rng, Stream};

/// 2025-01-01T00:00:00Z: the creation time of document 0's ObjectId. Later documents
/// are a thousand per second after it, which reads like a real insert history.
const ID_EPOCH_SECS: u32 = 1_735_689_600;

/// Makes `_id`s. ObjectIds are (time from the index, a per-seed "machine" part, the
/// index as counter), so two runs with different seeds can share a collection.
#[derive(Debug, Clone)]
pub struct IdMaker {
    machine: [u8; 5],
}

impl IdMaker {
    pub fn new(seed: u64) -> Self {
        let mut machine = [0u8; 5];
        seed::rng(seed, Stream::IdMachine, 0).fill_bytes(&mut machine);
        IdMaker { machine }
    }

    pub fn object_id(&self, index: u64) -> ObjectId {
        let mut bytes = [0u8; 12];
        let secs = ID_EPOCH_SECS.wrapping_add((index / 1000) as u32);
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes[4..9].copy_from_slice(&self.machine);
        bytes[9..].copy_from_slice(&(index as u32).to_be_bytes()[1..]);
        ObjectId::from_bytes(bytes)
    }

    pub fn make(&self, how: &IdGen, index: u64, rng: &mut Rng) -> Bson {
        match how {
            IdGen::ObjectId => Bson::ObjectId(self.object_id(index)),
            IdGen::HexString => Bson::String(self.object_id(index).to_hex()),
            IdGen::Int32 { offset } => match i32::try_from(index as i64 + *offset as i64) {
                Ok(n) => Bson::Int32(n),
                Err(_) => Bson::Int64(index as i64 + *offset as i64),
            },
            IdGen::Int64 { offset } => Bson::Int64(offset.wrapping_add(index as i64)),
            IdGen::UuidString => Bson::String(super::scalars::uuid(rng).to_string()),
            IdGen::UuidBinary => Bson::Binary(Binary::from_uuid(super::scalars::uuid(rng))),
            IdGen::Mixed(alternatives) => {
                self.make(&alternatives[(index % alternatives.len() as u64) as usize], index, rng)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn object_ids_are_unique_and_seed_specific() {
        let a = IdMaker::new(1);
        let ids: HashSet<_> = (0..50_000).map(|i| a.object_id(i)).collect();
        assert_eq!(ids.len(), 50_000);
        assert_ne!(a.object_id(0), IdMaker::new(2).object_id(0));
        assert_eq!(a.object_id(0).timestamp().timestamp_millis(), ID_EPOCH_SECS as i64 * 1000);
    }

    #[test]
    fn mixed_integer_ids_never_meet_even_past_the_int_range() {
        let how =
            IdGen::mixed(vec![IdGen::Int32 { offset: 0 }, IdGen::Int64 { offset: 5_000_000_000 }, IdGen::ObjectId]);
        let maker = IdMaker::new(3);
        let mut rng = seed::rng(3, Stream::Document, 0);
        let ids: Vec<Bson> = (0..3000).map(|i| maker.make(&how, i, &mut rng)).collect();
        assert_eq!(
            ids[..3],
            [Bson::Int64(5_000_000_000), Bson::Int64(5_000_000_001), Bson::ObjectId(maker.object_id(2))]
        );
        let keys: HashSet<_> = ids.iter().map(crate::plan::IdKey::of).collect();
        assert_eq!(keys.len(), 3000);
    }
}
