//! Chain rows: order, short and full class names, predicates with negate, dropped records stopping the chain,
//! errors naming the alias, and config errors (one per key from `from_config`, all of them from `validate`).

use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn transforms_run_in_order_with_predicates() -> anyhow::Result<()> {
    // Hoist the value, stamp the topic into it, then drop tombstones and route topics that are not audit ones.
    let chain = Chain::from_config(&cfg(&[
        ("transforms", "hoist, insert, dropTombstones, route"),
        ("transforms.hoist.type", "org.apache.kafka.connect.transforms.HoistField$Value"),
        ("transforms.hoist.field", "line"),
        ("transforms.hoist.predicate", "isTombstone"),
        ("transforms.hoist.negate", "true"),
        ("transforms.insert.type", "InsertField$Value"),
        ("transforms.insert.topic.field", "topic"),
        ("transforms.insert.predicate", "isTombstone"),
        ("transforms.insert.negate", "TRUE"),
        ("transforms.dropTombstones.type", "org.apache.kafka.connect.transforms.Filter"),
        ("transforms.dropTombstones.predicate", "isTombstone"),
        ("transforms.route.type", "RegexRouter"),
        ("transforms.route.regex", "(.*)"),
        ("transforms.route.replacement", "$1-out"),
        ("transforms.route.predicate", "isAudit"),
        ("transforms.route.negate", "true"),
        ("predicates", "isTombstone,isAudit"),
        ("predicates.isTombstone.type", "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"),
        ("predicates.isAudit.type", "TopicNameMatches"),
        ("predicates.isAudit.pattern", "audit-.*"),
    ]))?;
    assert_eq!(chain.aliases(), vec!["hoist", "insert", "dropTombstones", "route"]);

    let out = chain.apply(rec(s("hello")))?.ok_or_else(|| anyhow::anyhow!("dropped"))?;
    assert_eq!(out.value, map(&[("line", s("hello")), ("topic", s(TOPIC))]));
    assert_eq!(out.topic, "orders-out");

    let mut audit = rec(s("x"));
    audit.topic = "audit-1".into();
    assert_eq!(chain.apply(audit)?.map(|r| r.topic), Some("audit-1".to_string()));

    assert_eq!(chain.apply(rec(Value::Null))?, None, "tombstones are dropped");
    Ok(())
}

#[test]
fn a_dropped_record_stops_the_chain() -> anyhow::Result<()> {
    // ExtractField would fail on a string value; it never runs because Filter dropped the record.
    let chain = Chain::from_config(&cfg(&[
        ("transforms", "drop,extract"),
        ("transforms.drop.type", "Filter"),
        ("transforms.extract.type", "ExtractField$Value"),
        ("transforms.extract.field", "id"),
    ]))?;
    assert_eq!(chain.apply(rec(s("not a map")))?, None);
    Ok(())
}

#[test]
fn empty_config_is_an_empty_chain() -> anyhow::Result<()> {
    let chain = Chain::from_config(&cfg(&[("name", "c"), ("transforms", "")]))?;
    assert!(chain.is_empty());
    assert_eq!(chain.apply(rec(s("x")))?, Some(rec(s("x"))));
    Ok(())
}

#[test]
fn transform_errors_name_the_class_and_alias() -> anyhow::Result<()> {
    let chain = Chain::from_config(&cfg(&[
        ("transforms", "pick"),
        ("transforms.pick.type", "ExtractField$Value"),
        ("transforms.pick.field", "id"),
    ]))?;
    match chain.apply(rec(s("plain"))) {
        Err(ConnectError::Transform { name, message }) => {
            assert_eq!(name, "ExtractField$Value (transforms.pick)");
            assert!(message.contains("Only Map objects supported"), "{message}");
        }
        other => panic!("expected a transform error, got {other:?}"),
    }
    Ok(())
}

type ConfigRow = (&'static str, Vec<(&'static str, &'static str)>, &'static str, &'static str);

#[test]
fn config_errors_name_the_exact_key() {
    // (row name, config, key the error names, text its message contains)
    let rows: Vec<ConfigRow> = vec![
        ("unknown class", vec![("transforms", "a"), ("transforms.a.type", "com.example.Nope")], "transforms.a.type", "not a known transformation"),
        ("missing type", vec![("transforms", "a")], "transforms.a.type", "Missing required"),
        (
            "abstract class",
            vec![("transforms", "a"), ("transforms.a.type", "org.apache.kafka.connect.transforms.InsertField")],
            "transforms.a.type",
            "Did you mean org.apache.kafka.connect.transforms.InsertField$Key, org.apache.kafka.connect.transforms.InsertField$Value?",
        ),
        ("duplicate alias", vec![("transforms", "a,a"), ("transforms.a.type", "Filter")], "transforms", "Duplicate alias"),
        (
            "predicate not declared",
            vec![("transforms", "a"), ("transforms.a.type", "Filter"), ("transforms.a.predicate", "p")],
            "transforms.a.predicate",
            "not listed in 'predicates'",
        ),
        (
            "negate without predicate",
            vec![("transforms", "a"), ("transforms.a.type", "Filter"), ("transforms.a.negate", "true")],
            "transforms.a.negate",
            "no config 'transforms.a.predicate'",
        ),
        (
            "negate not a boolean",
            vec![
                ("transforms", "a"),
                ("transforms.a.type", "Filter"),
                ("transforms.a.predicate", "p"),
                ("transforms.a.negate", "maybe"),
                ("predicates", "p"),
                ("predicates.p.type", "RecordIsTombstone"),
            ],
            "transforms.a.negate",
            "true or false",
        ),
        ("predicate without type", vec![("predicates", "p")], "predicates.p.type", "Missing required"),
        ("bad setting", vec![("transforms", "a"), ("transforms.a.type", "RegexRouter"), ("transforms.a.regex", "[")], "transforms.a.regex", "Invalid regex"),
        (
            "unknown setting",
            vec![("transforms", "a"), ("transforms.a.type", "Filter"), ("transforms.a.field", "x")],
            "transforms.a.field",
            "Unknown setting",
        ),
    ];
    let mut failures = Vec::new();
    for (name, pairs, key, text) in rows {
        match Chain::from_config(&cfg(&pairs)) {
            Err(ConnectError::Config { key: got, message }) if got == key && message.contains(text) => {}
            other => failures.push(format!("{name}: expected {key} ({text}), got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn validate_reports_every_problem() {
    let errors = Chain::validate(&cfg(&[
        ("transforms", "a,b,c"),
        ("transforms.a.type", "Cast$Value"),
        ("transforms.a.spec", "x:blob"),
        ("transforms.b.type", "Nope"),
        ("transforms.c.type", "TimestampRouter"),
        ("transforms.c.topic.fromat", "x"),
        ("predicates", "p"),
        ("predicates.p.type", "HasHeaderKey"),
    ]));
    let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        vec!["predicates.p.name", "transforms.a.spec", "transforms.b.type", "transforms.c.topic.fromat"],
        "{errors:?}"
    );
    assert!(Chain::validate(&cfg(&[("transforms", "a"), ("transforms.a.type", "Filter")])).is_empty());
}
