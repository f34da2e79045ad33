//! Starting and stopping one registry instance: the `_schemas` store, the election, and the HTTP listener.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{router, ApiContext};
use crate::config::RegistryConfig;
use crate::error::RegistryError;
use crate::registry::Registry;
use crate::store::election::Election;
use crate::store::kafka::KafkaLog;
use crate::store::Leadership;

/// How long shutdown lets in-flight HTTP requests finish.
const HTTP_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts registry instances.
#[derive(Debug)]
pub struct SchemaRegistry;

impl SchemaRegistry {
    /// Binds the listener, reads the `_schemas` topic to its end (creating it if needed), joins the election,
    /// waits for its outcome (see [`wait_for_election`]) and serves the REST API. Returns once reads are answered
    /// from the state read and writes can be served or forwarded.
    ///
    /// The advertised URL (where followers forward writes) defaults to `http://<bound address>`; a wildcard
    /// bind (`0.0.0.0`, `::`) is advertised as `127.0.0.1`, which only serves instances on the same host: set
    /// `advertised_url` when instances run on several hosts.
    pub async fn start(mut config: RegistryConfig) -> Result<RegistryHandle, RegistryError> {
        config.validate()?;
        // Bound first, so a taken port fails before any Kafka work, and port 0 is known for the advertised URL.
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| RegistryError::Bind { addr: config.listen.clone(), source })?;
        let local_addr = listener.local_addr()?;
        let url = match &config.advertised_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => default_url(local_addr),
        };
        config.advertised_url = Some(url.clone());

        let log = KafkaLog::start(&config).await?;
        let election = match Election::start(&config, &url, log.clone()) {
            Ok(election) => election,
            Err(e) => {
                log.shutdown().await;
                return Err(e);
            }
        };
        wait_for_election(&config, &log).await;
        let registry = Arc::new(Registry::new(log.clone(), config.default_compatibility));
        let app = router(Arc::new(ApiContext::new(registry.clone(), &config)));

        let (stop_http, mut stop_rx) = watch::channel(false);
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|&stop| stop).await;
                })
                .into_future(),
        );
        tracing::info!(%local_addr, %url, topic = %config.topic, group = %config.group_id, "schema registry started");
        Ok(RegistryHandle { local_addr, url, registry, log, election, stop_http, server: Some(server) })
    }
}

/// Waits (bounded) until the election has an outcome, as Confluent's registry does at start-up, so that a
/// write sent right after start is served rather than refused with 50004. An eligible instance waits up to
/// `init_timeout_ms` (its own election includes the broker's initial rebalance delay); one that may not lead
/// waits at most a session timeout for a leader to show up, then serves reads anyway.
async fn wait_for_election(config: &RegistryConfig, log: &KafkaLog) {
    let millis = if config.leader_eligibility { config.init_timeout_ms } else { config.session_timeout_ms };
    let mut leadership = log.watch_leadership();
    let known = leadership.wait_for(|l| !matches!(l, Leadership::Follower { leader_url: None }));
    if tokio::time::timeout(Duration::from_millis(millis), known).await.is_err() {
        tracing::warn!(
            group = %config.group_id,
            "no schema registry leader elected within {millis} ms; serving reads, and writes answer 50004 until one is"
        );
    }
}

/// `http://<addr>`, with a wildcard address replaced by loopback (a wildcard is no address to connect to).
fn default_url(addr: SocketAddr) -> String {
    let ip = addr.ip();
    let host = if ip.is_unspecified() {
        if ip.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "[::1]".to_string()
        }
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("http://{host}:{}", addr.port())
}

/// A running registry instance.
#[derive(Debug)]
pub struct RegistryHandle {
    local_addr: SocketAddr,
    url: String,
    registry: Arc<Registry>,
    log: Arc<KafkaLog>,
    election: Election,
    stop_http: watch::Sender<bool>,
    /// None once [`RegistryHandle::serve_error`] saw it end.
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl RegistryHandle {
    /// The address the REST API is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL this instance advertises to the others (and that clients can use on this host).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The registry's rules and state.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The `_schemas` store (applied offset, leadership changes).
    pub fn log(&self) -> &Arc<KafkaLog> {
        &self.log
    }

    /// Stops serving (letting in-flight requests finish), leaves the election group so another instance takes
    /// over at once, and stops reading the topic.
    pub async fn shutdown(self) {
        let _ = self.stop_http.send(true);
        if let Some(mut server) = self.server {
            match tokio::time::timeout(HTTP_DRAIN_TIMEOUT, &mut server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(addr = %self.local_addr, error = %e, "the HTTP server failed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server task failed"),
                Err(_) => {
                    tracing::warn!("HTTP requests still running after {HTTP_DRAIN_TIMEOUT:?}; dropping them");
                    server.abort();
                }
            }
        }
        self.election.shutdown().await;
        self.log.shutdown().await;
        tracing::info!(url = %self.url, "schema registry stopped");
    }

    /// Waits until the HTTP server stops on its own (it only does on an error), for binaries that serve until
    /// a signal: `select!` this against the signal, then call [`RegistryHandle::shutdown`].
    pub async fn serve_error(&mut self) -> RegistryError {
        let Some(server) = self.server.take() else {
            return std::future::pending().await;
        };
        let source = match server.await {
            Ok(Ok(())) => std::io::Error::other("the HTTP server stopped"),
            Ok(Err(e)) => e,
            Err(e) => std::io::Error::other(format!("the HTTP server task failed: {e}")),
        };
        RegistryError::Serve { addr: self.local_addr, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_url_replaces_wildcards_with_loopback() {
        assert_eq!(default_url("0.0.0.0:8081".parse().unwrap()), "http://127.0.0.1:8081");
        assert_eq!(default_url("[::]:8081".parse().unwrap()), "http://[::1]:8081");
        assert_eq!(default_url("10.1.2.3:80".parse().unwrap()), "http://10.1.2.3:80");
        assert_eq!(default_url("[fe80::1]:80".parse().unwrap()), "http://[fe80::1]:80");
    }
}
