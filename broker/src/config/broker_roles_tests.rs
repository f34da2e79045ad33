//! `process_roles` validation: which role combinations a node of a cluster may have.

use super::*;

const QUORUM: &str = "1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095";

fn node(id: i32, roles: &str) -> BrokerConfig {
    BrokerConfig {
        node_id: id,
        controller_quorum: Some(QUORUM.into()),
        process_roles: parse_roles(roles),
        ..BrokerConfig::default()
    }
}

fn problem(config: &BrokerConfig) -> String {
    config.validate().expect_err("invalid roles").to_string()
}

#[test]
fn the_default_is_combined_mode() {
    let config = BrokerConfig::default();
    assert!(config.is_broker() && config.is_controller());
    node(1, "broker,controller").validate().expect("a combined voter is valid");
    BrokerConfig::default().validate().expect("single-node mode is unchanged");
}

#[test]
fn a_controller_must_be_a_voter() {
    node(2, "controller").validate().expect("a controller-only voter is valid");
    assert!(problem(&node(4, "controller")).contains("not a voter"), "{}", problem(&node(4, "controller")));
    assert!(problem(&node(4, "broker,controller")).contains("not a voter"));
}

#[test]
fn a_broker_only_node_must_not_be_a_voter_and_needs_a_controller_listener() {
    let mut learner = node(4, "broker");
    assert!(problem(&learner).contains("controller_listen"), "{}", problem(&learner));
    learner.controller_listen = Some("127.0.0.1:9096".into());
    learner.validate().expect("a broker-only learner is valid");
    let mut voter = node(1, "broker");
    voter.controller_listen = Some("127.0.0.1:9096".into());
    assert!(problem(&voter).contains("broker-only nodes must not be voters"), "{}", problem(&voter));
}

#[test]
fn unknown_or_missing_roles_are_refused() {
    assert!(problem(&node(1, "broker,observer")).contains("unknown roles"));
    assert!(problem(&node(1, "")).contains("no role"));
    let alone = BrokerConfig { process_roles: parse_roles("controller"), ..BrokerConfig::default() };
    assert!(problem(&alone).contains("needs controller_quorum"), "{}", problem(&alone));
}

#[test]
fn roles_come_from_toml_and_the_environment() {
    let config: BrokerConfig = toml::from_str("process_roles = [\"controller\"]").expect("toml");
    assert_eq!(config.process_roles, vec!["controller"]);
    let mut config = BrokerConfig::default();
    config.apply_env("SLUICE_PROCESS_ROLES", "broker, controller").expect("env");
    assert_eq!(config.process_roles, vec!["broker", "controller"]);
}
