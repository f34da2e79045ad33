//! Shared by the admin handlers in cluster mode: proposing a metadata command and turning its outcome into a
//! Kafka error code with a message, and the checks on client-given replica assignments that must happen before
//! a proposal (the controller's apply function re-checks what depends on the image at commit time).

use std::collections::{BTreeSet, HashMap};

use kafka_protocol::ResponseError;

use crate::controller::{CommandResult, Controller, ControllerError, MetadataCommand, MetadataImage};

/// A refusal as the admin handlers answer it: the Kafka error and a message for humans.
pub(crate) type Refusal = (ResponseError, String);

/// The most partitions a topic may have (the single-broker registry has the same limit).
pub(crate) const MAX_PARTITIONS: i32 = 100_000;

/// Kafka's error for a wire code the controller answered (codes the codec does not name pass through as they
/// are; 0, never a refusal, would be a bug and becomes UNKNOWN_SERVER_ERROR).
pub(crate) fn error_of(code: i16) -> ResponseError {
    ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError)
}

/// Why the quorum could not answer, as the Kafka error clients retry on.
pub(crate) fn unavailable(error: &ControllerError) -> Refusal {
    let code = match error {
        // Clients refresh their metadata and retry on NOT_CONTROLLER: right while an election is under way.
        ControllerError::NotAvailable(_) => ResponseError::NotController,
        // The command may still be applied later; Kafka answers a controller timeout this way too.
        ControllerError::Timeout(_) => ResponseError::RequestTimedOut,
    };
    (code, error.to_string())
}

/// Proposes `command` and returns its result once applied on this node.
pub(crate) async fn propose(controller: &Controller, command: MetadataCommand) -> Result<CommandResult, Refusal> {
    controller.propose(command).await.map_err(|e| {
        tracing::info!(error = %e, "a metadata proposal got no answer");
        unavailable(&e)
    })
}

/// Proposes a command whose only answers are applied or refused.
pub(crate) async fn propose_simple(controller: &Controller, command: MetadataCommand) -> Result<(), Refusal> {
    match propose(controller, command).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::Refused { code, message } => Err((error_of(code), message)),
        other => Err((ResponseError::UnknownServerError, format!("unexpected controller answer {other:?} (a bug)"))),
    }
}

/// The controller's per-partition answers by (topic, partition): (error code, message).
pub(crate) type PartitionAnswers = HashMap<(String, i32), (i16, Option<String>)>;

/// Proposes a command answered per partition (ElectLeaders, AlterReassignments).
pub(crate) async fn propose_partitions(
    controller: &Controller,
    command: MetadataCommand,
) -> Result<PartitionAnswers, Refusal> {
    match propose(controller, command).await? {
        CommandResult::Partitions(answers) => Ok(answers
            .into_iter()
            .map(|(topic, partition, code, message)| ((topic, partition), (code, message)))
            .collect()),
        CommandResult::Refused { code, message } => Err((error_of(code), message)),
        other => Err((ResponseError::UnknownServerError, format!("unexpected controller answer {other:?} (a bug)"))),
    }
}

/// One partition's outcome from [`propose_partitions`]: None when it succeeded.
pub(crate) fn partition_outcome(
    answers: &Result<PartitionAnswers, Refusal>,
    topic: &str,
    partition: i32,
) -> Option<Refusal> {
    match answers {
        Err(refusal) => Some(refusal.clone()),
        Ok(answers) => match answers.get(&(topic.to_string(), partition)) {
            Some((0, _)) => None,
            Some((code, message)) => {
                Some((error_of(*code), message.clone().unwrap_or_else(|| format!("{:?}", error_of(*code)))))
            }
            None => Some((
                ResponseError::UnknownServerError,
                format!("the controller gave no answer for {topic}-{partition} (a bug)"),
            )),
        },
    }
}

/// Checks replica lists a client gave for new partitions (CreateTopics, CreatePartitions): non-empty, no broker
/// twice, all of the same length (`replication_factor` when the topic has one), and with `validate_only` every
/// broker registered in `image`. A real creation leaves registration to the controller, which checks it against
/// the committed state: this node's image may not show a broker registered a moment ago.
pub(crate) fn check_assignments(
    image: &MetadataImage,
    assignments: &[Vec<i32>],
    replication_factor: Option<usize>,
    validate_only: bool,
) -> Result<(), Refusal> {
    let registry = validate_only.then_some(image);
    let invalid = |message: String| (ResponseError::InvalidReplicaAssignment, message);
    let expected = replication_factor.or_else(|| assignments.first().map(Vec::len));
    for (i, replicas) in assignments.iter().enumerate() {
        check_replicas(registry, replicas).map_err(|m| invalid(format!("partition {i}: {m}")))?;
        if Some(replicas.len()) != expected {
            return Err(invalid(format!(
                "partition {i} has {} replicas; every partition of a topic must have {}",
                replicas.len(),
                expected.unwrap_or(0)
            )));
        }
    }
    Ok(())
}

/// Checks one replica list: non-empty, no duplicates, and only brokers registered in `image` when given. The
/// error is a message.
pub(crate) fn check_replicas(image: Option<&MetadataImage>, replicas: &[i32]) -> Result<(), String> {
    if replicas.is_empty() {
        return Err("the replica list is empty".into());
    }
    let mut seen = BTreeSet::new();
    for id in replicas {
        if !seen.insert(id) {
            return Err(format!("broker {id} is listed twice in {replicas:?}"));
        }
        if image.is_some_and(|image| !image.brokers.contains_key(id)) {
            return Err(format!("broker {id} is not registered in this cluster"));
        }
    }
    Ok(())
}

/// Checks that `replication_factor` replicas can be placed on the live brokers of `image`, or only that it is
/// positive when `validate_only` is false.
///
/// This node's image may lag the quorum (a broker registered a moment ago is not in it yet), so a real creation
/// leaves the live-broker check to the controller, which makes it against the committed state when it applies
/// the command (and refuses with the same code). Only `validate_only`, which proposes nothing, answers from here.
pub(crate) fn check_replication_factor(
    image: &MetadataImage,
    replication_factor: i16,
    validate_only: bool,
) -> Result<(), Refusal> {
    let live = image.live_brokers().len();
    if replication_factor < 1 {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("replication factor must be at least 1, got {replication_factor}"),
        ));
    }
    if validate_only && replication_factor as usize > live {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("replication factor {replication_factor} is larger than the {live} live brokers"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::BrokerRecord;

    fn image(ids: &[i32]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for &id in ids {
            let record = BrokerRecord {
                id,
                incarnation: uuid::Uuid::new_v4(),
                epoch: 1,
                host: "h".into(),
                port: 1,
                rack: None,
                fenced: id == 3,
            };
            image.brokers.insert(id, record);
        }
        image
    }

    #[test]
    fn assignments_are_checked_for_size_duplicates_and_brokers() {
        let image = image(&[1, 2, 3]);
        assert!(check_assignments(&image, &[vec![1, 2], vec![2, 3]], None, true).is_ok());
        // Registration is left to the controller unless only validating (this image may lag the quorum).
        assert!(check_assignments(&image, &[vec![7]], None, false).is_ok());
        let refused = |a: &[Vec<i32>], rf| check_assignments(&image, a, rf, true).unwrap_err();
        assert_eq!(refused(&[vec![1, 2], vec![2]], None).0, ResponseError::InvalidReplicaAssignment);
        assert!(refused(&[vec![1, 1]], None).1.contains("twice"));
        assert!(refused(&[vec![7]], None).1.contains("not registered"));
        assert!(refused(&[vec![]], None).1.contains("empty"));
        assert!(refused(&[vec![1]], Some(2)).1.contains("must have 2"));
    }

    #[test]
    fn replication_factor_counts_only_live_brokers() {
        let image = image(&[1, 2, 3]);
        assert!(check_replication_factor(&image, 2, true).is_ok());
        assert!(check_replication_factor(&image, 3, true).unwrap_err().1.contains("2 live brokers"));
        assert!(check_replication_factor(&image, 0, true).is_err());
        // A real creation leaves the live-broker count to the controller (this image may lag the quorum).
        assert!(check_replication_factor(&image, 3, false).is_ok());
        assert!(check_replication_factor(&image, 0, false).is_err());
    }

    #[test]
    fn controller_codes_map_to_kafka_errors() {
        assert_eq!(error_of(36), ResponseError::TopicAlreadyExists);
        assert_eq!(error_of(-999).code(), -999);
        assert_eq!(error_of(0), ResponseError::UnknownServerError);
        assert_eq!(unavailable(&ControllerError::Timeout(5)).0, ResponseError::RequestTimedOut);
        assert_eq!(unavailable(&ControllerError::NotAvailable("x".into())).0, ResponseError::NotController);
    }
}
