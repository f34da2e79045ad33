//! Rack-aware replica placement over the live brokers, deterministic from the image.
//!
//! The live brokers are arranged so that racks alternate (first broker of each rack, then the second of each,
//! ...). Partition `g` (counted over every partition of the cluster, so consecutive topics continue the
//! rotation instead of all starting on the same broker) is led by broker `g mod n` of that arrangement;
//! its followers come from further along the arrangement, shifted per round so that the same brokers do not
//! always follow each other, and each picks an unused rack while one is left. The result spreads leaders over
//! brokers and each partition's replicas over racks, without randomness, so every node computes the same.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

use super::election::is_live;
use super::image::MetadataImage;

/// Why replicas could not be placed: the Kafka error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementError {
    /// INVALID_PARTITIONS or INVALID_REPLICATION_FACTOR.
    pub code: i16,
    /// What was wrong, for humans.
    pub message: String,
}

/// Replica lists (preferred leader first) for `count` new partitions with `replication_factor` replicas each.
pub fn place(image: &MetadataImage, count: i32, replication_factor: i16) -> Result<Vec<Vec<i32>>, PlacementError> {
    if count < 1 {
        return Err(PlacementError {
            code: ResponseError::InvalidPartitions.code(),
            message: format!("the number of partitions must be at least 1, got {count}"),
        });
    }
    let brokers = rack_alternated(image);
    let rf = usize::try_from(replication_factor).unwrap_or(0);
    if rf < 1 || rf > brokers.len() {
        return Err(PlacementError {
            code: ResponseError::InvalidReplicationFactor.code(),
            message: format!(
                "replication factor {replication_factor} is not possible with {} live brokers",
                brokers.len()
            ),
        });
    }
    let start: usize = image.topics.values().map(|t| t.partitions.len()).sum();
    let count = usize::try_from(count).unwrap_or(0);
    Ok((0..count).map(|p| replicas_for(&brokers, start + p, rf)).collect())
}

/// The live brokers with their racks, arranged so that racks alternate; deterministic (racks and ids sorted).
fn rack_alternated(image: &MetadataImage) -> Vec<(i32, Option<&str>)> {
    let mut by_rack: BTreeMap<Option<&str>, Vec<i32>> = BTreeMap::new();
    for broker in image.brokers.values().filter(|b| is_live(&image.brokers, b.id)) {
        by_rack.entry(broker.rack.as_deref()).or_default().push(broker.id);
    }
    let longest = by_rack.values().map(Vec::len).max().unwrap_or(0);
    let mut arranged = Vec::new();
    for round in 0..longest {
        for (rack, ids) in &by_rack {
            if let Some(&id) = ids.get(round) {
                arranged.push((id, *rack));
            }
        }
    }
    arranged
}

/// The replicas of the `g`-th partition of the cluster: leader `g mod n`, then followers in arrangement order
/// from a per-round shift, unused racks first.
fn replicas_for(brokers: &[(i32, Option<&str>)], g: usize, rf: usize) -> Vec<i32> {
    let n = brokers.len();
    let first = g % n;
    let shift = if n > 1 { 1 + (g / n) % (n - 1) } else { 0 };
    let candidates: Vec<usize> = (0..n).map(|k| (first + shift + k) % n).filter(|&i| i != first).collect();
    let mut chosen = vec![first];
    let mut racks = vec![brokers[first].1];
    for &i in &candidates {
        if chosen.len() == rf {
            break;
        }
        if !racks.contains(&brokers[i].1) {
            chosen.push(i);
            racks.push(brokers[i].1);
        }
    }
    for &i in &candidates {
        if chosen.len() == rf {
            break;
        }
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen.into_iter().map(|i| brokers[i].0).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use uuid::Uuid;

    use super::*;
    use crate::controller::image::{BrokerRecord, PartitionRecord, TopicRecord};

    fn image(brokers: &[(i32, Option<&str>, bool)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for &(id, rack, fenced) in brokers {
            image.brokers.insert(
                id,
                BrokerRecord {
                    id,
                    incarnation: Uuid::from_u128(id as u128),
                    epoch: 1,
                    host: "localhost".into(),
                    port: 9092,
                    rack: rack.map(str::to_string),
                    fenced,
                },
            );
        }
        image
    }

    fn leaders(lists: &[Vec<i32>]) -> BTreeMap<i32, usize> {
        let mut counts = BTreeMap::new();
        for list in lists {
            *counts.entry(list[0]).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn replicas_are_distinct_and_leaders_spread_evenly() {
        let image = image(&[(1, None, false), (2, None, false), (3, None, false)]);
        let lists = place(&image, 6, 3).unwrap();
        for list in &lists {
            assert_eq!(list.iter().collect::<BTreeSet<_>>().len(), 3, "{list:?}");
        }
        assert_eq!(leaders(&lists), BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
    }

    #[test]
    fn each_partition_spans_every_rack() {
        let image = image(&[
            (1, Some("a"), false),
            (2, Some("a"), false),
            (3, Some("b"), false),
            (4, Some("b"), false),
            (5, Some("c"), false),
            (6, Some("c"), false),
        ]);
        let rack_of = |id: i32| image.brokers[&id].rack.clone();
        let lists = place(&image, 12, 3).unwrap();
        for list in &lists {
            let racks: BTreeSet<_> = list.iter().map(|&id| rack_of(id)).collect();
            assert_eq!(racks.len(), 3, "{list:?} should use three racks");
        }
        assert!(leaders(&lists).values().all(|&n| n == 2), "{:?}", leaders(&lists));
    }

    #[test]
    fn more_replicas_than_racks_reuse_racks_evenly() {
        let image =
            image(&[(1, Some("a"), false), (2, Some("a"), false), (3, Some("b"), false), (4, Some("b"), false)]);
        for list in place(&image, 8, 4).unwrap() {
            assert_eq!(list.iter().collect::<BTreeSet<_>>().len(), 4, "{list:?}");
        }
        for list in place(&image, 8, 2).unwrap() {
            let racks: BTreeSet<_> = list.iter().map(|id| image.brokers[id].rack.clone()).collect();
            assert_eq!(racks.len(), 2, "{list:?}");
        }
    }

    #[test]
    fn fenced_brokers_get_nothing() {
        let image = image(&[(1, None, false), (2, None, true), (3, None, false)]);
        for list in place(&image, 5, 2).unwrap() {
            assert!(!list.contains(&2), "{list:?}");
        }
        let err = place(&image, 1, 3).unwrap_err();
        assert_eq!(err.code, ResponseError::InvalidReplicationFactor.code());
    }

    #[test]
    fn bad_counts_are_refused() {
        let image = image(&[(1, None, false)]);
        assert_eq!(place(&image, 0, 1).unwrap_err().code, ResponseError::InvalidPartitions.code());
        assert_eq!(place(&image, 1, 0).unwrap_err().code, ResponseError::InvalidReplicationFactor.code());
        assert_eq!(place(&image, 1, -1).unwrap_err().code, ResponseError::InvalidReplicationFactor.code());
        assert_eq!(
            place(&MetadataImage::default(), 1, 1).unwrap_err().code,
            ResponseError::InvalidReplicationFactor.code()
        );
    }

    #[test]
    fn placement_continues_the_rotation_across_topics() {
        let mut image = image(&[(1, None, false), (2, None, false), (3, None, false)]);
        let first = place(&image, 1, 1).unwrap();
        let partitions = first.iter().map(|r| PartitionRecord {
            replicas: r.clone(),
            isr: r.clone(),
            leader: r[0],
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        });
        image.topics.insert(
            "t".into(),
            TopicRecord {
                name: "t".into(),
                id: Uuid::nil(),
                configs: BTreeMap::new(),
                partitions: partitions.collect(),
            },
        );
        let second = place(&image, 1, 1).unwrap();
        assert_ne!(first[0][0], second[0][0], "a second single-partition topic should get another leader");
        assert_eq!(place(&image, 1, 1).unwrap(), second, "placement is deterministic");
    }
}
