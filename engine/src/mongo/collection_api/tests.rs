use std::sync::Arc;

use bson::{Bson, doc};

use super::*;
use crate::plan::{Change, OpKind, State};

fn op(index: u64, write: Write, matched: Option<u64>, modified: Option<u64>) -> OpPlan {
    let kind = match &write {
        Write::Insert(_) => OpKind::Insert,
        Write::Update { .. } => OpKind::Update,
        Write::Replace { .. } => OpKind::Replace,
        Write::Delete { .. } => OpKind::Delete,
    };
    OpPlan {
        index,
        kind,
        id: Bson::Int64(index as i64),
        shard: 0,
        write,
        change: Change { before: State::Unknown, after: State::Unknown, matched, modified },
        expect: None,
        scheduled: std::time::Instant::now(),
    }
}

fn insert(i: u64) -> OpPlan {
    let raw = RawDocumentBuf::try_from(&doc! { "_id": i as i64, "n": 1 }).unwrap();
    op(i, Write::Insert(Arc::new(raw)), Some(1), Some(0))
}

fn update(i: u64, matched: u64, modified: u64) -> OpPlan {
    let write = Write::Update { filter: doc! { "_id": i as i64 }, update: doc! { "$inc": { "n": 1 } } };
    op(i, write, Some(matched), Some(modified))
}

fn delete(i: u64) -> OpPlan {
    op(i, Write::Delete { filter: doc! { "_id": i as i64 } }, Some(1), Some(0))
}

fn refs(ops: &[OpPlan]) -> Vec<&OpPlan> {
    ops.iter().collect()
}

fn acked(matched: u64, modified: u64) -> Outcome {
    Outcome::Acked { matched, modified }
}

#[test]
fn an_update_command_is_built_as_mongod_expects() {
    let ops = [
        update(1, 1, 1),
        op(2, Write::Replace { filter: doc! { "_id": 2 }, replacement: doc! { "a": 1 } }, None, None),
    ];
    let statements: Vec<Statement> = ops.iter().map(Statement::of).collect();
    let wc = RawDocumentBuf::try_from(&doc! { "w": "majority" }).unwrap();
    let built = Document::try_from(command(CommandKind::Update, "c", true, Some(&wc), statements.iter())).unwrap();
    assert_eq!(
        built,
        doc! {
            "update": "c",
            "ordered": true,
            "writeConcern": { "w": "majority" },
            "updates": [
                { "q": { "_id": 1_i64 }, "u": { "$inc": { "n": 1 } } },
                { "q": { "_id": 2 }, "u": { "a": 1 } },
            ],
        }
    );
    let first = built.keys().next().unwrap();
    assert_eq!(first, "update", "the command's name comes first");
}

#[test]
fn inserts_and_deletes_are_built_as_mongod_expects() {
    let ops = [insert(1), insert(2)];
    let statements: Vec<Statement> = ops.iter().map(Statement::of).collect();
    let built = Document::try_from(command(CommandKind::Insert, "c", false, None, statements.iter())).unwrap();
    assert_eq!(
        built,
        doc! { "insert": "c", "ordered": false, "documents": [{ "_id": 1_i64, "n": 1 }, { "_id": 2_i64, "n": 1 }] }
    );
    let ops = [delete(3)];
    let statements: Vec<Statement> = ops.iter().map(Statement::of).collect();
    let built = Document::try_from(command(CommandKind::Delete, "c", true, None, statements.iter())).unwrap();
    assert_eq!(built, doc! { "delete": "c", "ordered": true, "deletes": [{ "q": { "_id": 3_i64 }, "limit": 1 }] });
}

#[test]
fn a_reply_is_read_with_any_number_type_and_without_code_names() {
    // The shape the test server and mongod answer with (`codeName` is often absent).
    let reply = doc! {
        "n": 3, "nModified": 2_i64, "ok": 1.0,
        "writeErrors": [{ "index": 1, "code": 14, "errmsg": "Cannot apply $inc" }],
        "writeConcernError": { "code": 100, "codeName": "UnsatisfiableWriteConcern", "errmsg": "not enough nodes" },
    };
    assert_eq!(
        Answer::read(&reply),
        Answer {
            n: Some(3),
            n_modified: Some(2),
            write_errors: vec![(1, "14".into())],
            write_concern_error: Some("100 UnsatisfiableWriteConcern".into()),
        }
    );
    assert_eq!(Answer::read(&doc! { "n": 2.0, "ok": 1 }), Answer { n: Some(2), ..Default::default() });
}

#[test]
fn an_ordered_command_stops_at_its_first_refusal() {
    let ops = [update(1, 1, 1), update(2, 1, 1), update(3, 1, 1), update(4, 1, 1)];
    let answer = Answer {
        n: Some(1),
        n_modified: Some(1),
        write_errors: vec![(1, "14 TypeMismatch".into())],
        ..Default::default()
    };
    let settled = settle(CommandKind::Update, &refs(&ops), &answer, true);
    assert_eq!(
        settled.outcomes,
        vec![acked(1, 1), Outcome::Failed("14 TypeMismatch".into()), Outcome::NotExecuted, Outcome::NotExecuted]
    );
    assert!(settled.stopped);
    assert!(settled.inferred.is_empty());
}

#[test]
fn an_unordered_command_goes_on_past_refusals() {
    let ops = [update(1, 1, 1), update(2, 1, 1), update(3, 1, 0), update(4, 0, 0)];
    let answer = Answer {
        n: Some(2),
        n_modified: Some(1),
        write_errors: vec![(1, "14 TypeMismatch".into())],
        ..Default::default()
    };
    let settled = settle(CommandKind::Update, &refs(&ops), &answer, false);
    assert_eq!(
        settled.outcomes,
        vec![acked(1, 1), Outcome::Failed("14 TypeMismatch".into()), acked(1, 0), acked(0, 0)]
    );
    assert!(settled.inferred.is_empty());
}

#[test]
fn totals_that_contradict_the_model_are_attributed_and_marked() {
    // The model predicted three matches; the server matched two.
    let ops = [update(1, 1, 1), update(2, 1, 1), update(3, 1, 1)];
    let answer = Answer { n: Some(2), n_modified: Some(2), ..Default::default() };
    let settled = settle(CommandKind::Update, &refs(&ops), &answer, true);
    assert_eq!(settled.outcomes, vec![acked(1, 1), acked(1, 1), acked(0, 0)]);
    assert_eq!(settled.inferred, vec![0, 1, 2]);
}

#[test]
fn a_write_concern_error_is_never_acknowledged() {
    let ops = [delete(1), delete(2)];
    let answer =
        Answer { n: Some(2), write_concern_error: Some("100 UnsatisfiableWriteConcern".into()), ..Default::default() };
    let settled = settle(CommandKind::Delete, &refs(&ops), &answer, true);
    assert_eq!(
        settled.outcomes,
        vec![
            Outcome::WriteConcernFailed { matched: 1, modified: 0 },
            Outcome::WriteConcernFailed { matched: 1, modified: 0 }
        ]
    );
    // Inserts too, next to a refused one.
    let ops = [insert(1), insert(2), insert(3)];
    let answer = Answer {
        n: Some(1),
        write_errors: vec![(1, "11000 DuplicateKey".into())],
        write_concern_error: Some("100 UnsatisfiableWriteConcern".into()),
        ..Default::default()
    };
    let settled = settle(CommandKind::Insert, &refs(&ops), &answer, true);
    assert_eq!(
        settled.outcomes,
        vec![
            Outcome::WriteConcernFailed { matched: 1, modified: 0 },
            Outcome::Failed("11000 DuplicateKey".into()),
            Outcome::NotExecuted
        ]
    );
}

#[test]
fn the_api_follows_the_wire_version() {
    assert_eq!(WriteApi::for_wire_version(9), WriteApi::Collection); // 4.4
    assert_eq!(WriteApi::for_wire_version(21), WriteApi::Collection); // 7.0
    assert_eq!(WriteApi::for_wire_version(25), WriteApi::Client); // 8.0
    assert_eq!(WriteApi::for_wire_version(27), WriteApi::Client);
}

#[test]
fn lost_is_anything_but_the_servers_refusal() {
    let io = DbError::from(ErrorKind::Io(std::sync::Arc::new(std::io::Error::other("reset"))));
    assert!(is_lost(&io));
    let refused: DbError = ErrorKind::Command(command_error(2, "BadValue")).into();
    assert!(!is_lost(&refused));
    let stepped_down: DbError = ErrorKind::Command(command_error(10107, "NotWritablePrimary")).into();
    assert!(is_lost(&stepped_down));
}

fn command_error(code: i32, name: &str) -> mongodb::error::CommandError {
    bson::deserialize_from_document(doc! { "code": code, "codeName": name, "errmsg": "x" }).unwrap()
}
