//! A PostgreSQL table as a sink: what JDBC sinks and Singer targets write. Two
//! layouts are read, told apart by the table's columns:
//!
//! - a **document column** (`json` or `jsonb`, `document` unless named): each row's
//!   document, its `_id` from the `_id` column when the document lacks one;
//! - a **column per top-level field**: the row itself is the document.
//!
//! Rows are read as `row_to_json` text, streamed: PostgreSQL renders timestamps as ISO
//! text, numerics as JSON numbers and json columns as JSON, which the flattened type
//! profile maps back. Columns the pipeline adds (`_sdc_*`) are the profile's to ignore.
//! How the server is reached (TLS) is [`PgServer`]'s.

use super::VerifyError;
use super::final_state::Comparison;
use super::pg_server::PgServer;
use bson::{Bson, Document};
use futures_util::StreamExt;
use serde_json::Value;

/// The table to read, and which of its columns holds the documents.
#[derive(Debug, Clone)]
pub struct Table {
    /// `table` or `schema.table` (default schema: `public`).
    pub name: String,
    /// The json/jsonb column holding each row's document; None: `document` if the
    /// table has such a column, else a column per field.
    pub document_column: Option<String>,
}

/// Feeds each row of `table` on `server` to `comparison` as a document; returns the
/// number of rows and the layout read (the document column, if any).
pub async fn compare_table(
    server: &PgServer,
    table: &Table,
    comparison: &mut Comparison,
) -> Result<(u64, Option<String>), VerifyError> {
    let Some(reader) = TableReader::open(server, table).await? else {
        return Err(sink_error(table, "no such table (or no column readable)".into()));
    };
    let count = reader.for_each(|doc| comparison.document(&doc)).await?;
    Ok((count, reader.document_column))
}

fn sink_error(table: &Table, why: String) -> VerifyError {
    VerifyError::Sink { sink: format!("table {}", table.name), why }
}

/// A connection to a table whose layout is known, to read as often as needed.
pub struct TableReader {
    client: tokio_postgres::Client,
    table: Table,
    /// The json/jsonb column holding each row's document, or None: a column per field.
    pub document_column: Option<String>,
    /// The query reading every row as JSON text.
    sql: String,
    /// Whether the table has an `_id` column to read rows by.
    keyed: bool,
}

/// How many `_id`s one keyed read asks for.
const KEYS_PER_READ: usize = 1000;

impl TableReader {
    /// Connects and reads `table`'s layout; None when the table does not exist (yet).
    pub async fn open(server: &PgServer, table: &Table) -> Result<Option<TableReader>, VerifyError> {
        let fail = |why: String| sink_error(table, why);
        let client = server.connect().await.map_err(fail)?;
        let (schema, name) = table.name.split_once('.').unwrap_or(("public", &table.name));
        let columns = client
            .query(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                &[&schema, &name],
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
        let columns: Vec<(String, String)> = columns.iter().map(|r| (r.get(0), r.get(1))).collect();
        if columns.is_empty() {
            return Ok(None);
        }
        let json = |c: &str| columns.iter().any(|(n, t)| n == c && (t == "json" || t == "jsonb"));
        let document_column = match &table.document_column {
            Some(c) if json(c) => Some(c.clone()),
            Some(c) => return Err(fail(format!("no json or jsonb column named {c}"))),
            None => json("document").then(|| "document".to_string()),
        };
        let keyed = columns.iter().any(|(n, _)| n == "_id");
        if !keyed && document_column.is_none() {
            return Err(fail("no _id column".into()));
        }
        let sql = format!("SELECT row_to_json(t)::text FROM {}.{} t", quote(schema), quote(name));
        Ok(Some(TableReader { client, table: table.clone(), document_column, sql, keyed }))
    }

    /// Streams every row, as the document it holds, to `each`; returns how many.
    pub async fn for_each(&self, each: impl FnMut(Document)) -> Result<u64, VerifyError> {
        self.read(&self.sql, &[], each).await
    }

    /// Streams the rows whose `_id` (as text) is one of `ids` to `each`; without an
    /// `_id` column, every row.
    pub async fn for_each_of(&self, ids: &[String], mut each: impl FnMut(Document)) -> Result<u64, VerifyError> {
        if !self.keyed {
            return self.for_each(each).await;
        }
        // The cast keeps a text or varchar key's index usable.
        let sql = format!("{} WHERE t.\"_id\"::text = ANY($1)", self.sql);
        let mut count = 0;
        for chunk in ids.chunks(KEYS_PER_READ) {
            count += self.read(&sql, &[&chunk], &mut each).await?;
        }
        Ok(count)
    }

    async fn read(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        mut each: impl FnMut(Document),
    ) -> Result<u64, VerifyError> {
        let fail = |why: String| sink_error(&self.table, why);
        let rows = self.client.query_raw(sql, params.iter().copied()).await.map_err(|e| fail(e.to_string()))?;
        let mut rows = std::pin::pin!(rows);
        let mut count = 0;
        while let Some(row) = rows.next().await {
            let text: String = row.map_err(|e| fail(e.to_string()))?.get(0);
            let row: Value = serde_json::from_str(&text).map_err(|e| fail(format!("a row is not JSON: {e}")))?;
            each(document(row, self.document_column.as_deref()).map_err(fail)?);
            count += 1;
        }
        Ok(count)
    }
}

/// A row as the document it holds.
fn document(row: Value, document_column: Option<&str>) -> Result<Document, String> {
    let Value::Object(mut row) = row else { return Err("a row that is not an object".into()) };
    let value = match document_column {
        Some(column) => {
            let id = row.remove("_id");
            let mut doc = match row.remove(column) {
                Some(Value::String(text)) => serde_json::from_str(&text).map_err(|e| format!("{column}: {e}"))?,
                Some(other) => other,
                None => Value::Null,
            };
            match (&mut doc, id) {
                (Value::Object(d), Some(id)) if !d.contains_key("_id") => {
                    d.insert("_id".into(), id);
                }
                (Value::Object(_), _) => {}
                _ => return Err(format!("{column}: a row whose document is not an object")),
            }
            doc
        }
        None => Value::Object(row),
    };
    match Bson::try_from(value).map_err(|e| e.to_string())? {
        Bson::Document(d) => Ok(d),
        _ => Err("a row that is not a document".into()),
    }
}

/// An SQL identifier, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use serde_json::json;

    #[test]
    fn a_row_with_a_document_column_or_a_column_per_field() {
        let row = json!({ "_id": "a1", "document": { "v": 1 }, "_sdc_extracted_at": "2024-01-01T00:00:00" });
        assert_eq!(document(row, Some("document")).unwrap(), doc! { "v": 1, "_id": "a1" });
        let text = json!({ "_id": "a1", "document": "{\"_id\": \"x\", \"v\": 2}" });
        assert_eq!(document(text, Some("document")).unwrap(), doc! { "_id": "x", "v": 2 });
        let flat = json!({ "_id": "a1", "v": 3, "_sdc_deleted_at": null });
        assert_eq!(document(flat, None).unwrap(), doc! { "_id": "a1", "v": 3, "_sdc_deleted_at": Bson::Null });
        assert!(document(json!({ "_id": 1, "document": 5 }), Some("document")).is_err());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
    }
}
