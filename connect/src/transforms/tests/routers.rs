//! RegexRouter and TimestampRouter rows.

use super::*;
use Expect::*;

fn on_topic(topic: &str) -> ConnectRecord {
    let mut r = rec(s("v"));
    r.topic = topic.to_string();
    r
}

#[test]
fn regex_router_table() {
    run_table(
        "org.apache.kafka.connect.transforms.RegexRouter",
        vec![
            case(
                "group reference",
                &[("regex", "(.*)-raw"), ("replacement", "$1-clean")],
                on_topic("orders-raw"),
                Record(on_topic("orders-clean")),
            ),
            case(
                "no match leaves the topic",
                &[("regex", "(.*)-raw"), ("replacement", "$1")],
                on_topic("orders"),
                Record(on_topic("orders")),
            ),
            case(
                "must match the whole topic",
                &[("regex", "raw"), ("replacement", "x")],
                on_topic("orders-raw"),
                Record(on_topic("orders-raw")),
            ),
            case(
                "named group",
                &[("regex", "(?<db>[a-z]+)\\.(?<table>.*)"), ("replacement", "${table}_from_${db}")],
                on_topic("sales.orders"),
                Record(on_topic("orders_from_sales")),
            ),
            case(
                "digits after a group reference stay literal",
                &[("regex", "(a)"), ("replacement", "$10")],
                on_topic("a"),
                Record(on_topic("a0")),
            ),
            case(
                "escaped dollar",
                &[("regex", "(.*)"), ("replacement", "\\$$1")],
                on_topic("t"),
                Record(on_topic("$t")),
            ),
            case("bad regex", &[("regex", "("), ("replacement", "x")], on_topic("t"), BadConfig("regex")),
            case("missing group", &[("regex", "(a)"), ("replacement", "$2")], on_topic("a"), BadConfig("replacement")),
            case("replacement is required", &[("regex", "a")], on_topic("a"), BadConfig("replacement")),
        ],
    );
}

#[test]
fn timestamp_router_table() {
    let mut untimed = on_topic("orders");
    untimed.timestamp = None;
    run_table(
        "org.apache.kafka.connect.transforms.TimestampRouter",
        vec![
            case("defaults", &[], on_topic("orders"), Record(on_topic("orders-20231114"))),
            case(
                "custom formats",
                &[("topic.format", "${timestamp}_${topic}"), ("timestamp.format", "yyyy-MM")],
                on_topic("orders"),
                Record(on_topic("2023-11_orders")),
            ),
            case("no timestamp", &[], untimed, Fails("Timestamp missing on record")),
            case("bad format", &[("timestamp.format", "yyyy-bb")], on_topic("orders"), BadConfig("timestamp.format")),
        ],
    );
}
