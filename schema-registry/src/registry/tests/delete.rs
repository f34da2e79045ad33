//! Soft and permanent deletes of subjects and versions, in Confluent's order of checks.

use super::*;
use crate::registry::VersionSpec;
use crate::store::records::ConfigValue;
use crate::types::Mode;

#[tokio::test]
async fn subject_soft_then_permanent() {
    let (_, registry) = registry();
    assert_eq!(code(registry.delete_subject("s", false).await), 40401);
    register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;

    let e = registry.delete_subject("s", true).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40405), "permanent needs a soft delete first");
    assert_eq!(registry.delete_subject("s", false).await.unwrap(), vec![1, 2]);
    let e = registry.delete_subject("s", false).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40404));
    assert!(registry.subjects(None, false).is_empty());
    assert_eq!(registry.subjects(None, true), vec!["s"]);

    assert_eq!(registry.delete_subject("s", true).await.unwrap(), vec![1, 2]);
    assert!(registry.subjects(None, true).is_empty());
    assert_eq!(code(registry.delete_subject("s", true).await), 40401);
}

#[tokio::test]
async fn soft_delete_lists_only_live_versions_and_permanent_lists_all() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;
    register(&registry, "s", USER_V3).await;
    registry.delete_version("s", VersionSpec::Number(2), false).await.unwrap();
    assert_eq!(registry.delete_subject("s", false).await.unwrap(), vec![1, 3]);
    assert_eq!(registry.delete_subject("s", true).await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn ids_stay_stable_and_are_never_reused_after_permanent_deletes() {
    let (_, registry) = registry();
    let first = register(&registry, "s", USER_V1).await;
    let second = register(&registry, "s", USER_V2).await;
    registry.delete_subject("s", false).await.unwrap();
    // Soft-deleted: registering the same schema again keeps its id.
    assert_eq!(register(&registry, "s", USER_V1).await, first);
    assert_eq!(registry.versions("s", true).unwrap(), vec![2, 3], "version 1 was superseded by version 3");

    registry.delete_subject("s", false).await.unwrap();
    registry.delete_subject("s", true).await.unwrap();
    // Permanently gone: the content gets a fresh id above every id ever used, and versions restart.
    let again = register(&registry, "s", USER_V1).await;
    assert!(again > second, "{again} must not reuse an id up to {second}");
    assert_eq!(registry.versions("s", false).unwrap(), vec![1]);
}

#[tokio::test]
async fn version_soft_then_permanent() {
    let (_, registry) = registry();
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(1), false).await), 40401);
    register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(5), false).await), 40402);

    let e = registry.delete_version("s", VersionSpec::Number(1), true).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40407));
    assert_eq!(registry.delete_version("s", VersionSpec::Number(1), false).await.unwrap(), 1);
    let e = registry.delete_version("s", VersionSpec::Number(1), false).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40406));
    assert_eq!(registry.delete_version("s", VersionSpec::Number(1), true).await.unwrap(), 1);
    assert_eq!(registry.versions("s", true).unwrap(), vec![2]);
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(1), true).await), 40402);
}

#[tokio::test]
async fn latest_is_the_newest_live_version() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;
    assert_eq!(registry.delete_version("s", VersionSpec::Latest, false).await.unwrap(), 2);
    assert_eq!(registry.delete_version("s", VersionSpec::Latest, false).await.unwrap(), 1);
    assert_eq!(code(registry.delete_version("s", VersionSpec::Latest, false).await), 40402);
}

#[tokio::test]
async fn deleting_the_last_live_version_drops_the_subjects_settings() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;
    let full = ConfigValue { compatibility_level: Some(CompatibilityLevel::Full), normalize: None };
    registry.set_config(Some("s"), full.clone()).await.unwrap();
    registry.set_mode(Some("s"), Mode::Readwrite, false).await.unwrap();
    registry.delete_version("s", VersionSpec::Number(1), false).await.unwrap();
    assert_eq!(registry.config(Some("s"), false).unwrap(), full, "a live version remains");
    registry.delete_version("s", VersionSpec::Number(2), false).await.unwrap();
    assert_eq!(code(registry.config(Some("s"), false)), 40408);
    assert_eq!(code(registry.mode(Some("s"), false)), 40409);

    register(&registry, "t", USER_V1).await;
    registry.set_config(Some("t"), full).await.unwrap();
    registry.delete_subject("t", false).await.unwrap();
    assert_eq!(code(registry.config(Some("t"), false)), 40408);
}

#[tokio::test]
async fn readonly_refuses_deletes() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    registry.set_mode(Some("s"), Mode::Readonly, false).await.unwrap();
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(1), false).await), 42205);
    assert_eq!(code(registry.delete_subject("s", false).await), 42205);
    registry.set_mode(Some("s"), Mode::Readwrite, false).await.unwrap();
    registry.delete_subject("s", false).await.unwrap();
}
