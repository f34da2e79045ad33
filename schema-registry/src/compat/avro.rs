//! Avro compatibility: whether a reader schema can read what a writer schema wrote, by the "Schema Resolution"
//! rules of the Avro specification, with one message per problem in the shape of Confluent's
//! (`ERROR_TYPE: what is wrong, at which path of the reader schema`).
//!
//! Logical types are resolved by their underlying type, as Java's `SchemaCompatibility` (which Confluent uses)
//! does: a `date` reads an `int`, a `timestamp-millis` reads a `long`.

use std::collections::{HashMap, HashSet};

use apache_avro::schema::{
    Aliases, DecimalSchema, EnumSchema, FixedSchema, InnerDecimalSchema, Name, RecordSchema, Schema, UnionSchema,
    UuidSchema,
};

use crate::schema::avro::AvroSchema;

#[cfg(test)]
#[path = "avro_cases.rs"]
mod cases;

/// Problems that stop `reader` reading data written with `writer`; empty when it can. Messages call the two
/// schemas "reader" and "writer".
pub fn can_read(reader: &AvroSchema, writer: &AvroSchema) -> Vec<String> {
    can_read_named(reader, writer, "reader", "writer")
}

/// [`can_read`] with the words messages use for the two schemas: Confluent says "new" and "old" (the new schema
/// is the reader under BACKWARD, the writer under FORWARD).
pub fn can_read_named(reader: &AvroSchema, writer: &AvroSchema, reader_role: &str, writer_role: &str) -> Vec<String> {
    let mut checker = Checker { reader, writer, reader_role, writer_role, records: HashMap::new() };
    let mut messages = checker.check(reader.schema(), writer.schema(), "");
    // A record pair used in several places reports its problems once.
    let mut seen = HashSet::new();
    messages.retain(|message| seen.insert(message.clone()));
    messages
}

/// A schema as resolution sees it: references followed, logical types replaced by their underlying type.
enum Shape<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a UnionSchema),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(&'a FixedSchema),
    /// A reference to a type the schema does not define; parsing rejects these, so this is a bug.
    Unresolved(&'a Name),
}

impl Shape<'_> {
    fn describe(&self) -> String {
        match self {
            Shape::Null => "null".into(),
            Shape::Boolean => "boolean".into(),
            Shape::Int => "int".into(),
            Shape::Long => "long".into(),
            Shape::Float => "float".into(),
            Shape::Double => "double".into(),
            Shape::Bytes => "bytes".into(),
            Shape::String => "string".into(),
            Shape::Array(_) => "an array".into(),
            Shape::Map(_) => "a map".into(),
            Shape::Union(_) => "a union".into(),
            Shape::Record(record) => format!("the record '{}'", record.name),
            Shape::Enum(enumeration) => format!("the enum '{}'", enumeration.name),
            Shape::Fixed(fixed) => format!("the fixed '{}'", fixed.name),
            Shape::Unresolved(name) => format!("the undefined type '{name}'"),
        }
    }
}

fn shape<'a>(schema: &'a Schema, owner: &'a AvroSchema) -> Shape<'a> {
    match schema {
        Schema::Ref { name } => match owner.lookup(name) {
            // Definitions are never references themselves, so this recursion is one step deep.
            Some(definition) if !matches!(definition, Schema::Ref { .. }) => shape(definition, owner),
            _ => Shape::Unresolved(name),
        },
        Schema::Null => Shape::Null,
        Schema::Boolean => Shape::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Shape::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Shape::Long,
        Schema::Float => Shape::Float,
        Schema::Double => Shape::Double,
        Schema::Bytes
        | Schema::BigDecimal
        | Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Bytes, .. })
        | Schema::Uuid(UuidSchema::Bytes) => Shape::Bytes,
        Schema::String | Schema::Uuid(UuidSchema::String) => Shape::String,
        Schema::Fixed(fixed)
        | Schema::Duration(fixed)
        | Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Fixed(fixed), .. })
        | Schema::Uuid(UuidSchema::Fixed(fixed)) => Shape::Fixed(fixed),
        Schema::Array(array) => Shape::Array(&array.items),
        Schema::Map(map) => Shape::Map(&map.types),
        Schema::Union(union) => Shape::Union(union),
        Schema::Record(record) => Shape::Record(record),
        Schema::Enum(enumeration) => Shape::Enum(enumeration),
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// The specification's rule for named types: the same unqualified name, or the writer's full name among the
/// reader's aliases.
fn names_match(reader: &Name, reader_aliases: &Aliases, writer: &Name) -> bool {
    let writer_full = writer.fullname(None);
    reader.name() == writer.name() || reader_aliases.iter().flatten().any(|alias| alias.fullname(None) == writer_full)
}

struct Checker<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    reader_role: &'a str,
    writer_role: &'a str,
    /// Record pairs (reader full name, writer full name) checked or being checked, with their problems. A pair
    /// being checked counts as compatible until it is done, which ends recursion through recursive types.
    records: HashMap<(String, String), Vec<String>>,
}

impl Checker<'_> {
    fn name_mismatch(&self, kind: &str, reader: &Name, writer: &Name, path: &str) -> String {
        let (r, w) = (self.reader_role, self.writer_role);
        format!(
            "NAME_MISMATCH: the {kind} at path '{path}/name' is named '{reader}' in the {r} schema and '{writer}' in \
             the {w} schema; keep the name or add '{writer}' to the {r} schema's aliases"
        )
    }

    fn check(&mut self, reader: &Schema, writer: &Schema, path: &str) -> Vec<String> {
        let reader_shape = shape(reader, self.reader);
        let writer_shape = shape(writer, self.writer);
        match (&reader_shape, &writer_shape) {
            (Shape::Unresolved(name), _) | (_, Shape::Unresolved(name)) => vec![format!(
                "TYPE_MISMATCH: the type '{name}' at path '{}' is not defined (a bug: parsing should have refused it)",
                shown(path)
            )],
            (Shape::Union(_), Shape::Union(writer_union)) => {
                let mut problems = Vec::new();
                for (i, branch) in writer_union.variants().iter().enumerate() {
                    if !self.check(reader, branch, path).is_empty() {
                        problems.push(format!(
                            "MISSING_UNION_BRANCH: the union at path '{}' in the {} schema has no branch that can \
                             read {} (branch {i} of the union in the {} schema)",
                            shown(path),
                            self.reader_role,
                            shape(branch, self.writer).describe(),
                            self.writer_role
                        ));
                    }
                }
                problems
            }
            // Every branch the writer may have written must be readable.
            (_, Shape::Union(writer_union)) => {
                let mut problems = Vec::new();
                for branch in writer_union.variants() {
                    problems.extend(self.check(reader, branch, path));
                }
                problems
            }
            (Shape::Union(reader_union), _) => {
                for branch in reader_union.variants() {
                    if self.check(branch, writer, path).is_empty() {
                        return Vec::new();
                    }
                }
                vec![format!(
                    "MISSING_UNION_BRANCH: the union at path '{}' in the {} schema has no branch that can read {} \
                     from the {} schema",
                    shown(path),
                    self.reader_role,
                    writer_shape.describe(),
                    self.writer_role
                )]
            }
            (Shape::Null, Shape::Null)
            | (Shape::Boolean, Shape::Boolean)
            | (Shape::Int, Shape::Int)
            | (Shape::Long, Shape::Int | Shape::Long)
            | (Shape::Float, Shape::Int | Shape::Long | Shape::Float)
            | (Shape::Double, Shape::Int | Shape::Long | Shape::Float | Shape::Double)
            | (Shape::String | Shape::Bytes, Shape::String | Shape::Bytes) => Vec::new(),
            (Shape::Array(reader_items), Shape::Array(writer_items)) => {
                self.check(reader_items, writer_items, &format!("{path}/items"))
            }
            (Shape::Map(reader_values), Shape::Map(writer_values)) => {
                self.check(reader_values, writer_values, &format!("{path}/values"))
            }
            (Shape::Fixed(reader_fixed), Shape::Fixed(writer_fixed)) => {
                let mut problems = Vec::new();
                if !names_match(&reader_fixed.name, &reader_fixed.aliases, &writer_fixed.name) {
                    problems.push(self.name_mismatch("fixed", &reader_fixed.name, &writer_fixed.name, path));
                }
                if reader_fixed.size != writer_fixed.size {
                    problems.push(format!(
                        "FIXED_SIZE_MISMATCH: the fixed '{}' at path '{path}/size' is {} bytes in the {} schema and \
                         {} bytes in the {} schema",
                        reader_fixed.name, reader_fixed.size, self.reader_role, writer_fixed.size, self.writer_role
                    ));
                }
                problems
            }
            (Shape::Enum(reader_enum), Shape::Enum(writer_enum)) => {
                let mut problems = Vec::new();
                if !names_match(&reader_enum.name, &reader_enum.aliases, &writer_enum.name) {
                    problems.push(self.name_mismatch("enum", &reader_enum.name, &writer_enum.name, path));
                }
                let missing: Vec<&str> = writer_enum
                    .symbols
                    .iter()
                    .filter(|symbol| !reader_enum.symbols.contains(symbol))
                    .map(String::as_str)
                    .collect();
                // A reader enum with a default reads unknown symbols as the default.
                if !missing.is_empty() && reader_enum.default.is_none() {
                    problems.push(format!(
                        "MISSING_ENUM_SYMBOLS: the enum '{}' at path '{path}/symbols' in the {} schema lacks the \
                         symbols [{}] of the {} schema and has no default symbol to read them as",
                        reader_enum.name,
                        self.reader_role,
                        missing.join(", "),
                        self.writer_role
                    ));
                }
                problems
            }
            (Shape::Record(reader_record), Shape::Record(writer_record)) => {
                self.record(reader_record, writer_record, path)
            }
            _ => vec![format!(
                "TYPE_MISMATCH: the type at path '{}' is {} in the {} schema, which cannot read {} from the {} schema",
                shown(path),
                reader_shape.describe(),
                self.reader_role,
                writer_shape.describe(),
                self.writer_role
            )],
        }
    }

    fn record(&mut self, reader: &RecordSchema, writer: &RecordSchema, path: &str) -> Vec<String> {
        let key = (reader.name.fullname(None), writer.name.fullname(None));
        if let Some(done) = self.records.get(&key) {
            return done.clone();
        }
        self.records.insert(key.clone(), Vec::new());
        let mut problems = Vec::new();
        if !names_match(&reader.name, &reader.aliases, &writer.name) {
            problems.push(self.name_mismatch("record", &reader.name, &writer.name, path));
        }
        for (i, field) in reader.fields.iter().enumerate() {
            let field_path = format!("{path}/fields/{i}");
            // By the field's name, then by its aliases; writer fields the reader lacks are skipped.
            let writer_field = std::iter::once(&field.name)
                .chain(&field.aliases)
                .find_map(|name| writer.fields.iter().find(|candidate| &candidate.name == name));
            match writer_field {
                Some(writer_field) => {
                    problems.extend(self.check(&field.schema, &writer_field.schema, &format!("{field_path}/type")))
                }
                None if field.default.is_none() => problems.push(format!(
                    "READER_FIELD_MISSING_DEFAULT_VALUE: the field '{}' at path '{field_path}' in the {} schema has \
                     no default value and is missing in the {} schema",
                    field.name, self.reader_role, self.writer_role
                )),
                None => {}
            }
        }
        self.records.insert(key, problems.clone());
        problems
    }
}
