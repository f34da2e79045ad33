//! JSON Schema compatibility: whether a reader schema accepts every document a writer schema accepts, judged
//! the way Confluent's JSON Schema diff does.
//!
//! Confluent compares an "original" schema (the writer) with an "update" (the reader) and lists differences,
//! each of a named kind at a JSON path; some kinds are compatible (the reader accepts more: a maximum
//! raised, a property removed from an open content model), the rest are not (a type changed, a required
//! property added, a property added to an open content model). Only the incompatible ones are reported
//! here, as `KIND #/path: why`, e.g. `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/x: ...`.
//!
//! A schema object is read as Confluent's loader reads it: `type` (or, without `type`, the keywords of each
//! type family present) gives typed parts, `enum`, `const`, `allOf`/`anyOf`/`oneOf` and `not` give more parts,
//! and an object with several parts is an implicit `allOf` of them. `$ref`s are followed through the
//! schema's own registry of references, and a recursive pair already being compared counts as compatible.

use std::collections::HashSet;
use std::sync::Arc;

use jsonschema::{Draft, Registry, Uri};
use serde_json::{Map, Value};

use crate::schema::json::JsonSchema;

mod keywords;

/// Problems that stop `reader` reading data written with `writer`; empty when it can.
pub fn can_read(reader: &JsonSchema, writer: &JsonSchema) -> Vec<String> {
    let (writer_registry, reader_registry) = match (writer.registry(), reader.registry()) {
        (Ok(w), Ok(r)) => (w, r),
        (Err(e), _) | (_, Err(e)) => return vec![format!("Cannot compare JSON schemas: {e}")],
    };
    let (Some(original), Some(update)) = (Node::root(writer, &writer_registry), Node::root(reader, &reader_registry))
    else {
        return vec!["Cannot compare JSON schemas: a schema's root could not be found in its registry (a bug)".into()];
    };
    let mut ctx = Ctx::default();
    ctx.compare(&View::whole(original), &View::whole(update));
    // A schema reached along two paths (a shared `$ref`) may differ the same way twice: report it once.
    let mut seen = HashSet::new();
    ctx.diffs.retain(|d| seen.insert((d.kind, d.path.clone())));
    ctx.diffs.iter().map(Diff::message).collect()
}

/// One schema value where it sits: its base URI (for the `$ref`s inside it) in its schema's registry.
#[derive(Clone)]
struct Node<'r> {
    value: &'r Value,
    base: Arc<Uri<String>>,
    registry: &'r Registry<'r>,
    draft: Draft,
}

impl<'r> Node<'r> {
    fn root(schema: &JsonSchema, registry: &'r Registry<'r>) -> Option<Node<'r>> {
        let base = jsonschema::uri::from_str(schema.base()).ok()?;
        let resolved = registry.resolver(base).lookup("#").ok()?;
        let base = resolved.resolver().base_uri();
        Some(Node { value: resolved.contents(), base, registry, draft: schema.draft() })
    }

    /// A subschema of this one, with the base URI its own `$id` (if any) gives it.
    fn child(&self, value: &'r Value) -> Node<'r> {
        let resolver = self.registry.resolver((*self.base).clone());
        let base = match resolver.in_subresource(self.draft.create_resource_ref(value)) {
            Ok(inner) => inner.base_uri(),
            Err(_) => self.base.clone(),
        };
        Node { value, base, registry: self.registry, draft: self.draft }
    }

    fn get(&self, keyword: &str) -> Option<&'r Value> {
        self.value.as_object().and_then(|m| m.get(keyword))
    }

    fn child_of(&self, keyword: &str) -> Option<Node<'r>> {
        self.get(keyword).map(|v| self.child(v))
    }

    /// The schema a `$ref` points to; `None` when it cannot be resolved (parsing made sure it can).
    fn follow(&self, reference: &str) -> Option<Node<'r>> {
        let resolved = self.registry.resolver((*self.base).clone()).lookup(reference).ok()?;
        let base = resolved.resolver().base_uri();
        let (value, _, draft) = resolved.into_inner();
        let draft = if draft == Draft::Unknown { self.draft } else { draft };
        Some(Node { value, base, registry: self.registry, draft })
    }

    /// `$ref` is the whole schema up to draft 7; later drafts apply it next to the other keywords.
    fn ref_only(&self) -> Option<&'r str> {
        let reference = self.get("$ref")?.as_str()?;
        matches!(self.draft, Draft::Draft4 | Draft::Draft6 | Draft::Draft7).then_some(reference)
    }

    fn number(&self, keyword: &str) -> Option<f64> {
        self.get(keyword).and_then(Value::as_f64)
    }

    fn object(&self, keyword: &str) -> Option<&'r Map<String, Value>> {
        self.get(keyword).and_then(Value::as_object)
    }

    fn id(&self) -> usize {
        self.value as *const Value as usize
    }
}

/// The types a `type` keyword names, with `integer` a kind of number as in Confluent (everit).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    String,
    Number { integer: bool },
    Object,
    Array,
    Boolean,
    Null,
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "number" => Kind::Number { integer: false },
            "integer" => Kind::Number { integer: true },
            "object" => Kind::Object,
            "array" => Kind::Array,
            "boolean" => Kind::Boolean,
            "null" => Kind::Null,
            _ => return None,
        })
    }

    /// The keywords that make a schema without `type` constrain values of this kind.
    fn keywords(self) -> &'static [&'static str] {
        match self {
            Kind::String => &["minLength", "maxLength", "pattern", "format"],
            Kind::Number { .. } => &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
            Kind::Object => &[
                "properties",
                "required",
                "additionalProperties",
                "patternProperties",
                "minProperties",
                "maxProperties",
                "dependencies",
                "dependentRequired",
                "dependentSchemas",
                "propertyNames",
            ],
            Kind::Array => {
                &["items", "additionalItems", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"]
            }
            Kind::Boolean | Kind::Null => &[],
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Criterion {
    All,
    Any,
    One,
}

impl Criterion {
    fn keyword(self) -> &'static str {
        match self {
            Criterion::All => "allOf",
            Criterion::Any => "anyOf",
            Criterion::One => "oneOf",
        }
    }
}

/// Which part of a schema object a view looks at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Facet {
    Whole,
    Typed(Kind),
    TypeUnion,
    Enum,
    Const,
    Combined(Criterion),
    Not,
    Ref,
}

/// A part of a schema object: several parts of one object make an implicit `allOf`.
#[derive(Clone)]
struct View<'r> {
    node: Node<'r>,
    facet: Facet,
}

impl<'r> View<'r> {
    fn whole(node: Node<'r>) -> View<'r> {
        View { node, facet: Facet::Whole }
    }

    fn key(&self) -> (usize, Facet) {
        (self.node.id(), self.facet)
    }
}

/// What a view means for comparison; the classes Confluent (everit) loads schemas into.
enum Shape<'r> {
    /// `true`, `{}`: accepts anything.
    Empty,
    /// `false`: accepts nothing.
    False,
    Typed(Kind, Node<'r>),
    Enum(&'r [Value]),
    Const(&'r Value),
    Combined(Criterion, Vec<View<'r>>),
    Not(View<'r>),
}

impl Shape<'_> {
    fn is_combined(&self) -> bool {
        matches!(self, Shape::Combined(..))
    }

    /// The schema class, compared before anything else: different classes are a type change.
    fn class(&self) -> u8 {
        match self {
            Shape::Empty => 0,
            Shape::False => 1,
            Shape::Typed(Kind::String, _) => 2,
            Shape::Typed(Kind::Number { .. }, _) => 3,
            Shape::Typed(Kind::Object, _) => 4,
            Shape::Typed(Kind::Array, _) => 5,
            Shape::Typed(Kind::Boolean, _) => 6,
            Shape::Typed(Kind::Null, _) => 7,
            Shape::Enum(_) => 8,
            Shape::Const(_) => 9,
            Shape::Combined(..) => 10,
            Shape::Not(_) => 11,
        }
    }
}

/// How deep a chain of `$ref`s to `$ref`s may go before it counts as a loop.
const MAX_REF_CHAIN: usize = 32;

fn shape<'r>(view: &View<'r>) -> Shape<'r> {
    let mut node = view.node.clone();
    let mut facet = view.facet;
    for _ in 0..MAX_REF_CHAIN {
        if facet == Facet::Ref {
            match node.get("$ref").and_then(Value::as_str).and_then(|r| node.follow(r)) {
                Some(target) => {
                    node = target;
                    facet = Facet::Whole;
                    continue;
                }
                None => return Shape::Empty,
            }
        }
        if facet != Facet::Whole {
            return facet_shape(node, facet);
        }
        match node.value {
            Value::Bool(true) => return Shape::Empty,
            Value::Bool(false) => return Shape::False,
            Value::Object(_) => {}
            _ => return Shape::Empty,
        }
        if node.ref_only().is_some() {
            facet = Facet::Ref;
            continue;
        }
        let facets = facets_of(&node);
        return match facets.len() {
            0 => Shape::Empty,
            1 => {
                facet = facets[0];
                facet_shape(node, facet)
            }
            _ => Shape::Combined(
                Criterion::All,
                facets.into_iter().map(|facet| View { node: node.clone(), facet }).collect(),
            ),
        };
    }
    Shape::Empty
}

/// The parts of a schema object, in a fixed order.
fn facets_of(node: &Node<'_>) -> Vec<Facet> {
    let mut facets = Vec::new();
    match node.get("type") {
        Some(Value::String(name)) => facets.extend(Kind::from_name(name).map(Facet::Typed)),
        Some(Value::Array(names)) => {
            let kinds = type_union(names);
            match kinds.len() {
                0 => {}
                1 => facets.push(Facet::Typed(kinds[0])),
                _ => facets.push(Facet::TypeUnion),
            }
        }
        _ => {
            for kind in [Kind::String, Kind::Number { integer: false }, Kind::Object, Kind::Array] {
                if kind.keywords().iter().any(|k| node.get(k).is_some()) {
                    facets.push(Facet::Typed(kind));
                }
            }
        }
    }
    if node.get("enum").is_some() {
        facets.push(Facet::Enum);
    }
    if node.get("const").is_some() {
        facets.push(Facet::Const);
    }
    for criterion in [Criterion::All, Criterion::Any, Criterion::One] {
        if node.get(criterion.keyword()).is_some() {
            facets.push(Facet::Combined(criterion));
        }
    }
    if node.get("not").is_some() {
        facets.push(Facet::Not);
    }
    if node.get("$ref").is_some() && node.ref_only().is_none() {
        facets.push(Facet::Ref);
    }
    facets
}

fn type_union(names: &[Value]) -> Vec<Kind> {
    let mut kinds = Vec::new();
    for kind in names.iter().filter_map(Value::as_str).filter_map(Kind::from_name) {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

fn facet_shape<'r>(node: Node<'r>, facet: Facet) -> Shape<'r> {
    match facet {
        Facet::Typed(kind) => Shape::Typed(kind, node),
        Facet::TypeUnion => {
            let kinds = match node.get("type") {
                Some(Value::Array(names)) => type_union(names),
                _ => Vec::new(),
            };
            Shape::Combined(
                Criterion::Any,
                kinds.into_iter().map(|k| View { node: node.clone(), facet: Facet::Typed(k) }).collect(),
            )
        }
        Facet::Enum => Shape::Enum(node.get("enum").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])),
        Facet::Const => node.get("const").map(Shape::Const).unwrap_or(Shape::Empty),
        Facet::Combined(criterion) => {
            // Like Confluent, equal subschemas count once.
            let mut subs: Vec<&Value> = Vec::new();
            for sub in node.get(criterion.keyword()).and_then(Value::as_array).into_iter().flatten() {
                if !subs.contains(&sub) {
                    subs.push(sub);
                }
            }
            Shape::Combined(criterion, subs.into_iter().map(|v| View::whole(node.child(v))).collect())
        }
        Facet::Not => node.child_of("not").map(|n| Shape::Not(View::whole(n))).unwrap_or(Shape::Empty),
        Facet::Whole | Facet::Ref => shape(&View { node, facet }),
    }
}

/// An incompatible difference: its Confluent kind and where it is.
#[derive(Clone, Debug, PartialEq)]
struct Diff {
    kind: &'static str,
    path: String,
}

impl Diff {
    fn message(&self) -> String {
        format!("{} {}: {}", self.kind, self.path, explain(self.kind))
    }
}

/// Why a kind of difference stops the reader reading the writer's data (wording ours, kinds Confluent's).
fn explain(kind: &str) -> &'static str {
    match kind {
        "TYPE_CHANGED" => "the reader and the writer schema have different types here",
        "TYPE_NARROWED" => "the reader accepts only integers where the writer allows any number",
        "SCHEMA_ADDED" => "the reader constrains values here that the writer left unconstrained",
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" => {
            "the reader declares a property that the writer's open content model lets through with any value"
        }
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" => {
            "the reader requires a property, without a default, that the writer does not declare"
        }
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" | "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL" => {
            "the reader's closed content model lacks a property or item that the writer declares"
        }
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
        | "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => {
            "the reader declares a property or item that the writer's additional-properties/items schema does not match"
        }
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
        | "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => {
            "the reader lacks a property or item of the writer, and its additional-properties/items schema does not cover it"
        }
        "ITEM_ADDED_TO_OPEN_CONTENT_MODEL" => {
            "the reader declares an item that the writer's open content model lets through with any value"
        }
        "REQUIRED_ATTRIBUTE_ADDED" => "the reader requires a property, without a default, that the writer made optional",
        "ADDITIONAL_PROPERTIES_REMOVED" | "ADDITIONAL_ITEMS_REMOVED" => {
            "the reader forbids additional properties or items that the writer allows"
        }
        "ADDITIONAL_PROPERTIES_NARROWED" | "ADDITIONAL_ITEMS_NARROWED" => {
            "the reader constrains additional properties or items that the writer leaves free"
        }
        "ENUM_ARRAY_NARROWED" => "the reader allows fewer enum values than the writer",
        "ENUM_ARRAY_CHANGED" => "the reader's enum or const values differ from the writer's",
        "COMBINED_TYPE_CHANGED" => "the reader combines its subschemas with a stricter keyword than the writer",
        "PRODUCT_TYPE_EXTENDED" => "the reader's allOf has more subschemas than the writer's",
        "SUM_TYPE_NARROWED" => "the reader's anyOf/oneOf/type list has fewer alternatives than the writer's",
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED" => "the reader's subschemas do not each accept a writer subschema",
        "NOT_TYPE_EXTENDED" => "the reader's `not` excludes more than the writer's",
        "DEPENDENCY_ARRAY_ADDED" | "DEPENDENCY_SCHEMA_ADDED" => "the reader adds a dependency the writer does not have",
        "DEPENDENCY_ARRAY_EXTENDED" | "DEPENDENCY_ARRAY_CHANGED" => {
            "the reader's property dependency demands properties the writer's does not"
        }
        "PATTERN_ADDED" | "PATTERN_CHANGED" => "the reader's pattern is not the writer's",
        "MULTIPLE_OF_ADDED" | "MULTIPLE_OF_EXPANDED" | "MULTIPLE_OF_CHANGED" => {
            "the reader's multipleOf rejects numbers the writer's allows"
        }
        "UNIQUE_ITEMS_ADDED" => "the reader requires unique items where the writer does not",
        kind if kind.ends_with("_ADDED") => "the reader has a limit here that the writer does not",
        kind if kind.ends_with("_INCREASED") => "the reader's minimum here is higher than the writer's",
        kind if kind.ends_with("_DECREASED") => "the reader's maximum here is lower than the writer's",
        _ => "the reader accepts less here than the writer",
    }
}

/// A comparison in progress: where it is, what it found, and which pairs are being compared (a pair met
/// again inside itself is a recursive schema, and counts as compatible, as in Confluent).
#[derive(Default)]
struct Ctx {
    path: Vec<String>,
    diffs: Vec<Diff>,
    in_progress: HashSet<((usize, Facet), (usize, Facet))>,
}

impl Ctx {
    fn add(&mut self, kind: &'static str) {
        let path = format!("#/{}", self.path.join("/"));
        self.diffs.push(Diff { kind, path });
    }

    fn add_at(&mut self, keyword: &str, kind: &'static str) {
        self.path.push(keyword.to_string());
        self.add(kind);
        self.path.pop();
    }

    fn enter<T>(&mut self, segment: impl Into<String>, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(segment.into());
        let out = f(self);
        self.path.pop();
        out
    }

    /// Runs a comparison aside: its differences are returned instead of kept.
    fn trial(&mut self, f: impl FnOnce(&mut Self)) -> Vec<Diff> {
        let mark = self.diffs.len();
        f(self);
        self.diffs.split_off(mark)
    }

    fn compatible(&mut self, original: &View<'_>, update: &View<'_>) -> bool {
        self.trial(|ctx| ctx.compare(original, update)).is_empty()
    }

    /// Compares what the writer (`original`) allows with what the reader (`update`) accepts.
    fn compare(&mut self, original: &View<'_>, update: &View<'_>) {
        let key = (original.key(), update.key());
        if !self.in_progress.insert(key) {
            return;
        }
        let (o, u) = (shape(original), shape(update));
        self.compare_shapes(&o, &u);
        self.in_progress.remove(&key);
    }

    fn compare_optional(&mut self, original: Option<Node<'_>>, update: Option<Node<'_>>) {
        match (original, update) {
            (None, None) => {}
            (None, Some(_)) => self.add("SCHEMA_ADDED"),
            (Some(_), None) => {} // SCHEMA_REMOVED: the reader accepts anything there.
            (Some(o), Some(u)) => self.compare(&View::whole(o), &View::whole(u)),
        }
    }

    fn compare_shapes(&mut self, o: &Shape<'_>, u: &Shape<'_>) {
        // Anything may become `{}`, and `false` may become anything.
        if matches!(u, Shape::Empty) || matches!(o, Shape::False) {
            return;
        }
        match (o, u) {
            (o, Shape::Combined(criterion, subs)) if !o.is_combined() => {
                if subs.len() == 1 {
                    let found = self.trial(|ctx| ctx.compare_shapes(o, &shape(&subs[0])));
                    if found.is_empty() {
                        return;
                    }
                } else if matches!(criterion, Criterion::Any | Criterion::One) {
                    // The writer's one type is one of the reader's alternatives: SUM_TYPE_EXTENDED.
                    for sub in subs {
                        if self.trial(|ctx| ctx.compare_shapes(o, &shape(sub))).is_empty() {
                            return;
                        }
                    }
                } else {
                    // The reader adds allOf parts (say an enum next to a type): compare as allOf[writer].
                    return self.compare_combined(Criterion::All, &[Single(o)], *criterion, &subs_of(subs));
                }
            }
            (Shape::Combined(criterion, subs), u) if !u.is_combined() => {
                if subs.len() == 1 {
                    if self.trial(|ctx| ctx.compare_shapes(&shape(&subs[0]), u)).is_empty() {
                        return;
                    }
                } else if *criterion == Criterion::All {
                    // The reader drops allOf parts (say an enum next to a type): PRODUCT_TYPE_NARROWED.
                    return self.compare_combined(*criterion, &subs_of(subs), Criterion::All, &[Single(u)]);
                }
            }
            _ => {}
        }
        if o.class() != u.class() {
            return self.add("TYPE_CHANGED");
        }
        match (o, u) {
            (Shape::Typed(ok, on), Shape::Typed(uk, un)) => match (ok, uk) {
                (Kind::String, _) => self.compare_string(on, un),
                (Kind::Number { integer: oi }, Kind::Number { integer: ui }) => {
                    self.compare_number(on, un);
                    if !oi && *ui {
                        self.add("TYPE_NARROWED");
                    }
                }
                (Kind::Object, _) => self.compare_object(on, un),
                (Kind::Array, _) => self.compare_array(on, un),
                _ => {}
            },
            (Shape::Enum(ov), Shape::Enum(uv)) => {
                let covers = |a: &[Value], b: &[Value]| b.iter().all(|v| a.contains(v));
                if !(covers(uv, ov) && covers(ov, uv)) {
                    if covers(uv, ov) {
                        // ENUM_ARRAY_EXTENDED
                    } else if covers(ov, uv) {
                        self.add_at("enum", "ENUM_ARRAY_NARROWED");
                    } else {
                        self.add_at("enum", "ENUM_ARRAY_CHANGED");
                    }
                }
            }
            (Shape::Const(ov), Shape::Const(uv)) if ov != uv => self.add_at("const", "ENUM_ARRAY_CHANGED"),
            (Shape::Not(on), Shape::Not(un)) => self.enter("not", |ctx| {
                // The reader excludes less when what it excludes is covered by what the writer excludes.
                if !ctx.compatible(un, on) {
                    ctx.add("NOT_TYPE_EXTENDED");
                }
            }),
            (Shape::Combined(oc, os), Shape::Combined(uc, us)) => {
                self.compare_combined(*oc, &subs_of(os), *uc, &subs_of(us))
            }
            _ => {}
        }
    }
}

/// A subschema of a combined schema: a view to resolve, or a shape already at hand (the side of a
/// comparison that is treated as a one-element `allOf`).
enum Sub<'a, 'r> {
    View(&'a View<'r>),
    Single(&'a Shape<'r>),
}
use Sub::Single;

fn subs_of<'a, 'r>(views: &'a [View<'r>]) -> Vec<Sub<'a, 'r>> {
    views.iter().map(Sub::View).collect()
}

impl Ctx {
    fn compare_sub(&mut self, o: &Sub<'_, '_>, u: &Sub<'_, '_>) {
        match (o, u) {
            (Sub::View(o), Sub::View(u)) => self.compare(o, u),
            (Sub::View(o), Single(u)) => self.compare_shapes(&shape(o), u),
            (Single(o), Sub::View(u)) => self.compare_shapes(o, &shape(u)),
            (Single(o), Single(u)) => self.compare_shapes(o, u),
        }
    }

    fn compare_combined(&mut self, oc: Criterion, os: &[Sub<'_, '_>], uc: Criterion, us: &[Sub<'_, '_>]) {
        let singleton = |subs: &[Sub<'_, '_>]| subs.len() == 1;
        let criterion_ok = oc == uc
            || uc == Criterion::Any
            || (uc == Criterion::One && singleton(os))
            || (uc == Criterion::All && singleton(os) && singleton(us));
        if !criterion_ok {
            return self.add("COMBINED_TYPE_CHANGED");
        }
        if os.len() < us.len() && uc == Criterion::All {
            self.add("PRODUCT_TYPE_EXTENDED");
        } else if os.len() > us.len() && uc != Criterion::All {
            self.add("SUM_TYPE_NARROWED");
        }
        // Which writer subschema each reader subschema could stand for; a matching must cover the smaller side.
        let mut edges = vec![Vec::new(); os.len()];
        for (i, o) in os.iter().enumerate() {
            for (j, u) in us.iter().enumerate() {
                if self.trial(|ctx| ctx.compare_sub(o, u)).is_empty() {
                    edges[i].push(j);
                }
            }
        }
        if max_matching(&edges, us.len()) < os.len().min(us.len()) {
            self.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED");
        }
    }
}

/// The size of a maximum matching in a bipartite graph (augmenting paths; the sides are small).
fn max_matching(edges: &[Vec<usize>], right: usize) -> usize {
    fn augment(i: usize, edges: &[Vec<usize>], seen: &mut [bool], owner: &mut [Option<usize>]) -> bool {
        for &j in &edges[i] {
            if !seen[j] {
                seen[j] = true;
                if owner[j].is_none_or(|k| augment(k, edges, seen, owner)) {
                    owner[j] = Some(i);
                    return true;
                }
            }
        }
        false
    }
    let mut owner = vec![None; right];
    (0..edges.len()).filter(|&i| augment(i, edges, &mut vec![false; right], &mut owner)).count()
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
