//! Tests of config definitions, validation, the common connector settings and the validate answer.

use serde_json::json;

use super::*;
use crate::connector::Config;

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn key(name: &str, t: ConfigType) -> ConfigKey {
    ConfigKey::new(name, t, Importance::Medium, "doc")
}

/// The errors of setting `name` to `value` (`None`: unset) under the definition `k`.
fn errors(k: ConfigKey, value: Option<&str>) -> Vec<String> {
    let name = k.name.clone();
    let def = ConfigDef::new().define(k);
    let config = value.map(|v| config(&[(&name, v)])).unwrap_or_default();
    def.validate(&config).remove(0).errors
}

#[test]
fn every_type_parses() {
    let cases: &[(ConfigType, &str, TypedValue)] = &[
        (ConfigType::Boolean, "TRUE", TypedValue::Boolean(true)),
        (ConfigType::Boolean, " false ", TypedValue::Boolean(false)),
        (ConfigType::String, " s ", TypedValue::String("s".into())),
        (ConfigType::Int, "-7", TypedValue::Int(-7)),
        (ConfigType::Short, "3", TypedValue::Short(3)),
        (ConfigType::Long, "9000000000", TypedValue::Long(9_000_000_000)),
        (ConfigType::Double, "0.5", TypedValue::Double(0.5)),
        (ConfigType::List, "a, b ,c", TypedValue::List(vec!["a".into(), "b".into(), "c".into()])),
        (ConfigType::List, "  ", TypedValue::List(vec![])),
        (ConfigType::Class, "org.Foo", TypedValue::Class("org.Foo".into())),
        (ConfigType::Password, "s3cret ", TypedValue::Password("s3cret ".into())),
    ];
    for (t, text, expected) in cases {
        let def = ConfigDef::new().define(key("k", *t));
        let parsed = def.parse(&config(&[("k", text)])).unwrap();
        assert_eq!(parsed.get("k"), Some(expected), "{t:?} {text:?}");
    }
}

#[test]
fn bad_values_per_type() {
    let cases: &[(ConfigType, &str, &str)] = &[
        (
            ConfigType::Boolean,
            "yes",
            "Invalid value yes for configuration k: Expected value to be either true or false",
        ),
        (ConfigType::Int, "1.5", "Invalid value 1.5 for configuration k: Not a number of type INT"),
        (ConfigType::Int, "3000000000", "Not a number of type INT"),
        (ConfigType::Short, "70000", "Not a number of type SHORT"),
        (ConfigType::Long, "x", "Not a number of type LONG"),
        (ConfigType::Double, "", "Not a number of type DOUBLE"),
    ];
    for (t, text, expected) in cases {
        let errs = errors(key("k", *t), Some(text));
        assert_eq!(errs.len(), 1, "{t:?} {text}: {errs:?}");
        assert!(errs[0].contains(expected), "{t:?} {text}: {errs:?}");
    }
}

#[test]
fn defaults_and_required() {
    let required = key("r", ConfigType::String);
    assert_eq!(
        errors(required.clone(), None),
        vec!["Missing required configuration \"r\" which has no default value."]
    );
    assert!(errors(required, Some("x")).is_empty());
    let def = ConfigDef::new()
        .define(key("d", ConfigType::Int).default_value("5"))
        .define(key("o", ConfigType::String).optional());
    let parsed = def.parse(&Config::new()).unwrap();
    assert_eq!((parsed.int("d"), parsed.string("o")), (Some(5), None));
    let values = def.validate(&Config::new());
    assert_eq!(values[0].value.as_deref(), Some("5"));
    assert_eq!(values[1].value, None);
    // A bad default is reported like a bad value: a bug in the definition shows up at once.
    assert!(!errors(key("b", ConfigType::Int).default_value("x"), None).is_empty());
}

#[test]
fn validators() {
    let range = || key("n", ConfigType::Int).validator(Validator::between(1.0, 10.0));
    assert!(errors(range(), Some("1")).is_empty());
    assert_eq!(errors(range(), Some("0")), vec!["Invalid value 0 for configuration n: Value must be at least 1"]);
    assert_eq!(
        errors(range(), Some("11")),
        vec!["Invalid value 11 for configuration n: Value must be no more than 10"]
    );
    let ratio = || key("x", ConfigType::Double).validator(Validator::at_least(0.5));
    assert_eq!(
        errors(ratio(), Some("0.25")),
        vec!["Invalid value 0.25 for configuration x: Value must be at least 0.5"]
    );

    let one_of = || key("s", ConfigType::String).validator(Validator::one_of(&["none", "all"]));
    assert!(errors(one_of(), Some("ALL")).is_empty());
    assert_eq!(
        errors(one_of(), Some("some")),
        vec!["Invalid value some for configuration s: String must be one of: none, all"]
    );
    let list_of = || key("l", ConfigType::List).validator(Validator::one_of(&["a", "b"]));
    assert!(errors(list_of(), Some("a,b")).is_empty());
    assert_eq!(errors(list_of(), Some("a,c")).len(), 1);

    let non_empty = || key("e", ConfigType::String).validator(Validator::NonEmpty);
    assert_eq!(errors(non_empty(), Some("  ")), vec!["Invalid value    for configuration e: String must be non-empty"]);
    assert!(errors(non_empty(), Some("x")).is_empty());

    let regex = || key("re", ConfigType::String).validator(Validator::Regex);
    assert!(errors(regex(), Some("topic-.*")).is_empty());
    let errs = errors(regex(), Some("(unclosed"));
    assert!(errs.len() == 1 && errs[0].contains("Invalid regex"), "{errs:?}");

    let even = || {
        key("c", ConfigType::Long).validator(Validator::custom(|v| match v {
            TypedValue::Long(n) if n % 2 == 0 => Ok(()),
            _ => Err("must be even".to_string()),
        }))
    };
    assert!(errors(even(), Some("4")).is_empty());
    assert_eq!(errors(even(), Some("3")), vec!["Invalid value 3 for configuration c: must be even"]);

    // A password's value never appears in an error.
    let secret = key("p", ConfigType::Password).validator(Validator::custom(|_| Err("too short".into())));
    assert_eq!(errors(secret, Some("hunter2")), vec!["Invalid value [hidden] for configuration p: too short"]);
}

#[test]
fn parse_reports_every_error() {
    let def = ConfigDef::new()
        .define(key("a", ConfigType::Int))
        .define(key("b", ConfigType::Boolean).default_value("false"))
        .define(key("c", ConfigType::Int).validator(Validator::at_least(1.0)));
    let errs = def.parse(&config(&[("b", "maybe"), ("c", "0")])).unwrap_err();
    let keys: Vec<&str> = errs.0.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    let err: crate::error::ConnectError = errs.into();
    assert!(err.to_string().contains("a, b, c"), "{err}");
}

#[test]
fn common_connector_settings() {
    let source = common_source_def();
    let ok = config(&[("name", "src"), ("connector.class", "X")]);
    let parsed = source.parse(&ok).unwrap();
    assert_eq!(parsed.int(TASKS_MAX), Some(1));
    assert_eq!(parsed.long("errors.retry.timeout"), Some(0));
    assert_eq!(parsed.long("errors.retry.delay.max.ms"), Some(60_000));
    assert_eq!(parsed.string(ERRORS_TOLERANCE), Some("none"));
    assert_eq!(parsed.boolean("errors.log.enable"), Some(false));
    assert_eq!(parsed.string("exactly.once.support"), Some("requested"));
    assert_eq!(parsed.string("transaction.boundary"), Some("poll"));
    assert_eq!(parsed.list(TRANSFORMS), Some(&[][..]));
    assert_eq!(parsed.string(KEY_CONVERTER), None);

    let bad: &[(&str, &str)] = &[
        (TASKS_MAX, "0"),
        (ERRORS_TOLERANCE, "some"),
        ("exactly.once.support", "maybe"),
        ("transaction.boundary", "never"),
        (TRANSFORMS, "a,b,a"),
        (KEY_CONVERTER, "com.example.UnknownConverter"),
        (HEADER_CONVERTER, "com.example.Nope"),
        ("config.action.reload", "sometimes"),
        (NAME, ""),
    ];
    for (k, v) in bad {
        let mut c = ok.clone();
        c.insert(k.to_string(), v.to_string());
        let errs = source.parse(&c).unwrap_err();
        assert_eq!(errs.0.len(), 1, "{k}={v}: {errs:?}");
        assert_eq!(errs.0[0].0, *k, "{errs:?}");
    }
    // Unknown class names the converters this runtime has; aliases are accepted.
    let mut c = ok.clone();
    c.insert(VALUE_CONVERTER.into(), "Nope".into());
    let errs = source.parse(&c).unwrap_err();
    assert!(errs.0[0].1.contains("Class Nope could not be found"), "{errs:?}");
    c.insert(VALUE_CONVERTER.into(), "StringConverter".into());
    assert!(source.parse(&c).is_ok());
    // A missing name and class are both reported.
    let errs = source.parse(&Config::new()).unwrap_err();
    assert_eq!(errs.0.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), [NAME, CONNECTOR_CLASS]);
}

#[test]
fn sink_settings_and_topic_checks() {
    let sink = common_sink_def();
    let base = config(&[("name", "s"), ("connector.class", "X")]);
    let parsed = sink.parse(&base).unwrap();
    assert_eq!(parsed.int("errors.deadletterqueue.topic.replication.factor"), Some(3));
    assert_eq!(parsed.boolean("errors.deadletterqueue.context.headers.enable"), Some(false));
    assert!(sink.key("exactly.once.support").is_none());
    assert!(common_source_def().key(TOPICS).is_none());

    let with = |pairs: &[(&str, &str)]| {
        let mut c = base.clone();
        c.extend(config(pairs));
        sink_topic_errors(&c)
    };
    assert!(with(&[("topics", "a,b")]).is_empty());
    assert!(with(&[("topics.regex", "a.*")]).is_empty());
    let neither = with(&[]);
    assert_eq!(neither.len(), 2);
    assert!(neither[0].1.contains("Must configure one of topics or topics.regex"));
    assert!(with(&[("topics", "a"), ("topics.regex", "b")])[0].1.contains("mutually exclusive"));
    let dlq = with(&[("topics", "a,dlq"), ("errors.deadletterqueue.topic.name", "dlq")]);
    assert_eq!(dlq[0].0, "errors.deadletterqueue.topic.name");
    assert_eq!(with(&[("topics.regex", "d.*"), ("errors.deadletterqueue.topic.name", "dlq")]).len(), 1);
    assert!(with(&[("topics.regex", "a.*"), ("errors.deadletterqueue.topic.name", "dlq")]).is_empty());
    // The regex itself is validated by the definition.
    let mut c = base.clone();
    c.insert("topics.regex".into(), "(".into());
    assert_eq!(sink.parse(&c).unwrap_err().0[0].0, "topics.regex");
}

#[test]
fn config_infos_have_kafkas_json_shape() {
    let own = ConfigDef::new()
        .define(
            ConfigKey::new("file", ConfigType::String, Importance::High, "The file.")
                .group("File", 1)
                .width(Width::Long)
                .display("File name")
                .dependents(&["batch.size"]),
        )
        .define(ConfigKey::new("password", ConfigType::Password, Importance::Low, "Secret.").default_value("pw"))
        // Redefining a common setting: the common definition is the one reported.
        .define(ConfigKey::new(TASKS_MAX, ConfigType::Int, Importance::Low, "other"));
    let common = common_sink_def();
    let c = config(&[
        ("name", "n"),
        ("connector.class", "FileStreamSink"),
        ("tasks.max", "0"),
        ("password", "hunter2"),
        ("topics", "t"),
    ]);
    let extra = vec![
        ("file".to_string(), "file is required by this sink".to_string()),
        ("undeclared".to_string(), "something is off".to_string()),
    ];
    let infos = to_config_infos("FileStreamSink", &[&common, &own], &c, extra);
    assert_eq!(infos.name, "FileStreamSink");
    assert_eq!(infos.error_count, 4, "tasks.max, file (missing + extra), undeclared: {infos:#?}");
    assert_eq!(infos.groups, ["Common", "Transforms", "Predicates", "Error Handling", "File"]);
    let json = serde_json::to_value(&infos).unwrap();
    let find = |name: &str| {
        json["configs"].as_array().unwrap().iter().find(|c| c["definition"]["name"] == name).cloned().unwrap()
    };
    assert_eq!(json["configs"].as_array().unwrap().iter().filter(|c| c["definition"]["name"] == TASKS_MAX).count(), 1);
    assert_eq!(
        find(TASKS_MAX),
        json!({
            "definition": {
                "name": "tasks.max", "type": "INT", "required": false, "default_value": "1", "importance": "HIGH",
                "documentation": "Maximum number of tasks to use for this connector.", "group": "Common",
                "order_in_group": 3, "width": "SHORT", "display_name": "Tasks max", "dependents": [],
            },
            "value": {
                "name": "tasks.max", "value": "0", "recommended_values": [],
                "errors": ["Invalid value 0 for configuration tasks.max: Value must be at least 1"], "visible": true,
            },
        })
    );
    let file = find("file");
    assert_eq!(file["definition"]["required"], true);
    assert_eq!(file["definition"]["default_value"], serde_json::Value::Null);
    assert_eq!(file["definition"]["dependents"], json!(["batch.size"]));
    assert_eq!(file["value"]["errors"].as_array().unwrap().len(), 2);
    let password = find("password");
    assert_eq!(
        (&password["value"]["value"], &password["definition"]["default_value"]),
        (&json!("[hidden]"), &json!("[hidden]"))
    );
    let undeclared = find("undeclared");
    assert_eq!(undeclared["value"]["errors"], json!(["something is off"]));
    assert_eq!(find("errors.tolerance")["value"]["recommended_values"], json!(["none", "all"]));
}
