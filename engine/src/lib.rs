//! forge: reproducible, realistic MongoDB write traffic for load tests and CDC
//! pipelines. See ARCHITECTURE.md for how the modules fit together.

pub mod cli;
pub mod examples;
pub mod generate;
pub mod infer;
pub mod journal;
pub mod materialize;
pub mod metrics;
pub mod model;
pub mod mongo;
pub mod mutation;
pub mod output;
pub mod plan;
pub mod plugin;
pub mod prometheus;
pub mod rate;
pub mod scenario;
pub mod schema;
pub mod seed;
pub mod segment;
pub mod traffic;
pub mod transaction;
pub mod verify;
