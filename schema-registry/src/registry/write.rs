//! Writes of schemas: registration (dedup, modes, compatibility, ids, versions) and soft and permanent deletes
//! of versions and subjects, each decided under the write lock and appended as Confluent's records.

use super::read::find_version;
use super::resolve::{self, Candidate};
use super::{Registry, SchemaRequest, VersionSpec};
use crate::error::ApiError;
use crate::state::State;
use crate::store::records::{DeleteSubjectValue, SchemaValue};
use crate::store::{Record, RecordKey, RecordValue};
use crate::types::{Mode, SchemaContent};

impl Registry {
    /// `POST /subjects/{s}/versions`: the id of the schema, registering a new version if needed.
    ///
    /// A schema already live in the subject answers its id at once, without the write lock or the leader (even
    /// in READONLY mode), as Confluent does before forwarding. Otherwise: READONLY refuses (42205); a caller `id`
    /// needs IMPORT mode and IMPORT needs one (42205); outside IMPORT the schema must be compatible with the
    /// subject's live versions (409). The id is the one already carrying this content under any subject, else
    /// one more than the highest id ever seen; the version is one more than the highest ever used in the subject,
    /// soft-deleted ones included, or the caller's in IMPORT mode.
    pub async fn register(&self, subject: &str, request: SchemaRequest, normalize: bool) -> Result<i32, ApiError> {
        {
            let state = self.log.state().read();
            let candidate = resolve::candidate(&state, subject, &request, normalize)?;
            if let Some(id) = already_registered(&state, subject, &request, &candidate) {
                return Ok(id);
            }
        }
        let _write = self.begin_write().await?;
        let (id, records) = {
            let state = self.log.state().read();
            self.plan_register(&state, subject, &request, normalize)?
        };
        self.append(records).await?;
        Ok(id)
    }

    fn plan_register(
        &self,
        state: &State,
        subject: &str,
        request: &SchemaRequest,
        normalize: bool,
    ) -> Result<(i32, Vec<Record>), ApiError> {
        let candidate = resolve::candidate(state, subject, request, normalize)?;
        if let Some(id) = already_registered(state, subject, request, &candidate) {
            return Ok((id, Vec::new()));
        }
        let caller_id = request.id.filter(|id| *id >= 0);
        let caller_version = request.version.filter(|v| *v > 0);
        let mode = resolve::effective_mode(state, subject);
        if resolve::is_read_only(mode) {
            return Err(ApiError::operation_not_permitted(format!("Subject {subject} is in read-only mode")));
        }
        match (mode, caller_id) {
            (Mode::Import, None) => {
                return Err(ApiError::operation_not_permitted(format!(
                    "Subject {subject} is not in read-write mode; in IMPORT mode every registration must give its `id`"
                )))
            }
            (Mode::Readwrite, Some(id)) => {
                return Err(ApiError::operation_not_permitted(format!(
                    "Subject {subject} is not in import mode; a caller-chosen id ({id}) needs PUT /mode IMPORT first"
                )))
            }
            _ => {}
        }

        let versions = state.versions(subject);
        let highest = versions.and_then(|v| v.keys().next_back().copied()).unwrap_or(0);
        let next = highest
            .checked_add(1)
            .ok_or_else(|| ApiError::operation_not_permitted(format!("Subject {subject} has used every version")))?;
        let version = match caller_version {
            None => next,
            Some(v) if mode == Mode::Import => {
                if state.version(subject, v).is_some() {
                    return Err(ApiError::operation_not_permitted(format!(
                        "Version {v} of subject {subject} already holds another schema; IMPORT does not overwrite \
                         versions, delete it permanently first"
                    )));
                }
                v
            }
            Some(v) if v == next => v,
            Some(v) => {
                return Err(ApiError::invalid_schema(format!(
                    "Version is not one more than previous version: subject {subject} would take version {next}, \
                     not {v}; leave `version` out outside IMPORT mode"
                )))
            }
        };

        if mode != Mode::Import {
            let level = resolve::effective_config(state, Some(subject), self.default_compatibility)
                .compatibility_level
                .unwrap_or(self.default_compatibility);
            let live = resolve::live_versions(state, subject);
            let messages = resolve::compatibility_messages(state, level, &candidate.parsed, &live);
            if !messages.is_empty() {
                return Err(ApiError::incompatible(&messages));
            }
        }

        let id = match caller_id {
            Some(id) => {
                if state.schema(id).is_some_and(|known| *known != candidate.content) {
                    return Err(ApiError::operation_not_permitted(format!(
                        "Overwrite new schema with id {id} is not permitted: the id already names another schema"
                    )));
                }
                id
            }
            None => match state.id_of(&candidate.content) {
                Some(id) => id,
                None => state.max_id().checked_add(1).ok_or_else(|| ApiError::store("every schema id is used"))?,
            },
        };

        let mut records = Vec::new();
        // Like Confluent, a re-registered schema supersedes this subject's soft-deleted versions of the same id,
        // unless something still references them.
        if let Some(versions) = versions {
            for (old, entry) in versions.range(..version) {
                if entry.deleted && entry.id == id && resolve::live_referrers(state, subject, *old).is_empty() {
                    records.push(version_tombstone(subject, *old));
                }
            }
        }
        records.push(schema_record(subject, version, id, &candidate.content, false));
        Ok((id, records))
    }

    /// `DELETE /subjects/{s}[?permanent=true]`: the versions deleted, ascending.
    ///
    /// Soft: every live version, recorded as one `DELETE_SUBJECT` up to the newest (40404 if none is live).
    /// Permanent: every version, as tombstones, only once all are soft-deleted (40405). Either way a version that
    /// live schemas reference is refused (42206), READONLY refuses (42205), and the subject's own config and mode
    /// go with it, as in Confluent.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>, ApiError> {
        let _write = self.begin_write().await?;
        let (deleted, records) = {
            let state = self.log.state().read();
            let all = state.versions(subject).ok_or_else(|| ApiError::subject_not_found(subject))?;
            let live: Vec<i32> = all.iter().filter(|(_, e)| !e.deleted).map(|(v, _)| *v).collect();
            if !permanent && live.is_empty() {
                return Err(ApiError::subject_soft_deleted(subject));
            }
            if resolve::is_read_only(resolve::effective_mode(&state, subject)) {
                return Err(ApiError::operation_not_permitted(format!("Subject {subject} is in read-only mode")));
            }
            let targets: Vec<i32> = if permanent { all.keys().copied().collect() } else { live.clone() };
            for version in &targets {
                refuse_if_referenced(&state, subject, *version)?;
            }
            if permanent && !live.is_empty() {
                return Err(ApiError::subject_not_soft_deleted(subject));
            }
            let mut records = if permanent {
                targets.iter().map(|v| version_tombstone(subject, *v)).collect()
            } else {
                let newest = *targets.last().expect("a soft delete has live versions");
                vec![Record {
                    key: RecordKey::DeleteSubject { subject: subject.to_string() },
                    value: Some(RecordValue::DeleteSubject(DeleteSubjectValue {
                        subject: subject.to_string(),
                        version: newest,
                    })),
                }]
            };
            records.extend(drop_subject_settings(&state, subject));
            (targets, records)
        };
        self.append(records).await?;
        Ok(deleted)
    }

    /// `DELETE /subjects/{s}/versions/{v}[?permanent=true]`: the version deleted.
    ///
    /// `latest` is the newest live version. Soft-deleting a soft-deleted version is 40406; a permanent delete
    /// needs a soft delete first (40407). A version live schemas reference is refused (42206). Soft-deleting the
    /// last live version drops the subject's own config and mode, as in Confluent.
    pub async fn delete_version(&self, subject: &str, version: VersionSpec, permanent: bool) -> Result<i32, ApiError> {
        let _write = self.begin_write().await?;
        let (number, records) = {
            let state = self.log.state().read();
            let (number, entry) = find_version(&state, subject, version, true)?;
            if entry.deleted && !permanent {
                return Err(ApiError::version_soft_deleted(subject, number));
            }
            if resolve::is_read_only(resolve::effective_mode(&state, subject)) {
                return Err(ApiError::operation_not_permitted(format!("Subject {subject} is in read-only mode")));
            }
            refuse_if_referenced(&state, subject, number)?;
            if permanent && !entry.deleted {
                return Err(ApiError::version_not_soft_deleted(subject, number));
            }
            let records = if permanent {
                vec![version_tombstone(subject, number)]
            } else {
                let content = state.schema(entry.id).ok_or_else(|| {
                    ApiError::store(format!("bug: version {number} of {subject:?} names unknown id {}", entry.id))
                })?;
                let mut records = vec![schema_record(subject, number, entry.id, content, true)];
                if resolve::live_versions(&state, subject).iter().all(|(v, _)| *v == number) {
                    records.extend(drop_subject_settings(&state, subject));
                }
                records
            };
            (number, records)
        };
        self.append(records).await?;
        Ok(number)
    }
}

/// The live version of `subject` that already holds the candidate, if the request accepts it: a caller `id` or
/// `version` must match it (otherwise the request asks for something else, decided by the full rules).
fn already_registered(state: &State, subject: &str, request: &SchemaRequest, candidate: &Candidate) -> Option<i32> {
    let caller_id = request.id.filter(|id| *id >= 0);
    let caller_version = request.version.filter(|v| *v > 0);
    resolve::find_in_subject(state, subject, candidate, false)
        .filter(|(version, entry)| {
            caller_id.is_none_or(|id| id == entry.id) && caller_version.is_none_or(|v| v == *version)
        })
        .map(|(_, entry)| entry.id)
}

fn refuse_if_referenced(state: &State, subject: &str, version: i32) -> Result<(), ApiError> {
    let ids = resolve::live_referrers(state, subject, version);
    if ids.is_empty() {
        return Ok(());
    }
    Err(ApiError::reference_exists(format!(
        "One or more references exist to the schema {{subject={subject},version={version}}}: schema ids {ids:?} \
         reference it; delete those first"
    )))
}

/// Tombstones for a subject's own config and mode, where set.
pub(super) fn drop_subject_settings(state: &State, subject: &str) -> Vec<Record> {
    let mut records = Vec::new();
    if state.config(Some(subject)).is_some() {
        records.push(Record { key: RecordKey::Config { subject: Some(subject.to_string()) }, value: None });
    }
    if state.mode(Some(subject)).is_some() {
        records.push(Record { key: RecordKey::Mode { subject: Some(subject.to_string()) }, value: None });
    }
    records
}

pub(super) fn version_tombstone(subject: &str, version: i32) -> Record {
    Record { key: RecordKey::Schema { subject: subject.to_string(), version }, value: None }
}

fn schema_record(subject: &str, version: i32, id: i32, content: &SchemaContent, deleted: bool) -> Record {
    Record {
        key: RecordKey::Schema { subject: subject.to_string(), version },
        value: Some(RecordValue::Schema(SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: content.schema_type,
            references: content.references.clone(),
            schema: content.schema.clone(),
            deleted,
        })),
    }
}
