//! The `_schemas` store end to end: state rebuilt from the topic after a restart of the registry and of the
//! broker, the topic checks, and several instances sharing one topic with a single elected writer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use sluice_schema_registry::server::{RegistryHandle, SchemaRegistry};
use sluice_schema_registry::store::records::{ConfigValue, ModeValue, SchemaValue};
use sluice_schema_registry::store::{Leadership, Record, RecordKey, RecordValue, SchemaLog};
use sluice_schema_registry::types::{CompatibilityLevel, Mode};
use sluice_schema_registry::RegistryError;

use crate::support::{register_at, request, test_registry_config, wait_until, Answer, Env, WAIT};

/// An Avro record schema named `name` with the given `(field, type)` fields, as JSON.
fn record_schema(name: &str, fields: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = fields.iter().map(|(f, t)| json!({"name": f, "type": t})).collect();
    json!({"type": "record", "name": name, "fields": fields})
}

/// Waits until `handle` is the elected writer (it has read the topic to its end since it was elected).
async fn wait_leader(handle: &RegistryHandle) {
    let log = handle.log().clone();
    wait_until(WAIT, &format!("{} is the leader", handle.url()), || {
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

/// Waits until `handle` is a follower that knows `leader_url`.
async fn wait_follower_of(handle: &RegistryHandle, leader_url: &str) {
    let log = handle.log().clone();
    wait_until(WAIT, &format!("{} follows {leader_url}", handle.url()), || {
        let log = log.clone();
        async move {
            match log.leadership() {
                Leadership::Follower { leader_url: Some(url) } if url == leader_url => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await
}

/// Everything the REST API tells about the registry's contents, soft-deleted versions included, as one JSON
/// value: equal dumps mean every subject, version, id, schema, config and mode is the same.
async fn dump(http: &reqwest::Client, url: &str) -> Value {
    let get = |path: String| async move {
        let answer = request(http, reqwest::Method::GET, &format!("{url}{path}"), None).await;
        json!({"status": answer.status, "body": answer.body})
    };
    let ok = |path: String| async move {
        let answer: Answer = request(http, reqwest::Method::GET, &format!("{url}{path}"), None).await;
        assert_eq!(answer.status, 200, "GET {url}{path}: {answer}");
        answer.body
    };
    let all_subjects = ok("/subjects?deleted=true".to_string()).await;
    let live_subjects = ok("/subjects".to_string()).await;
    let mut subjects = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for subject in all_subjects.as_array().expect("a subject list") {
        let subject = subject.as_str().expect("subject names are strings");
        let all_versions = ok(format!("/subjects/{subject}/versions?deleted=true")).await;
        let live_versions = get(format!("/subjects/{subject}/versions")).await;
        let mut versions = BTreeMap::new();
        for version in all_versions.as_array().expect("a version list") {
            let body = ok(format!("/subjects/{subject}/versions/{version}?deleted=true")).await;
            ids.insert(body["id"].as_i64().expect("versions have ids"));
            versions.insert(version.to_string(), body);
        }
        subjects.insert(
            subject.to_string(),
            json!({
                "versions": versions,
                "live_versions": live_versions,
                "config": get(format!("/config/{subject}")).await,
                "mode": get(format!("/mode/{subject}")).await,
            }),
        );
    }
    let mut schemas = BTreeMap::new();
    for id in ids {
        schemas.insert(id.to_string(), get(format!("/schemas/ids/{id}")).await);
    }
    json!({
        "subjects": subjects,
        "live_subjects": live_subjects,
        "schemas": schemas,
        "config": get("/config".to_string()).await,
        "mode": get("/mode".to_string()).await,
    })
}

fn assert_ok(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 200, "{what}: {answer}");
}

/// Fills the registry with several subjects and versions, configs and modes at both levels, a soft-deleted
/// subject, a soft-deleted version and a permanently deleted one; returns the highest id handed out.
async fn populate(env: &Env) -> i64 {
    let mut max_id = 0;
    for (subject, count) in [("orders-value", 3), ("payments-value", 2), ("gone-value", 2), ("users-key", 1)] {
        let mut fields = vec![("id", "long")];
        for version in 0..count {
            let schema = record_schema(&format!("{}{version}", subject.replace('-', "_")), &fields);
            // Each version renames the record, which BACKWARD refuses: these subjects take any change.
            if version == 0 {
                assert_ok(&env.put(&format!("/config/{subject}"), json!({"compatibility": "NONE"})).await, "config");
            }
            max_id = max_id.max(env.register(subject, &schema).await);
            fields.push((["a", "b", "c"][version], "string"));
        }
    }
    // The same schema under another subject keeps its id.
    let shared = record_schema("orders_value0", &[("id", "long")]);
    let shared_id = env.register("orders-copy-value", &shared).await;
    let first = env.get("/subjects/orders-value/versions/1").await;
    assert_eq!(Some(shared_id), first.body["id"].as_i64(), "one schema, one id: {first}");

    assert_ok(&env.put("/config", json!({"compatibility": "FULL_TRANSITIVE"})).await, "global config");
    assert_ok(&env.put("/config/payments-value", json!({"compatibility": "FORWARD"})).await, "subject config");
    assert_ok(&env.put("/mode/users-key", json!({"mode": "READONLY"})).await, "subject mode");
    assert_ok(&env.delete("/subjects/gone-value").await, "soft delete of a subject");
    assert_ok(&env.delete("/subjects/orders-value/versions/2").await, "soft delete of a version");
    assert_ok(&env.delete("/subjects/payments-value/versions/1").await, "soft delete before a permanent one");
    assert_ok(&env.delete("/subjects/payments-value/versions/1?permanent=true").await, "permanent delete of a version");
    max_id
}

/// The dump holds what [`populate`] wrote, so comparing two dumps compares something.
fn assert_populated(dump: &Value) {
    let subjects: Vec<&String> = dump["subjects"].as_object().expect("subjects").keys().collect();
    assert_eq!(
        subjects,
        ["gone-value", "orders-copy-value", "orders-value", "payments-value", "users-key"],
        "every subject, soft-deleted ones too: {dump}"
    );
    assert_eq!(
        dump["live_subjects"],
        json!(["orders-copy-value", "orders-value", "payments-value", "users-key"]),
        "{dump}"
    );
    let orders = &dump["subjects"]["orders-value"];
    assert_eq!(orders["versions"].as_object().map(|v| v.len()), Some(3), "{orders}");
    assert_eq!(orders["live_versions"]["body"], json!([1, 3]), "{orders}");
    assert_eq!(dump["subjects"]["payments-value"]["versions"].as_object().map(|v| v.len()), Some(1), "{dump}");
    assert_eq!(dump["config"]["body"]["compatibilityLevel"], "FULL_TRANSITIVE", "{dump}");
    assert_eq!(dump["subjects"]["payments-value"]["config"]["body"]["compatibilityLevel"], "FORWARD", "{dump}");
    assert_eq!(dump["subjects"]["users-key"]["mode"]["body"]["mode"], "READONLY", "{dump}");
    assert_eq!(dump["schemas"].as_object().map(|s| s.len()), Some(7), "ids in use: {dump}");
}

/// After a restart, a new schema gets an id above every id handed out before: ids are never reused.
async fn assert_ids_continue(env: &Env, max_before: i64) {
    let fresh = record_schema("after_restart", &[("x", "string")]);
    let id = env.register("after-restart-value", &fresh).await;
    assert!(id > max_before, "a new schema after the restart got id {id}, not above {max_before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_restart_keeps_subjects_versions_ids_configs_and_modes() {
    let mut env = Env::start().await;
    wait_leader(env.registry()).await;
    let max_id = populate(&env).await;
    let before = dump(&env.http, &env.url).await;
    assert_populated(&before);

    env.restart_registry().await;
    let after = dump(&env.http, &env.url).await;
    assert_eq!(before, after, "the registry's contents changed across its restart");

    wait_leader(env.registry()).await;
    assert_ids_continue(&env, max_id).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_registry_restart_keeps_everything() {
    let mut env = Env::start().await;
    wait_leader(env.registry()).await;
    let max_id = populate(&env).await;
    let before = dump(&env.http, &env.url).await;
    assert_populated(&before);

    env.restart_broker().await;
    let after = dump(&env.http, &env.url).await;
    assert_eq!(before, after, "the registry's contents changed across a broker restart");

    wait_leader(env.registry()).await;
    assert_ids_continue(&env, max_id).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_agree_on_ids_under_concurrent_registration() {
    const PER_INSTANCE: usize = 20;
    let env = Env::start().await;
    wait_leader(env.registry()).await;
    let follower = env.start_instance(|_| {}).await;
    wait_follower_of(&follower.handle, &env.url).await;

    // 2 x 20 distinct schemas under distinct subjects, plus one schema registered 2 x 5 times under one subject,
    // all at once through both instances.
    let mut jobs = Vec::new();
    for (instance, url) in [("leader", env.url.clone()), ("follower", follower.url.clone())] {
        for i in 0..PER_INSTANCE {
            let subject = format!("{instance}-{i}-value");
            let schema = record_schema(&format!("{instance}_{i}"), &[("n", "int")]);
            jobs.push((url.clone(), subject, schema));
        }
        for _ in 0..5 {
            jobs.push((url.clone(), "shared-value".to_string(), record_schema("shared", &[("s", "string")])));
        }
    }
    let http = env.http.clone();
    let results = join_all(jobs.iter().map(|(url, subject, schema)| {
        let http = http.clone();
        async move { (subject.clone(), register_at(&http, url, subject, schema).await) }
    }))
    .await;

    let mut by_subject: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (subject, id) in &results {
        by_subject.entry(subject.clone()).or_default().insert(*id);
    }
    assert_eq!(by_subject["shared-value"].len(), 1, "one schema got several ids: {by_subject:?}");
    let distinct: Vec<i64> = by_subject.values().flatten().copied().collect();
    let unique: BTreeSet<i64> = distinct.iter().copied().collect();
    assert_eq!(unique.len(), 2 * PER_INSTANCE + 1, "ids were handed out twice: {by_subject:?}");

    // Both instances answer every subject with the id its registration returned.
    for url in [&env.url, &follower.url] {
        for (subject, ids) in &by_subject {
            let expected = *ids.iter().next().expect("one id");
            let path = format!("{url}/subjects/{subject}/versions/1");
            wait_until(WAIT, &format!("{path} answers id {expected}"), || {
                let http = http.clone();
                let path = path.clone();
                async move {
                    let answer = request(&http, reqwest::Method::GET, &path, None).await;
                    if answer.status == 200 && answer.body["id"].as_i64() == Some(expected) {
                        Ok(())
                    } else {
                        Err(answer.to_string())
                    }
                }
            })
            .await;
        }
    }
    assert_eq!(dump(&http, &env.url).await, dump(&http, &follower.url).await, "the instances disagree");
    // The follower never wrote itself: every write it took was forwarded to the leader.
    assert!(
        matches!(follower.handle.log().leadership(), Leadership::Follower { .. }),
        "the second instance became leader while the first was up"
    );
    assert_eq!(env.registry().log().leadership(), Leadership::Leader);

    follower.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_shutdown_hands_over_and_ids_continue() {
    let mut env = Env::start().await;
    wait_leader(env.registry()).await;
    let successor = env.start_instance(|_| {}).await;
    let observer = env.start_instance(|config| config.leader_eligibility = false).await;
    wait_follower_of(&successor.handle, &env.url).await;
    wait_follower_of(&observer.handle, &env.url).await;

    let mut max_id = 0;
    for i in 0..5 {
        let schema = record_schema(&format!("before_{i}"), &[("n", "int")]);
        max_id = max_id.max(env.register(&format!("before-{i}-value"), &schema).await);
    }
    // Written through the instance that never leads, so forwarded.
    let forwarded = register_at(&env.http, &observer.url, "observed-value", &record_schema("observed", &[])).await;
    max_id = max_id.max(forwarded);

    env.stop_registry().await;
    wait_leader(&successor.handle).await;
    wait_follower_of(&observer.handle, &successor.url).await;

    let id = register_at(&env.http, &successor.url, "after-value", &record_schema("after", &[("n", "int")])).await;
    assert!(id > max_id, "the new leader handed out id {id}, not above {max_id}");
    let through_observer =
        register_at(&env.http, &observer.url, "after-observed-value", &record_schema("after_observed", &[])).await;
    assert!(through_observer > id, "ids went back: {through_observer} after {id}");
    assert!(matches!(observer.handle.log().leadership(), Leadership::Follower { .. }), "a non-eligible instance led");

    let answer = successor.get(&env.http, &format!("/schemas/ids/{forwarded}")).await;
    assert_eq!(answer.status, 200, "a schema written before the hand-over is readable: {answer}");

    observer.stop().await;
    successor.stop().await;
    env.stop().await;
}

/// The store alone, without the REST API: records appended through the log are read back into the same state
/// by a restarted instance, and by a second instance reading the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_records_rebuild_the_same_state_after_a_restart() {
    let mut env = Env::start().await;
    wait_leader(env.registry()).await;
    let log = env.registry().log().clone();
    let schema = |subject: &str, version, id| Record {
        key: RecordKey::Schema { subject: subject.to_string(), version },
        value: Some(RecordValue::Schema(SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: Default::default(),
            references: Vec::new(),
            schema: format!("{{\"type\":\"fixed\",\"name\":\"f{id}\",\"size\":{id}}}"),
            deleted: false,
        })),
    };
    let records = vec![
        schema("a", 1, 1),
        schema("a", 2, 2),
        schema("b", 1, 2),
        Record {
            key: RecordKey::Config { subject: None },
            value: Some(RecordValue::Config(ConfigValue {
                compatibility_level: Some(CompatibilityLevel::Full),
                normalize: None,
            })),
        },
        Record {
            key: RecordKey::Mode { subject: Some("b".to_string()) },
            value: Some(RecordValue::Mode(ModeValue { mode: Mode::Readonly })),
        },
        // A tombstone: version 2 of `a` is permanently gone.
        Record { key: RecordKey::Schema { subject: "a".to_string(), version: 2 }, value: None },
    ];
    log.append(records).await.expect("the leader appends");
    let before = log.state().read().clone();
    assert_eq!(before.max_id(), 2, "the appended records were applied before append returned: {before:?}");
    let applied = log.applied();

    env.restart_registry().await;
    let restarted = env.registry().log().clone();
    assert!(restarted.applied() >= applied, "start-up returned before reading to the end");
    assert_eq!(*restarted.state().read(), before, "the state rebuilt from the topic differs");

    let reader = env.start_instance(|config| config.leader_eligibility = false).await;
    assert_eq!(*reader.handle.log().state().read(), before, "another instance reads a different state");
    assert!(
        matches!(reader.handle.log().append(Vec::from([schema("c", 1, 3)])).await, Err(e) if e.to_string().contains("leader")),
        "a follower appended"
    );
    reader.stop().await;
    env.stop().await;
}

/// Creates `topic` with `partitions` and `cleanup.policy`, the way an operator might have got it wrong.
async fn create_topic(bootstrap: &str, topic: &str, partitions: i32, policy: &str) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("an admin client");
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1)).set("cleanup.policy", policy);
    let results = admin
        .create_topics([&new_topic], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
        .await
        .expect("CreateTopics answers");
    for result in results {
        result.unwrap_or_else(|(name, code)| panic!("creating {name}: {code}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_that_is_not_compacted_or_has_several_partitions_is_refused() {
    let env = Env::start().await;
    create_topic(&env.bootstrap, "deleting", 1, "delete").await;
    create_topic(&env.bootstrap, "partitioned", 3, "compact").await;
    for (topic, expected) in [("deleting", "cleanup.policy"), ("partitioned", "3 partitions")] {
        let mut config = test_registry_config(&env.bootstrap);
        config.topic = topic.to_string();
        config.group_id = format!("{topic}-group");
        match SchemaRegistry::start(config).await {
            Err(RegistryError::Topic { topic: named, detail }) => {
                assert_eq!(named, topic);
                assert!(detail.contains(expected), "the refusal of `{topic}` does not say why: {detail}");
            }
            Err(other) => panic!("`{topic}` was refused for the wrong reason: {other}"),
            Ok(handle) => {
                handle.shutdown().await;
                panic!("a registry started on `{topic}`");
            }
        }
    }
    // A topic the registry creates itself is compacted with one partition: a second start accepts it.
    let mut config = test_registry_config(&env.bootstrap);
    config.topic = "fresh-schemas".to_string();
    SchemaRegistry::start(config.clone()).await.expect("creates its topic").shutdown().await;
    SchemaRegistry::start(config).await.expect("accepts the topic it created").shutdown().await;
    env.stop().await;
}
