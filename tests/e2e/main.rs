//! forge's end-to-end tests: the `forge` binary as users run it, against a real
//! MongoDB-compatible server, plus the library-level checks that pin its behaviour
//! (fuzzing, the operation-stream fixtures). One binary, one module per area;
//! `support` holds the command builder, the typed reports and the test server.

mod support;

mod bulk_api;
mod cdc;
mod current_document;
mod edge_cases;
mod failures;
mod faults;
mod fuzz;
mod generate_cli;
mod hot_keys;
mod infer;
mod latency;
mod mutate;
mod op_stream;
mod plugin_cli;
mod plugin_examples;
mod plugins_hostile;
mod progress;
mod prometheus;
mod rate_limit;
mod report_html;
mod scenario_report;
mod scenarios;
mod secrets;
mod segments;
mod server_roundtrip;
mod sinks;
mod stateful;
mod traffic_run;
mod update_model;
mod verify;
