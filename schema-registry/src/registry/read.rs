//! Reads: subjects and their versions, schemas by id, the schemas referencing a version, lookup of a schema under
//! a subject, and compatibility checks. None of them writes, so followers answer them from their own state.

use super::resolve::{self, Candidate};
use super::{CompatibilityResult, Registry, SchemaById, SchemaRequest, SubjectVersion, SubjectVersionRef, VersionSpec};
use crate::error::ApiError;
use crate::schema::ParsedSchema;
use crate::state::{State, VersionEntry};
use crate::types::{SchemaContent, SchemaReference, SchemaType};

impl Registry {
    /// `GET /subjects`: live subjects (with `deleted`, soft-deleted ones too), filtered by prefix, sorted.
    pub fn subjects(&self, prefix: Option<&str>, deleted: bool) -> Vec<String> {
        let state = self.log.state().read();
        state
            .subjects()
            .filter(|(subject, versions)| {
                prefix.is_none_or(|p| subject.starts_with(p)) && (deleted || versions.values().any(|e| !e.deleted))
            })
            .map(|(subject, _)| subject.to_string())
            .collect()
    }

    /// `GET /subjects/{s}/versions`: 40401 when the subject has no live version (with `deleted`, no version).
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, ApiError> {
        let state = self.log.state().read();
        let versions: Vec<i32> = state
            .versions(subject)
            .map(|versions| versions.iter().filter(|(_, e)| deleted || !e.deleted).map(|(v, _)| *v).collect())
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(ApiError::subject_not_found(subject));
        }
        Ok(versions)
    }

    /// `GET /subjects/{s}/versions/{v}`; `deleted` also finds soft-deleted versions. `latest` is the newest live
    /// version whatever `deleted` says, as in Confluent.
    pub fn version(&self, subject: &str, version: VersionSpec, deleted: bool) -> Result<SubjectVersion, ApiError> {
        let state = self.log.state().read();
        let (number, entry) = find_version(&state, subject, version, deleted)?;
        subject_version(&state, subject, number, entry)
    }

    /// `GET /subjects/{s}/versions/{v}/referencedby`: ids of live schemas that reference this version (which may
    /// itself be soft-deleted), sorted.
    pub fn referenced_by(&self, subject: &str, version: VersionSpec) -> Result<Vec<i32>, ApiError> {
        let state = self.log.state().read();
        let (number, _) = find_version(&state, subject, version, true)?;
        Ok(resolve::live_referrers(&state, subject, number))
    }

    /// `GET /schemas/ids/{id}`; with `subject`, only if that subject uses the id (a live or soft-deleted version),
    /// as Confluent answers. Soft-deleted schemas stay readable by id: consumers still hold data written with them.
    pub fn schema_by_id(&self, id: i32, subject: Option<&str>) -> Result<SchemaById, ApiError> {
        let state = self.log.state().read();
        let content = state.schema(id).ok_or_else(|| ApiError::schema_id_not_found(id))?;
        if let Some(subject) = subject.filter(|s| !s.is_empty()) {
            if !state.uses_of(id).any(|(s, _)| s == subject) {
                return Err(ApiError::schema_id_not_found(id));
            }
        }
        Ok(SchemaById {
            schema_type: content.schema_type,
            references: content.references.clone(),
            schema: content.schema.clone(),
        })
    }

    /// A registered schema's text in the `format` a request asks for. `serialized` turns a Protobuf schema into a
    /// base64 `FileDescriptorProto`, which confluent-kafka's Python deserializer asks for; any other format, and
    /// any other schema type, is the stored text (Confluent ignores formats a type does not know).
    pub fn formatted(
        &self,
        schema_type: SchemaType,
        schema: String,
        references: &[SchemaReference],
        format: Option<&str>,
    ) -> Result<String, ApiError> {
        if schema_type != SchemaType::Protobuf || !format.is_some_and(|f| f.eq_ignore_ascii_case("serialized")) {
            return Ok(schema);
        }
        let content = SchemaContent { schema_type, schema, references: references.to_vec() };
        let state = self.log.state().read();
        match resolve::parse_stored(&state, &content) {
            Ok(ParsedSchema::Protobuf(parsed)) => Ok(parsed.serialized()),
            Ok(_) => Ok(content.schema),
            Err(e) => Err(ApiError::store(format!("a stored schema no longer parses: {e}"))),
        }
    }

    /// `GET /schemas/ids/{id}/subjects`: subjects with a live version of this id (with `deleted`, any version).
    pub fn subjects_by_id(&self, id: i32, deleted: bool) -> Result<Vec<String>, ApiError> {
        let mut subjects: Vec<String> =
            self.versions_by_id(id, deleted)?.into_iter().map(|v: SubjectVersionRef| v.subject).collect();
        subjects.dedup();
        Ok(subjects)
    }

    /// `GET /schemas/ids/{id}/versions`: the (subject, version) pairs using this id, sorted.
    pub fn versions_by_id(&self, id: i32, deleted: bool) -> Result<Vec<SubjectVersionRef>, ApiError> {
        let state = self.log.state().read();
        if state.schema(id).is_none() {
            return Err(ApiError::schema_id_not_found(id));
        }
        Ok(state
            .uses_of(id)
            .filter(|(s, v)| deleted || state.version(s, *v).is_some_and(|e| !e.deleted))
            .map(|(subject, version)| SubjectVersionRef { subject: subject.to_string(), version })
            .collect())
    }

    /// `POST /subjects/{s}`: the version of `subject` holding this schema. 40401 when the subject has no version
    /// to search, 42201 when the schema is invalid, 40403 when no version holds it.
    pub fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
        normalize: bool,
        deleted: bool,
    ) -> Result<SubjectVersion, ApiError> {
        let state = self.log.state().read();
        if !state.has_subject(subject, deleted) {
            return Err(ApiError::subject_not_found(subject));
        }
        let candidate = resolve::candidate(&state, subject, request, normalize)?;
        let (number, entry) =
            resolve::find_in_subject(&state, subject, &candidate, deleted).ok_or_else(ApiError::schema_not_found)?;
        subject_version(&state, subject, number, entry)
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`: `version` None checks against what the level says (the
    /// latest live version, or every live one for transitive levels); `latest` or a number checks against that
    /// version only. A subject without live versions is compatible with anything, except that naming a version
    /// of it is 40401; a missing version of an existing subject is 40402.
    pub fn check_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        request: &SchemaRequest,
        normalize: bool,
        verbose: bool,
    ) -> Result<CompatibilityResult, ApiError> {
        let state = self.log.state().read();
        let previous: Vec<(i32, VersionEntry)> = match version {
            None => resolve::live_versions(&state, subject),
            Some(VersionSpec::Latest) => state.latest_live(subject).into_iter().collect(),
            Some(VersionSpec::Number(n)) => {
                if !state.has_subject(subject, false) {
                    return Err(ApiError::subject_not_found(subject));
                }
                let entry =
                    state.version(subject, n).filter(|e| !e.deleted).ok_or_else(|| ApiError::version_not_found(n))?;
                vec![(n, entry)]
            }
        };
        let candidate: Candidate = resolve::candidate(&state, subject, request, normalize)?;
        let level = resolve::effective_config(&state, Some(subject), self.default_compatibility)
            .compatibility_level
            .unwrap_or(self.default_compatibility);
        let messages = resolve::compatibility_messages(&state, level, &candidate.parsed, &previous);
        Ok(CompatibilityResult { is_compatible: messages.is_empty(), messages: verbose.then_some(messages) })
    }
}

/// A version of a subject by spec: `latest` is the newest live one; a number is found among live versions, or
/// among all with `deleted`. Missing: 40401 when the subject has nothing to look in, else 40402.
pub(super) fn find_version(
    state: &State,
    subject: &str,
    version: VersionSpec,
    deleted: bool,
) -> Result<(i32, VersionEntry), ApiError> {
    let found = match version {
        VersionSpec::Latest => state.latest_live(subject),
        VersionSpec::Number(n) => state.version(subject, n).filter(|e| deleted || !e.deleted).map(|e| (n, e)),
    };
    found.ok_or_else(|| {
        if state.has_subject(subject, deleted) {
            ApiError::version_not_found(version)
        } else {
            ApiError::subject_not_found(subject)
        }
    })
}

fn subject_version(
    state: &State,
    subject: &str,
    version: i32,
    entry: VersionEntry,
) -> Result<SubjectVersion, ApiError> {
    // Every version's id has content by construction of the state; a miss is a bug, answered as a store error.
    let content = state.schema(entry.id).ok_or_else(|| {
        ApiError::store(format!("bug: version {version} of {subject:?} names unknown id {}", entry.id))
    })?;
    Ok(SubjectVersion {
        subject: subject.to_string(),
        version,
        id: entry.id,
        schema_type: content.schema_type,
        references: content.references.clone(),
        schema: content.schema.clone(),
    })
}
