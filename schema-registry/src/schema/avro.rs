//! Avro schemas: parsing with apache-avro (references resolved by full name), the canonical text the registry
//! stores, returns and compares, and the normalized text used for `normalize=true`.
//!
//! The canonical text is written from the registered JSON itself rather than from apache-avro's parsed form:
//! the parsed form drops what Java keeps in `Schema.toString()` (properties on primitive types, unknown logical
//! types, `order`), and clients such as Python's fastavro parse whatever `GET /schemas/ids/{id}` returns, so it
//! must stay the schema the client registered, only with whitespace and attribute order fixed.

use std::collections::HashMap;

use apache_avro::error::Details;
use apache_avro::schema::{DecimalSchema, InnerDecimalSchema, Name, RecordField, Schema, UuidSchema};
use serde_json::{Map, Value};

use super::{ResolvedReference, SchemaError};

const PRIMITIVES: [&str; 8] = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

/// A parsed Avro schema, with the named types it may use from its references.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    schema: Schema,
    references: Vec<Schema>,
    /// Every named type this schema can reach (defined in its text or its references), by full name and by
    /// full alias: apache-avro leaves later uses of a named type as [`Schema::Ref`], resolved through this.
    named: HashMap<String, Schema>,
    canonical: String,
    normalized: String,
}

impl AvroSchema {
    /// Parses `text`, whose named-type references may point into `references` (flattened, dependencies first).
    pub fn parse(text: &str, references: &[ResolvedReference]) -> Result<Self, SchemaError> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| SchemaError(format!("the schema is not valid JSON: {e}")))?;
        let mut definitions = Definitions::default();
        let mut reference_texts: Vec<&str> = Vec::new();
        for reference in references {
            // A type reached through two paths of the reference graph is one reference, not a redefinition.
            if reference_texts.contains(&reference.schema.as_str()) {
                continue;
            }
            let reference_json: Value = serde_json::from_str(&reference.schema).map_err(|e| {
                SchemaError(format!("the referenced schema '{}' is not valid JSON: {e}", reference.name))
            })?;
            definitions.collect(&reference_json, None, &format!("(reference '{}')", reference.name))?;
            reference_texts.push(&reference.schema);
        }
        definitions.collect(&json, None, "")?;

        let (schema, references) = Schema::parse_str_with_list(text, &reference_texts).map_err(avro_error)?;
        let mut named = HashMap::new();
        for reference in &references {
            collect_named(reference, &mut named);
        }
        collect_named(&schema, &mut named);
        check_defaults(&schema, &named, "")?;

        let canonical = Emitter::emit(&json, false, &named);
        let normalized = Emitter::emit(&json, true, &named);
        Ok(Self { schema, references, named, canonical, normalized })
    }

    /// The parsed schema; named types used more than once appear as [`Schema::Ref`] after their definition,
    /// and types from references always do: resolve them with [`AvroSchema::lookup`].
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The parsed referenced schemas, in the order given to [`AvroSchema::parse`] (duplicates dropped).
    pub fn references(&self) -> &[Schema] {
        &self.references
    }

    /// The definition of a named type (record, enum, fixed) by full name or full alias.
    pub fn lookup(&self, name: &Name) -> Option<&Schema> {
        self.named.get(&name.fullname(None))
    }

    /// The full name of the schema's top-level type when it is a named type (record, enum, fixed), for the
    /// RecordName and TopicRecordName subject strategies.
    pub fn full_name(&self) -> Option<String> {
        self.schema.name().map(|name| name.fullname(None))
    }

    /// The registered JSON with whitespace removed and every object's attributes in one fixed order; a type
    /// written `{"type":"string"}` becomes `"string"`. Names, defaults, docs, aliases, logical types and custom
    /// properties are kept as written, and types from references stay references.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// The canonical text with every name made explicit: each named type carries its namespace (`""` for none
    /// inside a namespaced type), type references and aliases are full names, and `"order":"ascending"` (the
    /// default) is dropped. Attribute order is already fixed in [`AvroSchema::canonical`], so this differs from
    /// it only where names were left implicit.
    pub fn normalized(&self) -> String {
        self.normalized.clone()
    }
}

fn avro_error(error: apache_avro::Error) -> SchemaError {
    match error.details() {
        Details::ParsePrimitive(name) => SchemaError(format!(
            "unknown type '{name}': neither a primitive type nor a named type defined earlier in this schema or in \
             its references (refer to a type only after its definition, by full name or by name in its namespace)"
        )),
        _ => SchemaError(error.to_string()),
    }
}

/// The full name of a named type declared with `name` (and maybe `namespace`) inside `enclosing`, as
/// apache-avro and the Avro specification resolve it.
fn full_name(name: &str, namespace: Option<&Value>, enclosing: Option<&str>) -> String {
    if let Some(without_namespace) = name.strip_prefix('.') {
        return without_namespace.to_string();
    }
    if name.contains('.') {
        return name.to_string();
    }
    let namespace = match namespace {
        Some(Value::String(namespace)) => Some(namespace.as_str()),
        _ => enclosing,
    };
    match namespace {
        Some(namespace) if !namespace.is_empty() => format!("{namespace}.{name}"),
        _ => name.to_string(),
    }
}

fn namespace_of(full_name: &str) -> Option<&str> {
    full_name.rsplit_once('.').map(|(namespace, _)| namespace)
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// The named types defined across a schema and its references, checked for what apache-avro lets through:
/// a name defined twice (it keeps the last silently), record fields that are not objects (it skips them),
/// records without `fields`.
#[derive(Default)]
struct Definitions {
    paths: HashMap<String, String>,
}

impl Definitions {
    fn collect(&mut self, value: &Value, enclosing: Option<&str>, path: &str) -> Result<(), SchemaError> {
        match value {
            Value::Array(branches) => {
                for (i, branch) in branches.iter().enumerate() {
                    self.collect(branch, enclosing, &format!("{path}/{i}"))?;
                }
                Ok(())
            }
            Value::Object(map) => match map.get("type") {
                Some(Value::String(kind)) if matches!(kind.as_str(), "record" | "error" | "enum" | "fixed") => {
                    self.named(map, kind, enclosing, path)
                }
                Some(Value::String(kind)) if kind == "array" => match map.get("items") {
                    Some(items) => self.collect(items, enclosing, &format!("{path}/items")),
                    None => Ok(()),
                },
                Some(Value::String(kind)) if kind == "map" => match map.get("values") {
                    Some(values) => self.collect(values, enclosing, &format!("{path}/values")),
                    None => Ok(()),
                },
                Some(inner @ (Value::Object(_) | Value::Array(_))) => {
                    self.collect(inner, enclosing, &format!("{path}/type"))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn named(
        &mut self,
        map: &Map<String, Value>,
        kind: &str,
        enclosing: Option<&str>,
        path: &str,
    ) -> Result<(), SchemaError> {
        let Some(name) = map.get("name").and_then(Value::as_str) else {
            return Err(SchemaError(format!(
                "the {kind} at path '{}' has no \"name\"; records, enums and fixed types need a name string",
                shown(path)
            )));
        };
        let full = full_name(name, map.get("namespace"), enclosing);
        if let Some(first) = self.paths.insert(full.clone(), path.to_string()) {
            return Err(SchemaError(format!(
                "the type '{full}' is defined twice (at '{}' and at '{}'); define it once and refer to it by name",
                shown(&first),
                shown(path)
            )));
        }
        if kind != "record" && kind != "error" {
            return Ok(());
        }
        let Some(fields) = map.get("fields").and_then(Value::as_array) else {
            return Err(SchemaError(format!("the record '{full}' at path '{}' has no \"fields\" array", shown(path))));
        };
        let namespace = namespace_of(&full);
        for (i, field) in fields.iter().enumerate() {
            let field_path = format!("{path}/fields/{i}");
            let Some(field) = field.as_object() else {
                return Err(SchemaError(format!(
                    "field {i} of record '{full}' (path '{field_path}') is not a JSON object"
                )));
            };
            let Some(field_name) = field.get("name").and_then(Value::as_str) else {
                return Err(SchemaError(format!(
                    "field {i} of record '{full}' (path '{field_path}') has no \"name\" string"
                )));
            };
            let Some(field_type) = field.get("type") else {
                return Err(SchemaError(format!(
                    "the field '{field_name}' of record '{full}' (path '{field_path}') has no \"type\""
                )));
            };
            self.collect(field_type, namespace, &format!("{field_path}/type"))?;
        }
        Ok(())
    }
}

/// Adds every named type defined in `schema` to `named`, by full name and by full alias.
fn collect_named(schema: &Schema, named: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(record) => {
            for field in &record.fields {
                collect_named(&field.schema, named);
            }
        }
        Schema::Array(array) => collect_named(&array.items, named),
        Schema::Map(map) => collect_named(&map.types, named),
        Schema::Union(union) => {
            for branch in union.variants() {
                collect_named(branch, named);
            }
        }
        _ => {}
    }
    let defines = matches!(
        schema,
        Schema::Record(_)
            | Schema::Enum(_)
            | Schema::Fixed(_)
            | Schema::Duration(_)
            | Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Fixed(_), .. })
            | Schema::Uuid(UuidSchema::Fixed(_))
    );
    if let (true, Some(name)) = (defines, schema.name()) {
        named.entry(name.fullname(None)).or_insert_with(|| schema.clone());
        for alias in schema.aliases().into_iter().flatten() {
            named.entry(alias.fullname(None)).or_insert_with(|| schema.clone());
        }
    }
}

/// Checks every field default against the field's type the way Java Avro does when it validates defaults:
/// a union's default must match the union's first branch (apache-avro accepts any branch, which readers in
/// other languages reject).
fn check_defaults(schema: &Schema, named: &HashMap<String, Schema>, path: &str) -> Result<(), SchemaError> {
    match schema {
        Schema::Record(record) => {
            for (i, field) in record.fields.iter().enumerate() {
                let field_path = format!("{path}/fields/{i}");
                if let Some(default) = &field.default {
                    if !default_fits(default, &field.schema, named, 0) {
                        return Err(bad_default(record.name.fullname(None), field, default, &field_path));
                    }
                }
                check_defaults(&field.schema, named, &format!("{field_path}/type"))?;
            }
            Ok(())
        }
        Schema::Array(array) => check_defaults(&array.items, named, &format!("{path}/items")),
        Schema::Map(map) => check_defaults(&map.types, named, &format!("{path}/values")),
        Schema::Union(union) => {
            for (i, branch) in union.variants().iter().enumerate() {
                check_defaults(branch, named, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn bad_default(record: String, field: &RecordField, default: &Value, path: &str) -> SchemaError {
    let hint = if matches!(field.schema, Schema::Union(_)) {
        "; a union field's default must be a value of the union's first branch (put \"null\" first for a null default)"
    } else {
        ""
    };
    SchemaError(format!(
        "the default value {default} of field '{}' in record '{record}' (path '{path}') does not match the field's type{hint}",
        field.name
    ))
}

/// Whether a JSON default value is a value of `schema`, by the Avro specification's table of default values.
fn default_fits(value: &Value, schema: &Schema, named: &HashMap<String, Schema>, depth: usize) -> bool {
    // Defaults are finite JSON, so this ends; the bound only guards the stack against absurd nesting.
    if depth > 128 {
        return false;
    }
    let fits = |value: &Value, schema: &Schema| default_fits(value, schema, named, depth + 1);
    match schema {
        Schema::Null => value.is_null(),
        Schema::Boolean => value.is_boolean(),
        Schema::Int | Schema::Date | Schema::TimeMillis => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => value.as_i64().is_some(),
        Schema::Float | Schema::Double => {
            value.is_number() || matches!(value.as_str(), Some("NaN" | "Infinity" | "-Infinity"))
        }
        Schema::Bytes
        | Schema::String
        | Schema::Fixed(_)
        | Schema::Decimal(_)
        | Schema::BigDecimal
        | Schema::Uuid(_)
        | Schema::Duration(_) => value.is_string(),
        Schema::Enum(enumeration) => {
            value.as_str().is_some_and(|symbol| enumeration.symbols.iter().any(|s| s == symbol))
        }
        Schema::Array(array) => value.as_array().is_some_and(|items| items.iter().all(|item| fits(item, &array.items))),
        Schema::Map(map) => value.as_object().is_some_and(|entries| entries.values().all(|v| fits(v, &map.types))),
        Schema::Record(record) => value.as_object().is_some_and(|object| {
            record.fields.iter().all(|field| match object.get(&field.name) {
                Some(v) => fits(v, &field.schema),
                None => field.default.is_some(),
            })
        }),
        Schema::Union(union) => union.variants().first().is_some_and(|first| fits(value, first)),
        Schema::Ref { name } => named.get(&name.fullname(None)).is_some_and(|definition| fits(value, definition)),
    }
}

/// Writes schema JSON compactly with a fixed attribute order, optionally making names explicit.
struct Emitter<'a> {
    normalize: bool,
    named: &'a HashMap<String, Schema>,
    out: String,
}

impl Emitter<'_> {
    fn emit(json: &Value, normalize: bool, named: &HashMap<String, Schema>) -> String {
        let mut emitter = Emitter { normalize, named, out: String::new() };
        emitter.schema(json, None);
        emitter.out
    }

    /// A value in a position where the specification expects a schema.
    fn schema(&mut self, value: &Value, enclosing: Option<&str>) {
        match value {
            Value::String(name) => {
                let name = self.type_name(name, enclosing);
                self.string(&name);
            }
            Value::Array(branches) => {
                self.out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.schema(branch, enclosing);
                }
                self.out.push(']');
            }
            Value::Object(map) => self.object(map, enclosing),
            other => self.value(other),
        }
    }

    fn object(&mut self, map: &Map<String, Value>, enclosing: Option<&str>) {
        let Some(kind) = map.get("type") else {
            return self.map(map);
        };
        match kind.as_str() {
            Some(kind @ ("record" | "error" | "enum" | "fixed")) if map.contains_key("name") => {
                return self.named(map, kind, enclosing);
            }
            Some("array") if map.contains_key("items") => return self.container(map, "items", enclosing),
            Some("map") if map.contains_key("values") => return self.container(map, "values", enclosing),
            _ => {}
        }
        // `{"type":"string"}` is the type "string"; with attributes (logicalType, custom ones) it stays an object.
        if map.len() == 1 {
            return self.schema(kind, enclosing);
        }
        self.out.push('{');
        self.key("type");
        self.schema(kind, enclosing);
        self.rest(map, &["type"]);
        self.out.push('}');
    }

    fn container(&mut self, map: &Map<String, Value>, inner: &str, enclosing: Option<&str>) {
        self.out.push('{');
        self.key("type");
        self.value(&map["type"]);
        self.key(inner);
        self.schema(&map[inner], enclosing);
        self.rest(map, &["type", inner]);
        self.out.push('}');
    }

    fn named(&mut self, map: &Map<String, Value>, kind: &str, enclosing: Option<&str>) {
        let raw_name = map.get("name").and_then(Value::as_str).unwrap_or_default();
        let full = full_name(raw_name, map.get("namespace"), enclosing);
        let namespace = namespace_of(&full);
        self.out.push('{');
        self.key("type");
        self.string(kind);
        self.key("name");
        if self.normalize {
            self.string(full.rsplit('.').next().unwrap_or_default());
            match namespace {
                Some(namespace) => {
                    self.key("namespace");
                    self.string(namespace);
                }
                // Without an explicit empty namespace, a reader would put the type in the enclosing one.
                None if enclosing.is_some_and(|e| !e.is_empty()) => {
                    self.key("namespace");
                    self.string("");
                }
                None => {}
            }
        } else {
            self.value(&map["name"]);
            self.entry(map, "namespace");
        }
        self.entry(map, "doc");
        if let Some(aliases) = map.get("aliases") {
            self.key("aliases");
            match aliases.as_array() {
                Some(aliases) if self.normalize => {
                    let full: Vec<Value> = aliases
                        .iter()
                        .map(|alias| match alias.as_str() {
                            Some(alias) => Value::String(full_name(alias, None, namespace)),
                            None => alias.clone(),
                        })
                        .collect();
                    self.value(&Value::Array(full));
                }
                _ => self.value(aliases),
            }
        }
        let own: &[&str] = match kind {
            "enum" => {
                self.entry(map, "symbols");
                self.entry(map, "default");
                &["symbols", "default"]
            }
            "fixed" => {
                self.entry(map, "size");
                &["size"]
            }
            _ => {
                if let Some(fields) = map.get("fields") {
                    self.key("fields");
                    self.fields(fields, namespace);
                }
                &["fields"]
            }
        };
        let mut skip = vec!["type", "name", "namespace", "doc", "aliases"];
        skip.extend_from_slice(own);
        self.rest(map, &skip);
        self.out.push('}');
    }

    fn fields(&mut self, fields: &Value, namespace: Option<&str>) {
        let Some(fields) = fields.as_array() else {
            return self.value(fields);
        };
        self.out.push('[');
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let Some(field) = field.as_object() else {
                self.value(field);
                continue;
            };
            self.out.push('{');
            self.entry(field, "name");
            if let Some(field_type) = field.get("type") {
                self.key("type");
                self.schema(field_type, namespace);
            }
            self.entry(field, "doc");
            self.entry(field, "default");
            match field.get("order") {
                Some(Value::String(order)) if self.normalize && order == "ascending" => {}
                _ => self.entry(field, "order"),
            }
            self.entry(field, "aliases");
            self.rest(field, &["name", "type", "doc", "default", "order", "aliases"]);
            self.out.push('}');
        }
        self.out.push(']');
    }

    /// A type name as written, or (normalizing) as the full name it resolves to.
    fn type_name(&self, name: &str, enclosing: Option<&str>) -> String {
        if !self.normalize || PRIMITIVES.contains(&name) {
            return name.to_string();
        }
        let qualified = full_name(name, None, enclosing);
        // Java falls back to the null namespace when the enclosing one has no such type.
        if !self.named.contains_key(&qualified) && self.named.contains_key(name) {
            return name.to_string();
        }
        qualified
    }

    fn entry(&mut self, map: &Map<String, Value>, key: &str) {
        if let Some(value) = map.get(key) {
            self.key(key);
            self.value(value);
        }
    }

    /// The attributes not written yet, sorted by name.
    fn rest(&mut self, map: &Map<String, Value>, skip: &[&str]) {
        let mut keys: Vec<&String> = map.keys().filter(|key| !skip.contains(&key.as_str())).collect();
        keys.sort();
        for key in keys {
            self.key(key);
            self.value(&map[key]);
        }
    }

    fn key(&mut self, key: &str) {
        if !self.out.ends_with('{') {
            self.out.push(',');
        }
        self.string(key);
        self.out.push(':');
    }

    fn string(&mut self, text: &str) {
        self.out.push_str(&Value::String(text.to_string()).to_string());
    }

    /// Any JSON value (a default, a custom property), with object keys sorted.
    fn value(&mut self, value: &Value) {
        match value {
            Value::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.out.push(']');
            }
            Value::Object(map) => self.map(map),
            scalar => self.out.push_str(&scalar.to_string()),
        }
    }

    fn map(&mut self, map: &Map<String, Value>) {
        self.out.push('{');
        self.rest(map, &[]);
        self.out.push('}');
    }
}

#[cfg(test)]
#[path = "avro_tests.rs"]
mod tests;
