//! Reads: subjects, versions, ids, lookup and compatibility checks, with and without soft-deleted versions.

use super::*;
use crate::registry::{SubjectVersionRef, VersionSpec};

#[tokio::test]
async fn subjects_by_prefix_and_deleted() {
    let (_, registry) = registry();
    register(&registry, "orders-value", ORDER).await;
    register(&registry, "users-key", USER_V1).await;
    register(&registry, "users-value", USER_V1).await;
    registry.delete_subject("users-key", false).await.unwrap();
    assert_eq!(registry.subjects(None, false), vec!["orders-value", "users-value"]);
    assert_eq!(registry.subjects(None, true), vec!["orders-value", "users-key", "users-value"]);
    assert_eq!(registry.subjects(Some("users"), true), vec!["users-key", "users-value"]);
    assert_eq!(registry.subjects(Some("users"), false), vec!["users-value"]);
    assert!(registry.subjects(Some("nope"), true).is_empty());
}

#[tokio::test]
async fn versions_and_version_errors() {
    let (_, registry) = registry();
    assert_eq!(code(registry.versions("s", false)), 40401);
    assert_eq!(code(registry.version("s", VersionSpec::Latest, false)), 40401);
    let id1 = register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;

    let v1 = registry.version("s", VersionSpec::Number(1), false).unwrap();
    assert_eq!((v1.subject.as_str(), v1.version, v1.id), ("s", 1, id1));
    assert_eq!(v1.schema, registry.schema_by_id(id1, None).unwrap().schema);
    let e = registry.version("s", VersionSpec::Number(9), false).unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40402));

    registry.delete_version("s", VersionSpec::Number(2), false).await.unwrap();
    assert_eq!(registry.versions("s", false).unwrap(), vec![1]);
    assert_eq!(registry.versions("s", true).unwrap(), vec![1, 2]);
    assert_eq!(code(registry.version("s", VersionSpec::Number(2), false)), 40402);
    assert_eq!(registry.version("s", VersionSpec::Number(2), true).unwrap().version, 2);
    assert_eq!(registry.version("s", VersionSpec::Latest, true).unwrap().version, 1, "latest is the newest live");

    // A subject whose versions are all soft-deleted is not found by normal reads.
    registry.delete_subject("s", false).await.unwrap();
    assert_eq!(code(registry.versions("s", false)), 40401);
    assert_eq!(code(registry.version("s", VersionSpec::Number(1), false)), 40401);
    assert_eq!(code(registry.version("s", VersionSpec::Latest, true)), 40402);
    assert_eq!(registry.versions("s", true).unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn schemas_by_id() {
    let (_, registry) = registry();
    assert_eq!(code(registry.schema_by_id(1, None)), 40403);
    let id = register(&registry, "a", USER_V1).await;
    register(&registry, "b", USER_V1).await;
    register(&registry, "b", USER_V2).await;

    assert_eq!(registry.schema_by_id(id, Some("b")).unwrap(), registry.schema_by_id(id, None).unwrap());
    assert_eq!(code(registry.schema_by_id(id, Some("c"))), 40403);
    let e = registry.schema_by_id(99, None).unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40403));
    assert_eq!(code(registry.subjects_by_id(99, false)), 40403);
    assert_eq!(code(registry.versions_by_id(99, false)), 40403);

    registry.delete_version("a", VersionSpec::Number(1), false).await.unwrap();
    assert_eq!(registry.subjects_by_id(id, false).unwrap(), vec!["b"]);
    assert_eq!(registry.subjects_by_id(id, true).unwrap(), vec!["a", "b"]);
    let pair = |s: &str, v| SubjectVersionRef { subject: s.to_string(), version: v };
    assert_eq!(registry.versions_by_id(id, false).unwrap(), vec![pair("b", 1)]);
    assert_eq!(registry.versions_by_id(id, true).unwrap(), vec![pair("a", 1), pair("b", 1)]);

    // Soft-deleted everywhere: still readable by id, for consumers of old data.
    registry.delete_version("b", VersionSpec::Number(1), false).await.unwrap();
    assert!(registry.schema_by_id(id, None).is_ok());
    assert!(registry.subjects_by_id(id, false).unwrap().is_empty());
    // Permanently deleted everywhere: gone.
    registry.delete_version("a", VersionSpec::Number(1), true).await.unwrap();
    registry.delete_version("b", VersionSpec::Number(1), true).await.unwrap();
    assert_eq!(code(registry.schema_by_id(id, None)), 40403);
}

#[tokio::test]
async fn lookup_under_a_subject() {
    let (_, registry) = registry();
    assert_eq!(code(registry.lookup("s", &avro(USER_V1), false, false)), 40401);
    let id = register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;
    let found = registry.lookup("s", &avro(USER_V1), false, false).unwrap();
    assert_eq!((found.version, found.id), (1, id));
    let e = registry.lookup("s", &avro(ORDER), false, false).unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40403));
    assert_eq!(code(registry.lookup("s", &json(JSON_OBJECT), false, false)), 40403);
    let bad = SchemaRequest { schema_type: Some("NOPE".into()), ..avro(USER_V1) };
    assert_eq!(code(registry.lookup("s", &bad, false, false)), 42201);

    registry.delete_version("s", VersionSpec::Number(1), false).await.unwrap();
    assert_eq!(code(registry.lookup("s", &avro(USER_V1), false, false)), 40403);
    assert_eq!(registry.lookup("s", &avro(USER_V1), false, true).unwrap().version, 1);
}

#[tokio::test]
async fn compatibility_checks() {
    let (_, registry) = registry();
    // Nothing to be incompatible with.
    let result = registry.check_compatibility("s", None, &avro(USER_V1), false, false).unwrap();
    assert!(result.is_compatible && result.messages.is_none());
    let latest = Some(VersionSpec::Latest);
    assert!(registry.check_compatibility("s", latest, &avro(USER_V1), false, false).unwrap().is_compatible);
    let one = Some(VersionSpec::Number(1));
    assert_eq!(code(registry.check_compatibility("s", one, &avro(USER_V1), false, false)), 40401);

    register(&registry, "s", USER_V1).await;
    let result = registry.check_compatibility("s", None, &avro(USER_V2), false, true).unwrap();
    assert!(result.is_compatible);
    assert_eq!(result.messages, Some(Vec::new()));
    let two = Some(VersionSpec::Number(2));
    assert_eq!(code(registry.check_compatibility("s", two, &avro(USER_V2), false, false)), 40402);
    assert_eq!(code(registry.check_compatibility("s", None, &avro(""), false, false)), 42201);

    let result = registry.check_compatibility("s", one, &json(JSON_OBJECT), false, true).unwrap();
    assert!(!result.is_compatible);
    let messages = result.messages.unwrap();
    assert!(messages.last().unwrap().contains("BACKWARD"), "{messages:?}");
    let quiet = registry.check_compatibility("s", None, &json(JSON_OBJECT), false, false).unwrap();
    assert!(!quiet.is_compatible && quiet.messages.is_none());
}
