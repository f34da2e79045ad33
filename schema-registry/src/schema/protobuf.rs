//! Protobuf schemas: parsing `.proto` text (protox-parse gives a `FileDescriptorProto`), checking that every
//! import is a reference or a well-known file and that every type name resolves, and the canonical and
//! normalized text forms (see [`print`]).
//!
//! References are imports: a reference's name is the path the schema imports it by (`import "other.proto";`).
//! The well-known files Confluent bundles (`google/protobuf/*.proto`, `google/type/*.proto`,
//! `confluent/meta.proto`, `confluent/type/decimal.proto`) may be imported without a reference; their type
//! names are known (see [`known`]), their bodies are not needed.
//!
//! Like Confluent's registry, a schema that is not `.proto` text may be a base64 serialized
//! `FileDescriptorProto` (see [`descriptor`]); it is checked the same way and kept as the `.proto` text printed
//! from it, which is what the registry stores and returns.

mod descriptor;
mod known;
mod print;

use std::collections::{HashMap, HashSet};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto};

use super::{ResolvedReference, SchemaError};

/// The name a schema's own file is parsed under; it appears only in messages.
const MAIN_FILE: &str = "schema.proto";

/// A parsed Protobuf schema with its (parsed) references.
#[derive(Debug, Clone)]
pub struct ProtobufSchema {
    /// Boxed: a descriptor is large, and a `ParsedSchema` holds any of the three schema types.
    file: Box<FileDescriptorProto>,
    /// `(import path, file)` for each reference, in the order given (dependencies first).
    references: Vec<(String, FileDescriptorProto)>,
    canonical: String,
    normalized: String,
}

impl ProtobufSchema {
    /// Parses `text` as a `.proto` file, or else as a base64 serialized `FileDescriptorProto`, whose imports
    /// may name `references`.
    pub fn parse(text: &str, references: &[ResolvedReference]) -> Result<Self, SchemaError> {
        let syntax_error = match parse_file(MAIN_FILE, text) {
            Ok(file) => return Self::build(file, parse_references(references)?),
            Err(e) => e,
        };
        let file = descriptor::decode(text).map_err(|why| {
            SchemaError(format!(
                "Invalid Protobuf schema: it is neither .proto text ({syntax_error}) nor a base64-encoded \
                 FileDescriptorProto ({why})"
            ))
        })?;
        if file.syntax() == "editions" {
            return Err(invalid(
                "the FileDescriptorProto uses Protobuf editions, which the registry does not support; register \
                 a proto2 or proto3 schema"
                    .to_string(),
            ));
        }
        let from_descriptor = Self::build(file, parse_references(references)?)?;
        // Keep what the text gives, so the stored text, read again, is this very schema.
        let file = parse_file(MAIN_FILE, &from_descriptor.canonical).map_err(|e| {
            invalid(format!(
                "the FileDescriptorProto does not describe a valid .proto file: its text form does not parse ({e})"
            ))
        })?;
        Self::build(file, from_descriptor.references)
    }

    /// Checks `file` against its parsed references and prints its text forms.
    fn build(file: FileDescriptorProto, references: Vec<(String, FileDescriptorProto)>) -> Result<Self, SchemaError> {
        let mut file = Box::new(file);
        descriptor::drop_default_json_names(&mut file);
        let mut schema = ProtobufSchema { file, references, canonical: String::new(), normalized: String::new() };
        schema.check_imports()?;
        let index = TypeIndex::of(&schema)?;
        check_file(&schema.file, &index)?;
        let canonical = print::print(&schema.file, &index, false);
        let normalized = print::print(&schema.file, &index, true);
        schema.canonical = canonical;
        schema.normalized = normalized;
        Ok(schema)
    }

    /// The schema as `.proto` text in one layout: stable, re-parseable, and the same for texts that differ
    /// only in whitespace, comments or the spelling of numbers and strings. Declaration order is kept, since
    /// the Confluent wire format names a message by its index in the file.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// The canonical text with harmless orderings fixed, as Confluent's normalization does: imports and
    /// options sorted, fields and enum values by number, reserved ranges sorted, and type names fully
    /// qualified. Message and enum declarations keep their order (message indexes depend on it).
    pub fn normalized(&self) -> String {
        self.normalized.clone()
    }

    /// The schema as a base64 serialized `FileDescriptorProto` with type names resolved and standard options
    /// set, as a compiler writes it: the form Confluent returns for `format=serialized`, which
    /// confluent-kafka's Python deserializer asks for (each reference is served the same way on its own).
    pub fn serialized(&self) -> String {
        descriptor::compiled(&self.file, &self.index())
    }

    /// The schema's own file.
    pub(crate) fn file(&self) -> &FileDescriptorProto {
        &self.file
    }

    /// The referenced files, by import path.
    pub(crate) fn references(&self) -> &[(String, FileDescriptorProto)] {
        &self.references
    }

    /// Every type the schema can name, by full name. Parsing made sure the index builds.
    pub(crate) fn index(&self) -> TypeIndex<'_> {
        TypeIndex::of(self).unwrap_or_else(|_| TypeIndex { types: HashMap::new(), known_packages: Vec::new() })
    }

    /// Each import must be a reference or a well-known file, in the schema and in every reference.
    fn check_imports(&self) -> Result<(), SchemaError> {
        let files =
            std::iter::once((MAIN_FILE, &*self.file)).chain(self.references.iter().map(|(n, f)| (n.as_str(), f)));
        for (name, file) in files {
            for import in &file.dependency {
                if known::file(import).is_none() && !self.references.iter().any(|(n, _)| n == import) {
                    let whose = if name == MAIN_FILE { String::new() } else { format!(" (imported by {name:?})") };
                    return Err(SchemaError(format!(
                        "Invalid Protobuf schema: import {import:?}{whose} is neither a reference nor a well-known \
                         file; register it and list it in \"references\" with the name {import:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Parses each reference once (the same file may be reached through two paths of the reference graph).
/// References are stored `.proto` text; one stored as a base64 descriptor (by another registry) is read as
/// the text printed from it, against the references before it.
fn parse_references(references: &[ResolvedReference]) -> Result<Vec<(String, FileDescriptorProto)>, SchemaError> {
    let mut parsed: Vec<(String, FileDescriptorProto)> = Vec::with_capacity(references.len());
    for (i, reference) in references.iter().enumerate() {
        if parsed.iter().any(|(name, _)| *name == reference.name) {
            continue;
        }
        let mut file = match parse_file(&reference.name, &reference.schema) {
            Ok(file) => file,
            Err(e) if descriptor::decode(&reference.schema).is_err() => {
                return Err(invalid(format!("the reference {:?} does not parse: {e}", reference.name)));
            }
            Err(_) => {
                let schema = ProtobufSchema::parse(&reference.schema, &references[..i])
                    .map_err(|e| SchemaError(format!("{e} (in the reference {:?})", reference.name)))?;
                *schema.file
            }
        };
        descriptor::drop_default_json_names(&mut file);
        parsed.push((reference.name.clone(), file));
    }
    Ok(parsed)
}

/// Parses one `.proto` file, describing a syntax error with its line and column.
fn parse_file(name: &str, text: &str) -> Result<FileDescriptorProto, String> {
    let mut file = protox_parse::parse(name, text).map_err(|e| match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("{e} at line {line}, column {column}")
        }
        None => e.to_string(),
    })?;
    // Spans and comments are not part of the schema.
    file.source_code_info = None;
    Ok(file)
}

/// The 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}

/// What a full type name stands for.
#[derive(Clone, Copy)]
pub(crate) enum TypeDef<'a> {
    Message(&'a DescriptorProto),
    Enum,
    /// A message of a well-known file, known by name only.
    KnownMessage,
    /// An enum of a well-known file, known by name only.
    KnownEnum,
}

/// Where a type is defined.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Source<'a> {
    /// The schema's own file.
    Main,
    /// A reference, by import path.
    Reference(&'a str),
    /// A well-known file.
    Known,
}

#[derive(Clone, Copy)]
pub(crate) struct TypeEntry<'a> {
    pub(crate) def: TypeDef<'a>,
    /// The package of the defining file ("" without one).
    pub(crate) package: &'a str,
    pub(crate) source: Source<'a>,
}

impl<'a> TypeEntry<'a> {
    pub(crate) fn is_enum(&self) -> bool {
        matches!(self.def, TypeDef::Enum | TypeDef::KnownEnum)
    }

    /// A synthetic `map<K, V>` entry message.
    pub(crate) fn map_entry(&self) -> Option<&'a DescriptorProto> {
        match self.def {
            TypeDef::Message(m) if is_map_entry(m) => Some(m),
            _ => None,
        }
    }
}

pub(crate) fn is_map_entry(message: &DescriptorProto) -> bool {
    message.options.as_ref().and_then(|o| o.map_entry).unwrap_or(false)
}

/// Every message and enum a schema can name (its own, its references', and the well-known files'), by full
/// name without the leading dot.
pub(crate) struct TypeIndex<'a> {
    types: HashMap<String, TypeEntry<'a>>,
    /// Packages of the well-known files the schema or its references import; names in them that the index
    /// does not list are taken for messages rather than refused.
    known_packages: Vec<&'static str>,
}

impl<'a> TypeIndex<'a> {
    fn of(schema: &'a ProtobufSchema) -> Result<TypeIndex<'a>, SchemaError> {
        let mut index = TypeIndex { types: HashMap::new(), known_packages: Vec::new() };
        let mut imports: HashSet<&str> = HashSet::new();
        for (name, file) in &schema.references {
            index.add_file(file, Source::Reference(name))?;
            imports.extend(file.dependency.iter().map(String::as_str));
        }
        index.add_file(&schema.file, Source::Main)?;
        imports.extend(schema.file.dependency.iter().map(String::as_str));
        let mut imports: Vec<&str> = imports.into_iter().collect();
        imports.sort_unstable();
        for known in imports.into_iter().filter_map(known::file) {
            if !index.known_packages.contains(&known.package) {
                index.known_packages.push(known.package);
            }
            for (name, is_enum) in known.types {
                let def = if *is_enum { TypeDef::KnownEnum } else { TypeDef::KnownMessage };
                let entry = TypeEntry { def, package: known.package, source: Source::Known };
                index.types.entry(format!("{}.{name}", known.package)).or_insert(entry);
            }
        }
        Ok(index)
    }

    fn add_file(&mut self, file: &'a FileDescriptorProto, source: Source<'a>) -> Result<(), SchemaError> {
        let package = file.package();
        for message in &file.message_type {
            self.add_message(package, package, message, source)?;
        }
        for e in &file.enum_type {
            self.add(join(package, e.name()), TypeEntry { def: TypeDef::Enum, package, source })?;
        }
        Ok(())
    }

    fn add_message(
        &mut self,
        package: &'a str,
        scope: &str,
        message: &'a DescriptorProto,
        source: Source<'a>,
    ) -> Result<(), SchemaError> {
        let full = join(scope, message.name());
        self.add(full.clone(), TypeEntry { def: TypeDef::Message(message), package, source })?;
        for nested in &message.nested_type {
            self.add_message(package, &full, nested, source)?;
        }
        for e in &message.enum_type {
            self.add(join(&full, e.name()), TypeEntry { def: TypeDef::Enum, package, source })?;
        }
        Ok(())
    }

    fn add(&mut self, full: String, entry: TypeEntry<'a>) -> Result<(), SchemaError> {
        if let Some(existing) = self.types.get(&full) {
            let place = |s: Source<'_>| match s {
                Source::Main => "the schema".to_string(),
                Source::Reference(name) => format!("the reference {name:?}"),
                Source::Known => "a well-known file".to_string(),
            };
            return Err(SchemaError(format!(
                "Invalid Protobuf schema: {full:?} is defined twice, in {} and in {}",
                place(existing.source),
                place(entry.source)
            )));
        }
        self.types.insert(full, entry);
        Ok(())
    }

    /// Resolves `name` as written inside `scope` (a package or a message's full name): a leading dot means
    /// a full name; otherwise the innermost enclosing scope that has it wins, as in protoc (and Confluent).
    pub(crate) fn resolve(&self, scope: &str, name: &str) -> Option<(String, TypeEntry<'a>)> {
        if let Some(full) = name.strip_prefix('.') {
            return self.found(full);
        }
        let mut prefix = scope;
        loop {
            let candidate = join(prefix, name);
            if let Some(found) = self.found(&candidate) {
                return Some(found);
            }
            if prefix.is_empty() {
                return None;
            }
            prefix = prefix.rsplit_once('.').map_or("", |(outer, _)| outer);
        }
    }

    fn found(&self, full: &str) -> Option<(String, TypeEntry<'a>)> {
        if let Some(entry) = self.types.get(full) {
            return Some((full.to_string(), *entry));
        }
        // A name in a well-known package the index does not list (say a nested type of descriptor.proto):
        // take it for a message rather than refuse a schema Confluent would accept.
        let package = self.known_packages.iter().find(|p| full.starts_with(&format!("{p}.")))?;
        Some((full.to_string(), TypeEntry { def: TypeDef::KnownMessage, package, source: Source::Known }))
    }
}

/// `scope.name`, or `name` in the root scope.
pub(crate) fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

/// The checks protoc makes that a syntax-only parse does not: every type name resolves (to a message where
/// one is needed), and names and numbers are unique where they must be.
fn check_file(file: &FileDescriptorProto, index: &TypeIndex<'_>) -> Result<(), SchemaError> {
    let package = file.package();
    let proto3 = file.syntax() == "proto3";
    for message in &file.message_type {
        check_message(message, &join(package, message.name()), index, proto3)?;
    }
    for e in &file.enum_type {
        check_enum(e, &join(package, e.name()), proto3)?;
    }
    check_extensions(&file.extension, package, index)?;
    for service in &file.service {
        for method in &service.method {
            for (what, name) in [("input", method.input_type()), ("output", method.output_type())] {
                let context = format!("the {what} of rpc {}.{}", service.name(), method.name());
                expect_message(index, package, name, &context)?;
            }
        }
    }
    Ok(())
}

fn check_message(
    message: &DescriptorProto,
    full: &str,
    index: &TypeIndex<'_>,
    proto3: bool,
) -> Result<(), SchemaError> {
    let mut numbers: HashMap<i32, &str> = HashMap::new();
    let mut names: HashSet<&str> = HashSet::new();
    for field in &message.field {
        if !names.insert(field.name()) {
            return Err(invalid(format!("field name {:?} is used twice in message {full}", field.name())));
        }
        if let Some(other) = numbers.insert(field.number(), field.name()) {
            return Err(invalid(format!(
                "fields {other:?} and {:?} of message {full} share the number {}",
                field.name(),
                field.number()
            )));
        }
        check_field_type(field, full, index)?;
    }
    let mut nested_names: HashSet<&str> = HashSet::new();
    for nested in &message.nested_type {
        if !nested_names.insert(nested.name()) {
            return Err(invalid(format!("{:?} is declared twice in message {full}", nested.name())));
        }
        check_message(nested, &join(full, nested.name()), index, proto3)?;
    }
    for e in &message.enum_type {
        check_enum(e, &join(full, e.name()), proto3)?;
    }
    check_extensions(&message.extension, full, index)
}

fn check_field_type(field: &FieldDescriptorProto, scope: &str, index: &TypeIndex<'_>) -> Result<(), SchemaError> {
    let Some(type_name) = field.type_name.as_deref() else {
        return Ok(()); // A scalar.
    };
    let Some((_, entry)) = index.resolve(scope, type_name) else {
        return Err(invalid(format!(
            "type {type_name:?} of field {scope}.{} is not defined in the schema, its references or a \
             well-known file",
            field.name()
        )));
    };
    let wants_message = matches!(field.r#type, Some(t) if t == Type::Message as i32 || t == Type::Group as i32);
    if wants_message && entry.is_enum() {
        return Err(invalid(format!(
            "field {scope}.{} needs a message type, and {type_name:?} is an enum",
            field.name()
        )));
    }
    // Only a descriptor (not text) says a named type is an enum.
    if field.r#type == Some(Type::Enum as i32) && matches!(entry.def, TypeDef::Message(_)) {
        return Err(invalid(format!(
            "field {scope}.{} needs an enum type, and {type_name:?} is a message",
            field.name()
        )));
    }
    if field.label == Some(Label::Required as i32) && entry.map_entry().is_some() {
        return Err(invalid(format!("map field {scope}.{} cannot be required", field.name())));
    }
    Ok(())
}

fn check_extensions(
    extensions: &[FieldDescriptorProto],
    scope: &str,
    index: &TypeIndex<'_>,
) -> Result<(), SchemaError> {
    for field in extensions {
        let context = format!("the extended type of extension {}", field.name());
        expect_message(index, scope, field.extendee(), &context)?;
        check_field_type(field, scope, index)?;
    }
    Ok(())
}

fn expect_message(index: &TypeIndex<'_>, scope: &str, name: &str, context: &str) -> Result<(), SchemaError> {
    match index.resolve(scope, name) {
        Some((_, entry)) if !entry.is_enum() => Ok(()),
        Some(_) => Err(invalid(format!("{context}, {name:?}, is an enum where a message is needed"))),
        None => Err(invalid(format!(
            "{context}, {name:?}, is not defined in the schema, its references or a well-known file"
        ))),
    }
}

fn check_enum(e: &EnumDescriptorProto, full: &str, proto3: bool) -> Result<(), SchemaError> {
    if e.value.is_empty() {
        return Err(invalid(format!("enum {full} has no values")));
    }
    if proto3 && e.value[0].number() != 0 {
        return Err(invalid(format!("the first value of proto3 enum {full} must be 0")));
    }
    let allow_alias = e.options.as_ref().is_some_and(|o| {
        o.uninterpreted_option.iter().any(|u| {
            u.name.len() == 1 && u.name[0].name_part == "allow_alias" && u.identifier_value.as_deref() == Some("true")
        })
    });
    let mut numbers: HashMap<i32, &str> = HashMap::new();
    for value in &e.value {
        if let Some(other) = numbers.insert(value.number(), value.name()) {
            if !allow_alias {
                return Err(invalid(format!(
                    "values {other} and {} of enum {full} share the number {} (set option allow_alias = true to \
                     allow that)",
                    value.name(),
                    value.number()
                )));
            }
        }
    }
    Ok(())
}

fn invalid(why: String) -> SchemaError {
    SchemaError(format!("Invalid Protobuf schema: {why}"))
}

#[cfg(test)]
#[path = "protobuf_tests.rs"]
mod tests;
