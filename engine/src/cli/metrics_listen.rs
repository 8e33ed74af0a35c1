//! `--metrics-listen`: the run's metrics served for Prometheus while it runs, and for
//! `--metrics-linger` after it.

use std::sync::Arc;
use std::time::Duration;

use super::error::Error;
use crate::metrics::Metrics;
use crate::prometheus::{ExportError, Exporter, ExporterConfig};

/// The HTTP endpoint of a run, serving until [`Endpoint::stop`].
pub struct Endpoint {
    exporter: Arc<Exporter>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

/// Listens on `addr` before the run starts: a port in use is a usage error.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener, Error> {
    crate::prometheus::bind(addr).await.map_err(|e| match e {
        ExportError::Bind { addr, source } => Error::Usage(format!("--metrics-listen {addr}: cannot listen: {source}")),
        other => Error::Runtime(other.to_string()),
    })
}

impl Endpoint {
    /// Serves `metrics` on `listener` from now on; says where unless `quiet`.
    pub fn start(listener: tokio::net::TcpListener, metrics: Arc<Metrics>, segment: u64, quiet: bool) -> Endpoint {
        Self::serve(listener, Exporter::new(metrics, ExporterConfig { segment: segment.to_string() }), quiet)
    }

    /// Serves a scenario's collections, each labelled with its name.
    pub fn start_collections(
        listener: tokio::net::TcpListener,
        runs: Vec<(String, Arc<Metrics>)>,
        quiet: bool,
    ) -> Endpoint {
        Self::serve(listener, Exporter::of_collections(runs, ExporterConfig::default()), quiet)
    }

    fn serve(listener: tokio::net::TcpListener, exporter: Exporter, quiet: bool) -> Endpoint {
        if !quiet && let Ok(addr) = listener.local_addr() {
            errln!("metrics for Prometheus at http://{addr}/metrics");
        }
        let exporter = Arc::new(exporter);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::prometheus::serve(listener, exporter.clone(), async move {
            let _ = stopped.await;
        }));
        Endpoint { exporter, stop, server }
    }

    /// Keeps serving the final figures for `linger` (a Ctrl-C cuts it short), then
    /// stops. Called as soon as the run has ended and its summary is out.
    pub async fn stop(self, linger: Duration) {
        self.exporter.freeze();
        if !linger.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(linger) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}
