//! Parsing registered schemas: one file per schema language, each giving the text the registry stores and
//! compares (its canonical form) and the normalized form used when a request asks for `normalize=true`.

pub mod avro;
pub mod json;
pub mod protobuf;

use crate::types::SchemaType;

/// A referenced schema, already looked up: `name` as the referring schema spells it (Avro full name, Protobuf
/// import path, JSON Schema `$ref` URL) and the referenced schema's text. A list of these is flattened and in
/// dependency order: a schema comes after every schema it references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedReference {
    pub name: String,
    pub schema: String,
}

/// Why a schema text is not a valid schema of its type; becomes 422 / 42201.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

/// A schema that parsed, of any type.
#[derive(Debug, Clone)]
pub enum ParsedSchema {
    Avro(avro::AvroSchema),
    Json(json::JsonSchema),
    Protobuf(protobuf::ProtobufSchema),
}

impl ParsedSchema {
    /// Parses `text` as a schema of `schema_type`, with its references resolved.
    pub fn parse(
        schema_type: SchemaType,
        text: &str,
        references: &[ResolvedReference],
    ) -> Result<ParsedSchema, SchemaError> {
        Ok(match schema_type {
            SchemaType::Avro => ParsedSchema::Avro(avro::AvroSchema::parse(text, references)?),
            SchemaType::Json => ParsedSchema::Json(json::JsonSchema::parse(text, references)?),
            SchemaType::Protobuf => ParsedSchema::Protobuf(protobuf::ProtobufSchema::parse(text, references)?),
        })
    }

    pub fn schema_type(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Json(_) => SchemaType::Json,
            ParsedSchema::Protobuf(_) => SchemaType::Protobuf,
        }
    }

    /// The text the registry stores and returns, and compares to find an already registered schema:
    /// deterministic, whitespace-insensitive, otherwise faithful to what was registered.
    pub fn canonical(&self) -> String {
        match self {
            ParsedSchema::Avro(s) => s.canonical(),
            ParsedSchema::Json(s) => s.canonical(),
            ParsedSchema::Protobuf(s) => s.canonical(),
        }
    }

    /// The canonical text after normalization (`normalize=true`): equivalent schemas written differently
    /// (attribute order, Protobuf option order, ...) give the same text.
    pub fn normalized(&self) -> String {
        match self {
            ParsedSchema::Avro(s) => s.normalized(),
            ParsedSchema::Json(s) => s.normalized(),
            ParsedSchema::Protobuf(s) => s.normalized(),
        }
    }
}
