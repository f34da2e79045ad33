//! How the file sink writes a value as one line: strings as they are, everything else as JSON (structs and
//! string-keyed maps as objects, bytes as base64), so each line can be parsed back.

use base64::Engine;
use serde_json::{Map, Number, Value as Json};

use crate::data::Value;

/// `value` as one line of text (without the newline).
pub(crate) fn line(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => to_json(other).to_string(),
    }
}

/// `value` as JSON.
pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(n) => Json::from(*n),
        Value::Int16(n) => Json::from(*n),
        Value::Int32(n) => Json::from(*n),
        Value::Int64(n) => Json::from(*n),
        // NaN and infinities have no JSON form; their names keep the line readable.
        Value::Float32(f) => {
            Number::from_f64(f64::from(*f)).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
        }
        Value::Float64(f) => Number::from_f64(*f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string())),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| k.as_str().is_some()) {
                let obj: Map<String, Json> =
                    entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), to_json(v))).collect();
                Json::Object(obj)
            } else {
                Json::Array(entries.iter().map(|(k, v)| Json::Array(vec![to_json(k), to_json(v)])).collect())
            }
        }
        Value::Struct(s) => {
            let obj: Map<String, Json> =
                s.schema.fields.iter().zip(&s.values).map(|(f, v)| (f.name.clone(), to_json(v))).collect();
            Json::Object(obj)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{Schema, SchemaType, Struct};

    use super::*;

    #[test]
    fn strings_stay_as_they_are_and_the_rest_is_json() {
        assert_eq!(line(&Value::String("a b".into())), "a b");
        assert_eq!(line(&Value::Null), "null");
        let schema = Schema::structure(vec![
            ("id".into(), Schema::primitive(SchemaType::Int64).shared()),
            ("raw".into(), Schema::primitive(SchemaType::Bytes).shared()),
        ])
        .shared();
        let s = Struct { schema, values: vec![Value::Int64(7), Value::Bytes(vec![1, 2])] };
        assert_eq!(line(&Value::Struct(s)), r#"{"id":7,"raw":"AQI="}"#);
        let m = Value::Map(vec![(Value::String("k".into()), Value::Float64(f64::NAN))]);
        assert_eq!(line(&m), r#"{"k":"NaN"}"#);
    }
}
