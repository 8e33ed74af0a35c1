//! Where the generator's walk puts values: a `bson::Document` tree, or BSON bytes
//! written straight into a buffer.
//!
//! The walk (draws, presence, lengths, keys) is one piece of code generic over
//! [`Sink`], so the two forms of a document cannot drift apart; only the encoding
//! differs.

use bson::spec::ElementType;
use bson::{Bson, Document, RawDocumentBuf};

/// Why a document cannot be BSON: the same documents `RawDocumentBuf::try_from` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("field name {0:?} contains a NUL byte, which BSON cannot hold")]
    NulInKey(String),
    #[error("a value cannot be encoded as BSON: {0}")]
    Value(String),
}

/// The name a value is stored under: a field name, or a position in an array.
#[derive(Debug, Clone, Copy)]
pub enum Key<'k> {
    Name(&'k str),
    Index(usize),
}

/// What the walk emits, in document order. Every `begin_*` is matched by its `end_*`.
pub trait Sink {
    /// A freshly generated scalar.
    fn scalar(&mut self, key: Key<'_>, value: Bson);
    /// A value held by the schema (enum member, const).
    fn copy(&mut self, key: Key<'_>, value: &Bson);
    fn begin_document(&mut self, key: Key<'_>);
    fn end_document(&mut self);
    fn begin_array(&mut self, key: Key<'_>);
    fn end_array(&mut self);
}

/// Builds `bson` values: a stack of the containers being filled.
#[derive(Debug)]
pub struct TreeSink {
    frames: Vec<Frame>,
}

#[derive(Debug)]
enum Frame {
    /// The value asked for (`Generator::value_of`) or the document itself.
    Slot(Option<Bson>),
    Document(Document, Option<String>),
    Array(Vec<Bson>, Option<String>),
}

impl TreeSink {
    /// A sink whose result is one value.
    pub fn value() -> Self {
        TreeSink { frames: vec![Frame::Slot(None)] }
    }

    /// A sink already inside a document (the top level one).
    pub fn document(doc: Document) -> Self {
        TreeSink { frames: vec![Frame::Slot(None), Frame::Document(doc, None)] }
    }

    pub fn into_value(mut self) -> Bson {
        if self.frames.len() == 2 {
            self.end_document();
        }
        match self.frames.pop() {
            Some(Frame::Slot(Some(v))) => v,
            other => unreachable!("unbalanced walk: {other:?}"),
        }
    }

    pub fn into_document(self) -> Document {
        match self.into_value() {
            Bson::Document(d) => d,
            other => unreachable!("the walk produced {other:?}, not a document"),
        }
    }

    fn put(&mut self, key: Option<String>, value: Bson) {
        match self.frames.last_mut().expect("a frame is open") {
            Frame::Slot(slot) => *slot = Some(value),
            Frame::Document(doc, _) => {
                doc.insert(key.expect("fields have names"), value);
            }
            Frame::Array(items, _) => items.push(value),
        }
    }

    fn owned(&self, key: Key<'_>) -> Option<String> {
        match key {
            Key::Name(name) if matches!(self.frames.last(), Some(Frame::Document(..))) => Some(name.to_owned()),
            _ => None,
        }
    }
}

impl Sink for TreeSink {
    fn scalar(&mut self, key: Key<'_>, value: Bson) {
        let key = self.owned(key);
        self.put(key, value);
    }

    fn copy(&mut self, key: Key<'_>, value: &Bson) {
        let key = self.owned(key);
        self.put(key, value.clone());
    }

    fn begin_document(&mut self, key: Key<'_>) {
        let key = self.owned(key);
        self.frames.push(Frame::Document(Document::new(), key));
    }

    fn end_document(&mut self) {
        match self.frames.pop() {
            Some(Frame::Document(doc, key)) => self.put(key, Bson::Document(doc)),
            other => unreachable!("end_document closes {other:?}"),
        }
    }

    fn begin_array(&mut self, key: Key<'_>) {
        let key = self.owned(key);
        self.frames.push(Frame::Array(Vec::new(), key));
    }

    fn end_array(&mut self) {
        match self.frames.pop() {
            Some(Frame::Array(items, key)) => self.put(key, Bson::Array(items)),
            other => unreachable!("end_array closes {other:?}"),
        }
    }
}

/// Writes BSON bytes into a buffer: each element is its type byte, its key and its
/// value; documents and arrays get their length patched in when they close.
#[derive(Debug)]
pub struct RawSink<'b> {
    out: &'b mut Vec<u8>,
    /// Where each open document's length prefix is.
    open: Vec<usize>,
    error: Option<EncodeError>,
}

impl<'b> RawSink<'b> {
    /// Starts a document at the end of `out`.
    pub fn document(out: &'b mut Vec<u8>) -> Self {
        let mut sink = RawSink { out, open: Vec::with_capacity(8), error: None };
        sink.open_container();
        sink
    }

    /// Closes the top-level document; the first encoding failure, if any.
    pub fn finish(mut self) -> Result<(), EncodeError> {
        self.close_container();
        debug_assert!(self.open.is_empty(), "unbalanced walk");
        self.error.map_or(Ok(()), Err)
    }

    fn open_container(&mut self) {
        self.open.push(self.out.len());
        self.out.extend_from_slice(&[0; 4]);
    }

    fn close_container(&mut self) {
        self.out.push(0);
        let start = self.open.pop().expect("a container is open");
        let len = (self.out.len() - start) as i32;
        self.out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }

    fn fail(&mut self, e: EncodeError) {
        self.error.get_or_insert(e);
    }

    fn key(&mut self, element: ElementType, key: Key<'_>) {
        self.out.push(element as u8);
        match key {
            Key::Name(name) => {
                if name.as_bytes().contains(&0) {
                    self.fail(EncodeError::NulInKey(name.to_owned()));
                }
                self.out.extend_from_slice(name.as_bytes());
            }
            Key::Index(i) => self.out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        }
        self.out.push(0);
    }

    fn string(&mut self, s: &str) {
        self.out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(0);
    }

    fn value(&mut self, key: Key<'_>, value: &Bson) {
        match value {
            Bson::Double(v) => {
                self.key(ElementType::Double, key);
                self.out.extend_from_slice(&v.to_le_bytes());
            }
            Bson::String(s) => {
                self.key(ElementType::String, key);
                self.string(s);
            }
            Bson::Boolean(b) => {
                self.key(ElementType::Boolean, key);
                self.out.push(*b as u8);
            }
            Bson::Null => self.key(ElementType::Null, key),
            Bson::Int32(n) => {
                self.key(ElementType::Int32, key);
                self.out.extend_from_slice(&n.to_le_bytes());
            }
            Bson::Int64(n) => {
                self.key(ElementType::Int64, key);
                self.out.extend_from_slice(&n.to_le_bytes());
            }
            Bson::ObjectId(oid) => {
                self.key(ElementType::ObjectId, key);
                self.out.extend_from_slice(&oid.bytes());
            }
            Bson::DateTime(dt) => {
                self.key(ElementType::DateTime, key);
                self.out.extend_from_slice(&dt.timestamp_millis().to_le_bytes());
            }
            Bson::Decimal128(d) => {
                self.key(ElementType::Decimal128, key);
                self.out.extend_from_slice(&d.bytes());
            }
            Bson::Timestamp(ts) => {
                self.key(ElementType::Timestamp, key);
                self.out.extend_from_slice(&ts.increment.to_le_bytes());
                self.out.extend_from_slice(&ts.time.to_le_bytes());
            }
            Bson::Binary(b) if b.subtype != bson::spec::BinarySubtype::BinaryOld => {
                self.key(ElementType::Binary, key);
                self.out.extend_from_slice(&(b.bytes.len() as i32).to_le_bytes());
                self.out.push(b.subtype.into());
                self.out.extend_from_slice(&b.bytes);
            }
            Bson::Document(d) => {
                self.key(ElementType::EmbeddedDocument, key);
                self.open_container();
                for (k, v) in d {
                    self.value(Key::Name(k), v);
                }
                self.close_container();
            }
            Bson::Array(items) => {
                self.key(ElementType::Array, key);
                self.open_container();
                for (i, v) in items.iter().enumerate() {
                    self.value(Key::Index(i), v);
                }
                self.close_container();
            }
            // Types the generator never makes but a schema's enum or const may hold:
            // let `bson` encode the element, and copy it.
            other => self.foreign(key, other),
        }
    }

    fn foreign(&mut self, key: Key<'_>, value: &Bson) {
        let mut doc = Document::new();
        doc.insert("", value.clone());
        match RawDocumentBuf::try_from(&doc) {
            Ok(raw) => {
                // length (4), type (1), empty key's NUL (1), value, document's NUL (1)
                let bytes = raw.as_bytes();
                let element = ElementType::from(bytes[4]).expect("bson wrote a known type");
                self.key(element, key);
                self.out.extend_from_slice(&bytes[6..bytes.len() - 1]);
            }
            Err(e) => {
                self.key(ElementType::Null, key);
                self.fail(EncodeError::Value(e.to_string()));
            }
        }
    }
}

impl Sink for RawSink<'_> {
    fn scalar(&mut self, key: Key<'_>, value: Bson) {
        self.value(key, &value);
    }

    fn copy(&mut self, key: Key<'_>, value: &Bson) {
        self.value(key, value);
    }

    fn begin_document(&mut self, key: Key<'_>) {
        self.key(ElementType::EmbeddedDocument, key);
        self.open_container();
    }

    fn end_document(&mut self) {
        self.close_container();
    }

    fn begin_array(&mut self, key: Key<'_>) {
        self.key(ElementType::Array, key);
        self.open_container();
    }

    fn end_array(&mut self) {
        self.close_container();
    }
}
