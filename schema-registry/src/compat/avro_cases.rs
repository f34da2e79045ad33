//! The Avro compatibility table: each row is a subject's earlier versions (oldest first), a new schema, a level
//! and the verdict the Avro specification's resolution rules give, run through [`crate::compat::check`].
//!
//! Reminder for reading rows: BACKWARD means the new schema reads data written with the old ones, FORWARD means
//! the old schemas read data written with the new one, FULL means both; transitive levels check every earlier
//! version, the others only the latest.

use std::collections::HashSet;

use crate::compat::check;
use crate::schema::ParsedSchema;
use crate::types::{CompatibilityLevel as L, SchemaType};

#[derive(Debug)]
enum Verdict {
    Compatible,
    /// Incompatible, with a problem whose message contains this text (the Confluent-style error type).
    Incompatible(&'static str),
}
use Verdict::{Compatible, Incompatible};

struct Case {
    name: &'static str,
    level: L,
    previous: Vec<String>,
    new: String,
    verdict: Verdict,
}

fn case<S: AsRef<str>>(name: &'static str, level: L, previous: &[S], new: String, verdict: Verdict) -> Case {
    Case { name, level, previous: previous.iter().map(|s| s.as_ref().to_string()).collect(), new, verdict }
}

/// The record `com.acme.User` with these fields (JSON objects, comma-separated).
fn user(fields: &str) -> String {
    record("User", fields)
}

fn record(name: &str, fields: &str) -> String {
    format!(r#"{{"type":"record","name":"{name}","namespace":"com.acme","fields":[{fields}]}}"#)
}

/// `User` with one field `v` of type `ty` (JSON), after an `id`.
fn user_v(ty: &str) -> String {
    user(&format!(r#"{{"name":"id","type":"int"}},{{"name":"v","type":{ty}}}"#))
}

/// `User` with an enum field `status` of these symbols and maybe a default symbol.
fn user_enum(symbols: &str, default: Option<&str>) -> String {
    let default = default.map(|d| format!(r#","default":"{d}""#)).unwrap_or_default();
    user_v(&format!(r#"{{"type":"enum","name":"Status","symbols":[{symbols}]{default}}}"#))
}

/// `User` with a nested record field `address` of type `Address` with these fields.
fn user_address(fields: &str) -> String {
    user_v(&format!(r#"{{"type":"record","name":"Address","fields":[{fields}]}}"#))
}

/// A linked list whose node value has type `ty`: recursion must not loop.
fn node(ty: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Node","fields":[{{"name":"value","type":"{ty}"}},{{"name":"next","type":["null","Node"],"default":null}}]}}"#
    )
}

const ID: &str = r#"{"name":"id","type":"int"}"#;
const NAME: &str = r#"{"name":"name","type":"string"}"#;
const NAME_DEFAULT: &str = r#"{"name":"name","type":"string","default":""}"#;
const OPT: &str = r#"{"name":"opt","type":["null","string"],"default":null}"#;

fn cases() -> Vec<Case> {
    let v1 = user(ID);
    let v1_name = user(&format!("{ID},{NAME}"));
    let v1_name_default = user(&format!("{ID},{NAME_DEFAULT}"));
    let v1_opt = user(&format!("{ID},{OPT}"));
    let status_ab = user_enum(r#""A","B""#, None);
    let status_abc = user_enum(r#""A","B","C""#, None);
    let status_ab_default = user_enum(r#""A","B""#, Some("A"));
    let status_abc_default = user_enum(r#""A","B","C""#, Some("A"));
    let street = r#"{"name":"street","type":"string"}"#;
    let zip_default = r#"{"name":"zip","type":"string","default":""}"#;
    let zip = r#"{"name":"zip","type":"string"}"#;
    let x = r#"{"name":"x","type":"int"}"#;
    let x_default = r#"{"name":"x","type":"int","default":0}"#;
    vec![
        // Added fields.
        case("added field with default, backward", L::Backward, &[&v1], v1_name_default.clone(), Compatible),
        case(
            "added field without default, backward",
            L::Backward,
            &[&v1],
            v1_name.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        // Old readers skip the new field.
        case("added field without default, forward", L::Forward, &[&v1], v1_name.clone(), Compatible),
        case("added field with default, full", L::Full, &[&v1], v1_name_default.clone(), Compatible),
        case(
            "added field without default, full",
            L::Full,
            &[&v1],
            v1_name.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        case(
            "added field with default, forward transitive",
            L::ForwardTransitive,
            &[v1.clone(), v1_opt.clone()],
            user(&format!("{ID},{OPT},{NAME_DEFAULT}")),
            Compatible,
        ),
        // Removed fields.
        case("removed field without default, backward", L::Backward, &[&v1_name], v1.clone(), Compatible),
        case(
            "removed field without default, forward",
            L::Forward,
            &[&v1_name],
            v1.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        case("removed field with default, forward", L::Forward, &[&v1_name_default], v1.clone(), Compatible),
        case("removed field with default, full", L::Full, &[&v1_name_default], v1.clone(), Compatible),
        case(
            "removed field without default, full",
            L::Full,
            &[&v1_name],
            v1.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        case(
            "fields reordered, full transitive",
            L::FullTransitive,
            &[&v1_name],
            user(&format!("{NAME},{ID}")),
            Compatible,
        ),
        // Type promotions.
        case("int to long, backward", L::Backward, &[user_v(r#""int""#)], user_v(r#""long""#), Compatible),
        case(
            "int to long, forward",
            L::Forward,
            &[user_v(r#""int""#)],
            user_v(r#""long""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case("int to long, full", L::Full, &[user_v(r#""int""#)], user_v(r#""long""#), Incompatible("TYPE_MISMATCH")),
        case("long to float, backward", L::Backward, &[user_v(r#""long""#)], user_v(r#""float""#), Compatible),
        case("float to double, backward", L::Backward, &[user_v(r#""float""#)], user_v(r#""double""#), Compatible),
        case("int to double, backward", L::Backward, &[user_v(r#""int""#)], user_v(r#""double""#), Compatible),
        case("int to float, backward", L::Backward, &[user_v(r#""int""#)], user_v(r#""float""#), Compatible),
        case(
            "int, long, float then double, backward transitive",
            L::BackwardTransitive,
            &[user_v(r#""int""#), user_v(r#""long""#), user_v(r#""float""#)],
            user_v(r#""double""#),
            Compatible,
        ),
        case(
            "double to float, backward",
            L::Backward,
            &[user_v(r#""double""#)],
            user_v(r#""float""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "long to int, backward",
            L::Backward,
            &[user_v(r#""long""#)],
            user_v(r#""int""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "float to long, backward",
            L::Backward,
            &[user_v(r#""float""#)],
            user_v(r#""long""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "int to long, forward transitive",
            L::ForwardTransitive,
            &[user_v(r#""int""#)],
            user_v(r#""long""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "int to string, backward",
            L::Backward,
            &[user_v(r#""int""#)],
            user_v(r#""string""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        // Logical types resolve as their underlying type: a date is an int, which a long reads.
        case(
            "date to long, backward",
            L::Backward,
            &[user_v(r#"{"type":"int","logicalType":"date"}"#)],
            user_v(r#""long""#),
            Compatible,
        ),
        // string <-> bytes.
        case("string to bytes, backward", L::Backward, &[user_v(r#""string""#)], user_v(r#""bytes""#), Compatible),
        case("bytes to string, backward", L::Backward, &[user_v(r#""bytes""#)], user_v(r#""string""#), Compatible),
        case("string to bytes, full", L::Full, &[user_v(r#""string""#)], user_v(r#""bytes""#), Compatible),
        case(
            "top-level string to bytes, backward transitive",
            L::BackwardTransitive,
            &[r#""string""#.to_string()],
            r#"{"type":"bytes"}"#.to_string(),
            Compatible,
        ),
        // Enums.
        case("enum symbol added, backward", L::Backward, &[&status_ab], status_abc.clone(), Compatible),
        case(
            "enum symbol added, forward, no default",
            L::Forward,
            &[&status_ab],
            status_abc.clone(),
            Incompatible("MISSING_ENUM_SYMBOLS"),
        ),
        case(
            "enum symbol added, forward, old enum has a default",
            L::Forward,
            &[&status_ab_default],
            status_abc_default.clone(),
            Compatible,
        ),
        case(
            "enum symbol added, full, both with default",
            L::Full,
            &[&status_ab_default],
            status_abc_default.clone(),
            Compatible,
        ),
        case(
            "enum symbol removed, backward, no default",
            L::Backward,
            &[&status_abc],
            status_ab.clone(),
            Incompatible("MISSING_ENUM_SYMBOLS"),
        ),
        case(
            "enum symbol removed, backward, new enum has a default",
            L::Backward,
            &[&status_abc],
            status_ab_default.clone(),
            Compatible,
        ),
        case("enum symbol removed, forward", L::Forward, &[&status_abc], status_ab.clone(), Compatible),
        case(
            "enum renamed without alias, backward",
            L::Backward,
            &[&status_ab],
            user_v(r#"{"type":"enum","name":"State","symbols":["A","B"]}"#),
            Incompatible("NAME_MISMATCH"),
        ),
        case(
            "string to enum, full",
            L::Full,
            &[user_v(r#""string""#)],
            status_ab.clone(),
            Incompatible("TYPE_MISMATCH"),
        ),
        // Unions.
        case(
            "union widened, backward",
            L::Backward,
            &[user_v(r#"["null","string"]"#)],
            user_v(r#"["null","string","int"]"#),
            Compatible,
        ),
        case(
            "union widened, forward",
            L::Forward,
            &[user_v(r#"["null","string"]"#)],
            user_v(r#"["null","string","int"]"#),
            Incompatible("MISSING_UNION_BRANCH"),
        ),
        case(
            "union narrowed, backward",
            L::Backward,
            &[user_v(r#"["null","string","int"]"#)],
            user_v(r#"["null","string"]"#),
            Incompatible("MISSING_UNION_BRANCH"),
        ),
        case(
            "union narrowed, forward",
            L::Forward,
            &[user_v(r#"["null","string","int"]"#)],
            user_v(r#"["null","string"]"#),
            Compatible,
        ),
        case(
            "string made optional, backward",
            L::Backward,
            &[user_v(r#""string""#)],
            user_v(r#"["null","string"]"#),
            Compatible,
        ),
        // The old reader cannot read a null.
        case(
            "string made optional, forward",
            L::Forward,
            &[user_v(r#""string""#)],
            user_v(r#"["null","string"]"#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "optional made required, backward",
            L::Backward,
            &[user_v(r#"["null","string"]"#)],
            user_v(r#""string""#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "union branch promoted int to long, backward",
            L::Backward,
            &[user_v(r#"["null","int"]"#)],
            user_v(r#"["null","long"]"#),
            Compatible,
        ),
        case(
            "union of records loses one, backward",
            L::Backward,
            &[user_v(&format!("[{},{}]", record("A", ID), record("B", ID)))],
            user_v(&format!("[{}]", record("A", ID))),
            Incompatible("MISSING_UNION_BRANCH"),
        ),
        case(
            "record made optional and given a defaulted field, full",
            L::Full,
            &[user_v(&record("A", ID))],
            user_v(&format!(r#"["null",{}],"default":null"#, record("A", &format!("{ID},{NAME_DEFAULT}")))),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "record made optional and given a defaulted field, backward",
            L::Backward,
            &[user_v(&record("A", ID))],
            user_v(&format!(r#"["null",{}],"default":null"#, record("A", &format!("{ID},{NAME_DEFAULT}")))),
            Compatible,
        ),
        case("optional field added, full", L::Full, &[&v1], v1_opt.clone(), Compatible),
        case(
            "optional field removed, full transitive",
            L::FullTransitive,
            &[v1.clone(), v1_opt.clone()],
            v1.clone(),
            Compatible,
        ),
        // Nested records.
        case(
            "nested field added with default, backward",
            L::Backward,
            &[user_address(street)],
            user_address(&format!("{street},{zip_default}")),
            Compatible,
        ),
        case(
            "nested field added without default, backward",
            L::Backward,
            &[user_address(street)],
            user_address(&format!("{street},{zip}")),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        case(
            "nested field type int to string, forward",
            L::Forward,
            &[user_address(r#"{"name":"number","type":"int"}"#)],
            user_address(r#"{"name":"number","type":"string"}"#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "array of records gains a defaulted field, full",
            L::Full,
            &[user_v(&format!(r#"{{"type":"array","items":{{"type":"record","name":"Item","fields":[{street}]}}}}"#))],
            user_v(&format!(
                r#"{{"type":"array","items":{{"type":"record","name":"Item","fields":[{street},{zip_default}]}}}}"#
            )),
            Compatible,
        ),
        // Aliases.
        case(
            "field renamed with alias, backward",
            L::Backward,
            &[&v1_name],
            user(&format!(r#"{ID},{{"name":"full_name","type":"string","aliases":["name"]}}"#)),
            Compatible,
        ),
        case(
            "field renamed without alias, backward",
            L::Backward,
            &[&v1_name],
            user(&format!(r#"{ID},{{"name":"full_name","type":"string"}}"#)),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        // Aliases work in the reader only: the old reader does not know `full_name` is its `name`.
        case(
            "field renamed with alias, forward",
            L::Forward,
            &[&v1_name],
            user(&format!(r#"{ID},{{"name":"full_name","type":"string","aliases":["name"]}}"#)),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        case(
            "record renamed without alias, backward",
            L::Backward,
            &[&v1],
            record("Customer", ID),
            Incompatible("NAME_MISMATCH"),
        ),
        case(
            "record renamed with alias, backward",
            L::Backward,
            &[&v1],
            format!(
                r#"{{"type":"record","name":"Customer","namespace":"com.acme","aliases":["User"],"fields":[{ID}]}}"#
            ),
            Compatible,
        ),
        case(
            "record renamed with alias, forward",
            L::Forward,
            &[&v1],
            format!(
                r#"{{"type":"record","name":"Customer","namespace":"com.acme","aliases":["User"],"fields":[{ID}]}}"#
            ),
            Incompatible("NAME_MISMATCH"),
        ),
        // The specification matches records by unqualified name (Java's SchemaCompatibility does too).
        case(
            "record namespace changed, backward",
            L::Backward,
            &[&v1],
            format!(r#"{{"type":"record","name":"User","namespace":"com.example","fields":[{ID}]}}"#),
            Compatible,
        ),
        // Arrays and maps.
        case(
            "array items int to long, backward",
            L::Backward,
            &[user_v(r#"{"type":"array","items":"int"}"#)],
            user_v(r#"{"type":"array","items":"long"}"#),
            Compatible,
        ),
        case(
            "array items long to int, backward",
            L::Backward,
            &[user_v(r#"{"type":"array","items":"long"}"#)],
            user_v(r#"{"type":"array","items":"int"}"#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "map values string to int, backward",
            L::Backward,
            &[user_v(r#"{"type":"map","values":"string"}"#)],
            user_v(r#"{"type":"map","values":"int"}"#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "map values int to double, full",
            L::Full,
            &[user_v(r#"{"type":"map","values":"int"}"#)],
            user_v(r#"{"type":"map","values":"double"}"#),
            Incompatible("TYPE_MISMATCH"),
        ),
        case(
            "array to map, backward",
            L::Backward,
            &[user_v(r#"{"type":"array","items":"string"}"#)],
            user_v(r#"{"type":"map","values":"string"}"#),
            Incompatible("TYPE_MISMATCH"),
        ),
        // Fixed.
        case(
            "fixed size changed, backward",
            L::Backward,
            &[user_v(r#"{"type":"fixed","name":"Hash","size":16}"#)],
            user_v(r#"{"type":"fixed","name":"Hash","size":32}"#),
            Incompatible("FIXED_SIZE_MISMATCH"),
        ),
        case(
            "fixed gains a doc, full transitive",
            L::FullTransitive,
            &[user_v(r#"{"type":"fixed","name":"Hash","size":16}"#)],
            user_v(r#"{"type":"fixed","name":"Hash","size":16,"doc":"sha-1 would not fit"}"#),
            Compatible,
        ),
        // Recursive types.
        case("recursive list value int to long, backward", L::Backward, &[node("int")], node("long"), Compatible),
        case(
            "recursive list value long to int, backward",
            L::Backward,
            &[node("long")],
            node("int"),
            Incompatible("TYPE_MISMATCH"),
        ),
        // Transitive levels look at every version; the others at the latest only. v2 gave `name` a default that
        // v3 takes away: v3 reads v2's data (which has `name`) but not v1's (which lacks it).
        case(
            "default dropped after v2, backward",
            L::Backward,
            &[v1.clone(), v1_name_default.clone()],
            v1_name.clone(),
            Compatible,
        ),
        case(
            "default dropped after v2, backward transitive",
            L::BackwardTransitive,
            &[v1.clone(), v1_name_default.clone()],
            v1_name.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        // v1 requires `x`, v2 defaults it, v3 drops it: v2 can read v3's data, v1 cannot.
        case(
            "field dropped after v2 defaulted it, forward",
            L::Forward,
            &[user(&format!("{ID},{x}")), user(&format!("{ID},{x_default}"))],
            v1.clone(),
            Compatible,
        ),
        case(
            "field dropped after v2 defaulted it, forward transitive",
            L::ForwardTransitive,
            &[user(&format!("{ID},{x}")), user(&format!("{ID},{x_default}"))],
            v1.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        case(
            "field dropped after v2 defaulted it, full",
            L::Full,
            &[user(&format!("{ID},{x}")), user(&format!("{ID},{x_default}"))],
            v1.clone(),
            Compatible,
        ),
        case(
            "field dropped after v2 defaulted it, full transitive",
            L::FullTransitive,
            &[user(&format!("{ID},{x}")), user(&format!("{ID},{x_default}"))],
            v1.clone(),
            Incompatible("READER_FIELD_MISSING_DEFAULT_VALUE"),
        ),
        // NONE accepts anything.
        case("type changed, none", L::None, &[user_v(r#""int""#)], user_v(r#""string""#), Compatible),
        case(
            "record replaced by a string, none",
            L::None,
            &[v1.clone(), v1_name.clone()],
            r#""string""#.to_string(),
            Compatible,
        ),
        case(
            "record replaced by a string, backward",
            L::Backward,
            &[&v1],
            r#""string""#.to_string(),
            Incompatible("TYPE_MISMATCH"),
        ),
        case("first version, full transitive", L::FullTransitive, &[] as &[&str], v1_name.clone(), Compatible),
    ]
}

#[test]
fn every_case_gets_its_verdict() {
    let cases = cases();
    assert!(cases.len() >= 45, "the table should have at least 45 rows, has {}", cases.len());
    let levels: HashSet<L> = cases.iter().map(|c| c.level).collect();
    assert_eq!(levels.len(), 7, "every compatibility level should appear in the table");
    let names: HashSet<&str> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len(), "row names should be unique");

    let parse = |name: &str, text: &str| {
        ParsedSchema::parse(SchemaType::Avro, text, &[])
            .unwrap_or_else(|e| panic!("row '{name}': schema does not parse: {e}\n{text}"))
    };
    let mut wrong = Vec::new();
    for case in &cases {
        let previous: Vec<ParsedSchema> = case.previous.iter().map(|text| parse(case.name, text)).collect();
        let new = parse(case.name, &case.new);
        let messages = check(case.level, &new, &previous);
        let right = match case.verdict {
            Compatible => messages.is_empty(),
            Incompatible(kind) => messages.iter().any(|m| m.contains(kind)),
        };
        if !right {
            wrong.push(format!("{} ({}): expected {:?}, got {messages:?}", case.name, case.level, case.verdict));
        }
    }
    assert!(wrong.is_empty(), "{} of {} rows wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

#[test]
fn messages_name_the_problem_the_path_and_the_schemas() {
    use crate::compat::avro::can_read_named;
    use crate::schema::avro::AvroSchema;
    let old = AvroSchema::parse(&user(ID), &[]).unwrap();
    let new = AvroSchema::parse(&user(&format!("{ID},{NAME}")), &[]).unwrap();
    assert_eq!(
        can_read_named(&new, &old, "new", "old"),
        ["READER_FIELD_MISSING_DEFAULT_VALUE: the field 'name' at path '/fields/1' in the new schema has no default \
          value and is missing in the old schema"]
    );
    let old = AvroSchema::parse(&user_v(r#"{"type":"array","items":"long"}"#), &[]).unwrap();
    let new = AvroSchema::parse(&user_v(r#"{"type":"array","items":"int"}"#), &[]).unwrap();
    assert_eq!(
        crate::compat::avro::can_read(&new, &old),
        ["TYPE_MISMATCH: the type at path '/fields/1/type/items' is int in the reader schema, which cannot read long \
          from the writer schema"]
    );
}

#[test]
fn referenced_types_are_compared_through_their_references() {
    use crate::compat::avro::can_read;
    use crate::schema::avro::AvroSchema;
    use crate::schema::ResolvedReference;
    let address =
        |fields: &str| ResolvedReference { name: "com.acme.Address".into(), schema: record("Address", fields) };
    let customer = user(r#"{"name":"home","type":"com.acme.Address"}"#);
    let street = r#"{"name":"street","type":"string"}"#;
    let v1 = AvroSchema::parse(&customer, &[address(street)]).unwrap();
    let with_default = AvroSchema::parse(&customer, &[address(&format!(r#"{street},{NAME_DEFAULT}"#))]).unwrap();
    let without_default = AvroSchema::parse(&customer, &[address(&format!("{street},{NAME}"))]).unwrap();
    assert_eq!(can_read(&with_default, &v1), Vec::<String>::new());
    let problems = can_read(&without_default, &v1);
    assert!(
        problems.len() == 1
            && problems[0]
                .contains("READER_FIELD_MISSING_DEFAULT_VALUE: the field 'name' at path '/fields/0/type/fields/1'"),
        "{problems:?}"
    );
    assert_eq!(v1.canonical(), with_default.canonical(), "the reference is not inlined, so the text is the same");
}
