//! `GET /metrics`.

use reqwest::header::CONTENT_TYPE;

use super::Server;

#[tokio::test]
async fn metrics_show_states_and_task_counters_in_prometheus_text() {
    let server = Server::start().await;
    server.source("src").await;
    server.sink("snk").await;
    assert_eq!(server.put("/connectors/snk/pause", None).await.status().as_u16(), 202);
    let response = server.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    for line in [
        "connect_connectors 2",
        r#"connect_connector_status{connector="src",state="RUNNING",type="source",worker_id="127.0.0.1:8083"} 1"#,
        r#"connect_connector_status{connector="snk",state="PAUSED",type="sink",worker_id="127.0.0.1:8083"} 1"#,
        r#"connect_task_status{connector="src",state="RUNNING",task="1",worker_id="127.0.0.1:8083"} 1"#,
        "# TYPE connect_task_records_read_total counter",
        r#"connect_task_records_read_total{connector="src",task="1"} 10"#,
        r#"connect_task_records_written_total{connector="snk",task="0"} 9"#,
        r#"connect_task_record_errors_total{connector="src",task="0"} 1"#,
        r#"connect_task_dlq_records_total{connector="snk",task="0"} 1"#,
        r#"connect_task_lag_records{connector="snk",task="0"} 5"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains(r#"connect_task_lag_records{connector="src""#), "sources have no lag");

    assert_eq!(server.delete("/connectors/src").await.status().as_u16(), 204);
    let text = server.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("connect_connectors 1") && !text.contains(r#"connector="src""#), "{text}");
}
