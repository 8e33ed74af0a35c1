//! The test bed works: generated documents go into a real MongoDB-compatible server
//! with the official driver and come back with every BSON type intact.

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;

use crate::support::{self, Forge};

#[tokio::test]
async fn generated_documents_round_trip_through_the_server_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.ndjson");
    Forge::generate().schema("example:orders").seed(3).count(500).arg("--out", &path).run().success();
    // What a user's import would do: read the Extended JSON file back as BSON.
    let docs = support::parse_ndjson(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(docs.len(), 500);

    let client = support::client().await;
    let coll = client.database(&support::fresh_db("roundtrip")).collection::<Document>("orders");
    coll.insert_many(&docs).await.expect("insert into the test server");

    let mut back: Vec<Document> =
        coll.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap();
    assert_eq!(back.len(), 500);
    let mut sent = docs.clone();
    sent.sort_by_key(|d| d.get_object_id("_id").unwrap());
    back.sort_by_key(|d| d.get_object_id("_id").unwrap());
    for (s, b) in sent.iter().zip(&back) {
        // Byte-identical BSON: same fields, same order, same types.
        assert_eq!(
            bson::serialize_to_vec(s).unwrap(),
            bson::serialize_to_vec(b).unwrap(),
            "{}",
            s.get_object_id("_id").unwrap()
        );
    }
    // The types a CDC pipeline trips over are really there, as the server sees them.
    for (field, bson_type) in [
        ("_id", "objectId"),
        ("createdAt", "date"),
        ("total", "decimal"),
        ("version", "long"),
        ("lastModified", "timestamp"),
    ] {
        let present = coll.count_documents(doc! { field: { "$exists": true } }).await.unwrap();
        let typed = coll.count_documents(doc! { field: { "$type": bson_type } }).await.unwrap();
        assert!(present > 100, "{field} present in {present} documents");
        assert_eq!(typed, present, "{field} stored as {bson_type}");
    }
    let uuids = coll.count_documents(doc! { "payments.paymentId": { "$type": "binData" } }).await.unwrap();
    assert_eq!(uuids, 500);
    assert!(
        matches!(back[0].get_array("payments").unwrap()[0].as_document().unwrap().get("paymentId"), Some(Bson::Binary(b)) if b.subtype == bson::spec::BinarySubtype::Uuid)
    );
    client.database(coll.namespace().db.as_str()).drop().await.unwrap();
}
