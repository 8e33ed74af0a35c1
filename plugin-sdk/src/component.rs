//! The component form (wasm32-wasip2): wit-bindgen bindings of the world the plugin
//! crate's feature picks, and the glue between them and the SDK's types.

#[cfg(all(feature = "mutator", feature = "delete-behavior"))]
compile_error!("a plugin implements one world: enable either the `mutator` or the `delete-behavior` feature");

#[cfg(not(any(feature = "mutator", feature = "delete-behavior")))]
compile_error!("enable the forge-plugin-sdk feature `mutator` or `delete-behavior` for a wasm32-wasip2 build");

#[cfg(feature = "mutator")]
pub mod world {
    wit_bindgen::generate!({
        world: "mutator-plugin",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "forge_plugin_sdk::component::world",
        runtime_path: "forge_plugin_sdk::component::rt",
    });
}

#[cfg(feature = "delete-behavior")]
pub mod world {
    wit_bindgen::generate!({
        world: "delete-behavior-plugin",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "forge_plugin_sdk::component::world",
        runtime_path: "forge_plugin_sdk::component::rt",
    });
}

pub use wit_bindgen::rt;

use world::forge::plugin::types as wit;

use crate::{BsonType, Config, Context, DeleteShape, Error, ErrorKind, Info, Kind, Target};
#[cfg(feature = "delete-behavior")]
use crate::{DeleteAction, wire};
#[cfg(feature = "mutator")]
use crate::{Mutation, wire};

pub fn info(i: Info) -> wit::PluginInfo {
    wit::PluginInfo {
        name: i.name,
        kind: match i.kind {
            Kind::Mutator => wit::PluginKind::Mutator,
            Kind::DeleteBehavior => wit::PluginKind::DeleteBehavior,
        },
        version: i.version,
        contract_version: i.contract_version,
        deletes: i.deletes.map(|d| match d {
            DeleteShape::Remove => wit::DeleteShape::Remove,
            DeleteShape::Keep => wit::DeleteShape::Keep,
            DeleteShape::Tombstone { flag, deleted_at } => wit::DeleteShape::Tombstone(wit::TombstoneShape {
                flag: flag.into_owned(),
                deleted_at: deleted_at.map(|d| d.into_owned()),
            }),
        }),
    }
}

pub fn bson_type(t: wit::BsonType) -> BsonType {
    match t {
        wit::BsonType::Double => BsonType::Double,
        wit::BsonType::String => BsonType::String,
        wit::BsonType::Document => BsonType::Document,
        wit::BsonType::Array => BsonType::Array,
        wit::BsonType::Binary => BsonType::Binary,
        wit::BsonType::ObjectId => BsonType::ObjectId,
        wit::BsonType::Boolean => BsonType::Boolean,
        wit::BsonType::DateTime => BsonType::DateTime,
        wit::BsonType::Null => BsonType::Null,
        wit::BsonType::Regex => BsonType::Regex,
        wit::BsonType::Int32 => BsonType::Int32,
        wit::BsonType::Timestamp => BsonType::Timestamp,
        wit::BsonType::Int64 => BsonType::Int64,
        wit::BsonType::Decimal128 => BsonType::Decimal128,
        wit::BsonType::Mixed => BsonType::Mixed,
    }
}

pub fn error(e: Error) -> wit::PluginError {
    wit::PluginError {
        kind: match e.kind {
            ErrorKind::InvalidConfig => wit::ErrorKind::InvalidConfig,
            ErrorKind::UnsupportedDocument => wit::ErrorKind::UnsupportedDocument,
            ErrorKind::Internal => wit::ErrorKind::Internal,
        },
        message: e.message,
    }
}

pub fn config(pairs: Vec<(String, String)>) -> Config {
    Config(pairs.into_iter().collect())
}

pub fn inputs(ctx: wit::OpContext, target: wit::Target) -> Result<(Context, Target), wit::PluginError> {
    let mut id = bson::Document::from_reader(target.id.as_slice())
        .map_err(|e| error(Error::internal(format!("target id: {e}"))))?;
    let current = match target.current {
        Some(bytes) => Some(
            bson::RawDocumentBuf::from_bytes(bytes)
                .map_err(|e| error(Error::internal(format!("current document: {e}"))))?,
        ),
        None => None,
    };
    Ok((
        Context { run_seed: ctx.run_seed, op_index: ctx.op_index, shard: ctx.shard, collection: ctx.collection },
        Target { id: id.remove("_id").unwrap_or(bson::Bson::Null), current },
    ))
}

#[cfg(feature = "mutator")]
pub fn mutation(m: Mutation) -> wit::Mutation {
    match m {
        Mutation::Update(u) => wit::Mutation::Update(wire::encode_document(&u)),
        Mutation::Replace(r) => wit::Mutation::Replace(wire::encode_document(&r)),
        Mutation::Skip => wit::Mutation::Skip,
    }
}

#[cfg(feature = "delete-behavior")]
pub fn delete_action(a: DeleteAction) -> wit::DeleteAction {
    match a {
        DeleteAction::Remove => wit::DeleteAction::Remove,
        DeleteAction::Keep => wit::DeleteAction::Keep,
        DeleteAction::Tombstone(u) => wit::DeleteAction::Tombstone(wire::encode_document(&u)),
    }
}

pub mod host {
    use super::world::forge::plugin::host as h;
    use super::world::forge::plugin::types as wit;

    pub fn random_u64() -> u64 {
        h::random_u64()
    }
    pub fn random_below(n: u64) -> u64 {
        h::random_below(n)
    }
    pub fn random_range(lo: i64, hi: i64) -> i64 {
        h::random_range(lo, hi)
    }
    pub fn random_bool(p: f64) -> bool {
        h::random_bool(p)
    }
    pub fn random_f64() -> f64 {
        h::random_f64()
    }
    pub fn fields() -> Vec<crate::Field> {
        h::fields()
            .into_iter()
            .map(|f| crate::Field { path: f.path, kind: super::bson_type(f.kind), optional: f.optional })
            .collect()
    }
    pub fn generate_document() -> Vec<u8> {
        h::generate_document()
    }
    pub fn generate_field(path: &str) -> Result<bson::Bson, String> {
        let v = h::generate_field(path)?;
        crate::wire::value_from_parts(super::bson_type(v.kind), &v.bytes)
    }
    pub fn log(level: crate::Level, message: &str) {
        let level = match level {
            crate::Level::Debug => wit::LogLevel::Debug,
            crate::Level::Info => wit::LogLevel::Info,
            crate::Level::Warn => wit::LogLevel::Warn,
            crate::Level::Error => wit::LogLevel::Error,
        };
        h::log(level, message)
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_mutator_backend {
    ($info:ident, $init:ident, $call:ident) => {
        struct __ForgeGuest;
        impl $crate::component::world::exports::forge::plugin::mutator::Guest for __ForgeGuest {
            fn info() -> $crate::component::world::forge::plugin::types::PluginInfo {
                $crate::component::info($info())
            }
            fn init(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                schema: ::std::string::String,
            ) -> ::std::result::Result<(), $crate::component::world::forge::plugin::types::PluginError> {
                $init(&$crate::component::config(config), &schema).map_err($crate::component::error)
            }
            fn mutate(
                ctx: $crate::component::world::forge::plugin::types::OpContext,
                target: $crate::component::world::forge::plugin::types::Target,
            ) -> ::std::result::Result<
                $crate::component::world::forge::plugin::types::Mutation,
                $crate::component::world::forge::plugin::types::PluginError,
            > {
                let (ctx, target) = $crate::component::inputs(ctx, target)?;
                $call(&ctx, &target).map($crate::component::mutation).map_err($crate::component::error)
            }
        }
        $crate::component::world::export_world!(__ForgeGuest with_types_in $crate::component::world);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_delete_backend {
    ($info:ident, $init:ident, $call:ident) => {
        struct __ForgeGuest;
        impl $crate::component::world::exports::forge::plugin::delete_behavior::Guest for __ForgeGuest {
            fn info() -> $crate::component::world::forge::plugin::types::PluginInfo {
                $crate::component::info($info())
            }
            fn init(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                schema: ::std::string::String,
            ) -> ::std::result::Result<(), $crate::component::world::forge::plugin::types::PluginError> {
                $init(&$crate::component::config(config), &schema).map_err($crate::component::error)
            }
            fn on_delete(
                ctx: $crate::component::world::forge::plugin::types::OpContext,
                target: $crate::component::world::forge::plugin::types::Target,
            ) -> ::std::result::Result<
                $crate::component::world::forge::plugin::types::DeleteAction,
                $crate::component::world::forge::plugin::types::PluginError,
            > {
                let (ctx, target) = $crate::component::inputs(ctx, target)?;
                $call(&ctx, &target).map($crate::component::delete_action).map_err($crate::component::error)
            }
        }
        $crate::component::world::export_world!(__ForgeGuest with_types_in $crate::component::world);
    };
}
