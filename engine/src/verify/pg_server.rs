//! The PostgreSQL server a sink table is read from, and how to reach it: TLS as
//! libpq's `sslmode` says. `disable` speaks plain TCP; `prefer` (the default) and
//! `require` encrypt without checking the server's certificate, as libpq does
//! without a root certificate. A CA file given makes TLS required, and the
//! certificate and the host name checked against it, as `verify-full` does.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgServer {
    /// The connection string: a `postgres://` URI or `key=value` pairs, `sslmode`
    /// among them.
    pub uri: String,
    /// PEM file of the roots to check the server's certificate against; None: the
    /// connection is encrypted, the server not authenticated.
    pub ca: Option<PathBuf>,
}

impl PgServer {
    /// A client connected to the server, its connection driven by a spawned task
    /// that ends when the client is dropped.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let tls = MakeRustlsConnect::new(self.tls_config()?);
        let mut config: tokio_postgres::Config = self.uri.parse().map_err(|e| describe(&e))?;
        // Roots to check the server against are pointless over plain text: TLS it is.
        if self.ca.is_some() {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        let (client, connection) = config.connect(tls).await.map_err(|e| describe(&e))?;
        tokio::spawn(connection);
        Ok(client)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = match &self.ca {
            Some(path) => {
                let shown = path.display();
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("CA file {shown}: {e}"))? {
                    let cert = cert.map_err(|e| format!("CA file {shown}: {e}"))?;
                    roots.add(cert).map_err(|e| format!("CA file {shown}: {e}"))?;
                }
                if roots.is_empty() {
                    return Err(format!("CA file {shown}: no certificate in it"));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unauthenticated(provider.signature_verification_algorithms)))
                .with_no_client_auth(),
        };
        Ok(config)
    }
}

/// The driver's error with its cause: "error performing TLS handshake" alone does not
/// say that the certificate was refused.
fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Accepts any certificate, still checking that the server holds its key: TLS for
/// privacy, not for authentication (libpq's `require`).
#[derive(Debug)]
struct Unauthenticated(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unauthenticated {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_cannot_be_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let server = |ca: &std::path::Path| PgServer { uri: "postgres://x@127.0.0.1/x".into(), ca: Some(ca.into()) };
        let err = server(&empty).tls_config().unwrap_err();
        assert_eq!(err, format!("CA file {}: no certificate in it", empty.display()));
        let missing = dir.path().join("missing.pem");
        assert!(server(&missing).tls_config().unwrap_err().starts_with("CA file "), "names the file");
        assert!(PgServer { uri: String::new(), ca: None }.tls_config().is_ok());
    }
}
