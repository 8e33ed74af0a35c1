//! forge: reproducible, realistic MongoDB write traffic for load tests and CDC
//! pipelines. See ARCHITECTURE.md for how the modules fit together.

pub mod cli;
pub mod error;
pub mod examples;
pub mod generate;
pub mod mutation;
pub mod plan;
pub mod output;
pub mod pipeline;
pub mod schema;
pub mod seed;

pub use error::Error;
