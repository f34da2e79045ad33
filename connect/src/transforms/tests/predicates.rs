//! Predicate rows: TopicNameMatches, HasHeaderKey, RecordIsTombstone, each run as the predicate of a Filter
//! so a record is dropped exactly when the predicate holds (and kept when negated).

use super::*;
use crate::record::Header;
use Expect::*;

#[test]
fn filter_table() {
    run_table(
        "org.apache.kafka.connect.transforms.Filter",
        vec![
            case("drops a record", &[], rec(s("v")), Dropped),
            case("drops a tombstone", &[], rec(Value::Null), Dropped),
            case("has no settings", &[("topic", "x")], rec(s("v")), BadConfig("topic")),
        ],
    );
}

struct Row {
    name: &'static str,
    class: &'static str,
    settings: &'static [(&'static str, &'static str)],
    record: ConnectRecord,
    holds: bool,
}

fn filter_with(class: &str, settings: &[(&str, &str)], negate: bool) -> Result<Chain, ConnectError> {
    let mut config = config("Filter", &[("predicate", "p")]);
    if negate {
        config.insert("transforms.t.negate".into(), "true".into());
    }
    config.insert("predicates".into(), "p".into());
    config.insert("predicates.p.type".into(), class.into());
    for (k, v) in settings {
        config.insert(format!("predicates.p.{k}"), v.to_string());
    }
    Chain::from_config(&config)
}

#[test]
fn predicate_table() -> anyhow::Result<()> {
    let mut with_header = rec(s("v"));
    with_header.headers.push(Header { key: "trace".into(), schema: None, value: s("1") });
    let on = |topic: &str| {
        let mut r = rec(s("v"));
        r.topic = topic.into();
        r
    };
    let rows = vec![
        Row {
            name: "topic matches whole name",
            class: "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            settings: &[("pattern", "orders.*")],
            record: on("orders-eu"),
            holds: true,
        },
        Row {
            name: "topic pattern must match all of it",
            class: "TopicNameMatches",
            settings: &[("pattern", "orders")],
            record: on("orders-eu"),
            holds: false,
        },
        Row {
            name: "topic does not match",
            class: "TopicNameMatches",
            settings: &[("pattern", "orders.*")],
            record: on("x-orders"),
            holds: false,
        },
        Row {
            name: "header present",
            class: "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            settings: &[("name", "trace")],
            record: with_header.clone(),
            holds: true,
        },
        Row {
            name: "header absent",
            class: "HasHeaderKey",
            settings: &[("name", "other")],
            record: with_header,
            holds: false,
        },
        Row {
            name: "tombstone",
            class: "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            settings: &[],
            record: rec(Value::Null),
            holds: true,
        },
        Row { name: "not a tombstone", class: "RecordIsTombstone", settings: &[], record: rec(s("v")), holds: false },
    ];
    let mut failures = Vec::new();
    for row in rows {
        for negate in [false, true] {
            let out = filter_with(row.class, row.settings, negate)?.apply(row.record.clone())?;
            let dropped = out.is_none();
            if dropped != (row.holds != negate) {
                failures.push(format!("{} (negate={negate}): dropped={dropped}", row.name));
            }
        }
    }
    assert!(failures.is_empty(), "predicate rows failed:\n{}", failures.join("\n"));
    Ok(())
}

type PredicateConfigRow = (&'static str, &'static str, &'static [(&'static str, &'static str)], &'static str);

#[test]
fn predicate_config_table() {
    // (row name, predicate class, settings, key the error names)
    let rows: &[PredicateConfigRow] = &[
        ("pattern is required", "TopicNameMatches", &[], "predicates.p.pattern"),
        ("pattern must compile", "TopicNameMatches", &[("pattern", "(")], "predicates.p.pattern"),
        ("name is required", "HasHeaderKey", &[], "predicates.p.name"),
        ("unknown predicate setting", "RecordIsTombstone", &[("pattern", "x")], "predicates.p.pattern"),
        ("unknown predicate class", "IsBig", &[], "predicates.p.type"),
    ];
    for (name, class, settings, key) in rows {
        match filter_with(class, settings, false) {
            Err(ConnectError::Config { key: got, .. }) => assert_eq!(got, *key, "{name}"),
            other => panic!("{name}: expected a config error on {key}, got {other:?}"),
        }
    }
}
