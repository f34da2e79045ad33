//! Protobuf compatibility: whether a reader schema can read what a writer schema wrote, judged the way
//! Confluent's Protobuf diff does.
//!
//! Confluent compares the writer ("original") with the reader ("update") message by message (by name) and
//! field by field (by number) and lists differences of named kinds. Compatible kinds: messages or fields
//! added, fields removed or renamed, enums and enum values changed in any way, oneofs added or removed,
//! string/bytes fields changing label. Incompatible ones are reported here as `KIND #/Message/number: why`:
//! `PACKAGE_CHANGED`, `MESSAGE_REMOVED`, `FIELD_KIND_CHANGED` (between scalar or enum, message, and map),
//! `FIELD_SCALAR_KIND_CHANGED` (across the wire-compatible groups int32/int64/uint32/uint64/bool/enum,
//! sint32/sint64, string/bytes, fixed32/sfixed32, fixed64/sfixed64, float, double),
//! `FIELD_NAMED_TYPE_CHANGED`, `FIELD_NUMERIC_LABEL_CHANGED`, `REQUIRED_FIELD_ADDED`/`REMOVED`,
//! `ONEOF_FIELD_REMOVED`, `MULTIPLE_FIELDS_MOVED_TO_ONEOF` and `FIELD_MOVED_TO_EXISTING_ONEOF`.
//!
//! One deliberate difference: Confluent compares labels only when both are written in the text, so a
//! proto3 `int32 x` becoming `repeated int32 x` passes there. Repeated numbers are packed in proto3 and a
//! singular reader drops them, so here any change between singular, required and repeated of a numeric field
//! is `FIELD_NUMERIC_LABEL_CHANGED`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto};

use crate::schema::protobuf::{is_map_entry, join, ProtobufSchema, Source, TypeDef, TypeEntry, TypeIndex};

/// Problems that stop `reader` reading data written with `writer`; empty when it can.
pub fn can_read(reader: &ProtobufSchema, writer: &ProtobufSchema) -> Vec<String> {
    let (writer_index, reader_index) = (writer.index(), reader.index());
    let mut ctx = Ctx {
        original: Side { schema: writer, index: &writer_index },
        update: Side { schema: reader, index: &reader_index },
        path: Vec::new(),
        diffs: Vec::new(),
        in_progress: HashSet::new(),
    };
    let (op, up) = (writer.file().package(), reader.file().package());
    if op != up {
        ctx.add("PACKAGE_CHANGED");
    }
    ctx.compare_messages(op, &writer.file().message_type, &[], up, &reader.file().message_type, &[]);
    // A nested message is met both as a declaration and through the fields using it: report each once.
    let mut seen = HashSet::new();
    ctx.diffs.retain(|d| seen.insert(d.clone()));
    ctx.diffs.iter().map(|(kind, path)| format!("{kind} {path}: {}", explain(kind))).collect()
}

/// Why a kind of difference stops the reader reading the writer's data (wording ours, kinds Confluent's).
fn explain(kind: &str) -> &'static str {
    match kind {
        "PACKAGE_CHANGED" => "the reader's package differs from the writer's, so every full type name changes",
        "MESSAGE_REMOVED" => "the reader lacks a message type that the writer has",
        "FIELD_KIND_CHANGED" => "the field changed between a scalar or enum, a message and a map",
        "FIELD_SCALAR_KIND_CHANGED" => "the field's scalar type changed to one with another wire encoding",
        "FIELD_NAMED_TYPE_CHANGED" => "the field's message type changed, or changed incompatibly",
        "FIELD_NUMERIC_LABEL_CHANGED" => "the numeric field changed between singular, required and repeated",
        "REQUIRED_FIELD_ADDED" => "the reader requires a field that the writer does not have",
        "REQUIRED_FIELD_REMOVED" => "the reader lacks a field that the writer requires",
        "ONEOF_FIELD_REMOVED" => "the reader lacks a field of a oneof that the writer has",
        "MULTIPLE_FIELDS_MOVED_TO_ONEOF" => "several existing fields moved into one oneof, so only one survives",
        "FIELD_MOVED_TO_EXISTING_ONEOF" => "an existing field moved into a oneof that already had fields",
        _ => "the reader cannot read this as the writer wrote it",
    }
}

/// One side of the comparison: a schema and the types it can name.
#[derive(Clone, Copy)]
struct Side<'s> {
    schema: &'s ProtobufSchema,
    index: &'s TypeIndex<'s>,
}

/// A message with its full name (the scope its field types resolve in).
#[derive(Clone, Copy)]
struct Msg<'a, 'n> {
    message: &'a DescriptorProto,
    full: &'n str,
}

struct Ctx<'s> {
    original: Side<'s>,
    update: Side<'s>,
    path: Vec<String>,
    /// Incompatible differences: kind and path.
    diffs: Vec<(&'static str, String)>,
    /// Message pairs being compared; one met again inside itself (a recursive type) is not compared again.
    in_progress: HashSet<(usize, usize)>,
}

/// A field's type, resolved: the groups of wire-compatible scalars (enums count as general numbers), messages
/// by full name, and maps by key and value.
#[derive(Clone)]
enum Ty<'s> {
    Scalar(ScalarKind),
    Message(String, TypeEntry<'s>),
    Map(Box<Ty<'s>>, Box<Ty<'s>>),
    /// A name that does not resolve (parsing refuses those; kept to compare as written).
    Named(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ScalarKind {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

fn scalar_kind(ty: Type) -> ScalarKind {
    match ty {
        Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 | Type::Bool | Type::Enum => ScalarKind::GeneralNumber,
        Type::Sint32 | Type::Sint64 => ScalarKind::SignedNumber,
        Type::String | Type::Bytes => ScalarKind::StringOrBytes,
        Type::Fixed32 | Type::Sfixed32 => ScalarKind::Fixed32,
        Type::Fixed64 | Type::Sfixed64 => ScalarKind::Fixed64,
        Type::Float => ScalarKind::Float,
        Type::Double => ScalarKind::Double,
        // Messages and groups carry a type name and never get here.
        Type::Message | Type::Group => ScalarKind::StringOrBytes,
    }
}

impl<'s> Side<'s> {
    /// The type of `field`, declared in `scope`.
    fn ty(&self, scope: &str, field: &FieldDescriptorProto) -> Ty<'s> {
        let Some(name) = field.type_name.as_deref() else {
            return Ty::Scalar(scalar_kind(field.r#type()));
        };
        match self.index.resolve(scope, name) {
            Some((_, entry)) if entry.is_enum() => Ty::Scalar(ScalarKind::GeneralNumber),
            Some((full, entry)) => match entry.map_entry() {
                Some(map) => {
                    let part = |number| match map.field.iter().find(|f| f.number() == number) {
                        Some(f) => self.ty(&full, f),
                        None => Ty::Named(String::new()),
                    };
                    Ty::Map(Box::new(part(1)), Box::new(part(2)))
                }
                None => Ty::Message(full, entry),
            },
            None => Ty::Named(name.to_string()),
        }
    }

    /// Whether the file defining a referenced type is the same on both sides (then its types are equal).
    fn same_file(&self, source: Source<'_>, other: &Side<'_>, other_source: Source<'_>) -> bool {
        match (source, other_source) {
            (Source::Known, Source::Known) => true,
            (Source::Reference(a), Source::Reference(b)) if a == b => {
                let file =
                    |side: &Side<'_>| side.schema.references().iter().find(|(n, _)| n == a).map(|(_, f)| f.clone());
                file(self).is_some_and(|f| Some(f) == file(other))
            }
            _ => false,
        }
    }
}

/// The nested types compared by name: neither map entries nor group bodies, which are compared through the
/// fields that use them (as in Confluent, whose parser has no such messages).
fn named_messages<'a>(
    messages: &'a [DescriptorProto],
    fields: &[FieldDescriptorProto],
) -> BTreeMap<&'a str, &'a DescriptorProto> {
    let groups: HashSet<&str> = fields
        .iter()
        .filter(|f| f.r#type == Some(Type::Group as i32))
        .filter_map(|f| f.type_name.as_deref())
        .map(|n| n.rsplit('.').next().unwrap_or(n))
        .collect();
    messages.iter().filter(|m| !is_map_entry(m) && !groups.contains(m.name())).map(|m| (m.name(), m)).collect()
}

/// The oneof a field belongs to, if a real one (proto3 `optional` fields sit in synthetic oneofs).
fn real_oneof<'a>(message: &'a DescriptorProto, field: &FieldDescriptorProto) -> Option<&'a str> {
    if field.proto3_optional() {
        return None;
    }
    let i = usize::try_from(field.oneof_index?).ok()?;
    message.oneof_decl.get(i).map(|o| o.name())
}

impl<'s> Ctx<'s> {
    fn add(&mut self, kind: &'static str) {
        self.diffs.push((kind, format!("#/{}", self.path.join("/"))));
    }

    fn enter(&mut self, segment: impl ToString, f: impl FnOnce(&mut Self)) {
        self.path.push(segment.to_string());
        f(self);
        self.path.pop();
    }

    /// Compares the messages declared in two scopes, by name; enums only matter through the fields using
    /// them (every enum change is compatible in Confluent).
    fn compare_messages(
        &mut self,
        o_scope: &str,
        o_messages: &'s [DescriptorProto],
        o_fields: &[FieldDescriptorProto],
        u_scope: &str,
        u_messages: &'s [DescriptorProto],
        u_fields: &[FieldDescriptorProto],
    ) {
        let (os, us) = (named_messages(o_messages, o_fields), named_messages(u_messages, u_fields));
        let names: BTreeSet<&str> = os.keys().chain(us.keys()).copied().collect();
        for name in names {
            self.enter(name, |ctx| match (os.get(name), us.get(name)) {
                (Some(_), None) => ctx.add("MESSAGE_REMOVED"),
                (Some(o), Some(u)) => {
                    let (of, uf) = (join(o_scope, name), join(u_scope, name));
                    ctx.compare_message(Msg { message: o, full: &of }, Msg { message: u, full: &uf });
                }
                _ => {} // MESSAGE_ADDED
            });
        }
    }

    fn compare_message(&mut self, o: Msg<'s, '_>, u: Msg<'s, '_>) {
        let key = (o.message as *const DescriptorProto as usize, u.message as *const DescriptorProto as usize);
        if !self.in_progress.insert(key) {
            return;
        }
        self.compare_fields(o, u);
        self.compare_messages(
            o.full,
            &o.message.nested_type,
            &o.message.field,
            u.full,
            &u.message.nested_type,
            &u.message.field,
        );
        self.in_progress.remove(&key);
    }

    fn compare_fields(&mut self, o: Msg<'s, '_>, u: Msg<'s, '_>) {
        type ByNumber<'a> = BTreeMap<i32, (&'a FieldDescriptorProto, Option<&'a str>)>;
        let all = |m: &'s DescriptorProto| -> ByNumber<'s> {
            m.field.iter().map(|f| (f.number(), (f, real_oneof(m, f)))).collect()
        };
        let (o_all, u_all) = (all(o.message), all(u.message));
        let top = |fields: &ByNumber<'s>| -> BTreeMap<i32, &'s FieldDescriptorProto> {
            fields.iter().filter(|(_, (_, oneof))| oneof.is_none()).map(|(n, (f, _))| (*n, *f)).collect()
        };
        let (mut o_top, u_top) = (top(&o_all), top(&u_all));
        let oneofs = |fields: &ByNumber<'s>| -> BTreeMap<&'s str, BTreeMap<i32, &'s FieldDescriptorProto>> {
            let mut map: BTreeMap<&str, BTreeMap<i32, &FieldDescriptorProto>> = BTreeMap::new();
            for (number, (field, oneof)) in fields {
                if let Some(name) = oneof {
                    map.entry(*name).or_default().insert(*number, *field);
                }
            }
            map
        };
        let (o_oneofs, u_oneofs) = (oneofs(&o_all), oneofs(&u_all));

        // Fields moved into a oneof: one is fine, several would keep only one value.
        for (name, fields) in &u_oneofs {
            self.enter(name, |ctx| {
                let moved = fields.keys().filter(|n| o_top.remove(n).is_some()).count();
                let existing = fields.keys().filter(|n| o_all.get(n).is_some_and(|(_, oneof)| oneof.is_some())).count();
                if moved > 1 {
                    ctx.add("MULTIPLE_FIELDS_MOVED_TO_ONEOF");
                } else if moved == 1 && existing > 0 {
                    ctx.add("FIELD_MOVED_TO_EXISTING_ONEOF");
                }
            });
        }
        for (name, o_fields) in &o_oneofs {
            let Some(u_fields) = u_oneofs.get(name) else { continue }; // ONEOF_REMOVED
            self.enter(name, |ctx| {
                for (number, of) in o_fields {
                    ctx.enter(number, |ctx| match u_fields.get(number) {
                        Some(uf) => ctx.compare_field(of, o.full, uf, u.full),
                        // A field that left the oneof but is still in the message moved; it is compared below.
                        None if !u_all.contains_key(number) => ctx.add("ONEOF_FIELD_REMOVED"),
                        None => {}
                    });
                }
            });
        }
        let numbers: BTreeSet<i32> = o_top.keys().chain(u_top.keys()).copied().collect();
        for number in numbers {
            self.enter(number, |ctx| match (o_top.get(&number), u_top.get(&number)) {
                (Some(of), Some(uf)) => ctx.compare_field(of, o.full, uf, u.full),
                (Some(of), None) if of.label() == Label::Required => ctx.add("REQUIRED_FIELD_REMOVED"),
                (None, Some(uf)) if uf.label() == Label::Required => ctx.add("REQUIRED_FIELD_ADDED"),
                _ => {} // FIELD_REMOVED, FIELD_ADDED
            });
        }
        // Fields whose oneof changed (moved in, out, or between oneofs) are compared by number too.
        for (number, (of, o_oneof)) in &o_all {
            let Some((uf, u_oneof)) = u_all.get(number) else { continue };
            // Top-level in both, or in a oneof of the same name in both: compared above.
            if o_oneof != u_oneof {
                self.enter(number, |ctx| ctx.compare_field(of, o.full, uf, u.full));
            }
        }
    }

    fn compare_field(&mut self, o: &FieldDescriptorProto, o_scope: &str, u: &FieldDescriptorProto, u_scope: &str) {
        let (ot, ut) = (self.original.ty(o_scope, o), self.update.ty(u_scope, u));
        self.compare_types(&ot, Some(o.label()), &ut, Some(u.label()));
    }

    fn compare_types(&mut self, o: &Ty<'s>, o_label: Option<Label>, u: &Ty<'s>, u_label: Option<Label>) {
        match (o, u) {
            (Ty::Scalar(ok), Ty::Scalar(uk)) => {
                if ok != uk {
                    self.add("FIELD_SCALAR_KIND_CHANGED");
                } else if *ok != ScalarKind::StringOrBytes
                    && o_label.is_some()
                    && u_label.is_some()
                    && o_label != u_label
                {
                    self.add("FIELD_NUMERIC_LABEL_CHANGED");
                }
            }
            (Ty::Map(ok, ov), Ty::Map(uk, uv)) => {
                self.compare_types(ok, None, uk, None);
                self.compare_types(ov, None, uv, None);
            }
            (Ty::Message(of, oe), Ty::Message(uf, ue)) => self.compare_named(of, oe, uf, ue),
            (Ty::Named(a), Ty::Named(b)) if a == b => {}
            (Ty::Named(_) | Ty::Message(..), Ty::Named(_) | Ty::Message(..)) => self.add("FIELD_NAMED_TYPE_CHANGED"),
            _ => self.add("FIELD_KIND_CHANGED"),
        }
    }

    /// Two message types: the same name within their packages, and (unless both come from the same file)
    /// compatible definitions.
    fn compare_named(&mut self, o_full: &str, o: &TypeEntry<'s>, u_full: &str, u: &TypeEntry<'s>) {
        let local = |full: &'_ str, entry: &TypeEntry<'_>| -> String {
            let prefix = format!("{}.", entry.package);
            full.strip_prefix(&prefix).unwrap_or(full).to_string()
        };
        let (o_local, u_local) = (local(o_full, o), local(u_full, u));
        if o_local != u_local {
            return self.add("FIELD_NAMED_TYPE_CHANGED");
        }
        if self.original.same_file(o.source, &self.update, u.source) {
            return;
        }
        let (TypeDef::Message(om), TypeDef::Message(um)) = (o.def, u.def) else {
            return; // A well-known type against a definition of the same name: nothing more to compare.
        };
        // Compared aside, from the message's own path, as Confluent does.
        let saved_path = std::mem::replace(&mut self.path, o_local.split('.').map(str::to_string).collect());
        let mark = self.diffs.len();
        self.compare_message(Msg { message: om, full: o_full }, Msg { message: um, full: u_full });
        self.path = saved_path;
        if self.diffs.len() > mark {
            self.add("FIELD_NAMED_TYPE_CHANGED");
        }
    }
}

#[cfg(test)]
#[path = "protobuf_tests.rs"]
mod tests;
