//! The REST API end to end over real HTTP, on a registry instance storing into a real broker: bad input answered
//! with Confluent's statuses and error codes, a walk through every resource, basic auth, and a follower
//! forwarding writes to the leader.

use reqwest::Method;
use serde_json::{json, Value};
use sluice_schema_registry::store::{Leadership, SchemaLog};

use crate::support::{self, send, wait_until, Answer, Env, CONTENT_TYPE, WAIT};

/// `{"schema": <schema as text>}`.
fn schema_body(schema: &Value) -> Value {
    json!({ "schema": schema.to_string() })
}

fn user_v1() -> Value {
    json!({"type": "record", "name": "User", "namespace": "com.example", "fields": [
        {"name": "name", "type": "string"}
    ]})
}

/// `user_v1` plus a field with a default: BACKWARD compatible.
fn user_v2() -> Value {
    json!({"type": "record", "name": "User", "namespace": "com.example", "fields": [
        {"name": "name", "type": "string"},
        {"name": "age", "type": "int", "default": 0}
    ]})
}

/// `user_v1` plus a field without a default: a reader with it cannot read v1 data, so not BACKWARD compatible.
fn user_incompatible() -> Value {
    json!({"type": "record", "name": "User", "namespace": "com.example", "fields": [
        {"name": "name", "type": "string"},
        {"name": "email", "type": "string"}
    ]})
}

/// Waits until the main instance of `env` is the elected writer: until then it answers writes with 50004.
async fn wait_leader(env: &Env) {
    let log = env.registry().log().clone();
    wait_until(WAIT, "the registry is elected", || {
        let log = log.clone();
        async move {
            match log.leadership() {
                Leadership::Leader => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await
}

/// A broker and one registry, elected.
async fn start() -> Env {
    let env = Env::start().await;
    wait_leader(&env).await;
    env
}

/// Asserts an error answer: status, error code, a message, and Confluent's content type.
#[track_caller]
fn assert_error(answer: &Answer, status: u16, error_code: i64) {
    assert_eq!((answer.status, answer.error_code()), (status, Some(error_code)), "{answer}");
    assert!(answer.body["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {answer}");
    assert_eq!(answer.content_type.as_deref(), Some(CONTENT_TYPE), "{answer}");
}

/// Asserts a 200 answer and returns its body.
#[track_caller]
fn ok(answer: Answer) -> Value {
    assert_eq!(answer.status, 200, "{answer}");
    assert_eq!(answer.content_type.as_deref(), Some(CONTENT_TYPE), "{answer}");
    answer.body
}

/// Sends `body` as it is (not necessarily JSON) with `content_type`.
async fn raw(env: &Env, method: Method, path: &str, content_type: &str, body: &str) -> Answer {
    let builder = env
        .http
        .request(method.clone(), format!("{}{path}", env.url))
        .header("Content-Type", content_type)
        .body(body.to_string());
    send(builder, &format!("{method} {path}")).await
}

#[tokio::test]
async fn bad_input_is_answered_with_confluent_statuses_and_error_codes() {
    let env = start().await;
    env.register("known", &user_v1()).await;

    // Malformed JSON: 400 / 400, as Confluent's rest-utils answers a JSON parse error.
    let malformed =
        raw(&env, Method::POST, "/subjects/known/versions", CONTENT_TYPE, "{\"schema\": \"\"string\"").await;
    assert_error(&malformed, 400, 400);
    assert_error(&raw(&env, Method::PUT, "/config", CONTENT_TYPE, "{compatibility: FULL}").await, 400, 400);
    assert_error(&raw(&env, Method::POST, "/subjects/known", "text/plain", "{}").await, 415, 415);

    // Invalid schemas: 422 / 42201.
    let not_avro =
        env.post("/subjects/known/versions", json!({"schema": "{\"type\": \"recrod\", \"name\": \"X\"}"})).await;
    assert_error(&not_avro, 422, 42201);
    assert_error(&env.post("/subjects/known/versions", json!({"schema": "{not json"})).await, 422, 42201);
    let bad_type = env.post("/subjects/known/versions", json!({"schema": "\"string\"", "schemaType": "XML"})).await;
    assert_error(&bad_type, 422, 42201);
    assert_error(&env.post("/subjects/known/versions", json!({"schemaType": "AVRO"})).await, 422, 42201);

    // Unknown subject, version and id: 404 / 40401, 40402, 40403.
    assert_error(&env.get("/subjects/unknown/versions").await, 404, 40401);
    assert_error(&env.get("/subjects/unknown/versions/1").await, 404, 40401);
    assert_error(&env.post("/subjects/unknown", schema_body(&user_v1())).await, 404, 40401);
    assert_error(&env.get("/subjects/known/versions/7").await, 404, 40402);
    assert_error(&env.get("/schemas/ids/987654").await, 404, 40403);
    assert_error(&env.get("/schemas/ids/not-a-number").await, 404, 40403);
    assert_error(&env.post("/subjects/known", schema_body(&user_v2())).await, 404, 40403);

    // Invalid versions: 422 / 42202.
    for version in ["abc", "0", "-7", "1.5", "99999999999"] {
        assert_error(&env.get(&format!("/subjects/known/versions/{version}")).await, 422, 42202);
    }

    // Invalid compatibility levels: 422 / 42203; invalid modes: 422 / 42204.
    assert_error(&env.put("/config", json!({"compatibility": "SIDEWAYS"})).await, 422, 42203);
    assert_error(&env.put("/config/known", json!({"compatibility": "backwards"})).await, 422, 42203);
    assert_error(&env.put("/mode", json!({"mode": "WRITEONLY"})).await, 422, 42204);
    assert_error(&env.put("/mode/known", json!({"mode": 3})).await, 422, 42204);

    // Routes that do not exist, and methods a route does not take.
    assert_error(&env.get("/nowhere").await, 404, 404);
    assert_error(&env.delete("/schemas/types").await, 405, 405);

    // Nothing of the above changed anything.
    assert_eq!(ok(env.get("/subjects/known/versions").await), json!([1]));
    assert_eq!(ok(env.get("/config").await)["compatibilityLevel"], "BACKWARD");
    env.stop().await;
}

#[tokio::test]
async fn a_walk_through_every_resource() {
    let env = start().await;
    assert_eq!(ok(env.get("/").await), json!({}));
    assert_eq!(ok(env.get("/schemas/types").await), json!(["JSON", "PROTOBUF", "AVRO"]));
    assert_eq!(ok(env.get("/subjects").await), json!([]));

    // Global config.
    assert_eq!(ok(env.get("/config").await), json!({"compatibilityLevel": "BACKWARD"}));
    assert_eq!(ok(env.put("/config", json!({"compatibility": "full"})).await), json!({"compatibility": "FULL"}));
    assert_eq!(ok(env.get("/config").await), json!({"compatibilityLevel": "FULL"}));
    assert_eq!(ok(env.put("/config", json!({"compatibility": "BACKWARD"})).await)["compatibility"], "BACKWARD");

    // Register: the same schema gets the same id, under any subject; subjects in paths are URL-encoded.
    let id1 = env.register("walk-value", &user_v1()).await;
    assert_eq!(env.register("walk-value", &user_v1()).await, id1);
    assert_eq!(env.register("team%2Fusers", &user_v1()).await, id1);
    assert_eq!(ok(env.get("/subjects").await), json!(["team/users", "walk-value"]));
    assert_eq!(ok(env.get("/subjects?subjectPrefix=walk").await), json!(["walk-value"]));

    // Lookup, by version, by id.
    let found = ok(env.post("/subjects/walk-value", schema_body(&user_v1())).await);
    assert_eq!(
        (found["subject"].as_str(), found["version"].as_i64(), found["id"].as_i64()),
        (Some("walk-value"), Some(1), Some(id1))
    );
    let v1 = ok(env.get("/subjects/team%2Fusers/versions/1").await);
    assert_eq!((v1["subject"].as_str(), v1["id"].as_i64()), (Some("team/users"), Some(id1)), "{v1}");
    assert!(v1.get("schemaType").is_none(), "Avro leaves schemaType out: {v1}");
    let text = env.get("/subjects/walk-value/versions/latest/schema").await;
    assert_eq!(text.status, 200, "{text}");
    assert_eq!(text.body["name"], "User", "the raw schema text: {text}");
    let by_id = ok(env.get(&format!("/schemas/ids/{id1}")).await);
    let parsed: Value = serde_json::from_str(by_id["schema"].as_str().expect("schema text")).unwrap();
    assert_eq!(parsed["name"], "User");
    assert_eq!(env.get(&format!("/schemas/ids/{id1}/schema")).await.body["name"], "User");
    assert_eq!(ok(env.get(&format!("/schemas/ids/{id1}/subjects")).await), json!(["team/users", "walk-value"]));
    assert_eq!(
        ok(env.get(&format!("/schemas/ids/{id1}/versions")).await),
        json!([{"subject": "team/users", "version": 1}, {"subject": "walk-value", "version": 1}])
    );

    // Compatibility checks are reads; verbose ones say why.
    let check = "/compatibility/subjects/walk-value/versions/latest";
    assert_eq!(ok(env.post(check, schema_body(&user_v2())).await), json!({"is_compatible": true}));
    let verdict = ok(env.post(&format!("{check}?verbose=true"), schema_body(&user_incompatible())).await);
    assert_eq!(verdict["is_compatible"], false, "{verdict}");
    assert!(verdict["messages"].as_array().is_some_and(|m| !m.is_empty()), "verbose says why: {verdict}");
    let all = ok(env.post("/compatibility/subjects/walk-value/versions", schema_body(&user_incompatible())).await);
    assert_eq!(all["is_compatible"], false, "{all}");
    assert!(all.get("messages").is_none(), "messages only when verbose: {all}");

    // An incompatible registration: 409 / 409. A compatible one: version 2 with a new id.
    let refused = env.post("/subjects/walk-value/versions", schema_body(&user_incompatible())).await;
    assert_error(&refused, 409, 409);
    let id2 = env.register("walk-value", &user_v2()).await;
    assert_ne!(id2, id1);
    assert_eq!(ok(env.get("/subjects/walk-value/versions").await), json!([1, 2]));
    assert_eq!(ok(env.get("/subjects/walk-value/versions/latest").await)["version"], 2);

    // Subject config, with and without the global default.
    assert_eq!(
        ok(env.put("/config/walk-value", json!({"compatibility": "NONE"})).await),
        json!({"compatibility": "NONE"})
    );
    assert_eq!(ok(env.get("/config/walk-value").await), json!({"compatibilityLevel": "NONE"}));
    assert_eq!(ok(env.delete("/config/walk-value").await), json!({"compatibilityLevel": "NONE"}));
    assert_error(&env.get("/config/walk-value").await, 404, 40408);
    assert_eq!(ok(env.get("/config/walk-value?defaultToGlobal=true").await), json!({"compatibilityLevel": "BACKWARD"}));

    // Modes: a READONLY subject takes no registrations.
    assert_eq!(ok(env.get("/mode").await), json!({"mode": "READWRITE"}));
    assert_eq!(ok(env.put("/mode/walk-value", json!({"mode": "READONLY"})).await), json!({"mode": "READONLY"}));
    assert_eq!(ok(env.get("/mode/walk-value").await), json!({"mode": "READONLY"}));
    // (Re-registering a schema the subject holds still answers its id, as in Confluent; a new one is refused.)
    let mut user_v3 = user_v2();
    user_v3["fields"].as_array_mut().unwrap().push(json!({"name": "nick", "type": "string", "default": ""}));
    assert_error(&env.post("/subjects/walk-value/versions", schema_body(&user_v3)).await, 422, 42205);
    assert_eq!(ok(env.post("/subjects/walk-value/versions", schema_body(&user_v2())).await), json!({"id": id2}));
    assert_eq!(ok(env.delete("/mode/walk-value").await), json!({"mode": "READONLY"}));
    assert_error(&env.get("/mode/walk-value").await, 404, 40409);
    assert_eq!(ok(env.get("/mode/walk-value?defaultToGlobal=true").await), json!({"mode": "READWRITE"}));

    // IMPORT mode: the caller chooses ids and versions.
    assert_eq!(ok(env.put("/mode/imported", json!({"mode": "IMPORT"})).await), json!({"mode": "IMPORT"}));
    let imported = json!({"schema": "\"string\"", "id": 4242, "version": 3});
    assert_eq!(ok(env.post("/subjects/imported/versions", imported).await), json!({"id": 4242}));
    assert_eq!(ok(env.get("/subjects/imported/versions").await), json!([3]));
    assert_eq!(ok(env.get("/schemas/ids/4242").await)["schema"], "\"string\"");
    ok(env.put("/mode/imported", json!({"mode": "READWRITE"})).await);

    // Avro references: a record naming a type registered under another subject.
    let address = json!({"type": "record", "name": "Address", "namespace": "com.example", "fields": [
        {"name": "city", "type": "string"}
    ]});
    let address_id = env.register("address", &address).await;
    let customer = json!({"type": "record", "name": "Customer", "namespace": "com.example", "fields": [
        {"name": "name", "type": "string"},
        {"name": "address", "type": "com.example.Address"}
    ]});
    let with_reference = json!({
        "schema": customer.to_string(),
        "references": [{"name": "com.example.Address", "subject": "address", "version": 1}]
    });
    let customer_id = ok(env.post("/subjects/customer/versions", with_reference.clone()).await)["id"].as_i64().unwrap();
    assert_eq!(ok(env.get("/subjects/address/versions/1/referencedby").await), json!([customer_id]));
    let customer_v1 = ok(env.get("/subjects/customer/versions/1").await);
    assert_eq!(customer_v1["references"], with_reference["references"], "{customer_v1}");
    assert_eq!(ok(env.get(&format!("/schemas/ids/{customer_id}")).await)["references"], with_reference["references"]);
    assert_eq!(ok(env.post("/subjects/customer", with_reference).await)["id"], customer_id);
    assert_error(&env.delete("/subjects/address/versions/1").await, 422, 42206);
    assert_ne!(address_id, customer_id);

    // Soft delete of a version: hidden unless asked for, its id still readable.
    assert_eq!(ok(env.delete("/subjects/walk-value/versions/1").await), json!(1));
    assert_eq!(ok(env.get("/subjects/walk-value/versions").await), json!([2]));
    assert_eq!(ok(env.get("/subjects/walk-value/versions?deleted=true").await), json!([1, 2]));
    assert_error(&env.get("/subjects/walk-value/versions/1").await, 404, 40402);
    assert_eq!(ok(env.get("/subjects/walk-value/versions/1?deleted=true").await)["id"], id1);
    assert_error(&env.delete("/subjects/walk-value/versions/1").await, 404, 40406);
    assert_error(&env.delete("/subjects/walk-value/versions/2?permanent=true").await, 404, 40407);
    assert_eq!(ok(env.delete("/subjects/walk-value/versions/1?permanent=true").await), json!(1));
    assert_eq!(ok(env.get("/subjects/walk-value/versions?deleted=true").await), json!([2]));

    // Soft, then permanent, delete of a subject.
    assert_error(&env.delete("/subjects/walk-value?permanent=true").await, 404, 40405);
    assert_eq!(ok(env.delete("/subjects/walk-value").await), json!([2]));
    assert_error(&env.get("/subjects/walk-value/versions").await, 404, 40401);
    assert!(!ok(env.get("/subjects").await).as_array().unwrap().contains(&json!("walk-value")));
    assert!(ok(env.get("/subjects?deleted=true").await).as_array().unwrap().contains(&json!("walk-value")));
    assert_error(&env.delete("/subjects/walk-value").await, 404, 40404);
    assert_eq!(ok(env.delete("/subjects/walk-value?permanent=true").await), json!([2]));
    assert!(!ok(env.get("/subjects?deleted=true").await).as_array().unwrap().contains(&json!("walk-value")));
    // The id lives on while another subject uses it.
    assert_eq!(ok(env.get(&format!("/schemas/ids/{id1}/subjects")).await), json!(["team/users"]));

    // The listing of every schema, and the metrics.
    let listed = ok(env.get("/schemas?subjectPrefix=team").await);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["subject"], "team/users");
    let metrics = env.http.get(format!("{}/metrics", env.url)).send().await.unwrap().text().await.unwrap();
    for expected in ["schema_registry_is_leader 1", "schema_registry_http_requests_total{", "schema_registry_subjects "]
    {
        assert!(metrics.contains(expected), "missing {expected:?} in {metrics}");
    }
    env.stop().await;
}

#[tokio::test]
async fn basic_auth_guards_the_api() {
    let env = Env::start_with(|config| {
        config.basic_auth = vec![sluice_schema_registry::config::BasicAuthUser {
            username: "alice".to_string(),
            password: "wonderland".to_string(),
        }];
    })
    .await;
    wait_leader(&env).await;
    let anonymous = env.get("/subjects").await;
    assert_error(&anonymous, 401, 401);
    let wrong = send(env.http.get(format!("{}/subjects", env.url)).basic_auth("alice", Some("rabbit")), "wrong").await;
    assert_error(&wrong, 401, 401);
    let register = env
        .http
        .post(format!("{}/subjects/s/versions", env.url))
        .basic_auth("alice", Some("wonderland"))
        .header("Content-Type", CONTENT_TYPE)
        .body(schema_body(&user_v1()).to_string());
    assert_eq!(ok(send(register, "register").await), json!({"id": 1}));
    let listed =
        send(env.http.get(format!("{}/subjects", env.url)).basic_auth("alice", Some("wonderland")), "list").await;
    assert_eq!(ok(listed), json!(["s"]));
    env.stop().await;
}

#[tokio::test]
async fn a_follower_forwards_writes_and_reads_them_back() {
    let env = start().await;
    // The first instance writes once it is elected; the second then follows it.
    env.register("warmup", &json!("string")).await;
    let follower = env.start_instance(|_| {}).await;
    let log = follower.handle.log().clone();
    let leader_url = env.url.clone();
    wait_until(WAIT, "the second instance follows the first", || {
        let log = log.clone();
        let leader_url = leader_url.clone();
        async move {
            match log.leadership() {
                Leadership::Follower { leader_url: Some(url) } if url == leader_url => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;

    let id = support::register_at(&env.http, &follower.url, "forwarded", &user_v1()).await;
    // Read back from the follower at once: it caught up before answering the write.
    assert_eq!(ok(follower.get(&env.http, "/subjects/forwarded/versions/latest").await)["id"], id);
    assert_eq!(ok(env.get("/subjects/forwarded/versions/1").await)["id"], id);
    assert_eq!(
        ok(follower.put(&env.http, "/config/forwarded", json!({"compatibility": "NONE"})).await)["compatibility"],
        "NONE"
    );
    assert_eq!(ok(follower.get(&env.http, "/config/forwarded").await), json!({"compatibilityLevel": "NONE"}));
    // Refusals come back from the leader unchanged.
    assert_error(&follower.put(&env.http, "/mode/forwarded", json!({"mode": "SOMETIMES"})).await, 422, 42204);
    assert_eq!(ok(follower.delete(&env.http, "/subjects/forwarded").await), json!([1]));
    assert_error(&follower.get(&env.http, "/subjects/forwarded/versions").await, 404, 40401);
    follower.stop().await;
    env.stop().await;
}
