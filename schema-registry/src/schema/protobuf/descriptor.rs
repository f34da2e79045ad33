//! Protobuf schemas as a base64-encoded serialized `google.protobuf.FileDescriptorProto`, both ways.
//!
//! confluent-kafka's Python serializer registers schemas in that form (Confluent's registry falls back to it
//! when the text is not `.proto` syntax, and stores the `.proto` text). [`decode`] brings such a descriptor to
//! the shape the `.proto` parser gives (standard options as `option` entries rather than set fields; no file
//! name, source info or default `json_name`) so the same checks and printer apply to it. The Python
//! deserializer asks for schemas back in that form (`format=serialized`); [`compiled`] gives the descriptor a
//! compiler would write for a parsed schema: type names resolved and fully qualified, standard options set.
//!
//! prost keeps no unknown fields, so custom options (extensions of the `*Options` messages) of a decoded
//! descriptor are lost; Confluent likewise drops the ones its Java runtime does not know.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::field_options::{CType, JsType};
use prost_types::file_options::OptimizeMode;
use prost_types::method_options::IdempotencyLevel;
use prost_types::uninterpreted_option::NamePart;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumOptions, EnumValueOptions, FieldDescriptorProto, FieldOptions,
    FileDescriptorProto, FileOptions, MessageOptions, MethodOptions, ServiceOptions, UninterpretedOption,
};

use super::{join, TypeIndex};

/// Standard base64 with or without the trailing `=`: Java's decoder, which Confluent uses, takes both.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `text` as a base64 serialized `FileDescriptorProto`, in the parser's shape. The error says why the
/// text is not one.
pub(super) fn decode(text: &str) -> Result<FileDescriptorProto, String> {
    let bytes = BASE64.decode(text.trim()).map_err(|e| format!("it is not base64: {e}"))?;
    let mut file = FileDescriptorProto::decode(bytes.as_slice())
        .map_err(|e| format!("its bytes are not a serialized FileDescriptorProto: {e}"))?;
    if file == FileDescriptorProto::default() {
        // Bytes that decode to nothing are far more likely noise than a schema declaring nothing.
        return Err("it decodes to an empty FileDescriptorProto".to_string());
    }
    // The name is the client's file name, which the registry does not keep (references carry import paths).
    file.name = None;
    file.source_code_info = None;
    for_each_options(&mut file, &Direction::ToText);
    drop_default_json_names(&mut file);
    Ok(file)
}

/// `file` (as parsed, and checked against `index`) as a compiler would write it, base64-encoded.
pub(super) fn compiled(file: &FileDescriptorProto, index: &TypeIndex<'_>) -> String {
    let mut file = file.clone();
    for_each_options(&mut file, &Direction::ToFields);
    let package = file.package().to_string();
    for message in &mut file.message_type {
        resolve_message(message, &package, index);
    }
    for field in &mut file.extension {
        resolve_field(field, &package, index);
    }
    for service in &mut file.service {
        for method in &mut service.method {
            for name in [&mut method.input_type, &mut method.output_type] {
                if let Some((full, _)) = name.as_deref().and_then(|n| index.resolve(&package, n)) {
                    *name = Some(format!(".{full}"));
                }
            }
        }
    }
    BASE64.encode(file.encode_to_vec())
}

fn resolve_message(message: &mut DescriptorProto, scope: &str, index: &TypeIndex<'_>) {
    let full = join(scope, message.name());
    for field in message.field.iter_mut().chain(&mut message.extension) {
        resolve_field(field, &full, index);
    }
    for nested in &mut message.nested_type {
        resolve_message(nested, &full, index);
    }
}

/// Fully qualifies a field's type (and extended type) names and says whether a named type is a message or
/// an enum, which only the text around the name told.
fn resolve_field(field: &mut FieldDescriptorProto, scope: &str, index: &TypeIndex<'_>) {
    if let Some((full, entry)) = field.type_name.as_deref().and_then(|n| index.resolve(scope, n)) {
        field.type_name = Some(format!(".{full}"));
        if field.r#type != Some(Type::Group as i32) {
            field.r#type = Some(if entry.is_enum() { Type::Enum } else { Type::Message } as i32);
        }
    }
    if let Some((full, _)) = field.extendee.as_deref().and_then(|n| index.resolve(scope, n)) {
        field.extendee = Some(format!(".{full}"));
    }
}

/// Removes each `json_name` that only repeats the default. Compilers write the default into every field, so
/// without this a compiled schema, and the text Confluent's Java client prints from one, would differ from the
/// same schema written by hand.
pub(super) fn drop_default_json_names(file: &mut FileDescriptorProto) {
    fn fields(fields: &mut [FieldDescriptorProto]) {
        for field in fields {
            if field.json_name.as_deref() == Some(default_json_name(field.name()).as_str()) {
                field.json_name = None;
            }
        }
    }
    fn message(m: &mut DescriptorProto) {
        fields(&mut m.field);
        fields(&mut m.extension);
        m.nested_type.iter_mut().for_each(message);
    }
    fields(&mut file.extension);
    file.message_type.iter_mut().for_each(message);
}

/// The JSON name protoc gives a field: underscores dropped, the letter after each one upper-cased.
pub(super) fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for ch in name.chars() {
        if ch == '_' {
            upper_next = true;
        } else if upper_next {
            out.push(ch.to_ascii_uppercase());
            upper_next = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// Which way standard options move: from set fields to `option` entries, or back.
enum Direction {
    ToText,
    ToFields,
}

/// Moves the standard options of every options message in `file` one way.
fn for_each_options(file: &mut FileDescriptorProto, direction: &Direction) {
    fn message(m: &mut DescriptorProto, d: &Direction) {
        if let Some(o) = &mut m.options {
            d.message(o);
        }
        for field in m.field.iter_mut().chain(&mut m.extension) {
            if let Some(o) = &mut field.options {
                d.field(o);
            }
        }
        m.nested_type.iter_mut().for_each(|n| message(n, d));
        m.enum_type.iter_mut().for_each(|e| enumeration(e, d));
    }
    fn enumeration(e: &mut EnumDescriptorProto, d: &Direction) {
        if let Some(o) = &mut e.options {
            d.enumeration(o);
        }
        for value in &mut e.value {
            if let Some(o) = &mut value.options {
                d.enum_value(o);
            }
        }
    }
    if let Some(o) = &mut file.options {
        direction.file(o);
    }
    file.message_type.iter_mut().for_each(|m| message(m, direction));
    file.enum_type.iter_mut().for_each(|e| enumeration(e, direction));
    for field in &mut file.extension {
        if let Some(o) = &mut field.options {
            direction.field(o);
        }
    }
    for service in &mut file.service {
        if let Some(o) = &mut service.options {
            direction.service(o);
        }
        for method in &mut service.method {
            if let Some(o) = &mut method.options {
                direction.method(o);
            }
        }
    }
}

/// For one options message, the standard options with their names and kinds, in field-number order (the
/// order a compiler writes them), as a method of [`Direction`] that moves them. `map_entry` is not listed:
/// the parser sets that field itself, on the entry messages it makes for `map<K, V>`.
macro_rules! standard_options {
    ($method:ident($ty:ty) { $($name:literal => $field:ident: $kind:ident,)* }) => {
        // `java_generate_equals_and_hash` is deprecated for code generation, yet still an option a file may set.
        #[allow(deprecated)]
        fn $method(&self, o: &mut $ty) {
            match self {
                Direction::ToText => {
                    let mut entries = Vec::new();
                    $( $kind::to_entry(&mut entries, $name, o.$field.take()); )*
                    entries.append(&mut o.uninterpreted_option);
                    o.uninterpreted_option = entries;
                }
                Direction::ToFields => {
                    $( if let Some(value) = take(&mut o.uninterpreted_option, $name, $kind::from_entry) {
                        o.$field = Some(value);
                    } )*
                }
            }
        }
    };
}

impl Direction {
    standard_options!(file(FileOptions) {
        "java_package" => java_package: string,
        "java_outer_classname" => java_outer_classname: string,
        "optimize_for" => optimize_for: optimize_mode,
        "java_multiple_files" => java_multiple_files: boolean,
        "go_package" => go_package: string,
        "cc_generic_services" => cc_generic_services: boolean,
        "java_generic_services" => java_generic_services: boolean,
        "py_generic_services" => py_generic_services: boolean,
        "java_generate_equals_and_hash" => java_generate_equals_and_hash: boolean,
        "deprecated" => deprecated: boolean,
        "java_string_check_utf8" => java_string_check_utf8: boolean,
        "cc_enable_arenas" => cc_enable_arenas: boolean,
        "objc_class_prefix" => objc_class_prefix: string,
        "csharp_namespace" => csharp_namespace: string,
        "swift_prefix" => swift_prefix: string,
        "php_class_prefix" => php_class_prefix: string,
        "php_namespace" => php_namespace: string,
        "php_generic_services" => php_generic_services: boolean,
        "php_metadata_namespace" => php_metadata_namespace: string,
        "ruby_package" => ruby_package: string,
    });
    standard_options!(message(MessageOptions) {
        "message_set_wire_format" => message_set_wire_format: boolean,
        "no_standard_descriptor_accessor" => no_standard_descriptor_accessor: boolean,
        "deprecated" => deprecated: boolean,
    });
    standard_options!(field(FieldOptions) {
        "ctype" => ctype: c_type,
        "packed" => packed: boolean,
        "deprecated" => deprecated: boolean,
        "lazy" => lazy: boolean,
        "jstype" => jstype: js_type,
        "weak" => weak: boolean,
    });
    standard_options!(enumeration(EnumOptions) {
        "allow_alias" => allow_alias: boolean,
        "deprecated" => deprecated: boolean,
    });
    standard_options!(enum_value(EnumValueOptions) {
        "deprecated" => deprecated: boolean,
    });
    standard_options!(service(ServiceOptions) {
        "deprecated" => deprecated: boolean,
    });
    standard_options!(method(MethodOptions) {
        "deprecated" => deprecated: boolean,
        "idempotency_level" => idempotency_level: idempotency,
    });
}

/// Removes and reads the last `option name = ...;` entry (a later one wins, as in protoc) whose value reads
/// as the option's kind; one that does not is left as it is.
fn take<T>(
    entries: &mut Vec<UninterpretedOption>,
    name: &str,
    read: fn(&UninterpretedOption) -> Option<T>,
) -> Option<T> {
    let at =
        entries.iter().rposition(|e| e.name.len() == 1 && !e.name[0].is_extension && e.name[0].name_part == name)?;
    let value = read(&entries[at])?;
    entries.remove(at);
    Some(value)
}

fn entry(name: &str, value: UninterpretedOption) -> UninterpretedOption {
    UninterpretedOption { name: vec![NamePart { name_part: name.to_string(), is_extension: false }], ..value }
}

fn identifier(name: &str, value: String) -> UninterpretedOption {
    entry(name, UninterpretedOption { identifier_value: Some(value), ..Default::default() })
}

mod boolean {
    use super::{identifier, UninterpretedOption};

    pub(super) fn to_entry(entries: &mut Vec<UninterpretedOption>, name: &str, value: Option<bool>) {
        entries.extend(value.map(|v| identifier(name, v.to_string())));
    }

    pub(super) fn from_entry(entry: &UninterpretedOption) -> Option<bool> {
        entry.identifier_value.as_deref()?.parse().ok()
    }
}

mod string {
    use super::{entry, UninterpretedOption};

    pub(super) fn to_entry(entries: &mut Vec<UninterpretedOption>, name: &str, value: Option<String>) {
        let value = value.map(|v| UninterpretedOption { string_value: Some(v.into_bytes()), ..Default::default() });
        entries.extend(value.map(|v| entry(name, v)));
    }

    pub(super) fn from_entry(entry: &UninterpretedOption) -> Option<String> {
        String::from_utf8(entry.string_value.clone()?).ok()
    }
}

/// An enum-valued option, written by its value's name (by number when the name is unknown, which then does
/// not read back as text).
macro_rules! enum_option {
    ($module:ident, $enum:ty) => {
        mod $module {
            use super::{identifier, UninterpretedOption};

            pub(super) fn to_entry(entries: &mut Vec<UninterpretedOption>, name: &str, value: Option<i32>) {
                let text =
                    |v: i32| <$enum>::try_from(v).map_or_else(|_| v.to_string(), |e| e.as_str_name().to_string());
                entries.extend(value.map(|v| identifier(name, text(v))));
            }

            pub(super) fn from_entry(entry: &UninterpretedOption) -> Option<i32> {
                Some(<$enum>::from_str_name(entry.identifier_value.as_deref()?)? as i32)
            }
        }
    };
}

enum_option!(optimize_mode, super::OptimizeMode);
enum_option!(c_type, super::CType);
enum_option!(js_type, super::JsType);
enum_option!(idempotency, super::IdempotencyLevel);
