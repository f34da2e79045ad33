//! The JSON converter's schema envelope: a Connect [`Schema`] as Kafka's `JsonConverter` writes it in
//! `{"schema": ..., "payload": ...}` (`type`, `optional`, `name`, `version`, `doc`, `parameters`, `default`,
//! and `fields` with `field` / `items` / `keys` / `values`), and back.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

use super::json::{connect_to_json, json_to_connect, JsonOptions};
use crate::data::{Field, Schema, SchemaType};
use crate::error::ConnectError;

/// `schema` in the envelope's JSON form.
pub(crate) fn schema_to_json(schema: &Schema, options: &JsonOptions) -> Result<Json, ConnectError> {
    let mut out = Map::new();
    out.insert("type".into(), json!(schema.schema_type.name()));
    match schema.schema_type {
        SchemaType::Struct => {
            let mut fields = Vec::with_capacity(schema.fields.len());
            for field in &schema.fields {
                let mut field_json = schema_to_json(&field.schema, options)?;
                if let Json::Object(map) = &mut field_json {
                    map.insert("field".into(), json!(field.name));
                }
                fields.push(field_json);
            }
            out.insert("fields".into(), Json::Array(fields));
        }
        SchemaType::Array => {
            let items = schema.value_schema.as_ref().ok_or_else(|| incomplete("array", "items"))?;
            out.insert("items".into(), schema_to_json(items, options)?);
        }
        SchemaType::Map => {
            let keys = schema.key_schema.as_ref().ok_or_else(|| incomplete("map", "keys"))?;
            let values = schema.value_schema.as_ref().ok_or_else(|| incomplete("map", "values"))?;
            out.insert("keys".into(), schema_to_json(keys, options)?);
            out.insert("values".into(), schema_to_json(values, options)?);
        }
        _ => {}
    }
    out.insert("optional".into(), json!(schema.optional));
    if let Some(name) = &schema.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(version) = schema.version {
        out.insert("version".into(), json!(version));
    }
    if let Some(doc) = &schema.doc {
        out.insert("doc".into(), json!(doc));
    }
    if !schema.parameters.is_empty() {
        out.insert("parameters".into(), json!(schema.parameters));
    }
    if let Some(default) = &schema.default_value {
        out.insert("default".into(), connect_to_json(schema, default, options)?);
    }
    Ok(Json::Object(out))
}

fn incomplete(kind: &str, part: &str) -> ConnectError {
    ConnectError::Conversion(format!("{kind} schema has no {part} schema; this is a bug in whatever built it"))
}

/// A schema from the envelope's JSON form; `None` for a JSON null (a schemaless payload).
pub(crate) fn json_to_schema(json: &Json, options: &JsonOptions) -> Result<Option<Arc<Schema>>, ConnectError> {
    if json.is_null() {
        return Ok(None);
    }
    parse(json, options).map(|s| Some(Arc::new(s)))
}

fn parse(json: &Json, options: &JsonOptions) -> Result<Schema, ConnectError> {
    let bad = |message: String| ConnectError::Conversion(format!("invalid schema in JSON envelope: {message}"));
    let object = json.as_object().ok_or_else(|| bad(format!("expected an object, found {json}")))?;
    let type_name = object
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("it must have a string `type` (int8, ..., struct)".into()))?;
    let schema_type = SchemaType::parse(type_name).ok_or_else(|| bad(format!("unknown schema type {type_name:?}")))?;
    let mut schema = match schema_type {
        SchemaType::Struct => {
            let fields = object
                .get("fields")
                .and_then(Json::as_array)
                .ok_or_else(|| bad("a struct schema's `fields` must be an array".into()))?;
            let mut out: Vec<Field> = Vec::with_capacity(fields.len());
            for (index, field) in fields.iter().enumerate() {
                let name = field
                    .get("field")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad(format!("struct field {index} has no string `field` (its name)")))?;
                if out.iter().any(|f| f.name == name) {
                    return Err(bad(format!("struct field {name:?} appears twice")));
                }
                out.push(Field { name: name.to_string(), index, schema: Arc::new(parse(field, options)?) });
            }
            Schema { fields: out, ..Schema::primitive(SchemaType::Struct) }
        }
        SchemaType::Array => {
            let items = object.get("items").ok_or_else(|| bad("an array schema needs `items`".into()))?;
            Schema::array(Arc::new(parse(items, options)?))
        }
        SchemaType::Map => {
            let keys = object.get("keys").ok_or_else(|| bad("a map schema needs `keys`".into()))?;
            let values = object.get("values").ok_or_else(|| bad("a map schema needs `values`".into()))?;
            Schema::map(Arc::new(parse(keys, options)?), Arc::new(parse(values, options)?))
        }
        primitive => Schema::primitive(primitive),
    };
    schema.optional = match object.get("optional") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("`optional` must be true or false, found {other}"))),
    };
    schema.name = match object.get("name") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => return Err(bad(format!("`name` must be a string, found {other}"))),
    };
    schema.version = match object.get("version") {
        None | Some(Json::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| bad(format!("`version` must be an integer, found {v}")))?,
        ),
    };
    schema.doc = match object.get("doc") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => return Err(bad(format!("`doc` must be a string, found {other}"))),
    };
    schema.parameters = match object.get("parameters") {
        None | Some(Json::Null) => BTreeMap::new(),
        Some(Json::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => Ok((k.clone(), s.clone())),
                other => Err(bad(format!("parameter {k:?} must be a string, found {other}"))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(bad(format!("`parameters` must be an object, found {other}"))),
    };
    if let Some(default) = object.get("default").filter(|d| !d.is_null()) {
        let value = json_to_connect(&Arc::new(schema.clone()), default, options)
            .map_err(|e| bad(format!("its default {default} does not fit the schema: {e}")))?;
        schema.default_value = Some(value);
    }
    Ok(schema)
}
