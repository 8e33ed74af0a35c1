//! `forge bench --plugins`: each built-in plugin as WebAssembly versus the same SDK
//! source built natively, called the way the planner calls it (with the current ~1 KB
//! document), in alternating rounds so that machine noise hits both alike.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bson::{Bson, RawDocumentBuf};
use forge_plugin_sdk::Kind;

use super::error::Error;
use crate::generate::Generator;
use crate::mutation::OpContext;
use crate::plugin::{Limits, Origin, Plugin, Runtime, SchemaAccess, builtin, load_native, load_wasm};
use crate::seed::{self, Stream};

const ROUNDS: usize = 5;

pub fn run(seed: u64, calls: u64) -> Result<(), Error> {
    let schema = Arc::new(super::load_schema(Some("example:orders"))?);
    let generator = Arc::new(Generator::new(schema, seed));
    let docs: Vec<(Bson, RawDocumentBuf)> = (0..1024)
        .map(|i| {
            let d = generator.document(i);
            (
                d.get("_id").cloned().unwrap_or(Bson::Null),
                RawDocumentBuf::try_from(&d).expect("generated documents encode"),
            )
        })
        .collect();
    let mean = docs.iter().map(|(_, d)| d.as_bytes().len()).sum::<usize>() / docs.len();
    let rt = Runtime::new(Limits::default()).map_err(|e| Error::Runtime(e.to_string()))?;
    outln!(
        "forge bench --plugins: {calls} calls per round, {ROUNDS} rounds, example:orders documents ({mean} B mean BSON)"
    );
    outln!("{:<12} {:>14} {:>14} {:>22}", "plugin", "wasm calls/s", "native calls/s", "wasm time / native");
    let fail = |e: crate::plugin::PluginError| Error::Runtime(e.to_string());
    for b in builtin::BUILTINS {
        if !Path::new(b.native).exists() {
            return Err(Error::Runtime(format!(
                "{}: the native build ({}) is gone; it exists only where forge was built",
                b.name, b.native
            )));
        }
        let wasm = load_wasm(&rt, b.wasm, b.name, Origin::Builtin).map_err(fail)?;
        let native = load_native(Path::new(b.native)).map_err(fail)?;
        let access = SchemaAccess::new(generator.clone());
        let mut w = wasm.start(&rt, access.clone(), Vec::new(), seed).map_err(fail)?;
        let mut n = native.start(&rt, access, Vec::new(), seed).map_err(fail)?;
        let (mut w_rates, mut n_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let tw = time(w.as_mut(), &docs, calls, seed)?;
            let tn = time(n.as_mut(), &docs, calls, seed)?;
            w_rates.push(calls as f64 / tw);
            n_rates.push(calls as f64 / tn);
            ratios.push(tw / tn);
        }
        outln!(
            "{:<12} {:>14.0} {:>14.0} {:>14.2}× (median)",
            b.name,
            median(&mut w_rates),
            median(&mut n_rates),
            median(&mut ratios)
        );
    }
    Ok(())
}

fn time(p: &mut dyn Plugin, docs: &[(Bson, RawDocumentBuf)], calls: u64, seed: u64) -> Result<f64, Error> {
    let kind = p.info().kind;
    let started = Instant::now();
    for i in 0..calls {
        let (id, doc) = &docs[i as usize % docs.len()];
        let mut rng = seed::rng(seed, Stream::Operation, i);
        let ctx =
            OpContext { run_seed: seed, op_index: i, shard: 0, collection: "bench", target: id, current: Some(doc) };
        let call = ctx.call(&mut rng);
        let ok = match kind {
            Kind::Mutator => p.mutate(call).map(|_| ()),
            Kind::DeleteBehavior => p.on_delete(call).map(|_| ()),
        };
        ok.map_err(|e| Error::Runtime(e.to_string()))?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
