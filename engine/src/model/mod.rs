//! The model of a document as it stands after every earlier write: forge applies its own
//! updates to it the way the server will ([`update`]), so plugins see the current
//! document and the journal predicts each write's effect, and it checks what a plugin
//! answers before anything is queued ([`answer`]).

pub mod answer;
mod compare;
mod decimal;
pub mod filter;
pub mod update;

pub use compare::{cmp as bson_cmp, equal as bson_equal, identical as bson_identical};
