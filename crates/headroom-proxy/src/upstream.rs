//! The outbound HTTP client. Plain `http://` upstreams (tests, local gateways) use a bare
//! connector; the TLS client is built on the first `https://` request, so start-up and idle
//! memory never pay for loading root certificates.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type used for everything the proxy sends, both directions.
pub(crate) type Body = BoxBody<Bytes, BoxError>;

#[derive(Debug)]
pub(crate) struct Upstream {
    http: Client<HttpConnector, Body>,
    https: OnceLock<Client<HttpsConnector<HttpConnector>, Body>>,
    connect_timeout: Duration,
}

/// Why an upstream call failed before response headers arrived.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connect refused / DNS / TLS / connection reset before a response: 502.
    Unreachable(String),
    /// Connect or response-header timeout: 504.
    Timeout(String),
}

impl Upstream {
    pub(crate) fn new(connect_timeout: Duration) -> Upstream {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        Upstream {
            http: builder().build(connector),
            https: OnceLock::new(),
            connect_timeout,
        }
    }

    fn https(&self) -> &Client<HttpsConnector<HttpConnector>, Body> {
        self.https.get_or_init(|| {
            let mut connector = HttpConnector::new();
            connector.set_connect_timeout(Some(self.connect_timeout));
            connector.set_nodelay(true);
            connector.enforce_http(false);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls_config())
                .https_or_http()
                .enable_http1()
                .wrap_connector(connector);
            builder().build(https)
        })
    }

    /// Send `req` and wait at most `timeout` for the response headers.
    pub(crate) async fn send(
        &self,
        req: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, Failure> {
        let fut = if req.uri().scheme_str() == Some("https") {
            self.https().request(req)
        } else {
            self.http.request(req)
        };
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(Failure::Timeout(format!(
                "the upstream did not answer within {} s",
                timeout.as_secs_f64()
            ))),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(err)) => Err(classify(&err)),
        }
    }
}

fn builder() -> hyper_util::client::legacy::Builder {
    let mut b = Client::builder(TokioExecutor::new());
    b.pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    b
}

fn classify(err: &hyper_util::client::legacy::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut detail = String::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Failure::Timeout("connecting to the upstream timed out".to_owned());
            }
        }
        let text = e.to_string();
        if !text.is_empty() && !detail.contains(&text) {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&text);
        }
        source = e.source();
    }
    Failure::Unreachable(detail)
}

/// Web PKI roots (always present) plus the OS trust store (corporate CAs), with ring.
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(native_roots = added, "loaded TLS root certificates");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Cannot fail: the ring provider supports every default protocol version.
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}
