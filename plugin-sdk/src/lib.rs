//! The forge plugin SDK: write a mutation strategy or a delete behavior as a trait impl
//! and one export macro; the SDK speaks the contract (`wit/forge-plugin.wit`).
//!
//! The same source builds three ways:
//! - `--target wasm32-wasip2`: a WebAssembly component (the primary form);
//! - `--target wasm32-wasip1`: a core module speaking the fallback ABI (ABI.md);
//! - natively, as a `cdylib` for `forge --native-plugin` (trusted code, no sandbox).
//!
//! See README.md for a complete plugin.

pub use bson;

// The generated bindings name this crate by its path, from inside it too.
extern crate self as forge_plugin_sdk;

mod types;
pub use types::*;

pub mod host;
pub mod select;
pub mod update;

#[doc(hidden)]
pub mod wire;

#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
#[doc(hidden)]
pub mod component;

#[cfg(not(all(target_arch = "wasm32", target_env = "p2")))]
#[doc(hidden)]
pub mod abi;

/// The contract this SDK implements.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// A mutation strategy: given an operation's target, what the update does.
pub trait Mutator: Sized + Send + 'static {
    /// What `--update-strategy` selects it by.
    const NAME: &'static str;
    /// The plugin's own version.
    const VERSION: &'static str;
    /// Called once before any operation with this plugin's `--plugin-arg`s and the
    /// schema (JSON Schema text).
    fn init(config: &Config, schema: &str) -> Result<Self, Error>;
    /// Called per update. Randomness must come from [`host`] (seeded per operation),
    /// so the same seed gives the same updates.
    fn mutate(&mut self, ctx: &Context, target: &Target) -> Result<Mutation, Error>;
}

/// A delete behavior: what a delete does to its target.
pub trait DeleteBehavior: Sized + Send + 'static {
    const NAME: &'static str;
    const VERSION: &'static str;
    /// What its deletes do, declared in its info: forge plans its targets from this
    /// without calling it, and refuses an [`on_delete`](Self::on_delete) answer of
    /// another shape. It is what forge reads before `init` (at load).
    const SHAPE: DeleteShape;
    fn init(config: &Config, schema: &str) -> Result<Self, Error>;
    /// The shape once initialised: override it when the configuration changes the
    /// shape (a tombstone's field names); forge reads it again after `init`.
    fn shape(&self) -> DeleteShape {
        Self::SHAPE
    }
    fn on_delete(&mut self, ctx: &Context, target: &Target) -> Result<DeleteAction, Error>;
}

/// Makes `$t` (a [`Mutator`]) this crate's plugin. Use once, in a `cdylib` crate.
#[macro_export]
macro_rules! export_mutator {
    ($t:ty) => {
        const _: () = {
            static STATE: ::std::sync::Mutex<::std::option::Option<$t>> = ::std::sync::Mutex::new(None);
            fn __info() -> $crate::Info {
                $crate::Info::new(
                    <$t as $crate::Mutator>::NAME,
                    $crate::Kind::Mutator,
                    <$t as $crate::Mutator>::VERSION,
                )
            }
            fn __init(config: &$crate::Config, schema: &str) -> ::std::result::Result<(), $crate::Error> {
                let plugin = <$t as $crate::Mutator>::init(config, schema)?;
                *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(plugin);
                Ok(())
            }
            fn __call(
                ctx: &$crate::Context,
                target: &$crate::Target,
            ) -> ::std::result::Result<$crate::Mutation, $crate::Error> {
                let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
                let plugin = state.as_mut().ok_or_else($crate::Error::not_initialized)?;
                <$t as $crate::Mutator>::mutate(plugin, ctx, target)
            }
            $crate::__export_mutator_backend!(__info, __init, __call);
        };
    };
}

/// Makes `$t` (a [`DeleteBehavior`]) this crate's plugin. Use once, in a `cdylib` crate.
#[macro_export]
macro_rules! export_delete_behavior {
    ($t:ty) => {
        const _: () = {
            static STATE: ::std::sync::Mutex<::std::option::Option<$t>> = ::std::sync::Mutex::new(None);
            fn __info() -> $crate::Info {
                let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
                let shape = match state.as_ref() {
                    Some(plugin) => <$t as $crate::DeleteBehavior>::shape(plugin),
                    None => <$t as $crate::DeleteBehavior>::SHAPE,
                };
                $crate::Info::new(
                    <$t as $crate::DeleteBehavior>::NAME,
                    $crate::Kind::DeleteBehavior,
                    <$t as $crate::DeleteBehavior>::VERSION,
                )
                .with_deletes(shape)
            }
            fn __init(config: &$crate::Config, schema: &str) -> ::std::result::Result<(), $crate::Error> {
                let plugin = <$t as $crate::DeleteBehavior>::init(config, schema)?;
                *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(plugin);
                Ok(())
            }
            fn __call(
                ctx: &$crate::Context,
                target: &$crate::Target,
            ) -> ::std::result::Result<$crate::DeleteAction, $crate::Error> {
                let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
                let plugin = state.as_mut().ok_or_else($crate::Error::not_initialized)?;
                <$t as $crate::DeleteBehavior>::on_delete(plugin, ctx, target)
            }
            $crate::__export_delete_backend!(__info, __init, __call);
        };
    };
}
