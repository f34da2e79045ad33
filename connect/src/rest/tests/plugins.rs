//! `/connector-plugins`.

use serde_json::json;

use super::{answer, assert_error, Server, SINK_CLASS, SOURCE_CLASS};

#[tokio::test]
async fn plugins_list_class_type_and_version() {
    let server = Server::start().await;
    let expected = json!([
        {"class": SINK_CLASS, "type": "sink", "version": "1.0"},
        {"class": SOURCE_CLASS, "type": "source", "version": "1.0"},
    ]);
    assert_eq!(answer(server.get("/connector-plugins").await).await, (200, expected.clone()));
    assert_eq!(answer(server.get("/connector-plugins/?connectorsOnly=false").await).await, (200, expected));
}

#[tokio::test]
async fn validation_answers_200_with_per_field_errors() {
    let server = Server::start().await;
    // The path may name the plugin by alias, simple name or class; the body's class must end with it.
    for plugin in ["FileSink", "FileSinkConnector", SINK_CLASS] {
        let path = format!("/connector-plugins/{plugin}/config/validate");
        let (code, infos) = answer(server.put(&path, Some(json!({"connector.class": SINK_CLASS}))).await).await;
        assert_eq!((code, &infos["name"], &infos["error_count"]), (200, &json!(SINK_CLASS), &json!(1)), "{plugin}");
        assert_eq!(infos["groups"], json!(["Common"]));
        let topic = &infos["configs"][1];
        assert_eq!(topic["definition"]["name"], "topic");
        assert_eq!(topic["definition"]["type"], "STRING");
        assert_eq!(
            topic["value"],
            json!({
                "name": "topic",
                "value": null,
                "recommended_values": [],
                "errors": ["Missing required configuration \"topic\" which has no default value."],
                "visible": true,
            })
        );
    }
    let good = json!({"connector.class": "FileSinkConnector", "topic": "t"});
    let (code, infos) = answer(server.put("/connector-plugins/FileSink/config/validate", Some(good)).await).await;
    assert_eq!((code, &infos["error_count"]), (200, &json!(0)));
}

#[tokio::test]
async fn validation_refuses_a_missing_or_mismatched_connector_class() {
    let server = Server::start().await;
    let path = "/connector-plugins/FileSink/config/validate";
    let other = server.put(path, Some(json!({"connector.class": SOURCE_CLASS}))).await;
    assert_eq!(
        assert_error(other, 400).await,
        format!("Included connector type {SOURCE_CLASS} does not match request type FileSink")
    );
    let missing = server.put(path, Some(json!({"topic": "t"}))).await;
    assert_eq!(assert_error(missing, 400).await, "Connector config {topic=t} contains no connector type");
    let unknown = server.put("/connector-plugins/Nope/config/validate", Some(json!({"connector.class": "Nope"}))).await;
    assert_error(unknown, 400).await;
}

#[tokio::test]
async fn a_plugin_config_lists_its_definitions() {
    let server = Server::start().await;
    let (code, definitions) = answer(server.get("/connector-plugins/FileSinkConnector/config").await).await;
    assert_eq!(code, 200);
    let names: Vec<&str> = definitions.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["connector.class", "topic"]);
    assert_eq!(definitions[1]["required"], true);
}
