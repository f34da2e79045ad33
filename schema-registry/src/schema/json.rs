//! JSON Schema: parsing a registered schema (valid JSON, valid against its draft's metaschema, every `$ref`
//! resolvable from the schema itself or its references), its canonical text, and the reference registry the
//! compatibility checker walks.
//!
//! Like Confluent, the draft comes from `$schema` and defaults to draft 7 when `$schema` is missing or names
//! no known draft. Nothing is ever fetched over the network: a `$ref` must point into the schema itself or
//! into one of its references, each registered at the URI its name resolves to against the schema's base
//! (its `$id`, or `json-schema:///` without one), so `{"$ref": "address.json"}` finds the reference named
//! `address.json`.

use jsonschema::{Draft, Registry, Resource};
use serde_json::Value;

use super::{ResolvedReference, SchemaError};

/// The base URI of a schema without an `$id` (the one the `jsonschema` crate gives it).
const DEFAULT_BASE: &str = "json-schema:///";

/// A parsed JSON Schema with its references.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    value: Value,
    draft: Draft,
    /// The schema's own base URI: its `$id` resolved against [`DEFAULT_BASE`].
    base: String,
    /// Each reference's parsed schema, at the URI its name resolves to against `base`.
    references: Vec<(String, Value)>,
}

impl JsonSchema {
    /// Parses `text` as a JSON Schema whose `$ref`s may name `references`.
    pub fn parse(text: &str, references: &[ResolvedReference]) -> Result<Self, SchemaError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| SchemaError(format!("Invalid JSON Schema: the text is not valid JSON: {e}")))?;
        if !value.is_object() && !value.is_boolean() {
            return Err(SchemaError(
                "Invalid JSON Schema: a schema must be a JSON object (or true / false)".to_string(),
            ));
        }
        let draft = draft_of(&value);
        meta_validate(draft, &value)?;

        let base = base_uri(&value)?;
        let base_parsed = parse_uri(&base)?;
        let mut parsed_refs = Vec::with_capacity(references.len());
        for reference in references {
            let ref_value: Value = serde_json::from_str(&reference.schema).map_err(|e| {
                SchemaError(format!("Invalid JSON Schema: the reference {:?} is not valid JSON: {e}", reference.name))
            })?;
            let uri = jsonschema::uri::resolve_against(&base_parsed.borrow(), &reference.name).map_err(|e| {
                SchemaError(format!(
                    "Invalid JSON Schema: the reference name {:?} is not a usable URI: {e}",
                    reference.name
                ))
            })?;
            parsed_refs.push((uri.as_str().to_string(), ref_value));
        }
        let schema = JsonSchema { value, draft, base, references: parsed_refs };

        schema.check_references()?;
        Ok(schema)
    }

    /// Building a validator compiles every `$ref`; one that points nowhere fails here, offline.
    fn check_references(&self) -> Result<(), SchemaError> {
        let registry = self.registry()?;
        jsonschema::options()
            .with_draft(self.draft)
            .with_registry(&registry)
            .offline()
            .build(&self.compilable_root())
            .map(drop)
            .map_err(|e| SchemaError(format!("Invalid JSON Schema: {e}")))
    }

    /// Compact JSON. serde_json (without `preserve_order`) keeps object keys sorted, so the text is
    /// deterministic and insensitive to key order and whitespace. Confluent keeps the registered key order in
    /// its canonical text and sorts keys only when normalizing; here both forms are the sorted one.
    pub fn canonical(&self) -> String {
        self.value.to_string()
    }

    /// The canonical text: sorted keys are all that Confluent's JSON Schema normalization does, and the
    /// canonical text already has them.
    pub fn normalized(&self) -> String {
        self.canonical()
    }

    /// The draft the schema is read with.
    pub(crate) fn draft(&self) -> Draft {
        self.draft
    }

    /// The schema's base URI, where [`Self::registry`] holds it.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// A registry holding the schema at its base URI and every reference at its URI, for resolving `$ref`s.
    pub(crate) fn registry(&self) -> Result<Registry<'_>, SchemaError> {
        let mut resources: Vec<(String, Resource)> = Vec::with_capacity(self.references.len() + 1);
        for (uri, value) in &self.references {
            resources.push((uri.clone(), resource(self.draft, value)));
        }
        resources.push((self.base.clone(), resource(self.draft, &self.compilable_root())));
        Registry::new()
            .draft(self.draft)
            .extend(resources)
            .and_then(|builder| builder.prepare())
            .map_err(|e| SchemaError(format!("Invalid JSON Schema: cannot resolve its references: {e}")))
    }

    /// The schema as the validator compiles it: without a `$schema` naming no known draft, which the
    /// `jsonschema` crate would otherwise try to fetch as a custom metaschema (Confluent reads such a schema as
    /// draft 7, and so do we).
    fn compilable_root(&self) -> Value {
        let mut root = self.value.clone();
        if let Value::Object(map) = &mut root {
            if map.get("$schema").and_then(Value::as_str).is_some_and(|s| known_draft(s).is_none()) {
                map.remove("$schema");
            }
        }
        root
    }
}

/// A registry resource for `value`, read with its own `$schema` draft when it names a known one.
fn resource(default: Draft, value: &Value) -> Resource {
    let draft = value.get("$schema").and_then(Value::as_str).and_then(known_draft).unwrap_or(default);
    let mut contents = value.clone();
    if let Value::Object(map) = &mut contents {
        if map.get("$schema").and_then(Value::as_str).is_some_and(|s| known_draft(s).is_none()) {
            map.remove("$schema");
        }
    }
    draft.create_resource(contents)
}

/// The draft named by `$schema`; draft 7 when absent or unknown, as Confluent does.
fn draft_of(value: &Value) -> Draft {
    value.get("$schema").and_then(Value::as_str).and_then(known_draft).unwrap_or(Draft::Draft7)
}

fn known_draft(uri: &str) -> Option<Draft> {
    match Draft::from_schema_uri(uri) {
        Draft::Unknown => None,
        draft => Some(draft),
    }
}

/// Checks `value` against the metaschema of `draft` (bundled in the `jsonschema` crate).
fn meta_validate(draft: Draft, value: &Value) -> Result<(), SchemaError> {
    let result = match draft {
        Draft::Draft4 => jsonschema::draft4::meta::validate(value),
        Draft::Draft6 => jsonschema::draft6::meta::validate(value),
        Draft::Draft201909 => jsonschema::draft201909::meta::validate(value),
        Draft::Draft202012 => jsonschema::draft202012::meta::validate(value),
        _ => jsonschema::draft7::meta::validate(value),
    };
    result.map_err(|e| {
        let at = e.instance_path().to_string();
        let at = if at.is_empty() { "the root".to_string() } else { format!("#{at}") };
        SchemaError(format!("Invalid JSON Schema: {e} (at {at} of the schema)"))
    })
}

/// The schema's base URI: its `$id` (`id` in draft 4) against [`DEFAULT_BASE`], without a fragment.
fn base_uri(value: &Value) -> Result<String, SchemaError> {
    let id_keyword = if draft_of(value) == Draft::Draft4 { "id" } else { "$id" };
    let Some(id) = value.get(id_keyword).and_then(Value::as_str) else {
        return Ok(DEFAULT_BASE.to_string());
    };
    let default = parse_uri(DEFAULT_BASE)?;
    let resolved = jsonschema::uri::resolve_against(&default.borrow(), id)
        .map_err(|e| SchemaError(format!("Invalid JSON Schema: its {id_keyword} {id:?} is not a usable URI: {e}")))?;
    Ok(resolved.as_str().split('#').next().unwrap_or_default().to_string())
}

fn parse_uri(uri: &str) -> Result<jsonschema::Uri<String>, SchemaError> {
    jsonschema::uri::from_str(uri).map_err(|e| SchemaError(format!("Invalid JSON Schema: bad URI {uri:?}: {e}")))
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
