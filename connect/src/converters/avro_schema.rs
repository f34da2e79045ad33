//! Connect schemas and values to Avro and back, following Confluent's `AvroData` conventions: optional = a union
//! with null, struct = record (unnamed ones `io.confluent.connect.avro.ConnectDefault`), int8/int16 = int with
//! `connect.type`, maps with non-string keys = arrays of `MapEntry` records, logical types as Avro logical types,
//! and the Connect name, version, doc and parameters kept in `connect.*` properties.
//!
//! Schemas are mapped as JSON rather than `apache_avro::Schema` because that type drops the custom properties of
//! primitives (`connect.type`, `connect.name`), which the round trip needs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use apache_avro::types::Value as Avro;
use serde_json::{json, Map, Value as Json};

use crate::data::{Field, Schema, SchemaType, Struct, Value, DATE, DECIMAL, TIME, TIMESTAMP};
use crate::error::ConnectError;

const NAMESPACE: &str = "io.confluent.connect.avro";
const DEFAULT_RECORD: &str = "ConnectDefault";
const MAP_ENTRY: &str = "MapEntry";
/// Connect parameter holding an Avro decimal's precision (Confluent's name).
const PRECISION_PARAM: &str = "connect.decimal.precision";
/// Connect parameter naming the Avro enum a string came from (Confluent's name).
const ENUM_PARAM: &str = "io.confluent.connect.avro.Enum";

fn conversion(message: impl Into<String>) -> ConnectError {
    ConnectError::Conversion(message.into())
}

/// Builds one Avro schema; remembers the record names already defined (Avro allows each once; later uses refer
/// to it by name) and numbers the generated ones.
pub(crate) struct ToAvro {
    /// Write `connect.*` properties (Confluent's `connect.meta.data`).
    pub(crate) meta: bool,
    defined: HashSet<String>,
    generated: HashMap<&'static str, usize>,
}

impl ToAvro {
    pub(crate) fn new(meta: bool) -> Self {
        ToAvro { meta, defined: HashSet::new(), generated: HashMap::new() }
    }

    /// The Avro schema (JSON) of `schema`, including its optional union.
    pub(crate) fn schema(&mut self, schema: &Schema) -> Result<Json, ConnectError> {
        let base = self.base(schema)?;
        if !schema.optional {
            return Ok(base);
        }
        Ok(if null_first(schema) { json!(["null", base]) } else { json!([base, "null"]) })
    }

    fn generated_name(&mut self, base: &'static str) -> String {
        let n = self.generated.entry(base).or_insert(0);
        *n += 1;
        if *n == 1 {
            format!("{NAMESPACE}.{base}")
        } else {
            format!("{NAMESPACE}.{base}{n}")
        }
    }

    fn base(&mut self, schema: &Schema) -> Result<Json, ConnectError> {
        let logical = schema.name.as_deref();
        let mut out = Map::new();
        let type_name = match (schema.schema_type, logical) {
            (SchemaType::Int8, _) => {
                out.insert("connect.type".into(), json!("int8"));
                "int"
            }
            (SchemaType::Int16, _) => {
                out.insert("connect.type".into(), json!("int16"));
                "int"
            }
            (SchemaType::Int32, Some(DATE)) => {
                out.insert("logicalType".into(), json!("date"));
                "int"
            }
            (SchemaType::Int32, Some(TIME)) => {
                out.insert("logicalType".into(), json!("time-millis"));
                "int"
            }
            (SchemaType::Int32, _) => "int",
            (SchemaType::Int64, Some(TIMESTAMP)) => {
                out.insert("logicalType".into(), json!("timestamp-millis"));
                "long"
            }
            (SchemaType::Int64, _) => "long",
            (SchemaType::Float32, _) => "float",
            (SchemaType::Float64, _) => "double",
            (SchemaType::Boolean, _) => "boolean",
            (SchemaType::String, _) => "string",
            (SchemaType::Bytes, Some(DECIMAL)) => {
                let scale = super::decimal::scale(schema)?;
                let precision =
                    schema.parameters.get(PRECISION_PARAM).and_then(|p| p.parse::<u32>().ok()).unwrap_or(64);
                out.insert("logicalType".into(), json!("decimal"));
                out.insert("precision".into(), json!(precision));
                out.insert("scale".into(), json!(scale));
                "bytes"
            }
            (SchemaType::Bytes, _) => "bytes",
            (SchemaType::Array, _) => {
                let items = schema.value_schema.as_ref().ok_or_else(|| conversion("array schema without items"))?;
                out.insert("items".into(), self.schema(items)?);
                "array"
            }
            (SchemaType::Map, _) => {
                let (Some(keys), Some(values)) = (&schema.key_schema, &schema.value_schema) else {
                    return Err(conversion("map schema without key or value schema"));
                };
                if keys.schema_type == SchemaType::String && !keys.optional {
                    out.insert("values".into(), self.schema(values)?);
                    "map"
                } else {
                    let entry = self.generated_name(MAP_ENTRY);
                    let (namespace, name) = split_name(&entry);
                    let fields = json!([
                        {"name": "key", "type": self.schema(keys)?},
                        {"name": "value", "type": self.schema(values)?},
                    ]);
                    out.insert(
                        "items".into(),
                        json!({"type": "record", "name": name, "namespace": namespace, "fields": fields}),
                    );
                    "array"
                }
            }
            (SchemaType::Struct, _) => {
                let full = match &schema.name {
                    Some(name) => scrub(name),
                    None => self.generated_name(DEFAULT_RECORD),
                };
                if !self.defined.insert(full.clone()) {
                    // Avro defines each named type once; a second use refers to it.
                    return Ok(json!(full));
                }
                let (namespace, name) = split_name(&full);
                out.insert("name".into(), json!(name));
                if let Some(namespace) = namespace {
                    out.insert("namespace".into(), json!(namespace));
                }
                if let Some(doc) = &schema.doc {
                    out.insert("doc".into(), json!(doc));
                }
                let mut fields = Vec::with_capacity(schema.fields.len());
                for field in &schema.fields {
                    let mut f = Map::new();
                    f.insert("name".into(), json!(field.name));
                    f.insert("type".into(), self.schema(&field.schema)?);
                    if let Some(default) = field_default(&field.schema) {
                        f.insert("default".into(), default);
                    }
                    fields.push(Json::Object(f));
                }
                out.insert("fields".into(), Json::Array(fields));
                "record"
            }
        };
        out.insert("type".into(), json!(type_name));
        if self.meta {
            if let Some(name) = &schema.name {
                out.insert("connect.name".into(), json!(name));
            }
            if let Some(version) = schema.version {
                out.insert("connect.version".into(), json!(version));
            }
            if let (Some(doc), false) = (&schema.doc, schema.schema_type == SchemaType::Struct) {
                out.insert("connect.doc".into(), json!(doc));
            }
            if !schema.parameters.is_empty() {
                out.insert("connect.parameters".into(), json!(schema.parameters));
            }
        }
        // A bare primitive is written as its name, as Avro writers do.
        if out.len() == 1 {
            return Ok(json!(type_name));
        }
        Ok(Json::Object(out))
    }
}

/// Whether an optional schema's union puts null first: Avro takes a field default from the first branch, so a
/// non-null default needs the value branch first.
fn null_first(schema: &Schema) -> bool {
    schema.default_value.as_ref().is_none_or(Value::is_null)
}

/// Avro names allow letters, digits and `_` (and dots between namespace parts); Connect names may hold more.
fn scrub(name: &str) -> String {
    let parts: Vec<String> = name
        .split('.')
        .map(|part| {
            let mut s: String =
                part.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
                s.insert(0, '_');
            }
            s
        })
        .collect();
    parts.join(".")
}

fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rsplit_once('.') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, full),
    }
}

/// The Avro `default` of a record field of `schema`: null for an optional one without a default.
fn field_default(schema: &Schema) -> Option<Json> {
    match &schema.default_value {
        Some(v) if !v.is_null() => default_json(v),
        _ if schema.optional => Some(Json::Null),
        _ => None,
    }
}

/// A default value in Avro's JSON encoding (bytes as a string of code points 0-255).
fn default_json(value: &Value) -> Option<Json> {
    Some(match value {
        Value::Bytes(b) => json!(b.iter().map(|&c| char::from(c)).collect::<String>()),
        Value::Array(items) => Json::Array(items.iter().map(default_json).collect::<Option<_>>()?),
        Value::Map(entries) => Json::Object(
            entries.iter().map(|(k, v)| Some((k.as_str()?.to_string(), default_json(v)?))).collect::<Option<_>>()?,
        ),
        Value::Struct(s) => Json::Object(
            s.schema
                .fields
                .iter()
                .zip(&s.values)
                .map(|(f, v)| Some((f.name.clone(), default_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        other => super::value_to_json(other),
    })
}

/// A field default in Avro's JSON encoding as a Connect value of `schema` (for an optional one, of the union's
/// first branch, which is the value's).
fn default_value(schema: &Schema, json: &Json) -> Option<Value> {
    Some(match (schema.schema_type, json) {
        (SchemaType::Int8, Json::Number(n)) => Value::Int8(i8::try_from(n.as_i64()?).ok()?),
        (SchemaType::Int16, Json::Number(n)) => Value::Int16(i16::try_from(n.as_i64()?).ok()?),
        (SchemaType::Int32, Json::Number(n)) => Value::Int32(i32::try_from(n.as_i64()?).ok()?),
        (SchemaType::Int64, Json::Number(n)) => Value::Int64(n.as_i64()?),
        (SchemaType::Float32, Json::Number(n)) => Value::Float32(n.as_f64()? as f32),
        (SchemaType::Float64, Json::Number(n)) => Value::Float64(n.as_f64()?),
        (SchemaType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (SchemaType::String, Json::String(s)) => Value::String(s.clone()),
        (SchemaType::Bytes, Json::String(s)) => {
            Value::Bytes(s.chars().map(|c| u8::try_from(c).ok()).collect::<Option<_>>()?)
        }
        (SchemaType::Array, Json::Array(items)) => {
            let item_schema = schema.value_schema.as_ref()?;
            Value::Array(items.iter().map(|i| default_value(item_schema, i)).collect::<Option<_>>()?)
        }
        (SchemaType::Map, Json::Object(map)) => {
            let values = schema.value_schema.as_ref()?;
            Value::Map(
                map.iter()
                    .map(|(k, v)| Some((Value::String(k.clone()), default_value(values, v)?)))
                    .collect::<Option<_>>()?,
            )
        }
        _ => return None,
    })
}

/// A Connect schema from an Avro schema in JSON form.
pub(crate) fn from_avro(json: &Json) -> Result<Arc<Schema>, ConnectError> {
    FromAvro::default().schema(json, None)
}

#[derive(Default)]
struct FromAvro {
    /// Named types seen so far by full name, for references.
    named: HashMap<String, Arc<Schema>>,
}

impl FromAvro {
    fn schema(&mut self, json: &Json, namespace: Option<&str>) -> Result<Arc<Schema>, ConnectError> {
        match json {
            Json::String(name) => self.named_or_primitive(name, &Map::new(), namespace),
            Json::Array(branches) => {
                let non_null: Vec<&Json> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
                match non_null.as_slice() {
                    [only] if branches.len() == 2 => {
                        let inner = self.schema(only, namespace)?;
                        Ok(Arc::new(Schema { optional: true, ..(*inner).clone() }))
                    }
                    _ => Err(conversion(format!(
                        "Avro union {json} is not supported: only unions of null and one other type map to Connect \
                         (an optional schema)"
                    ))),
                }
            }
            Json::Object(object) => match object.get("type") {
                Some(Json::String(type_name)) => self.named_or_primitive(type_name, object, namespace),
                Some(nested @ (Json::Object(_) | Json::Array(_))) => self.schema(nested, namespace),
                _ => Err(conversion(format!("Avro schema {json} has no type"))),
            },
            other => Err(conversion(format!("{other} is not an Avro schema"))),
        }
    }

    fn named_or_primitive(
        &mut self,
        type_name: &str,
        object: &Map<String, Json>,
        namespace: Option<&str>,
    ) -> Result<Arc<Schema>, ConnectError> {
        let logical = object.get("logicalType").and_then(Json::as_str);
        let mut schema = match type_name {
            "null" => return Err(conversion("a bare Avro null schema has no Connect equivalent")),
            "boolean" => Schema::primitive(SchemaType::Boolean),
            "int" => match (object.get("connect.type").and_then(Json::as_str), logical) {
                (Some("int8"), _) => Schema::primitive(SchemaType::Int8),
                (Some("int16"), _) => Schema::primitive(SchemaType::Int16),
                (_, Some("date")) => Schema::primitive(SchemaType::Int32).with_name(DATE),
                (_, Some("time-millis")) => Schema::primitive(SchemaType::Int32).with_name(TIME),
                _ => Schema::primitive(SchemaType::Int32),
            },
            "long" => match logical {
                Some("timestamp-millis") => Schema::primitive(SchemaType::Int64).with_name(TIMESTAMP),
                _ => Schema::primitive(SchemaType::Int64),
            },
            "float" => Schema::primitive(SchemaType::Float32),
            "double" => Schema::primitive(SchemaType::Float64),
            "string" => Schema::primitive(SchemaType::String),
            "bytes" | "fixed" => {
                let mut schema = Schema::primitive(SchemaType::Bytes);
                if logical == Some("decimal") {
                    let scale = object.get("scale").and_then(Json::as_i64).unwrap_or(0);
                    schema = schema.with_name(DECIMAL).with_parameter("scale", scale.to_string());
                    // Only a precision other than the converter's default is worth keeping as a parameter.
                    if let Some(precision) = object.get("precision").and_then(Json::as_i64).filter(|&p| p != 64) {
                        schema = schema.with_parameter(PRECISION_PARAM, precision.to_string());
                    }
                }
                if type_name == "fixed" {
                    self.define(object, namespace, &schema)?;
                }
                schema
            }
            "enum" => {
                let full = full_name(object, namespace)?;
                let schema = Schema::primitive(SchemaType::String).with_parameter(ENUM_PARAM, full.clone());
                self.named.insert(full, Arc::new(schema.clone()));
                schema
            }
            "array" => {
                let items = object.get("items").ok_or_else(|| conversion("Avro array schema without items"))?;
                let items = self.schema(items, namespace)?;
                if let Some(map) = map_entry_map(&items) {
                    map
                } else {
                    Schema::array(items)
                }
            }
            "map" => {
                let values = object.get("values").ok_or_else(|| conversion("Avro map schema without values"))?;
                Schema::map(Schema::primitive(SchemaType::String).shared(), self.schema(values, namespace)?)
            }
            "record" => {
                let full = full_name(object, namespace)?;
                let inner_namespace = full.rsplit_once('.').map(|(ns, _)| ns.to_string());
                let fields_json = object
                    .get("fields")
                    .and_then(Json::as_array)
                    .ok_or_else(|| conversion(format!("Avro record {full} has no fields array")))?;
                let mut fields = Vec::with_capacity(fields_json.len());
                for (index, field) in fields_json.iter().enumerate() {
                    let name = field
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or_else(|| conversion(format!("a field of Avro record {full} has no name")))?;
                    let field_type =
                        field.get("type").ok_or_else(|| conversion(format!("field {name} of {full} has no type")))?;
                    let mut schema = self.schema(field_type, inner_namespace.as_deref())?;
                    if let Some(default) = field.get("default").filter(|d| !d.is_null()) {
                        let value = default_value(&schema, default).ok_or_else(|| {
                            conversion(format!(
                                "field {name} of {full} has a default {default} that does not fit its type"
                            ))
                        })?;
                        schema = Arc::new(Schema { default_value: Some(value), ..(*schema).clone() });
                    }
                    fields.push(Field { name: name.to_string(), index, schema });
                }
                let mut schema = Schema { fields, ..Schema::primitive(SchemaType::Struct) };
                // Records named by the converter for unnamed structs come back unnamed, as in Confluent's.
                if !full.starts_with(&format!("{NAMESPACE}.{DEFAULT_RECORD}")) {
                    schema.name = Some(full.clone());
                }
                schema.doc = object.get("doc").and_then(Json::as_str).map(str::to_string);
                let schema = with_meta(schema, object);
                self.named.insert(full, Arc::new(schema.clone()));
                return Ok(Arc::new(schema));
            }
            reference => {
                let full = if reference.contains('.') || namespace.is_none() {
                    reference.to_string()
                } else {
                    format!("{}.{reference}", namespace.unwrap_or_default())
                };
                return self
                    .named
                    .get(&full)
                    .or_else(|| self.named.get(reference))
                    .cloned()
                    .ok_or_else(|| conversion(format!("unknown Avro type {reference:?}")));
            }
        };
        schema = with_meta(schema, object);
        Ok(Arc::new(schema))
    }

    fn define(
        &mut self,
        object: &Map<String, Json>,
        namespace: Option<&str>,
        schema: &Schema,
    ) -> Result<(), ConnectError> {
        let full = full_name(object, namespace)?;
        self.named.insert(full, Arc::new(schema.clone()));
        Ok(())
    }
}

/// The Connect name, version, doc and parameters from `connect.*` properties.
fn with_meta(mut schema: Schema, object: &Map<String, Json>) -> Schema {
    if let Some(name) = object.get("connect.name").and_then(Json::as_str) {
        schema.name = Some(name.to_string());
    }
    if let Some(version) = object.get("connect.version").and_then(Json::as_i64) {
        schema.version = i32::try_from(version).ok();
    }
    if let Some(doc) = object.get("connect.doc").and_then(Json::as_str) {
        schema.doc = Some(doc.to_string());
    }
    if let Some(Json::Object(params)) = object.get("connect.parameters") {
        for (k, v) in params {
            if let Some(v) = v.as_str() {
                schema.parameters.insert(k.clone(), v.to_string());
            }
        }
    }
    schema
}

fn full_name(object: &Map<String, Json>, namespace: Option<&str>) -> Result<String, ConnectError> {
    let name = object.get("name").and_then(Json::as_str).ok_or_else(|| conversion("a named Avro type has no name"))?;
    if name.contains('.') {
        return Ok(name.to_string());
    }
    match object.get("namespace").and_then(Json::as_str).or(namespace).filter(|ns| !ns.is_empty()) {
        Some(ns) => Ok(format!("{ns}.{name}")),
        None => Ok(name.to_string()),
    }
}

/// An array of the converter's `MapEntry` records is a Connect map with non-string keys.
fn map_entry_map(items: &Schema) -> Option<Schema> {
    let is_entry = items.schema_type == SchemaType::Struct
        && items.name.as_deref().is_some_and(|n| n.starts_with(&format!("{NAMESPACE}.{MAP_ENTRY}")))
        && items.fields.len() == 2
        && items.fields[0].name == "key"
        && items.fields[1].name == "value";
    is_entry.then(|| Schema::map(items.fields[0].schema.clone(), items.fields[1].schema.clone()))
}

/// `value` under `schema` as an Avro value for the schema [`ToAvro::schema`] made of it.
pub(crate) fn to_avro_value(schema: &Schema, value: &Value) -> Result<Avro, ConnectError> {
    let value = match (value, &schema.default_value) {
        (Value::Null, Some(default)) if !schema.optional => default,
        _ => value,
    };
    if schema.optional {
        let (null_index, value_index) = if null_first(schema) { (0, 1) } else { (1, 0) };
        return Ok(match value {
            Value::Null => Avro::Union(null_index, Box::new(Avro::Null)),
            v => Avro::Union(value_index, Box::new(base_value(schema, v)?)),
        });
    }
    base_value(schema, value)
}

fn base_value(schema: &Schema, value: &Value) -> Result<Avro, ConnectError> {
    let mismatch =
        || conversion(format!("value {value:?} does not match its schema of type {}", schema.schema_type.name()));
    let logical = schema.name.as_deref();
    Ok(match (schema.schema_type, value) {
        (SchemaType::Int8, Value::Int8(v)) => Avro::Int(i32::from(*v)),
        (SchemaType::Int16, Value::Int16(v)) => Avro::Int(i32::from(*v)),
        (SchemaType::Int32, Value::Int32(v)) if logical == Some(DATE) => Avro::Date(*v),
        (SchemaType::Int32, Value::Int32(v)) if logical == Some(TIME) => Avro::TimeMillis(*v),
        (SchemaType::Int32, Value::Int32(v)) => Avro::Int(*v),
        (SchemaType::Int64, Value::Int64(v)) if logical == Some(TIMESTAMP) => Avro::TimestampMillis(*v),
        (SchemaType::Int64, Value::Int64(v)) => Avro::Long(*v),
        (SchemaType::Float32, Value::Float32(v)) => Avro::Float(*v),
        (SchemaType::Float64, Value::Float64(v)) => Avro::Double(*v),
        (SchemaType::Boolean, Value::Boolean(v)) => Avro::Boolean(*v),
        (SchemaType::String, Value::String(v)) => Avro::String(v.clone()),
        (SchemaType::Bytes, Value::Bytes(b)) if logical == Some(DECIMAL) => {
            Avro::Decimal(apache_avro::Decimal::from(b.as_slice()))
        }
        (SchemaType::Bytes, Value::Bytes(b)) => Avro::Bytes(b.clone()),
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema = schema.value_schema.as_ref().ok_or_else(mismatch)?;
            Avro::Array(items.iter().map(|v| to_avro_value(item_schema, v)).collect::<Result<_, _>>()?)
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (Some(keys), Some(values)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch());
            };
            if keys.schema_type == SchemaType::String && !keys.optional {
                let mut map = HashMap::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = k.as_str().ok_or_else(mismatch)?;
                    map.insert(key.to_string(), to_avro_value(values, v)?);
                }
                Avro::Map(map)
            } else {
                let mut records = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    records.push(Avro::Record(vec![
                        ("key".to_string(), to_avro_value(keys, k)?),
                        ("value".to_string(), to_avro_value(values, v)?),
                    ]));
                }
                Avro::Array(records)
            }
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            let mut fields = Vec::with_capacity(schema.fields.len());
            for field in &schema.fields {
                let v = s.get(&field.name).unwrap_or(&Value::Null);
                let avro = to_avro_value(&field.schema, v)
                    .map_err(|e| conversion(format!("field {:?}: {}", field.name, message(&e))))?;
                fields.push((field.name.clone(), avro));
            }
            Avro::Record(fields)
        }
        _ => return Err(mismatch()),
    })
}

fn message(e: &ConnectError) -> String {
    match e {
        ConnectError::Conversion(m) => m.clone(),
        other => other.to_string(),
    }
}

/// An Avro value as read with the writer schema that `schema` was made from, as Connect data.
pub(crate) fn from_avro_value(schema: &Arc<Schema>, value: Avro) -> Result<Value, ConnectError> {
    let mismatch = |v: &Avro| {
        conversion(format!("Avro value {v:?} does not match the Connect schema of type {}", schema.schema_type.name()))
    };
    Ok(match (schema.schema_type, value) {
        (_, Avro::Union(_, inner)) => return from_avro_value(schema, *inner),
        (_, Avro::Null) if schema.optional => Value::Null,
        (SchemaType::Int8, Avro::Int(v)) => Value::Int8(i8::try_from(v).map_err(|_| mismatch(&Avro::Int(v)))?),
        (SchemaType::Int16, Avro::Int(v)) => Value::Int16(i16::try_from(v).map_err(|_| mismatch(&Avro::Int(v)))?),
        (SchemaType::Int32, Avro::Int(v) | Avro::Date(v) | Avro::TimeMillis(v)) => Value::Int32(v),
        (
            SchemaType::Int64,
            Avro::Long(v)
            | Avro::TimestampMillis(v)
            | Avro::TimestampMicros(v)
            | Avro::TimeMicros(v)
            | Avro::LocalTimestampMillis(v)
            | Avro::LocalTimestampMicros(v),
        ) => Value::Int64(v),
        (SchemaType::Float32, Avro::Float(v)) => Value::Float32(v),
        (SchemaType::Float64, Avro::Double(v)) => Value::Float64(v),
        (SchemaType::Boolean, Avro::Boolean(v)) => Value::Boolean(v),
        (SchemaType::String, Avro::String(s) | Avro::Enum(_, s)) => Value::String(s),
        (SchemaType::String, Avro::Uuid(u)) => Value::String(u.to_string()),
        (SchemaType::Bytes, Avro::Bytes(b) | Avro::Fixed(_, b)) => Value::Bytes(b),
        (SchemaType::Bytes, Avro::Decimal(d)) => {
            Value::Bytes(Vec::<u8>::try_from(d).map_err(|e| conversion(format!("invalid Avro decimal: {e}")))?)
        }
        (SchemaType::Array, Avro::Array(items)) => {
            let item_schema = schema.value_schema.as_ref().ok_or_else(|| mismatch(&Avro::Null))?;
            Value::Array(items.into_iter().map(|v| from_avro_value(item_schema, v)).collect::<Result<_, _>>()?)
        }
        (SchemaType::Map, value) => {
            let (Some(keys), Some(values)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch(&value));
            };
            match value {
                Avro::Map(map) => {
                    // Avro maps carry no order; sorted keys keep output stable.
                    let sorted: BTreeMap<String, Avro> = map.into_iter().collect();
                    let mut entries = Vec::with_capacity(sorted.len());
                    for (k, v) in sorted {
                        entries.push((Value::String(k), from_avro_value(values, v)?));
                    }
                    Value::Map(entries)
                }
                Avro::Array(records) => {
                    let mut entries = Vec::with_capacity(records.len());
                    for record in records {
                        let Avro::Record(mut fields) = record else {
                            return Err(mismatch(&record));
                        };
                        let value = fields.pop().map(|(_, v)| v).unwrap_or(Avro::Null);
                        let key = fields.pop().map(|(_, v)| v).unwrap_or(Avro::Null);
                        entries.push((from_avro_value(keys, key)?, from_avro_value(values, value)?));
                    }
                    Value::Map(entries)
                }
                other => return Err(mismatch(&other)),
            }
        }
        (SchemaType::Struct, Avro::Record(fields)) => {
            let mut out = Struct::new(schema.clone());
            for (name, v) in fields {
                if let Some(field) = schema.field(&name) {
                    out.values[field.index] = from_avro_value(&field.schema, v)
                        .map_err(|e| conversion(format!("field {name:?}: {}", message(&e))))?;
                }
            }
            Value::Struct(out)
        }
        (_, other) => return Err(mismatch(&other)),
    })
}
