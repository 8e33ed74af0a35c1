//! `GET /metrics` over HTTP/1.1 for the Prometheus server that scrapes a run.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{CONTENT_TYPE, ExportError, Exporter};

/// Listens on `addr` (host:port), so that a port in use shows before the run starts.
pub async fn bind(addr: &str) -> Result<TcpListener, ExportError> {
    TcpListener::bind(addr).await.map_err(|source| ExportError::Bind { addr: addr.into(), source })
}

/// Answers `GET /metrics` on `listener` with `exporter`'s metrics until `shutdown`
/// resolves; then stops accepting and drops the open connections. Any other path is
/// 404, any other method 405.
pub async fn serve(listener: TcpListener, exporter: Arc<Exporter>, shutdown: impl Future<Output = ()>) {
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: the next scrape may fare better.
                    tracing::warn!("metrics endpoint: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Finished connections leave the set as new ones come.
        while connections.try_join_next().is_some() {}
        let exporter = exporter.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let exporter = exporter.clone();
                async move { Ok::<_, Infallible>(respond(&exporter, &request)) }
            });
            let served = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = served.await {
                tracing::debug!("metrics endpoint: connection ended: {e}");
            }
        });
    }
    connections.abort_all();
}

fn respond(exporter: &Exporter, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "not found: the metrics are at /metrics\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
    }
    match exporter.encode() {
        Ok(text) => Response::builder()
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .body(Full::new(Bytes::from(text)))
            .expect("a valid response"),
        Err(e) => {
            tracing::error!("metrics endpoint: {e}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n")
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("a valid response")
}
