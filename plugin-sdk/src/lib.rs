//! The forge plugin SDK.
//!
//! The WebAssembly contract (`forge:plugin@0.1.0`, see ARCHITECTURE.md) and the helpers
//! that make a mutation strategy a few lines of Rust live here. This crate is a
//! placeholder until the plugin host lands; it is a workspace member now so that the
//! layout is stable for plugin authors.

/// The contract version this SDK targets.
pub const CONTRACT_VERSION: &str = "0.1.0";
