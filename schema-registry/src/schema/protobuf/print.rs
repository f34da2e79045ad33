//! The `.proto` text of a parsed file, in one layout: two-space indents, one declaration per line, a blank
//! line between top-level declarations, `map<K, V>` and `group` written back in their short forms, and
//! options in brackets on one line. Parsing the text again gives the same text.
//!
//! Canonical text keeps the declaration order of everything. Normalized text (Confluent's `normalize`) also
//! sorts what carries no meaning: imports, options, fields and enum values by number, reserved ranges, and
//! writes every type name fully qualified with a leading dot. Messages and enums keep their order in both,
//! because the Confluent wire format names a message by its index in the file.

use std::collections::HashSet;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
    UninterpretedOption,
};

use super::{is_map_entry, join, TypeIndex};

/// The text of `file`; `normalize` selects the normalized form.
pub(super) fn print(file: &FileDescriptorProto, index: &TypeIndex<'_>, normalize: bool) -> String {
    let mut printer = Printer { out: String::new(), depth: 0, index, normalize, proto3: file.syntax() == "proto3" };
    printer.file(file);
    printer.out
}

struct Printer<'i, 'a> {
    out: String,
    depth: usize,
    index: &'i TypeIndex<'a>,
    normalize: bool,
    proto3: bool,
}

/// A line of a message body: a plain field, or a oneof with its fields.
enum Item<'m> {
    Field(&'m FieldDescriptorProto),
    Oneof(usize, Vec<&'m FieldDescriptorProto>),
}

impl Item<'_> {
    fn number(&self) -> i32 {
        match self {
            Item::Field(f) => f.number(),
            Item::Oneof(_, fields) => fields.iter().map(|f| f.number()).min().unwrap_or(i32::MAX),
        }
    }
}

impl Printer<'_, '_> {
    fn line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn open(&mut self, header: &str) {
        self.line(&format!("{header} {{"));
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }

    /// A type name as written, or fully qualified when normalizing (and it resolves).
    fn type_ref(&self, scope: &str, name: &str) -> String {
        if self.normalize {
            if let Some((full, _)) = self.index.resolve(scope, name) {
                return format!(".{full}");
            }
        }
        name.to_string()
    }

    /// Options as `name = value` texts, sorted when normalizing.
    fn options(&self, options: &[UninterpretedOption]) -> Vec<String> {
        let mut texts: Vec<String> = options.iter().map(option_text).collect();
        if self.normalize {
            texts.sort();
        }
        texts
    }

    fn option_lines(&mut self, options: &[UninterpretedOption]) {
        for text in self.options(options) {
            self.line(&format!("option {text};"));
        }
    }

    fn file(&mut self, file: &FileDescriptorProto) {
        self.line(&format!("syntax = {};", quote(file.syntax.as_deref().unwrap_or("proto2"))));
        if let Some(package) = &file.package {
            self.line(&format!("package {package};"));
        }
        let mut imports: Vec<(&str, &str)> = file
            .dependency
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let i = i32::try_from(i).unwrap_or(i32::MAX);
                let kind = if file.public_dependency.contains(&i) {
                    "public "
                } else if file.weak_dependency.contains(&i) {
                    "weak "
                } else {
                    ""
                };
                (kind, path.as_str())
            })
            .collect();
        if self.normalize {
            imports.sort_unstable();
            imports.dedup();
        }
        if !imports.is_empty() {
            self.out.push('\n');
            for (kind, path) in imports {
                self.line(&format!("import {kind}{};", quote(path)));
            }
        }
        let options = file.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
        if !options.is_empty() {
            self.out.push('\n');
            self.option_lines(options);
        }
        let package = file.package();
        let groups = group_names(&file.extension);
        for message in file.message_type.iter().filter(|m| !groups.contains(m.name())) {
            self.out.push('\n');
            self.message(message, package);
        }
        for e in &file.enum_type {
            self.out.push('\n');
            self.enumeration(e);
        }
        if !file.extension.is_empty() {
            self.out.push('\n');
            self.extensions(&file.extension, package, &file.message_type);
        }
        for service in &file.service {
            self.out.push('\n');
            self.service(service, package);
        }
    }

    fn message(&mut self, message: &DescriptorProto, scope: &str) {
        self.open(&format!("message {}", message.name()));
        self.body(message, &join(scope, message.name()));
        self.close();
    }

    /// The inside of a message (or group) whose full name is `full`.
    fn body(&mut self, message: &DescriptorProto, full: &str) {
        let options = message.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
        self.option_lines(options);
        self.message_reserved(message);
        for item in self.items(message) {
            match item {
                Item::Field(field) => self.field(field, full, false, &message.nested_type),
                Item::Oneof(i, fields) => {
                    let oneof = &message.oneof_decl[i];
                    self.open(&format!("oneof {}", oneof.name()));
                    let options = oneof.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
                    self.option_lines(options);
                    for field in fields {
                        self.field(field, full, true, &message.nested_type);
                    }
                    self.close();
                }
            }
        }
        for range in &message.extension_range {
            let options = range.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
            let bracket = brackets(&self.options(options));
            self.line(&format!("extensions {}{bracket};", range_text(range.start(), range.end() - 1)));
        }
        let groups = group_names(message.field.iter().chain(&message.extension));
        for nested in &message.nested_type {
            if !is_map_entry(nested) && !groups.contains(nested.name()) {
                self.message(nested, full);
            }
        }
        for e in &message.enum_type {
            self.enumeration(e);
        }
        if !message.extension.is_empty() {
            self.extensions(&message.extension, full, &message.nested_type);
        }
    }

    fn message_reserved(&mut self, message: &DescriptorProto) {
        let mut ranges: Vec<(i32, i32)> = message.reserved_range.iter().map(|r| (r.start(), r.end() - 1)).collect();
        let mut names: Vec<&str> = message.reserved_name.iter().map(String::as_str).collect();
        self.reserved(&mut ranges, &mut names);
    }

    /// `reserved` lines; ranges are inclusive.
    fn reserved(&mut self, ranges: &mut [(i32, i32)], names: &mut [&str]) {
        if self.normalize {
            ranges.sort_unstable();
            names.sort_unstable();
        }
        if !ranges.is_empty() {
            let texts: Vec<String> = ranges.iter().map(|&(start, end)| range_text(start, end)).collect();
            self.line(&format!("reserved {};", texts.join(", ")));
        }
        if !names.is_empty() {
            let texts: Vec<String> = names.iter().map(|n| quote(n)).collect();
            self.line(&format!("reserved {};", texts.join(", ")));
        }
    }

    /// The fields and oneofs of a message in declaration order (by number when normalizing); the synthetic
    /// oneofs of proto3 `optional` fields are not oneofs in the text.
    fn items<'m>(&self, message: &'m DescriptorProto) -> Vec<Item<'m>> {
        let real_oneof = |f: &FieldDescriptorProto| {
            f.oneof_index.filter(|_| !f.proto3_optional()).and_then(|i| usize::try_from(i).ok())
        };
        let synthetic: HashSet<usize> = message
            .field
            .iter()
            .filter(|f| f.proto3_optional())
            .filter_map(|f| f.oneof_index.and_then(|i| usize::try_from(i).ok()))
            .collect();
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        for field in &message.field {
            match real_oneof(field) {
                None => items.push(Item::Field(field)),
                Some(i) if seen.insert(i) => {
                    let mut fields: Vec<&FieldDescriptorProto> =
                        message.field.iter().filter(|f| real_oneof(f) == Some(i)).collect();
                    if self.normalize {
                        fields.sort_by_key(|f| f.number());
                    }
                    items.push(Item::Oneof(i, fields));
                }
                Some(_) => {}
            }
        }
        for i in 0..message.oneof_decl.len() {
            if !seen.contains(&i) && !synthetic.contains(&i) {
                items.push(Item::Oneof(i, Vec::new()));
            }
        }
        if self.normalize {
            items.sort_by_key(Item::number);
        }
        items
    }

    /// One field of the message (or extension scope) `scope`; `nested` holds the bodies of groups.
    fn field(&mut self, field: &FieldDescriptorProto, scope: &str, in_oneof: bool, nested: &[DescriptorProto]) {
        let map_entry = field.type_name.as_deref().and_then(|name| {
            let (full, entry) = self.index.resolve(scope, name)?;
            entry.map_entry().map(|m| (full, m))
        });
        let label = match () {
            _ if in_oneof || map_entry.is_some() => "",
            _ if field.proto3_optional() => "optional ",
            _ => match field.label() {
                Label::Repeated => "repeated ",
                Label::Required => "required ",
                Label::Optional if self.proto3 => "",
                Label::Optional => "optional ",
            },
        };
        let mut options = Vec::new();
        if let Some(default) = &field.default_value {
            options.push(format!("default = {}", default_text(field, default)));
        }
        if let Some(json_name) = &field.json_name {
            options.push(format!("json_name = {}", quote(json_name)));
        }
        let uninterpreted = field.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
        options.extend(uninterpreted.iter().map(option_text));
        if self.normalize {
            options.sort();
        }
        let bracket = brackets(&options);
        let (name, number) = (field.name(), field.number());

        if field.r#type == Some(Type::Group as i32) {
            let group_name = field.type_name().rsplit('.').next().unwrap_or_default();
            if let Some(body) = nested.iter().find(|m| m.name() == group_name) {
                self.open(&format!("{label}group {group_name} = {number}{bracket}"));
                self.body(body, &join(scope, group_name));
                self.close();
                return;
            }
        }
        let ty = match (&map_entry, field.type_name.as_deref()) {
            (Some((full, entry)), _) => {
                let part = |f: Option<&FieldDescriptorProto>| match f {
                    Some(f) => match f.type_name.as_deref() {
                        Some(name) => self.type_ref(full, name),
                        None => scalar_name(f.r#type()).to_string(),
                    },
                    None => "bytes".to_string(),
                };
                let key = part(entry.field.iter().find(|f| f.number() == 1));
                let value = part(entry.field.iter().find(|f| f.number() == 2));
                format!("map<{key}, {value}>")
            }
            (None, Some(name)) => self.type_ref(scope, name),
            (None, None) => scalar_name(field.r#type()).to_string(),
        };
        self.line(&format!("{label}{ty} {name} = {number}{bracket};"));
    }

    /// `extend` blocks for the extension fields declared in `scope` (consecutive fields of one extended type
    /// share a block); `nested` holds the bodies of groups.
    fn extensions(&mut self, fields: &[FieldDescriptorProto], scope: &str, nested: &[DescriptorProto]) {
        let mut fields: Vec<(String, &FieldDescriptorProto)> =
            fields.iter().map(|f| (self.type_ref(scope, f.extendee()), f)).collect();
        if self.normalize {
            fields.sort_by(|(a, fa), (b, fb)| (a, fa.number()).cmp(&(b, fb.number())));
        }
        let mut current: Option<String> = None;
        for (extendee, field) in fields {
            if current.as_ref() != Some(&extendee) {
                if current.is_some() {
                    self.close();
                }
                self.open(&format!("extend {extendee}"));
                current = Some(extendee);
            }
            self.field(field, scope, false, nested);
        }
        if current.is_some() {
            self.close();
        }
    }

    fn enumeration(&mut self, e: &EnumDescriptorProto) {
        self.open(&format!("enum {}", e.name()));
        let options = e.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
        self.option_lines(options);
        let mut ranges: Vec<(i32, i32)> = e.reserved_range.iter().map(|r| (r.start(), r.end())).collect();
        let mut names: Vec<&str> = e.reserved_name.iter().map(String::as_str).collect();
        self.reserved(&mut ranges, &mut names);
        let mut values: Vec<_> = e.value.iter().collect();
        if self.normalize {
            values.sort_by(|a, b| (a.number(), a.name()).cmp(&(b.number(), b.name())));
        }
        for value in values {
            let options = value.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
            let bracket = brackets(&self.options(options));
            self.line(&format!("{} = {}{bracket};", value.name(), value.number()));
        }
        self.close();
    }

    fn service(&mut self, service: &ServiceDescriptorProto, package: &str) {
        self.open(&format!("service {}", service.name()));
        let options = service.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
        self.option_lines(options);
        for method in &service.method {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let header = format!(
                "rpc {}({}{}) returns ({}{})",
                method.name(),
                stream(method.client_streaming()),
                self.type_ref(package, method.input_type()),
                stream(method.server_streaming()),
                self.type_ref(package, method.output_type()),
            );
            let options = method.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
            if options.is_empty() {
                self.line(&format!("{header};"));
            } else {
                self.open(&header);
                self.option_lines(options);
                self.close();
            }
        }
        self.close();
    }
}

/// The names of the group types among `fields`, whose bodies are written inside the group field.
fn group_names<'f>(fields: impl IntoIterator<Item = &'f FieldDescriptorProto>) -> HashSet<&'f str> {
    fields
        .into_iter()
        .filter(|f| f.r#type == Some(Type::Group as i32))
        .filter_map(|f| f.type_name.as_deref())
        .map(|name| name.rsplit('.').next().unwrap_or(name))
        .collect()
}

/// ` [a, b]`, or nothing.
fn brackets(options: &[String]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" [{}]", options.join(", "))
    }
}

/// `n` or `n to m` (inclusive).
fn range_text(start: i32, end: i32) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start} to {end}")
    }
}

fn scalar_name(ty: Type) -> &'static str {
    match ty {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        // Named types are written by name; these never reach here.
        Type::Group | Type::Message | Type::Enum => "bytes",
    }
}

/// A field's default as a literal: strings quoted, bytes quoted (the descriptor keeps them escaped),
/// numbers, booleans and enum values as they are.
fn default_text(field: &FieldDescriptorProto, default: &str) -> String {
    match field.r#type {
        Some(t) if t == Type::String as i32 => quote(default),
        Some(t) if t == Type::Bytes as i32 => format!("\"{default}\""),
        _ => default.to_string(),
    }
}

/// `name = value` for an option as the parser keeps it.
fn option_text(option: &UninterpretedOption) -> String {
    let name: Vec<String> = option
        .name
        .iter()
        .map(|part| if part.is_extension { format!("({})", part.name_part) } else { part.name_part.clone() })
        .collect();
    let value = if let Some(identifier) = &option.identifier_value {
        identifier.clone()
    } else if let Some(n) = option.positive_int_value {
        n.to_string()
    } else if let Some(n) = option.negative_int_value {
        n.to_string()
    } else if let Some(x) = option.double_value {
        float_text(x)
    } else if let Some(bytes) = &option.string_value {
        quote_bytes(bytes)
    } else if let Some(aggregate) = &option.aggregate_value {
        format!("{{ {aggregate} }}")
    } else {
        String::new()
    };
    format!("{} = {value}", name.join("."))
}

/// A float literal that reads back as the same number (`1.0`, not `1`, so it stays a float).
fn float_text(x: f64) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{x:?}")
    }
}

fn quote(text: &str) -> String {
    quote_bytes(text.as_bytes())
}

/// A double-quoted string literal: UTF-8 text stays readable, control characters and bytes that are not
/// UTF-8 become octal escapes.
fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let escape_byte = |out: &mut String, b: u8| match b {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x20..=0x7e => out.push(char::from(b)),
        _ => out.push_str(&format!("\\{b:03o}")),
    };
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            for ch in text.chars() {
                if ch.is_ascii() || ch.is_control() {
                    let mut buf = [0u8; 4];
                    for &b in ch.encode_utf8(&mut buf).as_bytes() {
                        escape_byte(&mut out, b);
                    }
                } else {
                    out.push(ch);
                }
            }
        }
        Err(_) => bytes.iter().for_each(|&b| escape_byte(&mut out, b)),
    }
    out.push('"');
    out
}
