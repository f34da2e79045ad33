//! Reading a request against the state: its schema type, its references resolved to registered schemas, the
//! parsed schema and the text to store, and which version of a subject already holds it. Also the settings in
//! force for a subject (mode, compatibility level, normalization), each falling back to the global one.

use std::collections::HashSet;

use super::SchemaRequest;
use crate::compat;
use crate::error::ApiError;
use crate::schema::{ParsedSchema, ResolvedReference};
use crate::state::{State, VersionEntry};
use crate::store::records::ConfigValue;
use crate::types::{CompatibilityLevel, Mode, SchemaContent, SchemaReference, SchemaType};

/// How deep references may nest. Registration only references existing versions, so a cycle can only come from
/// a hand-written topic; this bound turns one into an error instead of a stack overflow.
const MAX_REFERENCE_DEPTH: usize = 32;

/// A request's schema, parsed against the state.
#[derive(Debug)]
pub(super) struct Candidate {
    pub(super) parsed: ParsedSchema,
    /// Type, the text to store (canonical, or normalized when normalizing) and the references as stored.
    pub(super) content: SchemaContent,
    /// Whether matching compares normalized forms.
    pub(super) normalize: bool,
}

/// Parses a request's schema for `subject`: type, references, validity, and the text to store. `normalize` is
/// the request's flag; the subject's (else the global) `normalize` config turns it on too, as in Confluent.
pub(super) fn candidate(
    state: &State,
    subject: &str,
    request: &SchemaRequest,
    normalize: bool,
) -> Result<Candidate, ApiError> {
    let schema_type = match &request.schema_type {
        None => SchemaType::Avro,
        Some(name) => name.parse().map_err(ApiError::invalid_schema)?,
    };
    if request.schema.trim().is_empty() {
        return Err(ApiError::invalid_schema("the schema is empty; send the schema text in the `schema` field"));
    }
    let (references, resolved) = resolve_references(state, &request.references)?;
    let parsed = ParsedSchema::parse(schema_type, &request.schema, &resolved).map_err(ApiError::invalid_schema)?;
    let normalize = normalize || effective_normalize(state, subject);
    let text = if normalize { parsed.normalized() } else { parsed.canonical() };
    Ok(Candidate { parsed, content: SchemaContent { schema_type, schema: text, references }, normalize })
}

/// Resolves references into the flattened, dependency-ordered list the parsers take, and returns the references
/// as they are stored: a `-1` version (latest) pinned to the latest live version.
pub(super) fn resolve_references(
    state: &State,
    references: &[SchemaReference],
) -> Result<(Vec<SchemaReference>, Vec<ResolvedReference>), ApiError> {
    let mut pinned = Vec::with_capacity(references.len());
    for reference in references {
        let version = if reference.version == -1 {
            state.latest_live(&reference.subject).map(|(v, _)| v).ok_or_else(|| missing_reference(reference))?
        } else {
            reference.version
        };
        pinned.push(SchemaReference { version, ..reference.clone() });
    }
    let mut resolved = Vec::new();
    flatten(state, &pinned, 0, &mut HashSet::new(), &mut resolved)?;
    Ok((pinned, resolved))
}

/// Depth first, so each schema comes after the schemas it references; a name seen once is not repeated.
fn flatten(
    state: &State,
    references: &[SchemaReference],
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Vec<ResolvedReference>,
) -> Result<(), ApiError> {
    if depth > MAX_REFERENCE_DEPTH {
        return Err(ApiError::invalid_schema(format!(
            "references nest more than {MAX_REFERENCE_DEPTH} levels deep; the registered schemas may reference each other in a cycle"
        )));
    }
    for reference in references {
        if seen.contains(&reference.name) {
            continue;
        }
        let content = state
            .version(&reference.subject, reference.version)
            .and_then(|entry| state.schema(entry.id))
            .ok_or_else(|| missing_reference(reference))?;
        flatten(state, &content.references, depth + 1, seen, out)?;
        if seen.insert(reference.name.clone()) {
            out.push(ResolvedReference { name: reference.name.clone(), schema: content.schema.clone() });
        }
    }
    Ok(())
}

fn missing_reference(reference: &SchemaReference) -> ApiError {
    let version = if reference.version == -1 { "latest".to_string() } else { reference.version.to_string() };
    ApiError::invalid_schema(format!(
        "reference {:?} names subject {:?} version {version}, which is not registered; register it first",
        reference.name, reference.subject
    ))
}

/// Parses a registered schema with its own references resolved.
pub(super) fn parse_stored(state: &State, content: &SchemaContent) -> Result<ParsedSchema, String> {
    let (_, resolved) = resolve_references(state, &content.references).map_err(|e| e.message)?;
    ParsedSchema::parse(content.schema_type, &content.schema, &resolved).map_err(|e| e.0)
}

fn form(parsed: &ParsedSchema, normalize: bool) -> String {
    if normalize {
        parsed.normalized()
    } else {
        parsed.canonical()
    }
}

/// The newest version of `subject` holding the candidate's schema (live ones only unless `deleted`): first by
/// the stored text, then by comparing parsed forms, so a schema stored by another registry in its own spelling,
/// or registered without normalization, is still found.
pub(super) fn find_in_subject(
    state: &State,
    subject: &str,
    candidate: &Candidate,
    deleted: bool,
) -> Option<(i32, VersionEntry)> {
    let versions = state.versions(subject)?;
    let eligible = || versions.iter().rev().filter(|(_, e)| deleted || !e.deleted).map(|(v, e)| (*v, *e));
    if let Some(found) = eligible().find(|(_, e)| state.schema(e.id) == Some(&candidate.content)) {
        return Some(found);
    }
    let wanted = form(&candidate.parsed, candidate.normalize);
    eligible().find(|(_, e)| {
        state.schema(e.id).is_some_and(|stored| {
            stored.schema_type == candidate.content.schema_type
                && stored.references == candidate.content.references
                && parse_stored(state, stored).is_ok_and(|p| form(&p, candidate.normalize) == wanted)
        })
    })
}

/// The live versions of a subject, oldest first.
pub(super) fn live_versions(state: &State, subject: &str) -> Vec<(i32, VersionEntry)> {
    state
        .versions(subject)
        .map(|versions| versions.iter().filter(|(_, e)| !e.deleted).map(|(v, e)| (*v, *e)).collect())
        .unwrap_or_default()
}

/// Ids of live schemas that reference `subject` version `version`, sorted: what blocks deleting it.
pub(super) fn live_referrers(state: &State, subject: &str, version: i32) -> Vec<i32> {
    let mut ids: Vec<i32> = state
        .referrers_of(subject, version)
        .filter_map(|(s, v)| state.version(s, v))
        .filter(|e| !e.deleted)
        .map(|e| e.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Why `new` may not follow `previous` (a subject's live versions, oldest first) under `level`; empty when it may.
/// Only the versions the level looks at are parsed. Like Confluent, a non-empty answer ends with the level.
pub(super) fn compatibility_messages(
    state: &State,
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[(i32, VersionEntry)],
) -> Vec<String> {
    if level == CompatibilityLevel::None || previous.is_empty() {
        return Vec::new();
    }
    let considered = if level.is_transitive() { previous } else { &previous[previous.len() - 1..] };
    let mut messages = Vec::new();
    let mut parsed = Vec::with_capacity(considered.len());
    for (version, entry) in considered {
        let stored = state.schema(entry.id).ok_or_else(|| format!("schema id {} is not known", entry.id));
        match stored.and_then(|content| parse_stored(state, content)) {
            Ok(schema) => parsed.push(schema),
            Err(detail) => messages.push(format!("the registered version {version} cannot be parsed: {detail}")),
        }
    }
    messages.extend(compat::check(level, new, &parsed));
    if !messages.is_empty() {
        messages.push(format!("{{compatibility: '{level}'}}"));
    }
    messages
}

/// The mode in force for a subject: a global READONLY_OVERRIDE wins, then the subject's, then the global one.
pub(super) fn effective_mode(state: &State, subject: &str) -> Mode {
    let global = state.mode(None);
    if global == Some(Mode::ReadonlyOverride) {
        return Mode::ReadonlyOverride;
    }
    state.mode(Some(subject)).or(global).unwrap_or_default()
}

/// The global mode in force.
pub(super) fn global_mode(state: &State) -> Mode {
    state.mode(None).unwrap_or_default()
}

pub(super) fn is_read_only(mode: Mode) -> bool {
    matches!(mode, Mode::Readonly | Mode::ReadonlyOverride)
}

/// The config in force for a subject (or globally with `None`), field by field: the subject's, else the
/// global one's, else the default level.
pub(super) fn effective_config(state: &State, subject: Option<&str>, default: CompatibilityLevel) -> ConfigValue {
    let own = subject.and_then(|s| state.config(Some(s)));
    let global = state.config(None);
    ConfigValue {
        compatibility_level: own
            .and_then(|c| c.compatibility_level)
            .or(global.and_then(|c| c.compatibility_level))
            .or(Some(default)),
        normalize: own.and_then(|c| c.normalize).or(global.and_then(|c| c.normalize)),
    }
}

fn effective_normalize(state: &State, subject: &str) -> bool {
    effective_config(state, Some(subject), CompatibilityLevel::default()).normalize.unwrap_or(false)
}
