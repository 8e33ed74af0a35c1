//! The BSON messages of the core-module and native ABI (ABI.md). The host uses the
//! same functions, so both sides agree by construction.

use bson::{Bson, Document, doc};

use bson::spec::ElementType;

use crate::{
    BsonType, Config, Context, DeleteAction, DeleteShape, Error, ErrorKind, Field, Info, Kind, Mutation, Target,
};

/// A message the other side sent that does not follow the contract.
pub type Malformed = String;

fn to_vec(d: &Document) -> Vec<u8> {
    d.to_vec().expect("documents built here always serialise")
}

fn parse(bytes: &[u8]) -> Result<Document, Malformed> {
    // Validates lengths and nesting before anything trusts them.
    let raw = bson::RawDocument::from_bytes(bytes).map_err(|e| format!("not a BSON document: {e}"))?;
    raw.try_into().map_err(|e: bson::error::Error| format!("not a BSON document: {e}"))
}

/// The contract version as `forge_abi_version` returns it: major·10000 + minor·100 + patch.
pub fn abi_version_number(version: &str) -> Option<i32> {
    let mut parts = version.split('.').map(|p| p.parse::<i32>().ok());
    let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
    Some(major * 10_000 + minor * 100 + patch)
}

pub fn abi_version_string(n: i32) -> String {
    format!("{}.{}.{}", n / 10_000, n / 100 % 100, n % 100)
}

pub fn encode_info(info: &Info) -> Vec<u8> {
    let mut d = doc! {
        "name": &info.name, "kind": info.kind.name(), "version": &info.version,
        "contract": &info.contract_version,
    };
    if let Some(shape) = &info.deletes {
        d.insert("deletes", encode_shape(shape));
    }
    to_vec(&d)
}

/// `"remove"`, `"keep"` or `{tombstone: {flag, deletedAt}}` (ABI.md).
pub fn encode_shape(shape: &DeleteShape) -> Bson {
    match shape {
        DeleteShape::Remove => Bson::String("remove".into()),
        DeleteShape::Keep => Bson::String("keep".into()),
        DeleteShape::Tombstone { flag, deleted_at } => {
            let mut t = doc! { "flag": flag.as_ref() };
            if let Some(at) = deleted_at {
                t.insert("deletedAt", at.as_ref());
            }
            Bson::Document(doc! { "tombstone": t })
        }
    }
}

pub fn decode_shape(b: &Bson) -> Result<DeleteShape, Malformed> {
    let bad = || "info 'deletes' is neither \"remove\", \"keep\" nor {tombstone: {flag, deletedAt}}".to_owned();
    match b {
        Bson::String(s) if s == "remove" => Ok(DeleteShape::Remove),
        Bson::String(s) if s == "keep" => Ok(DeleteShape::Keep),
        Bson::Document(d) if d.len() == 1 => {
            let t = d.get_document("tombstone").map_err(|_| bad())?;
            let flag = t.get_str("flag").map_err(|_| bad())?.to_owned();
            let deleted_at = match t.get("deletedAt") {
                None | Some(Bson::Null) => None,
                Some(Bson::String(s)) => Some(s.clone().into()),
                Some(_) => return Err(bad()),
            };
            Ok(DeleteShape::Tombstone { flag: flag.into(), deleted_at })
        }
        _ => Err(bad()),
    }
}

pub fn decode_info(bytes: &[u8]) -> Result<Info, Malformed> {
    let d = parse(bytes)?;
    let s = |k: &str| d.get_str(k).map(str::to_owned).map_err(|_| format!("info has no string '{k}'"));
    let kind = match d.get_str("kind") {
        Ok("mutator") => Kind::Mutator,
        Ok("delete-behavior") => Kind::DeleteBehavior,
        _ => return Err("info 'kind' is neither \"mutator\" nor \"delete-behavior\"".into()),
    };
    let deletes = match d.get("deletes") {
        None | Some(Bson::Null) => None,
        Some(shape) => Some(decode_shape(shape)?),
    };
    Ok(Info { name: s("name")?, kind, version: s("version")?, contract_version: s("contract")?, deletes })
}

pub fn encode_init(config: &Config, schema: &str) -> Vec<u8> {
    let config: Document = config.0.iter().map(|(k, v)| (k.clone(), Bson::String(v.clone()))).collect();
    to_vec(&doc! { "config": config, "schema": schema })
}

pub fn decode_init(bytes: &[u8]) -> Result<(Config, String), Error> {
    let d = parse(bytes).map_err(Error::internal)?;
    let mut config = Config::default();
    if let Ok(c) = d.get_document("config") {
        for (k, v) in c {
            let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
            config.0.insert(k.clone(), v);
        }
    }
    Ok((config, d.get_str("schema").unwrap_or_default().to_owned()))
}

/// A call's request. `current` is the target document's BSON, spliced in as it is:
/// the document is never decoded on this path, only copied.
pub fn encode_call(ctx: &Context, id: &Bson, current: Option<&[u8]>) -> Vec<u8> {
    let d = doc! {
        "ctx": {
            "seed": ctx.run_seed as i64, "op": ctx.op_index as i64, "shard": ctx.shard as i32,
            "collection": &ctx.collection,
        },
        "id": id.clone(),
    };
    let mut bytes = to_vec(&d);
    if let Some(current) = current {
        bytes.pop(); // the terminating 0
        bytes.push(0x03);
        bytes.extend_from_slice(b"doc\0");
        bytes.extend_from_slice(current);
        bytes.push(0);
        let len = bytes.len() as i32;
        bytes[..4].copy_from_slice(&len.to_le_bytes());
    }
    bytes
}

pub fn decode_call(bytes: &[u8]) -> Result<(Context, Target), Error> {
    let bad = |e: bson::error::Error| Error::internal(format!("malformed request: {e}"));
    let d = bson::RawDocument::from_bytes(bytes).map_err(bad)?;
    let c = d.get_document("ctx").map_err(bad)?;
    let int = |k: &str| match c.get(k) {
        Ok(Some(bson::RawBsonRef::Int64(v))) => v,
        Ok(Some(bson::RawBsonRef::Int32(v))) => v as i64,
        _ => 0,
    };
    let ctx = Context {
        run_seed: int("seed") as u64,
        op_index: int("op") as u64,
        shard: int("shard") as u32,
        collection: c.get_str("collection").unwrap_or_default().to_owned(),
    };
    let id = match d.get("id").map_err(bad)? {
        Some(raw) => Bson::try_from(raw).map_err(bad)?,
        None => Bson::Null,
    };
    let current = match d.get("doc").map_err(bad)? {
        Some(bson::RawBsonRef::Document(doc)) => Some(doc.to_owned()),
        _ => None,
    };
    Ok((ctx, Target { id, current }))
}

fn encode_result(r: Result<Bson, &Error>) -> Vec<u8> {
    to_vec(&match r {
        Ok(ok) => doc! { "ok": ok },
        Err(e) => doc! { "err": { "kind": e.kind.name(), "msg": &e.message } },
    })
}

/// `{ok: x}` → `Ok(Ok(x))`, `{err: {kind, msg}}` → `Ok(Err(..))`, anything else → `Err`.
fn decode_result(bytes: &[u8]) -> Result<Result<Bson, Error>, Malformed> {
    let mut d = parse(bytes)?;
    if let Some(ok) = d.remove("ok") {
        return Ok(Ok(ok));
    }
    match d.get_document("err") {
        Ok(e) => Ok(Err(Error {
            kind: ErrorKind::parse(e.get_str("kind").unwrap_or("internal")),
            message: e.get_str("msg").unwrap_or("(no message)").to_owned(),
        })),
        Err(_) => Err("the response has neither 'ok' nor 'err'".into()),
    }
}

pub fn encode_unit_result(r: Result<(), Error>) -> Vec<u8> {
    encode_result(r.as_ref().map(|_| Bson::Null))
}

pub fn decode_unit_result(bytes: &[u8]) -> Result<Result<(), Error>, Malformed> {
    Ok(decode_result(bytes)?.map(|_| ()))
}

pub fn encode_mutation_result(r: Result<Mutation, Error>) -> Vec<u8> {
    encode_result(r.as_ref().map(|m| {
        Bson::Document(match m {
            Mutation::Update(u) => doc! { "update": u.clone() },
            Mutation::Replace(r) => doc! { "replace": r.clone() },
            Mutation::Skip => doc! { "skip": true },
        })
    }))
}

pub fn decode_mutation_result(bytes: &[u8]) -> Result<Result<Mutation, Error>, Malformed> {
    let ok = match decode_result(bytes)? {
        Ok(Bson::Document(ok)) => ok,
        Ok(other) => return Err(format!("'ok' must be a document, not {:?}", other.element_type())),
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(match (ok.get("update"), ok.get("replace"), ok.get("skip")) {
        (Some(Bson::Document(u)), None, None) => Mutation::Update(u.clone()),
        (None, Some(Bson::Document(r)), None) => Mutation::Replace(r.clone()),
        (None, None, Some(_)) => Mutation::Skip,
        _ => return Err("'ok' must hold exactly one of update (document), replace (document), skip".into()),
    }))
}

pub fn encode_delete_result(r: Result<DeleteAction, Error>) -> Vec<u8> {
    encode_result(r.as_ref().map(|a| {
        Bson::Document(match a {
            DeleteAction::Remove => doc! { "remove": true },
            DeleteAction::Keep => doc! { "keep": true },
            DeleteAction::Tombstone(u) => doc! { "tombstone": u.clone() },
        })
    }))
}

pub fn decode_delete_result(bytes: &[u8]) -> Result<Result<DeleteAction, Error>, Malformed> {
    let ok = match decode_result(bytes)? {
        Ok(Bson::Document(ok)) => ok,
        Ok(other) => return Err(format!("'ok' must be a document, not {:?}", other.element_type())),
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(match (ok.get("remove"), ok.get("keep"), ok.get("tombstone")) {
        (Some(_), None, None) => DeleteAction::Remove,
        (None, Some(_), None) => DeleteAction::Keep,
        (None, None, Some(Bson::Document(u))) => DeleteAction::Tombstone(u.clone()),
        _ => return Err("'ok' must hold exactly one of remove, keep, tombstone (document)".into()),
    }))
}

pub fn encode_fields(fields: &[Field]) -> Vec<u8> {
    let list: Vec<Bson> = fields
        .iter()
        .map(|f| Bson::Document(doc! { "path": &f.path, "type": f.kind.name(), "optional": f.optional }))
        .collect();
    to_vec(&doc! { "fields": list })
}

pub fn decode_fields(bytes: &[u8]) -> Vec<Field> {
    let Ok(d) = parse(bytes) else { return Vec::new() };
    let Ok(list) = d.get_array("fields") else { return Vec::new() };
    list.iter()
        .filter_map(Bson::as_document)
        .map(|f| Field {
            path: f.get_str("path").unwrap_or_default().to_owned(),
            kind: f.get_str("type").ok().and_then(BsonType::parse).unwrap_or(BsonType::Mixed),
            optional: f.get_bool("optional").unwrap_or(false),
        })
        .collect()
}

/// A value on its own: its contract type and its bytes as BSON encodes them after an
/// element's name. An error names a type the contract does not carry.
pub fn value_parts(v: &Bson) -> Result<(BsonType, Vec<u8>), String> {
    let kind = BsonType::of_element(v.element_type())
        .ok_or_else(|| format!("a {:?} value cannot cross the plugin contract", v.element_type()))?;
    // {"": v} is: length (4), type (1), empty name (1), the value, the final 0.
    let bytes = to_vec(&doc! { "": v.clone() });
    Ok((kind, bytes[6..bytes.len() - 1].to_vec()))
}

/// The value of `kind` encoded as `bytes`, checked the way documents are (the bytes
/// come from the other side).
pub fn value_from_parts(kind: BsonType, bytes: &[u8]) -> Result<Bson, String> {
    let t = kind.element_type().ok_or("a value cannot be of type mixed")?;
    value_of_element(t as u8, bytes)
}

fn value_of_element(t: u8, bytes: &[u8]) -> Result<Bson, String> {
    let mut d = Vec::with_capacity(bytes.len() + 7);
    d.extend_from_slice(&((bytes.len() + 7) as i32).to_le_bytes());
    d.push(t);
    d.push(0);
    d.extend_from_slice(bytes);
    d.push(0);
    let bad = |e: bson::error::Error| format!("malformed value: {e}");
    let raw = bson::RawDocument::from_bytes(&d).map_err(bad)?;
    let (_, v) = raw.iter().next().ok_or("malformed value: no element")?.map_err(bad)?;
    Bson::try_from(v).map_err(bad)
}

/// `generate_field`'s answer in the core-module ABI: the element type byte, then the
/// value's bytes; or `0x00`, then the UTF-8 message.
pub fn encode_value(r: Result<Bson, String>) -> Vec<u8> {
    match r.and_then(|v| value_parts(&v)) {
        Ok((kind, bytes)) => {
            let t = kind.element_type().expect("values are never mixed") as u8;
            let mut out = Vec::with_capacity(bytes.len() + 1);
            out.push(t);
            out.extend_from_slice(&bytes);
            out
        }
        Err(e) => {
            let mut out = vec![0u8];
            out.extend_from_slice(e.as_bytes());
            out
        }
    }
}

pub fn decode_value(bytes: &[u8]) -> Result<Bson, String> {
    match bytes.split_first() {
        None => Err("empty answer".into()),
        Some((0, message)) => Err(String::from_utf8_lossy(message).into_owned()),
        Some((&t, value)) => {
            let kind = ElementType::from(t).and_then(BsonType::of_element);
            if kind.is_none() {
                return Err(format!("malformed value: unknown type byte {t:#04x}"));
            }
            value_of_element(t, value)
        }
    }
}

pub fn decode_document(bytes: &[u8]) -> Document {
    parse(bytes).unwrap_or_default()
}

pub fn encode_document(d: &Document) -> Vec<u8> {
    to_vec(d)
}

#[cfg(test)]
mod tests {
    use bson::oid::ObjectId;
    use bson::{Binary, DateTime, Decimal128, Regex, Timestamp, spec::BinarySubtype};

    use super::*;

    fn values() -> Vec<Bson> {
        vec![
            Bson::Double(1.5),
            Bson::String("héllo".into()),
            Bson::Document(doc! { "a": 1, "b": { "c": [1, "x"] } }),
            Bson::Array(vec![Bson::Int32(1), Bson::Null]),
            Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] }),
            Bson::ObjectId(ObjectId::from_bytes([1; 12])),
            Bson::Boolean(true),
            Bson::DateTime(DateTime::from_millis(1_700_000_000_123)),
            Bson::Null,
            Bson::RegularExpression(Regex { pattern: "^a.*".try_into().unwrap(), options: "i".try_into().unwrap() }),
            Bson::Int32(-7),
            Bson::Timestamp(Timestamp { time: 5, increment: 9 }),
            Bson::Int64(1 << 40),
            Bson::Decimal128("12.34".parse::<Decimal128>().unwrap()),
        ]
    }

    #[test]
    fn every_value_crosses_as_its_type_and_bytes() {
        for v in values() {
            let (kind, bytes) = value_parts(&v).unwrap();
            assert_eq!(kind.element_type(), Some(v.element_type()), "{v:?}");
            assert_eq!(value_from_parts(kind, &bytes).unwrap(), v);
            let abi = encode_value(Ok(v.clone()));
            assert_eq!(abi[0], v.element_type() as u8);
            assert_eq!(&abi[1..], &bytes[..]);
            assert_eq!(decode_value(&abi).unwrap(), v);
        }
        // An int32 is its four little-endian bytes, nothing else.
        assert_eq!(encode_value(Ok(Bson::Int32(258))), vec![0x10, 2, 1, 0, 0]);
    }

    #[test]
    fn value_errors_and_damaged_values() {
        assert_eq!(encode_value(Err("no field 'x'".into())), b"\0no field 'x'".to_vec());
        assert_eq!(decode_value(b"\0no field 'x'"), Err("no field 'x'".into()));
        assert!(decode_value(&[]).is_err());
        assert!(decode_value(&[0x10, 1, 2]).is_err(), "a short int32");
        assert!(decode_value(&[0x02, 0xff, 0xff, 0xff, 0x7f, b'a', 0]).is_err(), "a string longer than its bytes");
        assert!(decode_value(&[0x0d, 1, 0, 0, 0, 0]).unwrap_err().contains("unknown type byte"), "javascript");
        assert!(value_from_parts(BsonType::Mixed, &[]).is_err());
        assert!(value_parts(&Bson::MaxKey).is_err());
    }

    #[test]
    fn type_names_are_the_wit_enum() {
        for t in BsonType::ALL {
            assert_eq!(BsonType::parse(t.name()), Some(t));
        }
        assert_eq!(BsonType::Int32.name(), "int32");
        assert_eq!(BsonType::ObjectId.name(), "object-id");
        assert_eq!(BsonType::DateTime.name(), "date-time");
        assert!(BsonType::Decimal128.is_numeric() && !BsonType::String.is_numeric());
        let fields = vec![Field { path: "a.b".into(), kind: BsonType::Decimal128, optional: true }];
        let bytes = encode_fields(&fields);
        assert_eq!(
            parse(&bytes).unwrap(),
            doc! { "fields": [{ "path": "a.b", "type": "decimal128", "optional": true }] }
        );
        assert_eq!(decode_fields(&bytes), fields);
    }

    #[test]
    fn info_carries_the_delete_shape() {
        for shape in [
            DeleteShape::Remove,
            DeleteShape::Keep,
            DeleteShape::tombstone("_deleted", Some("_deletedAt")),
            DeleteShape::tombstone("gone", None),
        ] {
            let info = Info::new("d", Kind::DeleteBehavior, "1").with_deletes(shape);
            assert_eq!(decode_info(&encode_info(&info)).unwrap(), info);
        }
        let bytes = encode_info(
            &Info::new("d", Kind::DeleteBehavior, "1").with_deletes(DeleteShape::tombstone("f", Some("t"))),
        );
        let d = parse(&bytes).unwrap();
        assert_eq!(d.get("deletes"), Some(&Bson::Document(doc! { "tombstone": { "flag": "f", "deletedAt": "t" } })));
        assert_eq!(d.get_str("contract").unwrap(), "0.2.0");
        let mutator = Info::new("m", Kind::Mutator, "1");
        assert!(!parse(&encode_info(&mutator)).unwrap().contains_key("deletes"));
        let bad =
            doc! { "name": "d", "kind": "delete-behavior", "version": "1", "contract": "0.2.0", "deletes": "erase" };
        assert!(decode_info(&bad.to_vec().unwrap()).unwrap_err().contains("deletes"));
    }

    #[test]
    fn answers_are_checked_against_the_shape() {
        let tomb = DeleteShape::tombstone("_deleted", Some("_deletedAt"));
        let good = doc! { "$set": { "_deleted": true }, "$currentDate": { "_deletedAt": true } };
        assert_eq!(tomb.check(&DeleteAction::Tombstone(good)), Ok(()));
        let no_time = doc! { "$set": { "_deleted": true } };
        assert!(tomb.check(&DeleteAction::Tombstone(no_time.clone())).unwrap_err().contains("_deletedAt"));
        assert_eq!(DeleteShape::tombstone("_deleted", None).check(&DeleteAction::Tombstone(no_time)), Ok(()));
        let not_true = doc! { "$set": { "_deleted": 1 }, "$currentDate": { "_deletedAt": true } };
        assert!(tomb.check(&DeleteAction::Tombstone(not_true)).unwrap_err().contains("'_deleted' to true"));
        assert!(tomb.check(&DeleteAction::Remove).unwrap_err().contains("answered remove"));
        assert_eq!(DeleteShape::Keep.check(&DeleteAction::Keep), Ok(()));
        assert!(
            DeleteShape::Remove.check(&DeleteAction::Keep).unwrap_err().contains("declared delete shape is remove")
        );
        assert!(DeleteShape::tombstone("$x", None).validate().is_err());
        assert!(DeleteShape::tombstone("a", Some("a")).validate().is_err());
        assert!(DeleteShape::tombstone("a", Some("b")).validate().is_ok());
    }

    #[test]
    fn a_call_carries_the_shard_and_the_current_document() {
        let ctx = Context { run_seed: 9, op_index: 4, shard: 3, collection: "c".into() };
        let current = bson::RawDocumentBuf::try_from(&doc! { "_id": 1, "price": 2.5 }).unwrap();
        let bytes = encode_call(&ctx, &Bson::Int32(1), Some(current.as_bytes()));
        let d = parse(&bytes).unwrap();
        assert_eq!(d.get_document("ctx").unwrap(), &doc! { "seed": 9_i64, "op": 4_i64, "shard": 3, "collection": "c" });
        let (back, target) = decode_call(&bytes).unwrap();
        assert_eq!(back, ctx);
        assert_eq!(target.current, Some(current));
        assert_eq!(target.id, Bson::Int32(1));
    }
}
