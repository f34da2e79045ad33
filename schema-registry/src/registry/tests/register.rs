//! Registration: ids, versions, dedup, references, compatibility, modes.

use std::sync::Arc;

use super::*;
use crate::registry::VersionSpec;
use crate::store::records::ConfigValue;
use crate::types::{Mode, SchemaType};

#[tokio::test]
async fn same_schema_same_id_without_a_second_write() {
    let (log, registry) = registry();
    let id = register(&registry, "users-value", USER_V1).await;
    assert_eq!(id, 1);
    let written = log.records.lock().len();
    assert_eq!(register(&registry, "users-value", USER_V1).await, id);
    assert_eq!(log.records.lock().len(), written, "a known schema is answered without writing");
    assert_eq!(registry.versions("users-value", false).unwrap(), vec![1]);
}

#[tokio::test]
async fn new_schemas_get_new_ids_and_next_versions() {
    let (_, registry) = registry();
    assert_eq!(register(&registry, "users-value", USER_V1).await, 1);
    assert_eq!(register(&registry, "users-value", USER_V2).await, 2);
    assert_eq!(register(&registry, "orders-value", ORDER).await, 3);
    assert_eq!(register(&registry, "users-value", USER_V3).await, 4);
    assert_eq!(registry.versions("users-value", false).unwrap(), vec![1, 2, 3]);
    assert_eq!(registry.versions("orders-value", false).unwrap(), vec![1]);
    let latest = registry.version("users-value", VersionSpec::Latest, false).unwrap();
    assert_eq!((latest.version, latest.id), (3, 4));
}

#[tokio::test]
async fn one_id_across_subjects() {
    let (_, registry) = registry();
    let a = register(&registry, "a-value", USER_V1).await;
    let none = ConfigValue { compatibility_level: Some(CompatibilityLevel::None), normalize: None };
    registry.set_config(Some("b-value"), none).await.unwrap();
    register(&registry, "b-value", ORDER).await;
    let b = register(&registry, "b-value", USER_V1).await;
    assert_eq!(a, b, "the same schema under another subject reuses its id");
    assert_eq!(registry.version("b-value", VersionSpec::Number(2), false).unwrap().id, a);
    assert_eq!(registry.subjects_by_id(a, false).unwrap(), vec!["a-value", "b-value"]);
}

#[tokio::test]
async fn invalid_requests_are_42201() {
    let (_, registry) = registry();
    let request = SchemaRequest { schema_type: Some("XML".into()), ..avro(USER_V1) };
    let e = registry.register("s", request, false).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (422, 42201));
    assert!(e.message.contains("XML"), "{}", e.message);
    assert_eq!(code(registry.register("s", avro("   "), false).await), 42201);
    // Outside IMPORT, a version in the request must be the next one.
    let request = SchemaRequest { version: Some(5), ..avro(USER_V1) };
    assert_eq!(code(registry.register("s", request, false).await), 42201);
    let request = SchemaRequest { version: Some(1), ..avro(USER_V1) };
    assert_eq!(registry.register("s", request, false).await.unwrap(), 1);
}

#[tokio::test]
async fn schema_type_is_kept_and_json_schemas_register() {
    let (_, registry) = registry();
    let id = registry.register("j", json(JSON_OBJECT), false).await.unwrap();
    let found = registry.schema_by_id(id, None).unwrap();
    assert_eq!(found.schema_type, SchemaType::Json);
    assert_eq!(registry.register("j", json(JSON_OBJECT), false).await.unwrap(), id);
}

#[tokio::test]
async fn references_resolve_index_and_block_deletes() {
    let (_, registry) = registry();
    let address =
        r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#;
    register(&registry, "address", address).await;
    let customer = r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"address","type":"com.acme.Address"}]}"#;
    let request = SchemaRequest { references: vec![reference("com.acme.Address", "address", 1)], ..avro(customer) };
    let id = registry.register("customer", request.clone(), false).await.unwrap();
    assert_eq!(registry.register("customer", request, false).await.unwrap(), id, "dedup compares references too");
    let stored = registry.version("customer", VersionSpec::Latest, false).unwrap();
    assert_eq!(stored.references, vec![reference("com.acme.Address", "address", 1)]);
    assert_eq!(registry.referenced_by("address", VersionSpec::Number(1)).unwrap(), vec![id]);
    assert_eq!(registry.referenced_by("address", VersionSpec::Latest).unwrap(), vec![id]);

    assert_eq!(code(registry.delete_version("address", VersionSpec::Number(1), false).await), 42206);
    assert_eq!(code(registry.delete_subject("address", false).await), 42206);
    // Once the referencing schema is soft-deleted, nothing live references the address any more.
    registry.delete_subject("customer", false).await.unwrap();
    assert!(registry.referenced_by("address", VersionSpec::Number(1)).unwrap().is_empty());
    registry.delete_subject("address", false).await.unwrap();
}

#[tokio::test]
async fn a_reference_to_nothing_is_42201_naming_it() {
    let (_, registry) = registry();
    let customer = r#"{"type":"record","name":"Customer","fields":[{"name":"address","type":"Address"}]}"#;
    let request = SchemaRequest { references: vec![reference("Address", "address-value", 3)], ..avro(customer) };
    let e = registry.register("customer", request, false).await.unwrap_err();
    assert_eq!(e.error_code, 42201);
    assert!(e.message.contains("address-value") && e.message.contains('3'), "{}", e.message);
}

#[tokio::test]
async fn incompatible_registration_is_409_unless_the_level_allows_it() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    let e = registry.register("s", json(JSON_OBJECT), false).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (409, 409));
    assert!(registry.versions("s", false).unwrap() == vec![1]);

    let none = ConfigValue { compatibility_level: Some(CompatibilityLevel::None), normalize: None };
    registry.set_config(Some("s"), none).await.unwrap();
    registry.register("s", json(JSON_OBJECT), false).await.unwrap();
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn readonly_refuses_new_schemas_but_answers_known_ones() {
    let (_, registry) = registry();
    let id = register(&registry, "s", USER_V1).await;
    registry.set_mode(Some("s"), Mode::Readonly, false).await.unwrap();
    assert_eq!(registry.register("s", avro(USER_V1), false).await.unwrap(), id);
    let e = registry.register("s", avro(USER_V2), false).await.unwrap_err();
    assert_eq!(e.error_code, 42205);
    assert_eq!(e.message, "Subject s is in read-only mode");
    // The global mode applies to subjects without their own.
    registry.set_mode(None, Mode::Readonly, false).await.unwrap();
    assert_eq!(code(registry.register("other", avro(ORDER), false).await), 42205);
    registry.set_mode(None, Mode::Readwrite, false).await.unwrap();
    register(&registry, "other", ORDER).await;
}

#[tokio::test]
async fn import_mode_takes_caller_ids_and_versions() {
    let (_, registry) = registry();
    registry.set_mode(None, Mode::Import, false).await.unwrap();
    assert_eq!(code(registry.register("s", avro(USER_V1), false).await), 42205, "IMPORT needs an id");
    assert_eq!(registry.register("s", with_id(USER_V1, 100), false).await.unwrap(), 100);
    let request = SchemaRequest { version: Some(7), ..with_id(USER_V2, 50) };
    assert_eq!(registry.register("s", request, false).await.unwrap(), 50);
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 7]);
    // An id names one schema: another schema cannot take it, the same one can, under another subject too.
    assert_eq!(code(registry.register("t", with_id(ORDER, 100), false).await), 42205);
    assert_eq!(registry.register("t", with_id(USER_V1, 100), false).await.unwrap(), 100);
    // An imported version cannot be overwritten.
    let request = SchemaRequest { version: Some(7), ..with_id(USER_V3, 51) };
    assert_eq!(code(registry.register("s", request, false).await), 42205);

    // Back in READWRITE, new ids continue above the highest imported one; caller ids only match known schemas.
    registry.set_mode(None, Mode::Readwrite, false).await.unwrap();
    assert_eq!(register(&registry, "s", USER_V3).await, 101);
    assert_eq!(registry.register("s", with_id(USER_V1, 100), false).await.unwrap(), 100);
    assert_eq!(code(registry.register("s", with_id(USER_V1, 5), false).await), 42205);
    assert_eq!(code(registry.register("o", with_id(ORDER, 500), false).await), 42205);
}

#[tokio::test]
async fn versions_continue_after_soft_deletes() {
    let (log, registry) = registry();
    register(&registry, "s", USER_V1).await;
    let v2 = register(&registry, "s", USER_V2).await;
    registry.delete_version("s", VersionSpec::Number(2), false).await.unwrap();
    let v3 = register(&registry, "s", USER_V3).await;
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 3]);
    assert_eq!(registry.version("s", VersionSpec::Latest, false).unwrap().id, v3);

    // Re-registering a soft-deleted schema keeps its id, takes a new version, and supersedes the deleted one.
    registry.delete_version("s", VersionSpec::Number(3), false).await.unwrap();
    let written = log.records.lock().len();
    assert_eq!(register(&registry, "s", USER_V2).await, v2);
    assert_eq!(registry.versions("s", true).unwrap(), vec![1, 3, 4]);
    assert_eq!(log.records.lock().len(), written + 2, "a tombstone for version 2, then version 4");
}

#[tokio::test]
async fn concurrent_registrations_never_share_ids_or_versions() {
    let (_, registry) = registry();
    let registry = Arc::new(registry);
    registry
        .set_config(None, ConfigValue { compatibility_level: Some(CompatibilityLevel::None), normalize: None })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..32 {
        let registry = registry.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!(r#"{{"type":"record","name":"R{n}","fields":[{{"name":"f","type":"int"}}]}}"#);
            let subject = if n % 2 == 0 { "even" } else { "odd" };
            registry.register(subject, avro(&text), false).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=32).collect::<Vec<_>>());
    assert_eq!(registry.versions("even", false).unwrap(), (1..=16).collect::<Vec<_>>());
    assert_eq!(registry.versions("odd", false).unwrap(), (1..=16).collect::<Vec<_>>());
}

#[tokio::test]
async fn normalize_config_is_read_per_subject_then_globally() {
    let (_, registry) = registry();
    let on = ConfigValue { compatibility_level: None, normalize: Some(true) };
    registry.set_config(None, on).await.unwrap();
    let id = register(&registry, "s", USER_V1).await;
    // Registered normalized: a lookup, normalized or not, finds it.
    assert_eq!(registry.lookup("s", &avro(USER_V1), false, false).unwrap().id, id);
    assert_eq!(registry.lookup("s", &avro(USER_V1), true, false).unwrap().id, id);
    assert_eq!(register(&registry, "s", USER_V1).await, id);
}

#[tokio::test]
async fn invalid_avro_is_42201() {
    let (_, registry) = registry();
    for text in [r#"{"type":"record","name":"NoFields"}"#, r#"{"type":"nope"}"#, "not json"] {
        let e = registry.register("s", avro(text), false).await.unwrap_err();
        assert_eq!((e.status, e.error_code), (422, 42201), "{text}: {e}");
    }
    assert!(registry.subjects(None, true).is_empty());
}

#[tokio::test]
async fn whitespace_does_not_make_a_new_schema() {
    let (_, registry) = registry();
    let id = register(&registry, "s", USER_V1).await;
    let spaced =
        "{ \"type\": \"record\",\n  \"name\": \"User\",\n  \"fields\": [ {\"name\": \"id\", \"type\": \"long\"} ] }";
    assert_eq!(register(&registry, "s", spaced).await, id);
    assert_eq!(register(&registry, "t", spaced).await, id);
    assert_eq!(registry.lookup("s", &avro(spaced), false, false).unwrap().version, 1);
    assert_eq!(registry.versions("s", false).unwrap(), vec![1]);
}

#[tokio::test]
async fn an_added_field_without_default_breaks_backward() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    let no_default =
        r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"age","type":"int"}]}"#;
    let e = registry.register("s", avro(no_default), false).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (409, 409));
    assert!(e.message.contains("age"), "{}", e.message);
    // FORWARD only asks old readers to read new data, which ignores the extra field.
    let forward = ConfigValue { compatibility_level: Some(CompatibilityLevel::Forward), normalize: None };
    registry.set_config(Some("s"), forward).await.unwrap();
    register(&registry, "s", no_default).await;
}

#[tokio::test]
async fn transitive_levels_check_every_live_version() {
    let (_, registry) = registry();
    register(&registry, "s", r#"{"type":"record","name":"User","fields":[{"name":"a","type":"int"}]}"#).await;
    register(&registry, "s", r#"{"type":"record","name":"User","fields":[]}"#).await;
    // `a` comes back as a string with a default: readable from version 2's data, not from version 1's ints.
    let back = r#"{"type":"record","name":"User","fields":[{"name":"a","type":"string","default":""}]}"#;
    let transitive = ConfigValue { compatibility_level: Some(CompatibilityLevel::BackwardTransitive), normalize: None };
    registry.set_config(Some("s"), transitive).await.unwrap();
    let all = registry.check_compatibility("s", None, &avro(back), false, false).unwrap();
    let latest = registry.check_compatibility("s", Some(VersionSpec::Latest), &avro(back), false, false).unwrap();
    assert!(!all.is_compatible && latest.is_compatible, "{all:?} {latest:?}");
    assert_eq!(code(registry.register("s", avro(back), false).await), 409);
    registry
        .set_config(Some("s"), ConfigValue { compatibility_level: Some(CompatibilityLevel::Backward), normalize: None })
        .await
        .unwrap();
    register(&registry, "s", back).await;
}

#[tokio::test]
async fn protobuf_imports_resolve_through_references() {
    let (_, registry) = registry();
    let proto = |text: &str, references| SchemaRequest {
        schema: text.to_string(),
        schema_type: Some("PROTOBUF".to_string()),
        references,
        ..SchemaRequest::default()
    };
    let money = "syntax = \"proto3\";\npackage acme;\nmessage Money { int64 cents = 1; }\n";
    let money_id = registry.register("money.proto", proto(money, Vec::new()), false).await.unwrap();
    let order =
        "syntax = \"proto3\";\npackage acme;\nimport \"money.proto\";\nmessage Order { acme.Money total = 1; }\n";
    let id = registry
        .register("orders-value", proto(order, vec![reference("money.proto", "money.proto", 1)]), false)
        .await
        .unwrap();
    assert_ne!(id, money_id);
    assert_eq!(registry.referenced_by("money.proto", VersionSpec::Latest).unwrap(), vec![id]);
    assert_eq!(registry.schema_by_id(id, None).unwrap().schema_type, SchemaType::Protobuf);
    // Without the reference the import cannot be resolved.
    assert_eq!(code(registry.register("orders-value", proto(order, Vec::new()), false).await), 42201);
}
