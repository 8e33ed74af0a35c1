//! Why a scenario file cannot run: always one line naming the key at fault.

/// A scenario that cannot run, found before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read '{file}': {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// YAML that does not parse, or a key or value the format does not have.
    #[error("{file}: {path}: {message}")]
    Format { file: String, path: String, message: String },
    /// A value that parses but makes no sense (a negative rate, an unknown
    /// collection); `path` names the key, as in `phases[2].rate.from`.
    #[error("{file}: {path}: {message}")]
    Invalid { file: String, path: String, message: String },
}
