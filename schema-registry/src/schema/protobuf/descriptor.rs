//! Protobuf schemas registered as a base64-encoded serialized `google.protobuf.FileDescriptorProto`, which is
//! what confluent-kafka's Python serializer sends (Confluent's registry falls back to that reading when the text
//! is not `.proto` syntax, and stores the `.proto` text). The decoded descriptor is brought to the shape the
//! `.proto` parser gives (standard options as `option` entries rather than set fields; no file name, source
//! info or default `json_name`), so that the same checks and printer apply to it.
//!
//! prost keeps no unknown fields, so custom options (extensions of the `*Options` messages) of a compiled
//! descriptor are lost; Confluent likewise drops the ones its Java runtime does not know.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use prost::Message;
use prost_types::field_options::{CType, JsType};
use prost_types::file_options::OptimizeMode;
use prost_types::method_options::IdempotencyLevel;
use prost_types::uninterpreted_option::NamePart;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, UninterpretedOption,
};

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
    as_written(&mut file);
    drop_default_json_names(&mut file);
    Ok(file)
}

/// Rewrites what a compiler fills in into what the parser gives for the same text.
fn as_written(file: &mut FileDescriptorProto) {
    if let Some(o) = &mut file.options {
        let mut set = Options::default();
        set.string("java_package", o.java_package.take());
        set.string("java_outer_classname", o.java_outer_classname.take());
        set.enumeration("optimize_for", o.optimize_for.take(), |v| {
            OptimizeMode::try_from(v).ok().map(|m| m.as_str_name())
        });
        set.boolean("java_multiple_files", o.java_multiple_files.take());
        set.string("go_package", o.go_package.take());
        set.boolean("cc_generic_services", o.cc_generic_services.take());
        set.boolean("java_generic_services", o.java_generic_services.take());
        set.boolean("py_generic_services", o.py_generic_services.take());
        #[allow(deprecated)] // Deprecated for code generation, yet still an option a file may set.
        set.boolean("java_generate_equals_and_hash", o.java_generate_equals_and_hash.take());
        set.boolean("deprecated", o.deprecated.take());
        set.boolean("java_string_check_utf8", o.java_string_check_utf8.take());
        set.boolean("cc_enable_arenas", o.cc_enable_arenas.take());
        set.string("objc_class_prefix", o.objc_class_prefix.take());
        set.string("csharp_namespace", o.csharp_namespace.take());
        set.string("swift_prefix", o.swift_prefix.take());
        set.string("php_class_prefix", o.php_class_prefix.take());
        set.string("php_namespace", o.php_namespace.take());
        set.boolean("php_generic_services", o.php_generic_services.take());
        set.string("php_metadata_namespace", o.php_metadata_namespace.take());
        set.string("ruby_package", o.ruby_package.take());
        set.put_before(&mut o.uninterpreted_option);
    }
    file.message_type.iter_mut().for_each(message);
    file.enum_type.iter_mut().for_each(enumeration);
    file.extension.iter_mut().for_each(field);
    for service in &mut file.service {
        if let Some(o) = &mut service.options {
            let mut set = Options::default();
            set.boolean("deprecated", o.deprecated.take());
            set.put_before(&mut o.uninterpreted_option);
        }
        for method in &mut service.method {
            if let Some(o) = &mut method.options {
                let mut set = Options::default();
                set.boolean("deprecated", o.deprecated.take());
                set.enumeration("idempotency_level", o.idempotency_level.take(), |v| {
                    IdempotencyLevel::try_from(v).ok().map(|l| l.as_str_name())
                });
                set.put_before(&mut o.uninterpreted_option);
            }
        }
    }
}

fn message(message: &mut DescriptorProto) {
    if let Some(o) = &mut message.options {
        let mut set = Options::default();
        set.boolean("message_set_wire_format", o.message_set_wire_format.take());
        set.boolean("no_standard_descriptor_accessor", o.no_standard_descriptor_accessor.take());
        set.boolean("deprecated", o.deprecated.take());
        // `map_entry` stays a field: the parser sets it too, on the entry messages it makes for `map<K, V>`.
        set.put_before(&mut o.uninterpreted_option);
    }
    message.field.iter_mut().for_each(field);
    message.extension.iter_mut().for_each(field);
    message.nested_type.iter_mut().for_each(self::message);
    message.enum_type.iter_mut().for_each(enumeration);
}

fn field(field: &mut FieldDescriptorProto) {
    if let Some(o) = &mut field.options {
        let mut set = Options::default();
        set.enumeration("ctype", o.ctype.take(), |v| CType::try_from(v).ok().map(|c| c.as_str_name()));
        set.boolean("packed", o.packed.take());
        set.boolean("deprecated", o.deprecated.take());
        set.boolean("lazy", o.lazy.take());
        set.enumeration("jstype", o.jstype.take(), |v| JsType::try_from(v).ok().map(|j| j.as_str_name()));
        set.boolean("weak", o.weak.take());
        set.put_before(&mut o.uninterpreted_option);
    }
}

fn enumeration(e: &mut EnumDescriptorProto) {
    if let Some(o) = &mut e.options {
        let mut set = Options::default();
        set.boolean("allow_alias", o.allow_alias.take());
        set.boolean("deprecated", o.deprecated.take());
        set.put_before(&mut o.uninterpreted_option);
    }
    for value in &mut e.value {
        if let Some(o) = &mut value.options {
            let mut set = Options::default();
            set.boolean("deprecated", o.deprecated.take());
            set.put_before(&mut o.uninterpreted_option);
        }
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

/// Standard options, in field-number order, as the parser records `option name = value;`.
#[derive(Default)]
struct Options(Vec<UninterpretedOption>);

impl Options {
    fn push(&mut self, name: &str, value: UninterpretedOption) {
        let name = vec![NamePart { name_part: name.to_string(), is_extension: false }];
        self.0.push(UninterpretedOption { name, ..value });
    }

    fn boolean(&mut self, name: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.push(name, UninterpretedOption { identifier_value: Some(value.to_string()), ..Default::default() });
        }
    }

    fn string(&mut self, name: &str, value: Option<String>) {
        if let Some(value) = value {
            self.push(name, UninterpretedOption { string_value: Some(value.into_bytes()), ..Default::default() });
        }
    }

    /// An enum option by its value's name (by number if the name is unknown, which then fails to read back).
    fn enumeration(&mut self, name: &str, value: Option<i32>, name_of: impl Fn(i32) -> Option<&'static str>) {
        if let Some(value) = value {
            let identifier = name_of(value).map_or_else(|| value.to_string(), str::to_string);
            self.push(name, UninterpretedOption { identifier_value: Some(identifier), ..Default::default() });
        }
    }

    /// Puts these options ahead of the descriptor's own uninterpreted ones.
    fn put_before(self, options: &mut Vec<UninterpretedOption>) {
        let rest = std::mem::replace(options, self.0);
        options.extend(rest);
    }
}
