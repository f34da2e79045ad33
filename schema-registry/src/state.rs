//! The registry's state as data: every subject, version, id, config and mode, built by applying `_schemas`
//! records in offset order. Pure: no I/O, so replaying the topic always gives the same state.
//!
//! The topic may hold records this registry did not write (Confluent's, an older Sluice's) or records a
//! compaction left in a surprising order, so [`State::apply`] never panics: a record that contradicts what is
//! already known (a second content for one id, a value whose type does not match its key) is skipped and counted
//! in [`State::skipped`], as Confluent's reader skips a schema whose id is already taken by other content.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::records::{ConfigValue, SchemaValue};
use crate::store::{Record, RecordKey, RecordValue};
use crate::types::{Mode, SchemaContent};

/// One version of a subject: the id of its schema, and whether it is soft-deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: i32,
    /// Soft-deleted: hidden from normal reads, still readable by id and with `deleted=true`.
    pub deleted: bool,
}

/// Everything the registry knows. Built only by [`State::apply`]; equal states answer every request alike.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    /// Subject → version → entry. Versions of a subject are never renumbered.
    subjects: BTreeMap<String, BTreeMap<i32, VersionEntry>>,
    /// Id → content, for every id at least one version (live or soft-deleted) uses.
    schemas: HashMap<i32, SchemaContent>,
    /// Id → the versions using it; an id is forgotten once this is empty.
    uses: HashMap<i32, BTreeSet<(String, i32)>>,
    /// Content → ids carrying it (more than one only when IMPORT chose ids): the dedup index.
    by_content: HashMap<SchemaContent, BTreeSet<i32>>,
    /// Referenced (subject, version) → the versions whose schema references it, live or soft-deleted.
    referrers: BTreeMap<(String, i32), BTreeSet<(String, i32)>>,
    /// The highest id ever seen, kept even when its versions are deleted so that ids are never reused.
    max_id: i32,
    global_config: Option<ConfigValue>,
    subject_configs: BTreeMap<String, ConfigValue>,
    global_mode: Option<Mode>,
    subject_modes: BTreeMap<String, Mode>,
    /// Records skipped as inconsistent since the start.
    skipped: u64,
}

impl State {
    /// Applies one record read from (or about to be visible in) the `_schemas` topic.
    pub fn apply(&mut self, record: &Record) {
        match (&record.key, &record.value) {
            (RecordKey::Schema { subject, version }, Some(RecordValue::Schema(value))) => {
                self.upsert_version(subject, *version, value)
            }
            (RecordKey::Schema { subject, version }, None) => self.remove_version(subject, *version),
            (RecordKey::Config { subject }, Some(RecordValue::Config(value))) => match subject {
                Some(s) => {
                    self.subject_configs.insert(s.clone(), value.clone());
                }
                None => self.global_config = Some(value.clone()),
            },
            (RecordKey::Config { subject }, None) => match subject {
                Some(s) => {
                    self.subject_configs.remove(s);
                }
                None => self.global_config = None,
            },
            (RecordKey::Mode { subject }, Some(RecordValue::Mode(value))) => match subject {
                Some(s) => {
                    self.subject_modes.insert(s.clone(), value.mode);
                }
                None => self.global_mode = Some(value.mode),
            },
            (RecordKey::Mode { subject }, None) => match subject {
                Some(s) => {
                    self.subject_modes.remove(s);
                }
                None => self.global_mode = None,
            },
            (RecordKey::DeleteSubject { subject }, Some(RecordValue::DeleteSubject(value))) => {
                if let Some(versions) = self.subjects.get_mut(subject) {
                    for (_, entry) in versions.range_mut(..=value.version) {
                        entry.deleted = true;
                    }
                }
            }
            (RecordKey::ClearSubject { subject }, Some(_)) => {
                let deleted: Vec<i32> = self
                    .subjects
                    .get(subject)
                    .map(|versions| versions.iter().filter(|(_, e)| e.deleted).map(|(v, _)| *v).collect())
                    .unwrap_or_default();
                for version in deleted {
                    self.remove_version(subject, version);
                }
            }
            // A tombstone of a delete or clear marker only undoes compaction bookkeeping; it changes nothing.
            (RecordKey::DeleteSubject { .. } | RecordKey::ClearSubject { .. } | RecordKey::Noop, None) => {}
            (RecordKey::Noop, Some(_)) => {}
            // A value whose type does not match its key.
            _ => self.skipped += 1,
        }
    }

    fn upsert_version(&mut self, subject: &str, version: i32, value: &SchemaValue) {
        let content = SchemaContent {
            schema_type: value.schema_type,
            schema: value.schema.clone(),
            references: value.references.clone(),
        };
        if value.id < 0 || version < 1 {
            self.skipped += 1;
            return;
        }
        if let Some(known) = self.schemas.get(&value.id) {
            if *known != content {
                // Another schema already holds this id: ids name one content forever.
                self.skipped += 1;
                return;
            }
        }
        self.remove_version(subject, version);
        let key = (subject.to_string(), version);
        for reference in &content.references {
            self.referrers.entry((reference.subject.clone(), reference.version)).or_default().insert(key.clone());
        }
        self.uses.entry(value.id).or_default().insert(key);
        self.by_content.entry(content.clone()).or_default().insert(value.id);
        self.schemas.insert(value.id, content);
        self.max_id = self.max_id.max(value.id);
        self.subjects
            .entry(subject.to_string())
            .or_default()
            .insert(version, VersionEntry { id: value.id, deleted: value.deleted });
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else { return };
        let Some(entry) = versions.remove(&version) else { return };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let key = (subject.to_string(), version);
        let unused = match self.uses.get_mut(&entry.id) {
            Some(uses) => {
                uses.remove(&key);
                uses.is_empty()
            }
            None => false,
        };
        let Some(content) = self.schemas.get(&entry.id) else { return };
        for reference in &content.references {
            let target = (reference.subject.clone(), reference.version);
            if let Some(referrers) = self.referrers.get_mut(&target) {
                referrers.remove(&key);
                if referrers.is_empty() {
                    self.referrers.remove(&target);
                }
            }
        }
        if unused {
            // No version uses the id any more: forget its content (as Confluent does) but keep `max_id`.
            self.uses.remove(&entry.id);
            if let Some(content) = self.schemas.remove(&entry.id) {
                if let Some(ids) = self.by_content.get_mut(&content) {
                    ids.remove(&entry.id);
                    if ids.is_empty() {
                        self.by_content.remove(&content);
                    }
                }
            }
        }
    }

    /// Every subject with at least one version (live or soft-deleted), sorted.
    pub fn subjects(&self) -> impl Iterator<Item = (&str, &BTreeMap<i32, VersionEntry>)> {
        self.subjects.iter().map(|(s, v)| (s.as_str(), v))
    }

    /// The versions of `subject`, live and soft-deleted; `None` when it has none.
    pub fn versions(&self, subject: &str) -> Option<&BTreeMap<i32, VersionEntry>> {
        self.subjects.get(subject)
    }

    /// One version of a subject, live or soft-deleted.
    pub fn version(&self, subject: &str, version: i32) -> Option<VersionEntry> {
        self.subjects.get(subject)?.get(&version).copied()
    }

    /// The newest live version of `subject`.
    pub fn latest_live(&self, subject: &str) -> Option<(i32, VersionEntry)> {
        self.subjects.get(subject)?.iter().rev().find(|(_, e)| !e.deleted).map(|(v, e)| (*v, *e))
    }

    /// Whether `subject` has a live version (or with `deleted`, any version).
    pub fn has_subject(&self, subject: &str, deleted: bool) -> bool {
        self.subjects.get(subject).is_some_and(|versions| deleted || versions.values().any(|e| !e.deleted))
    }

    /// The content an id names, while some version uses it.
    pub fn schema(&self, id: i32) -> Option<&SchemaContent> {
        self.schemas.get(&id)
    }

    /// The lowest id carrying exactly this content, if any version uses one.
    pub fn id_of(&self, content: &SchemaContent) -> Option<i32> {
        self.by_content.get(content)?.iter().next().copied()
    }

    /// The versions using an id, sorted by subject then version.
    pub fn uses_of(&self, id: i32) -> impl Iterator<Item = (&str, i32)> {
        self.uses.get(&id).into_iter().flatten().map(|(s, v)| (s.as_str(), *v))
    }

    /// The versions whose schema references `subject` version `version`, live or soft-deleted.
    pub fn referrers_of(&self, subject: &str, version: i32) -> impl Iterator<Item = (&str, i32)> {
        self.referrers.get(&(subject.to_string(), version)).into_iter().flatten().map(|(s, v)| (s.as_str(), *v))
    }

    /// The highest id ever seen (0 before the first schema).
    pub fn max_id(&self) -> i32 {
        self.max_id
    }

    /// The config set for a subject, or with `None` the global one; not the effective one.
    pub fn config(&self, subject: Option<&str>) -> Option<&ConfigValue> {
        match subject {
            Some(s) => self.subject_configs.get(s),
            None => self.global_config.as_ref(),
        }
    }

    /// The mode set for a subject, or with `None` the global one; not the effective one.
    pub fn mode(&self, subject: Option<&str>) -> Option<Mode> {
        match subject {
            Some(s) => self.subject_modes.get(s).copied(),
            None => self.global_mode,
        }
    }

    /// How many records were skipped as inconsistent (for logs and metrics).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{ClearSubjectValue, DeleteSubjectValue, ModeValue};
    use crate::types::{CompatibilityLevel, SchemaReference, SchemaType};

    fn schema(subject: &str, version: i32, id: i32, text: &str, deleted: bool) -> Record {
        Record {
            key: RecordKey::Schema { subject: subject.into(), version },
            value: Some(RecordValue::Schema(SchemaValue {
                subject: subject.into(),
                version,
                id,
                schema_type: SchemaType::Avro,
                references: Vec::new(),
                schema: text.into(),
                deleted,
            })),
        }
    }

    fn tombstone(subject: &str, version: i32) -> Record {
        Record { key: RecordKey::Schema { subject: subject.into(), version }, value: None }
    }

    fn state(records: &[Record]) -> State {
        let mut state = State::default();
        for r in records {
            state.apply(r);
        }
        state
    }

    #[test]
    fn versions_ids_and_content_index() {
        let s = state(&[schema("a", 1, 1, "\"string\"", false), schema("b", 1, 1, "\"string\"", false)]);
        assert_eq!(s.version("a", 1), Some(VersionEntry { id: 1, deleted: false }));
        assert_eq!(s.uses_of(1).collect::<Vec<_>>(), vec![("a", 1), ("b", 1)]);
        let content = s.schema(1).unwrap().clone();
        assert_eq!(s.id_of(&content), Some(1));
        assert_eq!(s.max_id(), 1);
    }

    #[test]
    fn tombstones_forget_unused_ids_but_keep_max_id() {
        let mut s = state(&[schema("a", 1, 1, "\"string\"", false), schema("a", 2, 2, "\"int\"", false)]);
        s.apply(&tombstone("a", 2));
        assert!(s.schema(2).is_none());
        assert_eq!(s.max_id(), 2);
        s.apply(&tombstone("a", 1));
        assert!(s.versions("a").is_none());
        assert_eq!(s.subjects().count(), 0);
        assert_eq!(s.max_id(), 2);
        // Tombstones of unknown versions are harmless.
        s.apply(&tombstone("nope", 7));
        assert_eq!(s.skipped(), 0);
    }

    #[test]
    fn a_second_content_for_an_id_is_skipped() {
        let s = state(&[schema("a", 1, 1, "\"string\"", false), schema("b", 1, 1, "\"int\"", false)]);
        assert!(s.versions("b").is_none());
        assert_eq!(s.schema(1).unwrap().schema, "\"string\"");
        assert_eq!(s.skipped(), 1);
    }

    #[test]
    fn delete_subject_marks_versions_up_to_the_watermark_and_clear_removes_them() {
        let mut s = state(&[
            schema("a", 1, 1, "\"string\"", false),
            schema("a", 2, 2, "\"int\"", false),
            schema("a", 3, 3, "\"long\"", false),
        ]);
        s.apply(&Record {
            key: RecordKey::DeleteSubject { subject: "a".into() },
            value: Some(RecordValue::DeleteSubject(DeleteSubjectValue { subject: "a".into(), version: 2 })),
        });
        assert!(s.version("a", 1).unwrap().deleted && s.version("a", 2).unwrap().deleted);
        assert!(!s.version("a", 3).unwrap().deleted);
        assert_eq!(s.latest_live("a").unwrap().0, 3);
        s.apply(&Record {
            key: RecordKey::ClearSubject { subject: "a".into() },
            value: Some(RecordValue::ClearSubject(ClearSubjectValue { subject: "a".into() })),
        });
        assert_eq!(s.versions("a").unwrap().keys().copied().collect::<Vec<_>>(), vec![3]);
        assert!(s.schema(1).is_none());
    }

    #[test]
    fn configs_and_modes_set_and_tombstone() {
        let config = ConfigValue { compatibility_level: Some(CompatibilityLevel::Full), normalize: None };
        let mut s = state(&[
            Record { key: RecordKey::Config { subject: None }, value: Some(RecordValue::Config(config.clone())) },
            Record {
                key: RecordKey::Mode { subject: Some("a".into()) },
                value: Some(RecordValue::Mode(ModeValue { mode: Mode::Readonly })),
            },
        ]);
        assert_eq!(s.config(None), Some(&config));
        assert_eq!(s.mode(Some("a")), Some(Mode::Readonly));
        s.apply(&Record { key: RecordKey::Config { subject: None }, value: None });
        s.apply(&Record { key: RecordKey::Mode { subject: Some("a".into()) }, value: None });
        assert_eq!(s.config(None), None);
        assert_eq!(s.mode(Some("a")), None);
    }

    #[test]
    fn references_index_follows_versions() {
        let mut referencing = schema("b", 1, 2, "{\"type\":\"record\"}", false);
        if let Some(RecordValue::Schema(v)) = &mut referencing.value {
            v.references = vec![SchemaReference { name: "A".into(), subject: "a".into(), version: 1 }];
        }
        let mut s = state(&[schema("a", 1, 1, "\"string\"", false), referencing]);
        assert_eq!(s.referrers_of("a", 1).collect::<Vec<_>>(), vec![("b", 1)]);
        s.apply(&tombstone("b", 1));
        assert_eq!(s.referrers_of("a", 1).count(), 0);
    }

    #[test]
    fn mismatched_and_odd_records_do_not_panic() {
        let mut s = State::default();
        for record in [
            Record { key: RecordKey::Schema { subject: "a".into(), version: 1 }, value: Some(RecordValue::Noop) },
            Record {
                key: RecordKey::Config { subject: None },
                value: Some(RecordValue::Mode(ModeValue { mode: Mode::Import })),
            },
            Record { key: RecordKey::Noop, value: Some(RecordValue::Noop) },
            Record { key: RecordKey::Noop, value: None },
            Record { key: RecordKey::DeleteSubject { subject: "ghost".into() }, value: None },
            Record {
                key: RecordKey::DeleteSubject { subject: "ghost".into() },
                value: Some(RecordValue::DeleteSubject(DeleteSubjectValue {
                    subject: "ghost".into(),
                    version: i32::MAX,
                })),
            },
            schema("a", 0, 1, "\"string\"", false),
            schema("a", 1, -5, "\"string\"", false),
        ] {
            s.apply(&record);
        }
        assert_eq!(s.subjects().count(), 0);
        assert_eq!(s.skipped(), 4);
    }
}
