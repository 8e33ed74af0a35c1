//! Building update documents.

use bson::{Bson, Document};

/// An update document built field by field:
/// `Update::new().set("status", "shipped").inc("version", 1).build()`.
#[derive(Debug, Clone, Default)]
pub struct Update {
    set: Document,
    inc: Document,
    unset: Document,
    current_date: Document,
}

impl Update {
    pub fn new() -> Self {
        Update::default()
    }

    /// `$set` `path` (dotted) to `value`.
    pub fn set(mut self, path: impl Into<String>, value: impl Into<Bson>) -> Self {
        self.set.insert(path.into(), value.into());
        self
    }

    /// `$inc` `path` by `by` (an int, long, double or Decimal128).
    pub fn inc(mut self, path: impl Into<String>, by: impl Into<Bson>) -> Self {
        self.inc.insert(path.into(), by.into());
        self
    }

    /// `$unset` `path`.
    pub fn unset(mut self, path: impl Into<String>) -> Self {
        self.unset.insert(path.into(), "");
        self
    }

    /// `$currentDate` `path`: the server's time, at write time.
    pub fn current_date(mut self, path: impl Into<String>) -> Self {
        self.current_date.insert(path.into(), true);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.inc.is_empty() && self.unset.is_empty() && self.current_date.is_empty()
    }

    pub fn build(self) -> Document {
        let mut update = Document::new();
        for (op, fields) in
            [("$set", self.set), ("$inc", self.inc), ("$unset", self.unset), ("$currentDate", self.current_date)]
        {
            if !fields.is_empty() {
                update.insert(op, fields);
            }
        }
        update
    }
}
