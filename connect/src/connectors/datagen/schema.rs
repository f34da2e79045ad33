//! What datagen generates: a [`Shape`] is a record schema (a built-in quickstart or an Avro record schema the
//! user gives in `schema.string`) with a generator per field, and which field becomes the key.
//!
//! Generators follow the `arg.properties` of Confluent's datagen (avro-random-generator), on the type object
//! or the field: `options` (pick one), `range` (`min` inclusive, `max` exclusive), `iteration` (`start`,
//! `step`: value = start + sequence × step, so every record's value is unique across tasks) and `length`
//! (`min`, `max` of strings, bytes, arrays and maps). Sluice adds `prefix` for strings: the prefix followed by
//! a number drawn from `range` (or from `iteration`), e.g. `Item_42`.

use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value as Json;

use crate::data::{Schema, SchemaType, Struct, Value, DATE, TIME, TIMESTAMP};

/// The built-in shapes `quickstart` accepts.
pub(crate) const QUICKSTARTS: &[&str] = &["orders", "users", "pageviews"];

const ORDERS: &str = r#"{"type": "record", "name": "orders", "namespace": "ksql", "fields": [
  {"name": "ordertime", "type": {"type": "long", "arg.properties": {"range": {"min": 1487715775521, "max": 1519273364600}}}},
  {"name": "orderid", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "itemid", "type": {"type": "string", "arg.properties": {"prefix": "Item_", "range": {"min": 1, "max": 1000}}}},
  {"name": "orderunits", "type": {"type": "double", "arg.properties": {"range": {"min": 0.1, "max": 10.0}}}},
  {"name": "address", "type": {"type": "record", "name": "address", "fields": [
    {"name": "city", "type": {"type": "string", "arg.properties": {"prefix": "City_", "range": {"min": 1, "max": 100}}}},
    {"name": "state", "type": {"type": "string", "arg.properties": {"prefix": "State_", "range": {"min": 1, "max": 100}}}},
    {"name": "zipcode", "type": {"type": "long", "arg.properties": {"range": {"min": 10000, "max": 99999}}}}
  ]}}
]}"#;

const USERS: &str = r#"{"type": "record", "name": "users", "namespace": "ksql", "fields": [
  {"name": "registertime", "type": {"type": "long", "arg.properties": {"range": {"min": 1487715775521, "max": 1519273364600}}}},
  {"name": "userid", "type": {"type": "string", "arg.properties": {"prefix": "User_", "range": {"min": 1, "max": 10}}}},
  {"name": "regionid", "type": {"type": "string", "arg.properties": {"prefix": "Region_", "range": {"min": 1, "max": 10}}}},
  {"name": "gender", "type": {"type": "string", "arg.properties": {"options": ["MALE", "FEMALE", "OTHER"]}}}
]}"#;

const PAGEVIEWS: &str = r#"{"type": "record", "name": "pageviews", "namespace": "ksql", "fields": [
  {"name": "viewtime", "type": {"type": "long", "arg.properties": {"iteration": {"start": 1, "step": 10}}}},
  {"name": "userid", "type": {"type": "string", "arg.properties": {"prefix": "User_", "range": {"min": 1, "max": 10}}}},
  {"name": "pageid", "type": {"type": "string", "arg.properties": {"prefix": "Page_", "range": {"min": 1, "max": 100}}}}
]}"#;

/// A problem with the shape: whether it is about the key field (else the schema), and the message.
pub(crate) type ShapeError = (bool, String);

/// A record schema with its generators and key choice.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub(crate) value_schema: Arc<Schema>,
    fields: Vec<Gen>,
    key: Key,
}

#[derive(Debug, Clone)]
enum Key {
    /// The value of this top-level field.
    Field { index: usize, schema: Arc<Schema> },
    /// No key field chosen: the sequence number, so records still have distinct keys.
    Sequence,
}

/// The generated key and value of one record.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    pub(crate) key_schema: Arc<Schema>,
    pub(crate) key: Value,
    pub(crate) value: Value,
}

impl Shape {
    /// A built-in shape; `keyfield` overrides its default key field.
    pub(crate) fn quickstart(name: &str, keyfield: Option<&str>) -> Result<Shape, ShapeError> {
        let (json, default_key) = match name.to_ascii_lowercase().as_str() {
            "orders" => (ORDERS, "orderid"),
            "users" => (USERS, "userid"),
            "pageviews" => (PAGEVIEWS, "viewtime"),
            _ => return Err((false, format!("Unknown quickstart {name}: use one of {}", QUICKSTARTS.join(", ")))),
        };
        Shape::parse(json, Some(keyfield.unwrap_or(default_key)))
    }

    /// A shape from an Avro record schema in JSON.
    pub(crate) fn parse(json: &str, keyfield: Option<&str>) -> Result<Shape, ShapeError> {
        let doc: Json = serde_json::from_str(json).map_err(|e| (false, format!("Not a JSON Avro schema: {e}")))?;
        let root = parse_type(&doc, &Json::Null, "")?;
        let Kind::Record(fields) = root.kind else {
            return Err((false, "The schema must be an Avro record (\"type\": \"record\")".into()));
        };
        let value_schema = root.schema;
        let key = match keyfield {
            None => Key::Sequence,
            Some(name) => match value_schema.field(name) {
                Some(f) => Key::Field { index: f.index, schema: f.schema.clone() },
                None => {
                    let names: Vec<&str> = value_schema.fields.iter().map(|f| f.name.as_str()).collect();
                    return Err((true, format!("No field {name} in the schema; its fields: {}", names.join(", "))));
                }
            },
        };
        Ok(Shape { value_schema, fields, key })
    }

    /// The record with sequence number `seq`, its random parts drawn from `rng`.
    pub(crate) fn generate(&self, seq: u64, rng: &mut StdRng) -> Generated {
        let values = self.fields.iter().map(|g| g.generate(seq, rng)).collect();
        let value = Struct { schema: self.value_schema.clone(), values };
        let (key_schema, key) = match &self.key {
            Key::Field { index, schema } => (schema.clone(), value.values[*index].clone()),
            Key::Sequence => (Schema::primitive(SchemaType::Int64).shared(), Value::Int64(seq as i64)),
        };
        Generated { key_schema, key, value: Value::Struct(value) }
    }
}

/// One generator: the Connect schema it produces values of and how.
#[derive(Debug, Clone)]
struct Gen {
    schema: Arc<Schema>,
    kind: Kind,
    props: Props,
}

#[derive(Debug, Clone)]
enum Kind {
    Null,
    Boolean,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    Record(Vec<Gen>),
    Array(Box<Gen>),
    Map(Box<Gen>),
    /// A union with null: null one time in ten.
    Optional(Box<Gen>),
}

/// The `arg.properties` that steer a generator.
#[derive(Debug, Clone, Default)]
struct Props {
    options: Vec<Value>,
    range: Option<(f64, f64)>,
    iteration: Option<(f64, f64)>,
    length: Option<(usize, usize)>,
    prefix: Option<String>,
}

fn parse_type(t: &Json, field_props: &Json, path: &str) -> Result<Gen, ShapeError> {
    let at = |message: String| (false, if path.is_empty() { message } else { format!("{path}: {message}") });
    match t {
        Json::String(name) => parse_named(name, t, field_props, path),
        Json::Array(branches) => {
            let non_null: Vec<&Json> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
            if non_null.len() != 1 || non_null.len() == branches.len() {
                return Err(at("only unions of null and one type are supported".into()));
            }
            let inner = parse_type(non_null[0], field_props, path)?;
            let schema = (*inner.schema).clone().optional().shared();
            Ok(Gen { schema, kind: Kind::Optional(Box::new(inner)), props: Props::default() })
        }
        Json::Object(obj) => match obj.get("type") {
            Some(Json::String(name)) => parse_named(name, t, field_props, path),
            // `{"type": ["null", "int"]}` or `{"type": {...}}`: the object only wraps the real type.
            Some(inner) => parse_type(inner, field_props, path),
            None => Err(at("a type object needs \"type\"".into())),
        },
        _ => Err(at(format!("{t} is not an Avro type"))),
    }
}

fn parse_named(name: &str, t: &Json, field_props: &Json, path: &str) -> Result<Gen, ShapeError> {
    let at = |message: String| (false, if path.is_empty() { message } else { format!("{path}: {message}") });
    let logical = t.get("logicalType").and_then(Json::as_str);
    let (schema, kind) = match name {
        "null" => (Schema::primitive(SchemaType::String).optional(), Kind::Null),
        "boolean" => (Schema::primitive(SchemaType::Boolean), Kind::Boolean),
        "int" => {
            let schema = Schema::primitive(SchemaType::Int32);
            let schema = match logical {
                Some("date") => schema.with_name(DATE),
                Some("time-millis") => schema.with_name(TIME),
                _ => schema,
            };
            (schema, Kind::Int32)
        }
        "long" => {
            let schema = Schema::primitive(SchemaType::Int64);
            let schema = if logical == Some("timestamp-millis") { schema.with_name(TIMESTAMP) } else { schema };
            (schema, Kind::Int64)
        }
        "float" => (Schema::primitive(SchemaType::Float32), Kind::Float32),
        "double" => (Schema::primitive(SchemaType::Float64), Kind::Float64),
        "string" => (Schema::primitive(SchemaType::String), Kind::String),
        "bytes" | "fixed" => (Schema::primitive(SchemaType::Bytes), Kind::Bytes),
        "enum" => {
            let symbols: Vec<Value> = t
                .get("symbols")
                .and_then(Json::as_array)
                .map(|s| s.iter().filter_map(Json::as_str).map(|s| Value::String(s.into())).collect())
                .unwrap_or_default();
            if symbols.is_empty() {
                return Err(at("an enum needs \"symbols\"".into()));
            }
            let props = Props { options: symbols, ..Props::default() };
            return Ok(Gen { schema: Schema::primitive(SchemaType::String).shared(), kind: Kind::String, props });
        }
        "array" => {
            let items = t.get("items").ok_or_else(|| at("an array needs \"items\"".into()))?;
            let items = parse_type(items, &Json::Null, &format!("{path}[]"))?;
            (Schema::array(items.schema.clone()), Kind::Array(Box::new(items)))
        }
        "map" => {
            let values = t.get("values").ok_or_else(|| at("a map needs \"values\"".into()))?;
            let values = parse_type(values, &Json::Null, &format!("{path}{{}}"))?;
            let keys = Schema::primitive(SchemaType::String).shared();
            (Schema::map(keys, values.schema.clone()), Kind::Map(Box::new(values)))
        }
        "record" => {
            let fields =
                t.get("fields").and_then(Json::as_array).ok_or_else(|| at("a record needs \"fields\"".into()))?;
            let mut gens = Vec::with_capacity(fields.len());
            let mut connect_fields = Vec::with_capacity(fields.len());
            for field in fields {
                let fname =
                    field.get("name").and_then(Json::as_str).ok_or_else(|| at("a field needs a \"name\"".into()))?;
                let fpath = if path.is_empty() { fname.to_string() } else { format!("{path}.{fname}") };
                let ftype = field.get("type").ok_or_else(|| (false, format!("{fpath}: a field needs a \"type\"")))?;
                let props = field.get("arg.properties").unwrap_or(&Json::Null);
                let g = parse_type(ftype, props, &fpath)?;
                connect_fields.push((fname.to_string(), g.schema.clone()));
                gens.push(g);
            }
            let rname = t.get("name").and_then(Json::as_str);
            let full = match (t.get("namespace").and_then(Json::as_str), rname) {
                (Some(ns), Some(n)) if !ns.is_empty() => Some(format!("{ns}.{n}")),
                (_, n) => n.map(str::to_string),
            };
            let mut schema = Schema::structure(connect_fields);
            if let Some(full) = full {
                schema = schema.with_name(full);
            }
            (schema, Kind::Record(gens))
        }
        other => return Err(at(format!("unsupported Avro type {other} (named type references are not supported)"))),
    };
    let props = t.get("arg.properties").filter(|p| p.is_object()).unwrap_or(field_props);
    let props = parse_props(props, &kind).map_err(at)?;
    Ok(Gen { schema: schema.shared(), kind, props })
}

fn parse_props(p: &Json, kind: &Kind) -> Result<Props, String> {
    let mut props = Props::default();
    if p.is_null() {
        return Ok(props);
    }
    let num = |v: Option<&Json>, default: f64| -> Result<f64, String> {
        match v {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| format!("{v} is not a number")),
        }
    };
    if let Some(options) = p.get("options") {
        let options = options.as_array().filter(|o| !o.is_empty()).ok_or("options must be a non-empty array")?;
        props.options = options.iter().map(|o| option_value(o, kind)).collect::<Result<_, _>>()?;
    }
    if let Some(r) = p.get("range") {
        let (min, max) = (num(r.get("min"), 0.0)?, num(r.get("max"), f64::from(i32::MAX))?);
        if min >= max {
            return Err(format!("range min {min} must be below max {max}"));
        }
        props.range = Some((min, max));
    }
    if let Some(i) = p.get("iteration") {
        props.iteration = Some((num(i.get("start"), 0.0)?, num(i.get("step"), 1.0)?));
    }
    if let Some(l) = p.get("length") {
        let (min, max) = match l {
            Json::Number(n) => {
                let n = n.as_u64().ok_or("length must be a whole number")? as usize;
                (n, n)
            }
            _ => (num(l.get("min"), 0.0)? as usize, num(l.get("max"), 16.0)? as usize),
        };
        props.length = Some((min, max.max(min)));
    }
    props.prefix = p.get("prefix").and_then(Json::as_str).map(str::to_string);
    Ok(props)
}

/// An `options` entry as a value of the generator's type.
fn option_value(o: &Json, kind: &Kind) -> Result<Value, String> {
    let bad = || format!("option {o} does not fit the field's type");
    Ok(match kind {
        Kind::Boolean => Value::Boolean(o.as_bool().ok_or_else(bad)?),
        Kind::Int32 => Value::Int32(o.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(bad)?),
        Kind::Int64 => Value::Int64(o.as_i64().ok_or_else(bad)?),
        Kind::Float32 => Value::Float32(o.as_f64().ok_or_else(bad)? as f32),
        Kind::Float64 => Value::Float64(o.as_f64().ok_or_else(bad)?),
        Kind::String => Value::String(o.as_str().ok_or_else(bad)?.to_string()),
        Kind::Bytes => Value::Bytes(o.as_str().ok_or_else(bad)?.as_bytes().to_vec()),
        _ => return Err("options are supported on primitive types only".into()),
    })
}

impl Gen {
    fn generate(&self, seq: u64, rng: &mut StdRng) -> Value {
        let p = &self.props;
        if !p.options.is_empty() {
            return p.options[rng.random_range(0..p.options.len())].clone();
        }
        // A number from `iteration` (exact per sequence) or `range` (random), if either is set.
        let number = |rng: &mut StdRng| -> Option<f64> {
            if let Some((start, step)) = p.iteration {
                return Some(start + seq as f64 * step);
            }
            p.range.map(|(min, max)| rng.random_range(min..max))
        };
        let length = |rng: &mut StdRng, default: (usize, usize)| {
            let (min, max) = p.length.unwrap_or(default);
            rng.random_range(min..=max)
        };
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Boolean => Value::Boolean(rng.random()),
            Kind::Int32 => Value::Int32(match p.iteration {
                Some((start, step)) => (start as i64 + seq as i64 * step as i64) as i32,
                None => number(rng).map(|n| n.floor() as i32).unwrap_or_else(|| rng.random()),
            }),
            Kind::Int64 => Value::Int64(match p.iteration {
                // Integer arithmetic: f64 would lose exactness past 2^53.
                Some((start, step)) => start as i64 + seq as i64 * step as i64,
                None => number(rng).map(|n| n.floor() as i64).unwrap_or_else(|| rng.random()),
            }),
            Kind::Float32 => Value::Float32(number(rng).map(|n| n as f32).unwrap_or_else(|| rng.random())),
            Kind::Float64 => Value::Float64(number(rng).unwrap_or_else(|| rng.random())),
            Kind::String => match (&p.prefix, number(rng)) {
                (Some(prefix), Some(n)) => Value::String(format!("{prefix}{}", n.floor() as i64)),
                (prefix, _) => {
                    let n = length(rng, (5, 15));
                    let body = Alphanumeric.sample_string(rng, n);
                    Value::String(format!("{}{body}", prefix.as_deref().unwrap_or("")))
                }
            },
            Kind::Bytes => {
                let n = length(rng, (1, 16));
                Value::Bytes((0..n).map(|_| rng.random()).collect())
            }
            Kind::Record(fields) => Value::Struct(Struct {
                schema: self.schema.clone(),
                values: fields.iter().map(|f| f.generate(seq, rng)).collect(),
            }),
            Kind::Array(items) => {
                let n = length(rng, (0, 5));
                Value::Array((0..n).map(|_| items.generate(seq, rng)).collect())
            }
            Kind::Map(values) => {
                let n = length(rng, (0, 5));
                Value::Map(
                    (0..n)
                        .map(|_| (Value::String(Alphanumeric.sample_string(rng, 8)), values.generate(seq, rng)))
                        .collect(),
                )
            }
            Kind::Optional(inner) => {
                if rng.random_bool(0.1) {
                    Value::Null
                } else {
                    inner.generate(seq, rng)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn quickstarts_generate_values_matching_their_schema() {
        for name in QUICKSTARTS {
            let shape = Shape::quickstart(name, None).unwrap();
            let mut rng = StdRng::seed_from_u64(7);
            let g = shape.generate(3, &mut rng);
            let Value::Struct(s) = &g.value else { panic!("{name}: not a struct") };
            assert_eq!(s.values.len(), shape.value_schema.fields.len(), "{name}");
            assert!(!g.key.is_null(), "{name}: no key");
        }
    }

    #[test]
    fn orders_carry_the_sequence_number_as_orderid_and_key() {
        let shape = Shape::quickstart("orders", None).unwrap();
        let g = shape.generate(42, &mut StdRng::seed_from_u64(1));
        let Value::Struct(s) = &g.value else { panic!("not a struct") };
        assert_eq!(s.get("orderid"), Some(&Value::Int64(42)));
        assert_eq!(g.key, Value::Int64(42));
        assert!(matches!(s.get("itemid"), Some(Value::String(i)) if i.starts_with("Item_")));
    }

    #[test]
    fn custom_schema_with_unions_enums_arrays_and_properties() {
        let json = r#"{"type": "record", "name": "t", "fields": [
            {"name": "id", "type": "long", "arg.properties": {"iteration": {"start": 100, "step": 2}}},
            {"name": "color", "type": {"type": "enum", "name": "c", "symbols": ["RED", "BLUE"]}},
            {"name": "note", "type": ["null", "string"]},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "n", "type": {"type": "int", "arg.properties": {"range": {"min": 5, "max": 6}}}}
        ]}"#;
        let shape = Shape::parse(json, Some("id")).unwrap();
        assert!(shape.value_schema.field("note").unwrap().schema.optional);
        assert_eq!(shape.value_schema.field("at").unwrap().schema.name.as_deref(), Some(TIMESTAMP));
        let g = shape.generate(5, &mut StdRng::seed_from_u64(9));
        let Value::Struct(s) = &g.value else { panic!("not a struct") };
        assert_eq!(g.key, Value::Int64(110));
        assert_eq!(s.get("n"), Some(&Value::Int32(5)));
        assert!(matches!(s.get("color"), Some(Value::String(c)) if c == "RED" || c == "BLUE"));
    }

    #[test]
    fn bad_schemas_say_where() {
        let err =
            Shape::parse(r#"{"type": "record", "name": "t", "fields": [{"name": "x", "type": "decimalish"}]}"#, None)
                .unwrap_err();
        assert!(err.1.contains("x:") && err.1.contains("decimalish"), "{}", err.1);
        assert!(Shape::parse("not json", None).is_err());
        assert!(Shape::parse(r#""string""#, None).unwrap_err().1.contains("record"));
    }
}
