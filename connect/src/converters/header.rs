//! Header converters (`header.converter`, per connector or from the worker): how each record header's Connect
//! value becomes header bytes and back. Kafka's default is `SimpleHeaderConverter`; `StringConverter`,
//! `JsonConverter` and `ByteArrayConverter` work as header converters too (with their settings under
//! `header.converter.`), as in Kafka, where they also implement `HeaderConverter`.
//!
//! SimpleHeaderConverter follows Kafka's `Values.convertToString` / `Values.parseString`, a documented subset:
//! - to bytes: strings as they are; numbers and booleans as their text; bytes as base64; decimals as their
//!   text; dates, times and timestamps as ISO-8601 (`2024-05-01`, `12:30:00.000Z`, `2024-05-01T12:30:00.000Z`,
//!   chosen by the value as Kafka does); arrays as `[1,"a",null]`, maps and structs as `{"k":1}` (strings and
//!   bytes inside them quoted, `\` and `"` escaped); null as a header without a value.
//! - from bytes: no value is null; empty is the empty string; `true`/`false` are booleans; `null` is null;
//!   whole numbers (also `1.0`, `1e3`, as Kafka's `BigDecimal` checks) are the smallest of INT8, INT16, INT32,
//!   INT64 that holds them, larger ones a decimal of scale 0; other numbers FLOAT32 when that holds them
//!   exactly, else FLOAT64 (Kafka takes FLOAT32 even when it rounds); the three ISO-8601 shapes above are
//!   Date, Time and Timestamp; `[..]` and `{..}` whose items all parse (quoted strings, numbers, booleans,
//!   null, nested lists and maps) are arrays and maps, with a schema when the items share a type (numbers
//!   widen); anything else is the string as it is. Unlike Kafka, bytes that are not UTF-8 are kept as BYTES
//!   rather than decoded with replacement characters.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::builder::{build, resolve_class, BYTE_ARRAY_CONVERTER, JSON_CONVERTER, STRING_CONVERTER};
use super::{decimal, Converter};
use crate::connector::Config;
use crate::data::{Schema, SchemaType, Value, DATE, DECIMAL, TIME, TIMESTAMP};
use crate::error::ConnectError;
use crate::record::Header;

/// Kafka's default header converter.
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Every class `header.converter` may name, by full name (the default first).
pub const HEADER_CONVERTER_CLASSES: &[&str] =
    &[SIMPLE_HEADER_CONVERTER, STRING_CONVERTER, JSON_CONVERTER, BYTE_ARRAY_CONVERTER];

const MILLIS_PER_DAY: i64 = 86_400_000;

/// The full header converter class `name` stands for: a full name, the simple class name, or the simple name
/// without `Converter` (or, for SimpleHeaderConverter, without `HeaderConverter`), as Kafka's aliases allow.
pub fn resolve_header_class(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if ["SimpleHeaderConverter", "SimpleHeader", "Simple"].contains(&name) || name == SIMPLE_HEADER_CONVERTER {
        return Some(SIMPLE_HEADER_CONVERTER);
    }
    resolve_class(name).filter(|class| HEADER_CONVERTER_CLASSES.contains(class))
}

/// Converts record headers between Connect values and bytes.
#[derive(Clone)]
pub struct HeaderConverter {
    /// `None`: SimpleHeaderConverter; otherwise the value converter that also converts headers.
    converter: Option<Arc<dyn Converter>>,
}

impl std::fmt::Debug for HeaderConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.converter.is_none() { "HeaderConverter(Simple)" } else { "HeaderConverter(Converter)" })
    }
}

impl HeaderConverter {
    /// Kafka's SimpleHeaderConverter.
    pub fn simple() -> HeaderConverter {
        HeaderConverter { converter: None }
    }

    /// The header converter `config` names under `prefix` (`header.converter`), with its settings below that
    /// prefix; SimpleHeaderConverter when unset.
    pub fn from_config(config: &Config, prefix: &str) -> Result<HeaderConverter, ConnectError> {
        let Some(name) = config.get(prefix).map(|c| c.trim()).filter(|c| !c.is_empty()) else {
            return Ok(HeaderConverter::simple());
        };
        match resolve_header_class(name) {
            Some(SIMPLE_HEADER_CONVERTER) => Ok(HeaderConverter::simple()),
            // `build` resolves the same name to the same class and reads its `<prefix>.*` settings.
            Some(_) => Ok(HeaderConverter { converter: Some(build(config, prefix)?) }),
            None => Err(ConnectError::config(
                prefix,
                format!(
                    "unknown header converter class {name:?}; use one of {} (or their short names, e.g. \
                     SimpleHeaderConverter)",
                    HEADER_CONVERTER_CLASSES.join(", ")
                ),
            )),
        }
    }

    /// The bytes of one header written to `topic`; `None` for a null value (a header without a value).
    // Kafka's name (fromConnectHeader), kept so the mapping to Kafka's converters is obvious.
    #[allow(clippy::wrong_self_convention)]
    pub async fn from_connect(&self, topic: &str, header: &Header) -> Result<Option<Vec<u8>>, ConnectError> {
        match &self.converter {
            None => Ok(simple_text(header.schema.as_deref(), &header.value)?.map(String::into_bytes)),
            Some(c) => c.from_connect(topic, false, header.schema.as_ref(), &header.value).await,
        }
    }

    /// The header `key` read from `topic` with these bytes (`None`: no value).
    pub async fn to_connect(&self, topic: &str, key: &str, bytes: Option<&[u8]>) -> Result<Header, ConnectError> {
        let (schema, value) = match &self.converter {
            None => simple_parse(bytes),
            Some(c) => c.to_connect(topic, false, bytes).await?,
        };
        Ok(Header { key: key.to_string(), schema, value })
    }
}

// ---- SimpleHeaderConverter: to text ----

/// The text SimpleHeaderConverter writes for `value` (`None` for null).
pub(crate) fn simple_text(schema: Option<&Schema>, value: &Value) -> Result<Option<String>, ConnectError> {
    if value.is_null() {
        return Ok(None);
    }
    let mut out = String::new();
    append(&mut out, schema, value, false)?;
    Ok(Some(out))
}

/// Appends `value`'s text; `embedded` (inside a list, map or struct) quotes strings and bytes.
fn append(out: &mut String, schema: Option<&Schema>, value: &Value, embedded: bool) -> Result<(), ConnectError> {
    let logical = schema.and_then(|s| s.name.as_deref());
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(v) => out.push_str(&v.to_string()),
        Value::Int32(days) if logical == Some(DATE) => out.push_str(&temporal_text(i64::from(*days) * MILLIS_PER_DAY)),
        Value::Int32(ms) if logical == Some(TIME) => out.push_str(&temporal_text(i64::from(*ms))),
        Value::Int64(ms) if logical == Some(TIMESTAMP) => out.push_str(&temporal_text(*ms)),
        Value::Int8(v) => out.push_str(&v.to_string()),
        Value::Int16(v) => out.push_str(&v.to_string()),
        Value::Int32(v) => out.push_str(&v.to_string()),
        Value::Int64(v) => out.push_str(&v.to_string()),
        // Debug keeps a fraction (`1.0`) and uses exponents for extremes, so the text reads back as a number.
        Value::Float32(v) => out.push_str(&format!("{v:?}")),
        Value::Float64(v) => out.push_str(&format!("{v:?}")),
        Value::String(s) if embedded => {
            out.push('"');
            out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) if logical == Some(DECIMAL) => {
            let scale = decimal::scale(schema.expect("a logical name comes from a schema"))?;
            out.push_str(&decimal::to_text(b, scale));
        }
        Value::Bytes(b) if embedded => out.push_str(&format!("\"{}\"", BASE64.encode(b))),
        Value::Bytes(b) => out.push_str(&BASE64.encode(b)),
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, item_schema, item, true)?;
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let (key_schema, value_schema) = match schema {
                Some(s) => (s.key_schema.as_deref(), s.value_schema.as_deref()),
                None => (None, None),
            };
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, key_schema, k, true)?;
                out.push(':');
                append(out, value_schema, v, true)?;
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (field, v) in s.schema.fields.iter().zip(&s.values) {
                if field.index > 0 {
                    out.push(',');
                }
                append(out, None, &Value::String(field.name.clone()), true)?;
                out.push(':');
                append(out, Some(&field.schema), v, true)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Kafka's `Values.dateFormatFor`: a time of day below one day, a date on a day boundary, else a timestamp.
fn temporal_text(millis: i64) -> String {
    let (days, ms) = (millis.div_euclid(MILLIS_PER_DAY), millis.rem_euclid(MILLIS_PER_DAY));
    let time = format!("{:02}:{:02}:{:02}.{:03}Z", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}-{m:02}-{d:02}");
    if (0..MILLIS_PER_DAY).contains(&millis) {
        time
    } else if ms == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a date (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---- SimpleHeaderConverter: from bytes ----

type Parsed = (Option<Arc<Schema>>, Value);

fn primitive(t: SchemaType) -> Option<Arc<Schema>> {
    Some(Schema::primitive(t).shared())
}

/// The value SimpleHeaderConverter reads from header bytes, with the schema it infers.
pub(crate) fn simple_parse(bytes: Option<&[u8]>) -> Parsed {
    let Some(bytes) = bytes else { return (None, Value::Null) };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return (primitive(SchemaType::Bytes), Value::Bytes(bytes.to_vec()));
    };
    let string = || (primitive(SchemaType::String), Value::String(text.to_string()));
    let trimmed = text.trim();
    match trimmed {
        "" => return string(),
        "null" => return (None, Value::Null),
        "true" => return (primitive(SchemaType::Boolean), Value::Boolean(true)),
        "false" => return (primitive(SchemaType::Boolean), Value::Boolean(false)),
        _ => {}
    }
    if trimmed.starts_with(['[', '{']) {
        let mut parser = Parser { rest: trimmed };
        if let Some(parsed) = parser.embedded() {
            if parser.rest.trim().is_empty() {
                return parsed;
            }
        }
        return string();
    }
    scalar(trimmed).unwrap_or_else(string)
}

/// A temporal or numeric literal, as Kafka tries them (temporal first: they are stricter).
fn scalar(token: &str) -> Option<Parsed> {
    let first = token.chars().next()?;
    if first.is_ascii_digit() {
        if let Some(parsed) = temporal(token) {
            return Some(parsed);
        }
    }
    if first.is_ascii_digit() || first == '+' || first == '-' {
        return number(token);
    }
    None
}

/// `yyyy-MM-dd`, `HH:mm:ss.SSSZ` or `yyyy-MM-ddTHH:mm:ss.SSSZ`, as Date, Time or Timestamp.
fn temporal(token: &str) -> Option<Parsed> {
    let digits = |s: &str| -> Option<i64> { s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse().ok()).flatten() };
    let date = |s: &str| -> Option<i64> {
        let (y, m, d) = (digits(s.get(0..4)?)?, digits(s.get(5..7)?)?, digits(s.get(8..10)?)?);
        let ok = s.len() == 10 && &s[4..5] == "-" && &s[7..8] == "-" && (1..=12).contains(&m) && (1..=31).contains(&d);
        ok.then(|| days_from_civil(y, m, d))
    };
    let time = |s: &str| -> Option<i64> {
        let (h, mi, sec, ms) =
            (digits(s.get(0..2)?)?, digits(s.get(3..5)?)?, digits(s.get(6..8)?)?, digits(s.get(9..12)?)?);
        let ok = s.len() == 13 && &s[2..3] == ":" && &s[5..6] == ":" && &s[8..9] == "." && &s[12..] == "Z";
        (ok && h < 24 && mi < 60 && sec < 60).then(|| ((h * 60 + mi) * 60 + sec) * 1000 + ms)
    };
    let named = |t: SchemaType, name: &str| Some(Schema::primitive(t).with_name(name).shared());
    match token.len() {
        10 => date(token).and_then(|d| Some((named(SchemaType::Int32, DATE), Value::Int32(i32::try_from(d).ok()?)))),
        13 => time(token).map(|ms| (named(SchemaType::Int32, TIME), Value::Int32(ms as i32))),
        24 if token.get(10..11) == Some("T") => {
            let ms = date(&token[..10])? * MILLIS_PER_DAY + time(&token[11..])?;
            Some((named(SchemaType::Int64, TIMESTAMP), Value::Int64(ms)))
        }
        _ => None,
    }
}

/// A number as Kafka's `BigDecimal` checks it: whole values as the smallest integer type, others as floats.
fn number(token: &str) -> Option<Parsed> {
    let mantissa_end = token.find(['e', 'E']).unwrap_or(token.len());
    let syntax_ok = token[..mantissa_end].trim_start_matches(['+', '-']).bytes().any(|b| b.is_ascii_digit())
        && token.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if !syntax_ok {
        return None;
    }
    if let Ok(unscaled) = decimal::from_text(token, 0) {
        if unscaled.len() <= 8 {
            let fill = if unscaled[0] & 0x80 != 0 { 0xff } else { 0 };
            let mut be = [fill; 8];
            be[8 - unscaled.len()..].copy_from_slice(&unscaled);
            let v = i64::from_be_bytes(be);
            return Some(if let Ok(v) = i8::try_from(v) {
                (primitive(SchemaType::Int8), Value::Int8(v))
            } else if let Ok(v) = i16::try_from(v) {
                (primitive(SchemaType::Int16), Value::Int16(v))
            } else if let Ok(v) = i32::try_from(v) {
                (primitive(SchemaType::Int32), Value::Int32(v))
            } else {
                (primitive(SchemaType::Int64), Value::Int64(v))
            });
        }
        let schema = Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", "0");
        return Some((Some(schema.shared()), Value::Bytes(unscaled)));
    }
    let v: f64 = token.parse().ok().filter(|v: &f64| v.is_finite())?;
    if f64::from(v as f32) == v {
        Some((primitive(SchemaType::Float32), Value::Float32(v as f32)))
    } else {
        Some((primitive(SchemaType::Float64), Value::Float64(v)))
    }
}

/// Reads values embedded in a list or map (`"quoted"`, literals, nested lists and maps); `None` when something
/// does not parse, which makes the whole header a string, as in Kafka.
struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn eat(&mut self, c: char) -> bool {
        let trimmed = self.rest.trim_start();
        match trimmed.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn embedded(&mut self) -> Option<Parsed> {
        self.rest = self.rest.trim_start();
        if self.eat('"') {
            return self.quoted();
        }
        if self.eat('[') {
            return self.array();
        }
        if self.eat('{') {
            return self.map();
        }
        // A bare token runs to the next delimiter; times and timestamps hold colons, so try them first.
        for len in [24, 13] {
            if let Some(candidate) = self.rest.get(..len) {
                let ends = self.rest[len..].trim_start().is_empty()
                    || self.rest[len..].trim_start().starts_with([',', ']', '}']);
                if let (true, Some(parsed)) = (ends, temporal(candidate)) {
                    self.rest = &self.rest[len..];
                    return Some(parsed);
                }
            }
        }
        let end = self.rest.find([',', ':', ']', '}', '[', '{', '"']).unwrap_or(self.rest.len());
        let token = self.rest[..end].trim();
        self.rest = &self.rest[end..];
        match token {
            "null" => Some((None, Value::Null)),
            "true" => Some((primitive(SchemaType::Boolean), Value::Boolean(true))),
            "false" => Some((primitive(SchemaType::Boolean), Value::Boolean(false))),
            _ => scalar(token),
        }
    }

    /// After the opening quote: up to the closing one, with `\x` standing for `x`. Temporal text is read as
    /// its logical type, as Kafka does; anything else stays a string.
    fn quoted(&mut self) -> Option<Parsed> {
        let mut text = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => text.push(chars.next()?.1),
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Some(temporal(&text).unwrap_or((primitive(SchemaType::String), Value::String(text))));
                }
                c => text.push(c),
            }
        }
        None
    }

    fn array(&mut self) -> Option<Parsed> {
        let mut items: Vec<Parsed> = Vec::new();
        if self.eat(']') {
            return Some((None, Value::Array(Vec::new())));
        }
        loop {
            items.push(self.embedded()?);
            if self.eat(']') {
                break;
            }
            if !self.eat(',') {
                return None;
            }
        }
        let schema = common_schema(items.iter().map(|(s, _)| s));
        let values = items.into_iter().map(|(_, v)| widen(v, schema.as_deref())).collect();
        Some((schema.map(|s| Schema::array(s).shared()), Value::Array(values)))
    }

    fn map(&mut self) -> Option<Parsed> {
        let mut entries = Vec::new();
        if self.eat('}') {
            return Some((None, Value::Map(Vec::new())));
        }
        loop {
            let key = self.embedded()?;
            if key.1.is_null() || !self.eat(':') {
                return None;
            }
            entries.push((key, self.embedded()?));
            if self.eat('}') {
                break;
            }
            if !self.eat(',') {
                return None;
            }
        }
        let key_schema = common_schema(entries.iter().map(|((s, _), _)| s));
        let value_schema = common_schema(entries.iter().map(|(_, (s, _))| s));
        let schema = match (&key_schema, &value_schema) {
            (Some(k), Some(v)) => Some(Schema::map(k.clone(), v.clone()).shared()),
            _ => None,
        };
        let values = entries
            .into_iter()
            .map(|((_, k), (_, v))| (widen(k, key_schema.as_deref()), widen(v, value_schema.as_deref())))
            .collect();
        Some((schema, Value::Map(values)))
    }
}

/// Rank of a plain numeric type in Kafka's widening order; `None` for anything else.
fn numeric_rank(schema: &Schema) -> Option<u8> {
    if schema.name.is_some() {
        return None;
    }
    [
        SchemaType::Int8,
        SchemaType::Int16,
        SchemaType::Int32,
        SchemaType::Int64,
        SchemaType::Float32,
        SchemaType::Float64,
    ]
    .iter()
    .position(|t| *t == schema.schema_type)
    .map(|p| p as u8)
}

/// The schema every non-null item fits (equal schemas, or numbers widened to the widest), optional when some
/// item is null; `None` when items disagree or all are null.
fn common_schema<'a>(schemas: impl Iterator<Item = &'a Option<Arc<Schema>>>) -> Option<Arc<Schema>> {
    let mut common: Option<Arc<Schema>> = None;
    let mut any_null = false;
    for schema in schemas {
        let Some(schema) = schema else {
            any_null = true;
            continue;
        };
        common = Some(match common {
            None => schema.clone(),
            Some(c) if *c == **schema => c,
            Some(c) => match (numeric_rank(&c), numeric_rank(schema)) {
                (Some(a), Some(b)) => {
                    if a >= b {
                        c
                    } else {
                        schema.clone()
                    }
                }
                _ => return None,
            },
        });
    }
    let common = common?;
    Some(if any_null { Arc::new((*common).clone().optional()) } else { common })
}

/// `value` as the (wider) numeric type of `schema`; other values unchanged.
fn widen(value: Value, schema: Option<&Schema>) -> Value {
    let Some(target) = schema.filter(|s| numeric_rank(s).is_some()).map(|s| s.schema_type) else { return value };
    let whole = match &value {
        Value::Int8(v) => i64::from(*v),
        Value::Int16(v) => i64::from(*v),
        Value::Int32(v) => i64::from(*v),
        Value::Int64(v) => *v,
        Value::Float32(v) if target == SchemaType::Float64 => return Value::Float64(f64::from(*v)),
        _ => return value,
    };
    // Widening only: every item fits the common type, which is at least as wide as its own.
    match target {
        SchemaType::Int16 => Value::Int16(whole as i16),
        SchemaType::Int32 => Value::Int32(whole as i32),
        SchemaType::Int64 => Value::Int64(whole),
        SchemaType::Float32 => Value::Float32(whole as f32),
        SchemaType::Float64 => Value::Float64(whole as f64),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Struct;

    /// (case, schema, value, text written; `None`: no header value)
    type WriteCase = (&'static str, Option<Arc<Schema>>, Value, Option<&'static str>);
    /// (case, bytes read, schema inferred, value)
    type ReadCase = (&'static str, Option<&'static [u8]>, Option<Arc<Schema>>, Value);

    fn schema(t: SchemaType) -> Arc<Schema> {
        Schema::primitive(t).shared()
    }

    fn header(schema: Option<Arc<Schema>>, value: Value) -> Header {
        Header { key: "h".into(), schema, value }
    }

    #[tokio::test]
    async fn simple_writes_kafkas_text() {
        let decimal = Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", "2").shared();
        let date = Schema::primitive(SchemaType::Int32).with_name(DATE).shared();
        let time = Schema::primitive(SchemaType::Int32).with_name(TIME).shared();
        let timestamp = Schema::primitive(SchemaType::Int64).with_name(TIMESTAMP).shared();
        let person = Schema::structure(vec![
            ("name".into(), schema(SchemaType::String)),
            ("age".into(), schema(SchemaType::Int32)),
        ])
        .shared();
        let mut alice = Struct::new(person.clone());
        alice.put("name", Value::String("Al \"the\" \\ice".into()));
        alice.put("age", Value::Int32(30));
        let cases: Vec<WriteCase> = vec![
            ("null", None, Value::Null, None),
            ("string as is", None, Value::String("a \"b\", c".into()), Some("a \"b\", c")),
            ("boolean", None, Value::Boolean(true), Some("true")),
            ("int8", None, Value::Int8(-5), Some("-5")),
            ("int64", None, Value::Int64(1 << 40), Some("1099511627776")),
            ("float keeps a fraction", None, Value::Float64(2.0), Some("2.0")),
            ("float32", None, Value::Float32(1.5), Some("1.5")),
            ("bytes as base64", None, Value::Bytes(vec![0xff, 0, 1]), Some("/wAB")),
            ("decimal as its text", Some(decimal), Value::Bytes(vec![0x04, 0xd2]), Some("12.34")),
            ("date", Some(date), Value::Int32(19_844), Some("2024-05-01")),
            ("time", Some(time), Value::Int32(45_000_123), Some("12:30:00.123Z")),
            ("timestamp", Some(timestamp.clone()), Value::Int64(1_714_566_600_000), Some("2024-05-01T12:30:00.000Z")),
            (
                "timestamp on a day boundary is a date",
                Some(timestamp),
                Value::Int64(1_714_521_600_000),
                Some("2024-05-01"),
            ),
            (
                "array quotes strings",
                None,
                Value::Array(vec![Value::Int32(1), Value::String("a,b".into()), Value::Null, Value::Bytes(vec![1])]),
                Some("[1,\"a,b\",null,\"AQ==\"]"),
            ),
            (
                "map",
                None,
                Value::Map(vec![(Value::String("k".into()), Value::Array(vec![Value::Boolean(false)]))]),
                Some("{\"k\":[false]}"),
            ),
            (
                "struct escapes",
                Some(person),
                Value::Struct(alice),
                Some("{\"name\":\"Al \\\"the\\\" \\\\ice\",\"age\":30}"),
            ),
        ];
        let converter = HeaderConverter::simple();
        for (case, schema, value, text) in cases {
            let bytes = converter.from_connect("t", &header(schema, value)).await.unwrap();
            assert_eq!(bytes.as_deref(), text.map(str::as_bytes), "{case}");
        }
    }

    #[tokio::test]
    async fn simple_infers_schemas_as_kafka_does() {
        let named = |t: SchemaType, name: &str| Some(Schema::primitive(t).with_name(name).shared());
        let some = |t| Some(schema(t));
        let strings = |items: &[&str]| Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect());
        let cases: Vec<ReadCase> = vec![
            ("no value", None, None, Value::Null),
            ("empty", Some(b""), some(SchemaType::String), Value::String(String::new())),
            ("text", Some(b"hello world"), some(SchemaType::String), Value::String("hello world".into())),
            ("not utf-8", Some(&[0xff, 0xfe]), some(SchemaType::Bytes), Value::Bytes(vec![0xff, 0xfe])),
            ("null literal", Some(b"null"), None, Value::Null),
            ("true", Some(b"true"), some(SchemaType::Boolean), Value::Boolean(true)),
            ("true with more is text", Some(b"true}"), some(SchemaType::String), Value::String("true}".into())),
            ("int8", Some(b"-128"), some(SchemaType::Int8), Value::Int8(-128)),
            ("int16", Some(b"300"), some(SchemaType::Int16), Value::Int16(300)),
            ("int32", Some(b"+70000"), some(SchemaType::Int32), Value::Int32(70_000)),
            ("int64", Some(b"9000000000"), some(SchemaType::Int64), Value::Int64(9_000_000_000)),
            ("whole decimal is an int", Some(b"1.0"), some(SchemaType::Int8), Value::Int8(1)),
            ("exponent", Some(b"1e3"), some(SchemaType::Int16), Value::Int16(1000)),
            ("float32 when exact", Some(b"1.5"), some(SchemaType::Float32), Value::Float32(1.5)),
            ("float64 otherwise", Some(b"0.1"), some(SchemaType::Float64), Value::Float64(0.1)),
            (
                "beyond int64",
                Some(b"99999999999999999999"),
                Some(Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", "0").shared()),
                Value::Bytes(vec![0x05, 0x6b, 0xc7, 0x5e, 0x2d, 0x63, 0x0f, 0xff, 0xff]),
            ),
            ("not a number", Some(b"12abc"), some(SchemaType::String), Value::String("12abc".into())),
            ("version is text", Some(b"1.2.3"), some(SchemaType::String), Value::String("1.2.3".into())),
            ("date", Some(b"2024-05-01"), named(SchemaType::Int32, DATE), Value::Int32(19_844)),
            ("time", Some(b"12:30:00.123Z"), named(SchemaType::Int32, TIME), Value::Int32(45_000_123)),
            (
                "timestamp",
                Some(b"2024-05-01T12:30:00.000Z"),
                named(SchemaType::Int64, TIMESTAMP),
                Value::Int64(1_714_566_600_000),
            ),
            (
                "ints widen in a list",
                Some(b"[1, 300, null]"),
                Some(Schema::array(Schema::primitive(SchemaType::Int16).optional().shared()).shared()),
                Value::Array(vec![Value::Int16(1), Value::Int16(300), Value::Null]),
            ),
            (
                "quoted strings",
                Some(br#"["a,b", "c\"d"]"#),
                Some(Schema::array(schema(SchemaType::String)).shared()),
                strings(&["a,b", "c\"d"]),
            ),
            (
                "mixed list has no schema",
                Some(b"[1,\"x\",true]"),
                None,
                Value::Array(vec![Value::Int8(1), Value::String("x".into()), Value::Boolean(true)]),
            ),
            ("empty list", Some(b"[]"), None, Value::Array(Vec::new())),
            (
                "map",
                Some(b"{\"a\":1,\"b\":2.5}"),
                Some(Schema::map(schema(SchemaType::String), schema(SchemaType::Float32)).shared()),
                Value::Map(vec![
                    (Value::String("a".into()), Value::Float32(1.0)),
                    (Value::String("b".into()), Value::Float32(2.5)),
                ]),
            ),
            (
                "nested",
                Some(b"{\"k\":[1,2]}"),
                Some(
                    Schema::map(schema(SchemaType::String), Schema::array(schema(SchemaType::Int8)).shared()).shared(),
                ),
                Value::Map(vec![(Value::String("k".into()), Value::Array(vec![Value::Int8(1), Value::Int8(2)]))]),
            ),
            ("unquoted words are text", Some(b"[a,b]"), some(SchemaType::String), Value::String("[a,b]".into())),
            ("unterminated is text", Some(b"[1,2"), some(SchemaType::String), Value::String("[1,2".into())),
            ("trailing text is text", Some(b"[1] x"), some(SchemaType::String), Value::String("[1] x".into())),
            ("null map key is text", Some(b"{null:1}"), some(SchemaType::String), Value::String("{null:1}".into())),
        ];
        let converter = HeaderConverter::simple();
        for (case, bytes, schema, value) in cases {
            let got = converter.to_connect("t", "h", bytes).await.unwrap();
            assert_eq!((got.schema, got.value), (schema, value), "{case}");
        }
    }

    #[tokio::test]
    async fn simple_round_trips() {
        let converter = HeaderConverter::simple();
        for value in [
            Value::Int32(123_456),
            Value::Boolean(false),
            Value::String("plain text".into()),
            Value::Array(vec![Value::String("x".into()), Value::String("y \"z\"".into())]),
            Value::Map(vec![(Value::String("n".into()), Value::Int8(7))]),
        ] {
            let bytes = converter.from_connect("t", &header(None, value.clone())).await.unwrap();
            let back = converter.to_connect("t", "h", bytes.as_deref()).await.unwrap();
            assert_eq!(back.value, value);
        }
    }

    #[tokio::test]
    async fn configured_classes_and_aliases() {
        let config =
            |pairs: &[(&str, &str)]| -> Config { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        for name in [SIMPLE_HEADER_CONVERTER, "SimpleHeaderConverter", "SimpleHeader", "Simple", " "] {
            let c = HeaderConverter::from_config(&config(&[("header.converter", name)]), "header.converter").unwrap();
            assert!(c.converter.is_none(), "{name}");
        }
        let h = header(None, Value::Int32(42));
        // (class, bytes written for Int32 42, value read back from b"42")
        let cases: &[(&str, &[u8], Value)] = &[
            (STRING_CONVERTER, b"42", Value::String("42".into())),
            ("StringConverter", b"42", Value::String("42".into())),
            ("ByteArray", b"42", Value::Bytes(b"42".to_vec())),
            (JSON_CONVERTER, b"42", Value::Int64(42)),
        ];
        for (class, written, read) in cases {
            let settings = config(&[("header.converter", class), ("header.converter.schemas.enable", "false")]);
            let c = HeaderConverter::from_config(&settings, "header.converter").unwrap();
            let bytes = if *class == "ByteArray" {
                c.from_connect("t", &header(None, Value::Bytes(b"42".to_vec()))).await.unwrap()
            } else {
                c.from_connect("t", &h).await.unwrap()
            };
            assert_eq!(bytes.as_deref(), Some(*written), "{class}");
            assert_eq!(c.to_connect("t", "h", Some(b"42")).await.unwrap().value, *read, "{class}");
        }
        for bad in ["io.confluent.connect.avro.AvroConverter", "com.example.Nope"] {
            let err = HeaderConverter::from_config(&config(&[("header.converter", bad)]), "header.converter")
                .expect_err(bad)
                .to_string();
            assert!(err.contains("header.converter") && err.contains(SIMPLE_HEADER_CONVERTER), "{err}");
        }
    }
}
