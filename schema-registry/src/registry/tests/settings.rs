//! Compatibility configs and modes.

use super::*;
use crate::registry::VersionSpec;
use crate::store::records::ConfigValue;
use crate::types::Mode;

fn level(level: CompatibilityLevel) -> ConfigValue {
    ConfigValue { compatibility_level: Some(level), normalize: None }
}

#[tokio::test]
async fn global_config_defaults_sets_merges_and_resets() {
    let (_, registry) = registry();
    assert_eq!(registry.config(None, false).unwrap(), level(CompatibilityLevel::Backward));
    registry.set_config(None, level(CompatibilityLevel::Full)).await.unwrap();
    assert_eq!(registry.config(None, false).unwrap(), level(CompatibilityLevel::Full));
    // A partial update keeps the other field.
    let merged = registry.set_config(None, ConfigValue { compatibility_level: None, normalize: Some(true) }).await;
    let expected = ConfigValue { compatibility_level: Some(CompatibilityLevel::Full), normalize: Some(true) };
    assert_eq!(merged.unwrap(), expected);
    assert_eq!(registry.config(None, false).unwrap(), expected);
    assert_eq!(registry.delete_config(None).await.unwrap(), expected);
    assert_eq!(registry.config(None, false).unwrap(), level(CompatibilityLevel::Backward));
}

#[tokio::test]
async fn subject_config_and_default_to_global() {
    let (_, registry) = registry();
    let e = registry.config(Some("s"), false).unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40408));
    assert_eq!(registry.config(Some("s"), true).unwrap(), level(CompatibilityLevel::Backward));
    registry.set_config(None, level(CompatibilityLevel::Forward)).await.unwrap();
    assert_eq!(registry.config(Some("s"), true).unwrap(), level(CompatibilityLevel::Forward));

    registry.set_config(Some("s"), level(CompatibilityLevel::None)).await.unwrap();
    assert_eq!(registry.config(Some("s"), false).unwrap(), level(CompatibilityLevel::None));
    assert_eq!(registry.config(None, false).unwrap(), level(CompatibilityLevel::Forward));
    assert_eq!(registry.delete_config(Some("s")).await.unwrap(), level(CompatibilityLevel::None));
    assert_eq!(code(registry.delete_config(Some("s")).await), 40408);
    assert_eq!(code(registry.config(Some("s"), false)), 40408);
}

#[tokio::test]
async fn the_subject_level_decides_compatibility() {
    let (_, registry) = registry();
    register(&registry, "s", USER_V1).await;
    registry.set_config(None, level(CompatibilityLevel::None)).await.unwrap();
    registry.set_config(Some("s"), level(CompatibilityLevel::Backward)).await.unwrap();
    assert_eq!(code(registry.register("s", json(JSON_OBJECT), false).await), 409);
    registry.delete_config(Some("s")).await.unwrap();
    registry.register("s", json(JSON_OBJECT), false).await.unwrap();
}

#[tokio::test]
async fn modes_global_subject_and_override() {
    let (_, registry) = registry();
    assert_eq!(registry.mode(None, false).unwrap(), Mode::Readwrite);
    let e = registry.mode(Some("s"), false).unwrap_err();
    assert_eq!((e.status, e.error_code), (404, 40409));
    assert_eq!(registry.mode(Some("s"), true).unwrap(), Mode::Readwrite);

    assert_eq!(registry.set_mode(Some("s"), Mode::Readonly, false).await.unwrap(), Mode::Readonly);
    assert_eq!(registry.mode(Some("s"), false).unwrap(), Mode::Readonly);
    assert_eq!(registry.mode(None, false).unwrap(), Mode::Readwrite);
    // READONLY refuses config changes, not mode changes.
    assert_eq!(code(registry.set_config(Some("s"), level(CompatibilityLevel::Full)).await), 42205);
    registry.delete_config(None).await.expect("the global scope is not read-only");
    assert_eq!(registry.delete_mode("s").await.unwrap(), Mode::Readonly);
    assert_eq!(code(registry.delete_mode("s").await), 40409);

    registry.set_mode(None, Mode::ReadonlyOverride, false).await.unwrap();
    registry.set_mode(Some("s"), Mode::Readwrite, false).await.unwrap();
    assert_eq!(registry.mode(Some("s"), false).unwrap(), Mode::ReadonlyOverride, "a global override wins");
    assert_eq!(code(registry.register("s", avro(USER_V1), false).await), 42205);
    assert_eq!(code(registry.set_config(None, level(CompatibilityLevel::Full)).await), 42205);
    registry.set_mode(None, Mode::Readwrite, false).await.unwrap();
    register(&registry, "s", USER_V1).await;
}

#[tokio::test]
async fn import_needs_an_empty_scope_unless_forced() {
    let (_, registry) = registry();
    register(&registry, "live", USER_V1).await;
    let e = registry.set_mode(None, Mode::Import, false).await.unwrap_err();
    assert_eq!((e.status, e.error_code), (422, 42205));
    assert_eq!(code(registry.set_mode(Some("live"), Mode::Import, false).await), 42205);
    // Another, empty subject may be imported into; so may anything when forced.
    assert_eq!(registry.set_mode(Some("fresh"), Mode::Import, false).await.unwrap(), Mode::Import);
    assert_eq!(registry.set_mode(None, Mode::Import, true).await.unwrap(), Mode::Import);
    assert_eq!(registry.mode(Some("live"), true).unwrap(), Mode::Import);
}

#[tokio::test]
async fn entering_import_clears_soft_deleted_versions() {
    let (_, registry) = registry();
    let id = register(&registry, "gone", USER_V1).await;
    registry.delete_subject("gone", false).await.unwrap();
    registry.set_mode(Some("gone"), Mode::Import, false).await.unwrap();
    assert_eq!(code(registry.versions("gone", true)), 40401);
    assert_eq!(code(registry.schema_by_id(id, None)), 40403);
    // Version 1 is free again for the imported schema.
    let request = SchemaRequest { version: Some(1), ..with_id(ORDER, 10) };
    assert_eq!(registry.register("gone", request, false).await.unwrap(), 10);
    assert_eq!(registry.version("gone", VersionSpec::Number(1), false).unwrap().id, 10);
}
