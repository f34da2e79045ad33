//! `/connectors/{name}/offsets`.

use serde_json::json;

use super::{answer, assert_empty, assert_error, Server};

#[tokio::test]
async fn offsets_are_read_altered_and_reset_while_stopped() {
    let server = Server::start().await;
    server.source("s").await;
    assert_eq!(answer(server.get("/connectors/s/offsets").await).await, (200, json!({"offsets": []})));
    let change = json!({"offsets": [{"partition": {"file": "a.txt"}, "offset": {"position": 42}}]});

    let running = server.patch("/connectors/s/offsets", change.clone()).await;
    assert!(assert_error(running, 400).await.contains("STOPPED"));

    assert_empty(server.put("/connectors/s/stop", None).await, 204).await;
    let (code, body) = answer(server.patch("/connectors/s/offsets", change.clone()).await).await;
    assert_eq!(
        (code, body),
        (200, json!({"message": "The offsets for this connector have been altered successfully"}))
    );
    assert_eq!(answer(server.get("/connectors/s/offsets").await).await, (200, change));

    let (code, body) = answer(server.delete("/connectors/s/offsets").await).await;
    assert_eq!((code, body), (200, json!({"message": "The offsets for this connector have been reset successfully"})));
    assert_eq!(answer(server.get("/connectors/s/offsets").await).await, (200, json!({"offsets": []})));
}

#[tokio::test]
async fn altering_offsets_needs_partitions_and_a_known_connector() {
    let server = Server::start().await;
    server.source("s").await;
    let expected = "Partitions / offsets need to be provided for an alter offsets request";
    assert_eq!(assert_error(server.patch("/connectors/s/offsets", json!({"offsets": []})).await, 400).await, expected);
    assert_eq!(assert_error(server.patch("/connectors/s/offsets", json!({})).await, 400).await, expected);
    assert_error(server.patch("/connectors/s/offsets", json!({"offsets": 5})).await, 500).await;
    assert_error(server.patch("/connectors/s/offsets", json!({"offsets": [{"offset": {}}]})).await, 500).await;
    let change = json!({"offsets": [{"partition": {"p": 1}, "offset": null}]});
    assert_error(server.patch("/connectors/x/offsets", change).await, 404).await;
    assert_error(server.get("/connectors/x/offsets").await, 404).await;
    assert_error(server.delete("/connectors/x/offsets").await, 404).await;
}
