//! Statistics of the values seen at one place of a collection's documents, kept
//! incrementally: memory grows with the variety of the data (distinct lengths, field
//! names, a bounded set of string values), not with the number of documents.

use std::collections::BTreeMap;

use bson::Bson;
use indexmap::IndexMap;

use super::formats::{Format, KeyFormat, shape_of};

/// Strings with at most this many distinct values may become an `enum`.
pub const ENUM_MAX: usize = 20;

/// A distribution of small counts (lengths, key counts), exact.
#[derive(Debug, Default, Clone)]
pub struct Counts(pub BTreeMap<u64, u64>);

impl Counts {
    pub fn add(&mut self, v: u64) {
        *self.0.entry(v).or_default() += 1;
    }

    fn merge(&mut self, other: &Counts) {
        for (k, n) in &other.0 {
            *self.0.entry(*k).or_default() += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Nearest-rank percentile.
    pub fn percentile(&self, q: f64) -> u64 {
        let rank = ((q * self.total() as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (v, n) in &self.0 {
            seen += n;
            if seen >= rank {
                return *v;
            }
        }
        0
    }

    pub fn min(&self) -> u64 {
        self.0.keys().next().copied().unwrap_or(0)
    }

    pub fn max(&self) -> u64 {
        self.0.keys().next_back().copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub count: u64,
    pub min: f64,
    pub max: f64,
}

impl Default for Range {
    fn default() -> Self {
        Range { count: 0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl Range {
    fn add(&mut self, v: f64) {
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn merge(&mut self, o: &Range) {
        self.count += o.count;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

#[derive(Debug, Default, Clone)]
pub struct StringStats {
    pub lengths: Counts,
    /// Distinct values and their counts; `None` once there are too many for an enum.
    pub distinct: Option<BTreeMap<String, u64>>,
    /// How many values matched each of [`Format::ALL`].
    pub formats: [u64; 6],
    /// The shape every value had (see [`shape_of`]): `None` before any value,
    /// `Some(None)` once two differed or one had none.
    pub shape: Option<Option<Vec<u8>>>,
}

impl StringStats {
    fn agree_on_shape(&mut self, shape: Option<Vec<u8>>) {
        self.shape = Some(match self.shape.take() {
            None => shape,
            Some(prev) if prev == shape => prev,
            Some(_) => None,
        });
    }
}

#[derive(Debug, Default, Clone)]
pub struct Field {
    /// Objects (at this place) that had the field.
    pub present: u64,
    pub stats: Stats,
}

#[derive(Debug, Default, Clone)]
pub struct ObjectStats {
    pub fields: IndexMap<String, Field>,
    pub key_counts: Counts,
    /// Common format of every key seen: `None` before any key, `Some(None)` when mixed.
    pub key_format: Option<Option<KeyFormat>>,
    /// Set once the keys are data: all values then merge here.
    pub dynamic: Option<Box<Stats>>,
}

#[derive(Debug, Default, Clone)]
pub struct ArrayStats {
    pub lengths: Counts,
    pub items: Stats,
}

/// Everything seen at one place.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub count: u64,
    pub null: u64,
    pub boolean: u64,
    pub int32: Range,
    pub int64: Range,
    pub double: Range,
    pub decimal: Range,
    /// Most digits after the decimal point seen in a Decimal128.
    pub decimal_scale: u32,
    pub string: Option<Box<StringStats>>,
    pub object_id: u64,
    /// Milliseconds.
    pub date: Range,
    /// Seconds.
    pub timestamp: Range,
    pub uuid: u64,
    pub binary: Range,
    pub object: Option<Box<ObjectStats>>,
    pub array: Option<Box<ArrayStats>>,
    pub other: u64,
}

impl Stats {
    pub fn observe(&mut self, v: &Bson, dynamic_threshold: usize) {
        self.count += 1;
        match v {
            Bson::Null => self.null += 1,
            Bson::Boolean(_) => self.boolean += 1,
            Bson::Int32(n) => self.int32.add(*n as f64),
            Bson::Int64(n) => self.int64.add(*n as f64),
            Bson::Double(n) => self.double.add(*n),
            Bson::Decimal128(d) => {
                let text = d.to_string();
                if let Ok(n) = text.parse::<f64>() {
                    self.decimal.add(n);
                }
                let scale = text.split_once('.').map_or(0, |(_, frac)| frac.len() as u32);
                self.decimal_scale = self.decimal_scale.max(scale);
            }
            Bson::String(s) => {
                let st = self.string.get_or_insert_with(|| {
                    Box::new(StringStats { distinct: Some(BTreeMap::new()), ..Default::default() })
                });
                st.lengths.add(s.chars().count() as u64);
                if let Some(d) = &mut st.distinct {
                    if d.len() < ENUM_MAX || d.contains_key(s) {
                        *d.entry(s.clone()).or_default() += 1;
                    } else {
                        st.distinct = None;
                    }
                }
                for (i, f) in Format::ALL.iter().enumerate() {
                    if f.matches(s) {
                        st.formats[i] += 1;
                    }
                }
                if st.shape != Some(None) {
                    st.agree_on_shape(shape_of(s));
                }
            }
            Bson::ObjectId(_) => self.object_id += 1,
            Bson::DateTime(d) => self.date.add(d.timestamp_millis() as f64),
            Bson::Timestamp(t) => self.timestamp.add(t.time as f64),
            Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => self.uuid += 1,
            Bson::Binary(b) => self.binary.add(b.bytes.len() as f64),
            Bson::Document(doc) => self.observe_object(doc, dynamic_threshold),
            Bson::Array(items) => {
                let arr = self.array.get_or_insert_with(Default::default);
                arr.lengths.add(items.len() as u64);
                for item in items {
                    arr.items.observe(item, dynamic_threshold);
                }
            }
            _ => self.other += 1,
        }
    }

    /// Observes an object's fields (without counting it as a value: see `observe`).
    pub fn observe_object(&mut self, doc: &bson::Document, dynamic_threshold: usize) {
        let obj = self.object.get_or_insert_with(Default::default);
        obj.key_counts.add(doc.len() as u64);
        for (k, value) in doc {
            let f = KeyFormat::of(k);
            obj.key_format = Some(match obj.key_format {
                None => f,
                Some(prev) if prev == f => f,
                Some(_) => None,
            });
            if let Some(dynamic) = &mut obj.dynamic {
                dynamic.observe(value, dynamic_threshold);
                continue;
            }
            if !obj.fields.contains_key(k.as_str()) {
                obj.fields.insert(k.clone(), Field::default());
            }
            let field = obj.fields.get_mut(k.as_str()).expect("just ensured");
            field.present += 1;
            field.stats.observe(value, dynamic_threshold);
        }
        if obj.dynamic.is_none() && obj.fields.len() > dynamic_threshold {
            obj.make_dynamic();
        }
    }

    pub fn merge(&mut self, o: &Stats) {
        self.count += o.count;
        self.null += o.null;
        self.boolean += o.boolean;
        self.int32.merge(&o.int32);
        self.int64.merge(&o.int64);
        self.double.merge(&o.double);
        self.decimal.merge(&o.decimal);
        self.decimal_scale = self.decimal_scale.max(o.decimal_scale);
        if let Some(os) = &o.string {
            let st = self
                .string
                .get_or_insert_with(|| Box::new(StringStats { distinct: Some(BTreeMap::new()), ..Default::default() }));
            st.lengths.merge(&os.lengths);
            st.distinct = match (st.distinct.take(), &os.distinct) {
                (Some(mut a), Some(b)) => {
                    for (k, n) in b {
                        *a.entry(k.clone()).or_default() += n;
                    }
                    (a.len() <= ENUM_MAX).then_some(a)
                }
                _ => None,
            };
            for i in 0..st.formats.len() {
                st.formats[i] += os.formats[i];
            }
            if let Some(shape) = &os.shape {
                st.agree_on_shape(shape.clone());
            }
        }
        self.object_id += o.object_id;
        self.date.merge(&o.date);
        self.timestamp.merge(&o.timestamp);
        self.uuid += o.uuid;
        self.binary.merge(&o.binary);
        if let Some(oo) = &o.object {
            let obj = self.object.get_or_insert_with(Default::default);
            obj.key_counts.merge(&oo.key_counts);
            obj.key_format = match (obj.key_format, oo.key_format) {
                (None, f) | (f, None) => f,
                (Some(a), Some(b)) if a == b => Some(a),
                _ => Some(None),
            };
            for (k, f) in &oo.fields {
                let mine = obj.fields.entry(k.clone()).or_default();
                mine.present += f.present;
                mine.stats.merge(&f.stats);
            }
            if let Some(d) = &oo.dynamic {
                obj.make_dynamic();
                obj.dynamic.as_mut().expect("just made").merge(d);
            } else if obj.dynamic.is_some() {
                obj.make_dynamic();
            }
        }
        if let Some(oa) = &o.array {
            let arr = self.array.get_or_insert_with(Default::default);
            arr.lengths.merge(&oa.lengths);
            arr.items.merge(&oa.items);
        }
        self.other += o.other;
    }
}

impl ObjectStats {
    /// Folds every named field into one value distribution: the keys are data.
    pub fn make_dynamic(&mut self) {
        let dynamic = self.dynamic.get_or_insert_with(Default::default);
        for (_, f) in self.fields.drain(..) {
            dynamic.merge(&f.stats);
        }
    }

    /// Keys that are all UUIDs, ObjectIds, numbers or dates read as data.
    pub fn keys_look_like_data(&self) -> bool {
        matches!(self.key_format, Some(Some(_))) && self.fields.len() >= 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn counts_percentiles_are_nearest_rank() {
        let mut c = Counts::default();
        (1..=100).for_each(|v| c.add(v));
        assert_eq!((c.percentile(0.5), c.percentile(0.9), c.percentile(0.99)), (50, 90, 99));
    }

    #[test]
    fn many_distinct_keys_turn_dynamic_and_keep_the_values() {
        let mut s = Stats::default();
        for i in 0..10 {
            let mut map = bson::Document::new();
            for j in 0..8 {
                map.insert(format!("k{}", i * 8 + j), j);
            }
            s.observe(&Bson::Document(doc! { "m": map }), 50);
        }
        let m = &s.object.as_ref().unwrap().fields["m"].stats;
        let obj = m.object.as_ref().unwrap();
        assert!(obj.dynamic.is_some() && obj.fields.is_empty());
        assert_eq!(obj.dynamic.as_ref().unwrap().int32.count, 80);
        assert_eq!(obj.key_counts.percentile(0.5), 8);
    }
}
