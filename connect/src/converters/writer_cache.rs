//! The Avro converter's writer schemas by Connect schema, so that converting a record costs a lookup instead of
//! building its schema's Avro JSON text (and hashing it) every time.
//!
//! The records of a stream normally share one `Arc<Schema>` (sources and transforms build a schema once), so the
//! first lookup is by the Arc's address; the entry holds a clone of the Arc, so no other schema can be allocated
//! at that address while it is cached. Equal schemas in other Arcs are found by a hash of the schema's structure
//! (computed by walking it, no JSON), confirmed by comparing the schemas in full. Both maps are emptied when they
//! would grow past [`MOST`], which bounds them when every record brings a schema of its own.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use sluice_schema_registry::wire::WriterSchema;

use crate::data::Schema;

/// Entries per map before it is emptied; a converter sees a few schemas, so this is only reached by streams whose
/// records each bring their own.
const MOST: usize = 64;

/// Writer schemas by Connect schema.
#[derive(Default)]
pub(crate) struct WriterCache {
    by_arc: HashMap<usize, (Arc<Schema>, WriterSchema)>,
    by_structure: HashMap<Structure, WriterSchema>,
}

impl WriterCache {
    /// The writer schema made of `schema` (or of an equal one) before.
    pub(crate) fn get(&mut self, schema: &Arc<Schema>) -> Option<WriterSchema> {
        if let Some((_, writer)) = self.by_arc.get(&address(schema)) {
            return Some(writer.clone());
        }
        let writer = self.by_structure.get(&Structure(schema.clone()))?.clone();
        self.remember_arc(schema, writer.clone());
        Some(writer)
    }

    /// Remembers the writer schema made of `schema`.
    pub(crate) fn insert(&mut self, schema: &Arc<Schema>, writer: WriterSchema) {
        if self.by_structure.len() >= MOST {
            self.by_structure.clear();
        }
        self.by_structure.insert(Structure(schema.clone()), writer.clone());
        self.remember_arc(schema, writer);
    }

    fn remember_arc(&mut self, schema: &Arc<Schema>, writer: WriterSchema) {
        if self.by_arc.len() >= MOST {
            self.by_arc.clear();
        }
        self.by_arc.insert(address(schema), (schema.clone(), writer));
    }
}

fn address(schema: &Arc<Schema>) -> usize {
    Arc::as_ptr(schema) as usize
}

/// A schema as a key by its content. Equality is `Schema`'s own (a NaN default makes a schema unequal to itself:
/// such a schema is never found and is built again each time, as it was before this cache, within [`MOST`]).
struct Structure(Arc<Schema>);

impl PartialEq for Structure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Eq for Structure {}

impl Hash for Structure {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_schema(&self.0, state);
    }
}

/// Hashes everything of `schema` but default values (left to the equality check: `Value` holds floats).
fn hash_schema<H: Hasher>(schema: &Schema, state: &mut H) {
    schema.schema_type.hash(state);
    schema.optional.hash(state);
    schema.name.hash(state);
    schema.version.hash(state);
    schema.doc.hash(state);
    schema.parameters.hash(state);
    state.write_usize(schema.fields.len());
    for field in &schema.fields {
        field.name.hash(state);
        hash_schema(&field.schema, state);
    }
    for inner in [&schema.key_schema, &schema.value_schema] {
        state.write_u8(u8::from(inner.is_some()));
        if let Some(inner) = inner {
            hash_schema(inner, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{SchemaType, Value};

    use super::*;

    fn writer(text: &str) -> WriterSchema {
        WriterSchema::parse(text).unwrap()
    }

    fn record(field: &str) -> Arc<Schema> {
        Schema::structure(vec![(field.into(), Schema::primitive(SchemaType::Int64).shared())]).with_name("R").shared()
    }

    #[test]
    fn finds_a_schema_by_its_arc_or_by_an_equal_one_and_never_a_different_one() {
        let mut cache = WriterCache::default();
        let (a, b) = (record("a"), record("b"));
        cache.insert(&a, writer(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#));
        assert!(cache.get(&a).unwrap().text().contains(r#""a""#));
        assert!(cache.get(&b).is_none(), "a schema with another field is another writer schema");
        let equal = Arc::new((*a).clone());
        assert!(cache.get(&equal).unwrap().text().contains(r#""a""#), "an equal schema in another Arc is found");
        // Differences the hash leaves to the equality check still tell schemas apart.
        let with_default = Arc::new(Schema::clone(&a).with_default(Value::Null));
        assert!(cache.get(&with_default).is_none());
        let optional = Arc::new(Schema::clone(&a).optional());
        assert!(cache.get(&optional).is_none());
        cache.insert(&b, writer(r#"{"type":"record","name":"R","fields":[{"name":"b","type":"long"}]}"#));
        assert!(cache.get(&b).unwrap().text().contains(r#""b""#));
        assert!(cache.get(&a).unwrap().text().contains(r#""a""#));
    }

    #[test]
    fn stays_bounded_when_every_record_brings_its_own_schema() {
        let mut cache = WriterCache::default();
        let text = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
        for i in 0..1000 {
            let schema = Arc::new(Schema::clone(&record("a")).with_parameter("n", i.to_string()));
            cache.insert(&schema, writer(text));
            assert!(cache.get(&schema).is_some());
        }
        assert!(cache.by_arc.len() <= MOST && cache.by_structure.len() <= MOST);
    }
}
