//! Replay: the records a registry wrote, applied to a fresh state, give the same state and the same answers; and
//! random sequences of operations never give one id to two schemas.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::registry::VersionSpec;
use crate::store::records::ConfigValue;
use crate::store::SchemaLog;
use crate::types::Mode;

/// Every answer a client could get, as text, for comparing two registries.
fn snapshot(registry: &Registry) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!("{:?} {:?}", registry.config(None, false), registry.mode(None, false)));
    line(format!("{:?}", registry.subjects(None, true)));
    for subject in registry.subjects(None, true) {
        line(format!("{subject} {:?} {:?}", registry.versions(&subject, false), registry.versions(&subject, true)));
        line(format!("{:?} {:?}", registry.config(Some(&subject), false), registry.mode(Some(&subject), false)));
        for version in registry.versions(&subject, true).unwrap_or_default() {
            line(format!("{:?}", registry.version(&subject, VersionSpec::Number(version), true)));
            line(format!("{:?}", registry.referenced_by(&subject, VersionSpec::Number(version))));
        }
    }
    let max_id = registry.log().state().read().max_id();
    for id in 1..=max_id {
        line(format!("{id} {:?} {:?}", registry.schema_by_id(id, None), registry.versions_by_id(id, true)));
    }
    out
}

/// A fresh registry over a fresh log holding the same records.
async fn replayed(log: &MemoryLog) -> (Arc<MemoryLog>, Registry) {
    let (copy, registry) = registry();
    let records = log.records.lock().clone();
    copy.append(records).await.unwrap();
    (copy, registry)
}

#[tokio::test]
async fn replaying_the_records_gives_the_same_state_and_answers() {
    let (log, registry) = registry();
    let address = r#"{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}"#;
    register(&registry, "address", address).await;
    let customer = r#"{"type":"record","name":"Customer","fields":[{"name":"address","type":"Address"}]}"#;
    let request = SchemaRequest { references: vec![reference("Address", "address", 1)], ..avro(customer) };
    registry.register("customer", request, false).await.unwrap();
    register(&registry, "s", USER_V1).await;
    register(&registry, "s", USER_V2).await;
    register(&registry, "s", USER_V3).await;
    registry.delete_version("s", VersionSpec::Number(2), false).await.unwrap();
    register(&registry, "t", ORDER).await;
    registry.delete_subject("t", false).await.unwrap();
    register(&registry, "u", ORDER).await;
    registry.delete_subject("u", false).await.unwrap();
    registry.delete_subject("u", true).await.unwrap();
    registry
        .set_config(Some("s"), ConfigValue { compatibility_level: Some(CompatibilityLevel::Full), normalize: None })
        .await
        .unwrap();
    registry.set_mode(Some("s"), Mode::Readonly, false).await.unwrap();
    registry.set_mode(Some("fresh"), Mode::Import, false).await.unwrap();
    registry.register("fresh", with_id(ORDER, 40), false).await.unwrap();

    let (copy, replay) = replayed(&log).await;
    assert_eq!(*copy.state().read(), *log.state().read());
    assert_eq!(snapshot(&replay), snapshot(&registry));
    // The replayed registry goes on where the first stopped: ids above everything seen.
    let next = replay.register("v", avro(r#"{"type":"record","name":"V","fields":[]}"#), false).await.unwrap();
    assert_eq!(next, 41);
}

#[derive(Debug, Clone)]
enum Op {
    Register { subject: u8, schema: u8 },
    DeleteVersion { subject: u8, version: u8, permanent: bool },
    DeleteSubject { subject: u8, permanent: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3u8, 0..6u8).prop_map(|(subject, schema)| Op::Register { subject, schema }),
        1 => (0..3u8, 1..6u8, any::<bool>())
            .prop_map(|(subject, version, permanent)| Op::DeleteVersion { subject, version, permanent }),
        1 => (0..3u8, any::<bool>()).prop_map(|(subject, permanent)| Op::DeleteSubject { subject, permanent }),
    ]
}

async fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let (log, registry) = registry();
    let none = ConfigValue { compatibility_level: Some(CompatibilityLevel::None), normalize: None };
    registry.set_config(None, none).await.unwrap();
    // Every id ever answered, with the schema it named then.
    let mut named: HashMap<i32, String> = HashMap::new();
    for op in ops {
        match *op {
            Op::Register { subject, schema } => {
                let text = format!(r#"{{"type":"record","name":"R{schema}","fields":[{{"name":"f","type":"int"}}]}}"#);
                let id = registry.register(&format!("s{subject}"), avro(&text), false).await.unwrap();
                let stored = registry.schema_by_id(id, None).unwrap().schema;
                let first = named.entry(id).or_insert_with(|| stored.clone());
                prop_assert_eq!(&*first, &stored, "id {} named two schemas", id);
            }
            Op::DeleteVersion { subject, version, permanent } => {
                let spec = VersionSpec::Number(i32::from(version));
                let _ = registry.delete_version(&format!("s{subject}"), spec, permanent).await;
            }
            Op::DeleteSubject { subject, permanent } => {
                let _ = registry.delete_subject(&format!("s{subject}"), permanent).await;
            }
        }
    }
    let (copy, replay) = replayed(&log).await;
    prop_assert_eq!(&*copy.state().read(), &*log.state().read());
    prop_assert_eq!(snapshot(&replay), snapshot(&registry));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_never_reuse_an_id_and_replay_alike(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(&ops))?;
    }
}
