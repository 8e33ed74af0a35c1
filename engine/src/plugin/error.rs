//! Plugin failures, each naming the plugin, the export and (for calls) the op index.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The plugin returned its own typed error.
    Plugin { kind: &'static str, message: String },
    /// The call ran past its deadline (the runtime's `Limits::timeout`).
    Timeout(std::time::Duration),
    /// The plugin tried to grow its memory past the cap (`Limits::memory`, in bytes).
    OutOfMemory(u64),
    /// A WebAssembly trap (unreachable, out-of-bounds access, a Rust panic...).
    Trap(String),
    /// It answered with something the contract does not allow (malformed BSON...).
    BadReturn(String),
    /// It cannot be loaded: unreadable, not WebAssembly, wrong contract, forbidden imports.
    Load(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub plugin: String,
    pub export: &'static str,
    pub op: Option<u64>,
    pub failure: Failure,
}

impl PluginError {
    pub fn load(plugin: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError { plugin: plugin.into(), export: "load", op: None, failure: Failure::Load(message.into()) }
    }

    /// A short name for counting failures in the report.
    pub fn kind(&self) -> &'static str {
        match &self.failure {
            Failure::Plugin { .. } => "plugin-error",
            Failure::Timeout(_) => "timeout",
            Failure::OutOfMemory(_) => "out-of-memory",
            Failure::Trap(_) => "trap",
            Failure::BadReturn(_) => "bad-return",
            Failure::Load(_) => "load",
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin '{}'", self.plugin)?;
        if !matches!(self.failure, Failure::Load(_)) {
            write!(f, ", export '{}'", self.export)?;
        }
        if let Some(op) = self.op {
            write!(f, ", op {op}")?;
        }
        match &self.failure {
            Failure::Plugin { kind, message } => write!(f, ": {kind}: {message}"),
            Failure::Timeout(d) => write!(f, ": timed out after {}", humantime::format_duration(*d)),
            Failure::OutOfMemory(cap) => write!(f, ": ran out of memory: it tried to grow past {} MiB", cap >> 20),
            Failure::Trap(t) => write!(f, ": trapped: {t}"),
            Failure::BadReturn(m) => write!(f, ": broke the contract: {m}"),
            Failure::Load(m) => write!(f, ": {m}"),
        }
    }
}

impl std::error::Error for PluginError {}
