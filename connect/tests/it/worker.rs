//! Starts a standalone worker in this process and serves its REST API on an OS-chosen port, as
//! `connect-standalone` does, with offsets committed every 200 ms so tests see them promptly.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use sluice_connect::runtime::herder::Herder;
use sluice_connect::runtime::standalone::loggers::LogLevels;
use sluice_connect::runtime::standalone::StandaloneWorker;
use sluice_connect::runtime::worker_config::WorkerConfig;

/// Stops what [`start`] started.
pub(crate) type Stop = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// Starts a worker against `bootstrap` keeping its files in `dir`; answers the REST base URL and how to stop it.
pub(crate) async fn start(bootstrap: &str, dir: &Path) -> (String, Stop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the REST listener");
    let addr = listener.local_addr().expect("the REST listener's address");
    let settings = [
        ("bootstrap.servers", bootstrap.to_string()),
        ("listeners", format!("http://{addr}")),
        ("offset.storage.file.filename", dir.join("connect.offsets").display().to_string()),
        ("offset.flush.interval.ms", "200".to_string()),
    ];
    let config = WorkerConfig::from_settings(
        settings.into_iter().map(|(k, v)| (k.to_string(), v, None)),
        "test worker settings",
    )
    .expect("the test worker settings are valid");
    let worker = StandaloneWorker::start(config, addr.to_string(), LogLevels::new(BTreeMap::new(), None))
        .await
        .expect("the standalone worker starts");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let herder: Arc<dyn Herder> = worker.clone();
    let server = tokio::spawn(sluice_connect::rest::serve(listener, herder, async {
        let _ = rx.await;
    }));
    let stop: Stop = Box::new(move || {
        Box::pin(async move {
            worker.shutdown().await;
            let _ = tx.send(());
            server.await.expect("the REST server task").expect("the REST server stops cleanly");
        })
    });
    (format!("http://{addr}"), stop)
}
