//! The keyword comparisons of JSON Schema compatibility: string and number limits, and the content models
//! of objects (properties, required, dependencies, additional properties) and arrays (items, tuples,
//! additional items), with Confluent's difference kinds.

use jsonschema::Draft;
use serde_json::Value;

use super::{shape, Ctx, Node, Shape, View};

/// Compares an optional limit where a larger reader value accepts more (`maxLength`, `maximum`, ...).
fn upper_limit(
    ctx: &mut Ctx,
    keyword: &str,
    o: Option<f64>,
    u: Option<f64>,
    added: &'static str,
    decreased: &'static str,
) {
    match (o, u) {
        (None, Some(_)) => ctx.add_at(keyword, added),
        (Some(o), Some(u)) if u < o => ctx.add_at(keyword, decreased),
        _ => {}
    }
}

/// Compares an optional limit where a smaller reader value accepts more (`minLength`, `minimum`, ...).
fn lower_limit(
    ctx: &mut Ctx,
    keyword: &str,
    o: Option<f64>,
    u: Option<f64>,
    added: &'static str,
    increased: &'static str,
) {
    match (o, u) {
        (None, Some(_)) => ctx.add_at(keyword, added),
        (Some(o), Some(u)) if u > o => ctx.add_at(keyword, increased),
        _ => {}
    }
}

impl Ctx {
    pub(super) fn compare_string(&mut self, o: &Node<'_>, u: &Node<'_>) {
        upper_limit(
            self,
            "maxLength",
            o.number("maxLength"),
            u.number("maxLength"),
            "MAX_LENGTH_ADDED",
            "MAX_LENGTH_DECREASED",
        );
        lower_limit(
            self,
            "minLength",
            o.number("minLength"),
            u.number("minLength"),
            "MIN_LENGTH_ADDED",
            "MIN_LENGTH_INCREASED",
        );
        match (o.get("pattern"), u.get("pattern")) {
            (None, Some(_)) => self.add_at("pattern", "PATTERN_ADDED"),
            (Some(op), Some(up)) if op != up => self.add_at("pattern", "PATTERN_CHANGED"),
            _ => {}
        }
    }

    pub(super) fn compare_number(&mut self, o: &Node<'_>, u: &Node<'_>) {
        upper_limit(self, "maximum", o.number("maximum"), u.number("maximum"), "MAXIMUM_ADDED", "MAXIMUM_DECREASED");
        lower_limit(self, "minimum", o.number("minimum"), u.number("minimum"), "MINIMUM_ADDED", "MINIMUM_INCREASED");
        // Draft 4 spells the exclusive limits as booleans next to maximum/minimum; only numbers are limits.
        let (oe, ue) = (o.number("exclusiveMaximum"), u.number("exclusiveMaximum"));
        upper_limit(self, "exclusiveMaximum", oe, ue, "EXCLUSIVE_MAXIMUM_ADDED", "EXCLUSIVE_MAXIMUM_DECREASED");
        let (oe, ue) = (o.number("exclusiveMinimum"), u.number("exclusiveMinimum"));
        lower_limit(self, "exclusiveMinimum", oe, ue, "EXCLUSIVE_MINIMUM_ADDED", "EXCLUSIVE_MINIMUM_INCREASED");
        match (o.number("multipleOf"), u.number("multipleOf")) {
            (None, Some(_)) => self.add_at("multipleOf", "MULTIPLE_OF_ADDED"),
            (Some(om), Some(um)) if om != um => {
                if is_multiple(om, um) {
                    // MULTIPLE_OF_REDUCED: every multiple of the writer's is one of the reader's.
                } else if is_multiple(um, om) {
                    self.add_at("multipleOf", "MULTIPLE_OF_EXPANDED");
                } else {
                    self.add_at("multipleOf", "MULTIPLE_OF_CHANGED");
                }
            }
            _ => {}
        }
    }
}

/// Whether `a` is a whole multiple of `b`.
fn is_multiple(a: f64, b: f64) -> bool {
    if b == 0.0 {
        return false;
    }
    let ratio = a / b;
    (ratio - ratio.round()).abs() < 1e-9
}

/// Whether a property name matches a `patternProperties` regex (ECMA 262, unanchored), using the
/// `jsonschema` crate's own regex handling.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let schema = serde_json::json!({ "type": "string", "pattern": pattern });
    jsonschema::options().build(&schema).is_ok_and(|v| v.is_valid(&Value::String(name.to_string())))
}

/// Property dependencies: a property and the properties it requires.
type NamedDependencies<'r> = Vec<(&'r String, Vec<&'r str>)>;
/// Schema dependencies: a property and the schema the object must then match.
type SchemaDependencies<'r> = Vec<(&'r String, &'r Value)>;

/// What an object schema says about properties it does not list.
struct ObjectModel<'r> {
    node: Node<'r>,
}

impl<'r> ObjectModel<'r> {
    fn properties(&self) -> Vec<(&'r String, &'r Value)> {
        self.node.object("properties").map(|m| m.iter().collect()).unwrap_or_default()
    }

    fn property(&self, name: &str) -> Option<&'r Value> {
        self.node.object("properties").and_then(|m| m.get(name))
    }

    fn required(&self) -> Vec<&'r str> {
        self.node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
    }

    /// `additionalProperties: false` forbids unlisted properties; `true` or absent allows any.
    fn permits_additional(&self) -> bool {
        !matches!(self.node.get("additionalProperties"), Some(Value::Bool(false)))
    }

    /// The schema of additional properties, when it is a schema (not `true`/`false`).
    fn additional_schema(&self) -> Option<Node<'r>> {
        match self.node.get("additionalProperties") {
            Some(v @ Value::Object(_)) => Some(self.node.child(v)),
            _ => None,
        }
    }

    fn pattern_properties(&self) -> Vec<(&'r String, &'r Value)> {
        self.node.object("patternProperties").map(|m| m.iter().collect()).unwrap_or_default()
    }

    /// Open: anything not listed is allowed with any value.
    fn is_open(&self) -> bool {
        self.pattern_properties().is_empty() && self.additional_schema().is_none() && self.permits_additional()
    }

    /// The schema an unlisted property `name` must match in a partially open model.
    fn partial_schema(&self, name: &str) -> Option<Node<'r>> {
        for (pattern, schema) in self.pattern_properties() {
            if pattern_matches(pattern, name) {
                return Some(self.node.child(schema));
            }
        }
        self.additional_schema()
    }

    /// Draft 7 `dependencies` and 2019+ `dependentRequired`/`dependentSchemas`: property name to the names it
    /// requires, and property name to the schema it imposes.
    fn dependencies(&self) -> (NamedDependencies<'r>, SchemaDependencies<'r>) {
        let mut arrays = Vec::new();
        let mut schemas = Vec::new();
        for keyword in ["dependencies", "dependentRequired", "dependentSchemas"] {
            for (name, dep) in self.node.object(keyword).into_iter().flatten() {
                match dep {
                    Value::Array(names) => arrays.push((name, names.iter().filter_map(Value::as_str).collect())),
                    other => schemas.push((name, other)),
                }
            }
        }
        (arrays, schemas)
    }
}

/// Whether a property schema has a default (looking through a `$ref`).
fn has_default(node: &Node<'_>) -> bool {
    if node.get("default").is_some() {
        return true;
    }
    node.ref_only().and_then(|r| node.follow(r)).is_some_and(|target| target.get("default").is_some())
}

impl Ctx {
    pub(super) fn compare_object(&mut self, o: &Node<'_>, u: &Node<'_>) {
        let (om, um) = (ObjectModel { node: o.clone() }, ObjectModel { node: u.clone() });
        self.enter("required", |ctx| {
            let (or, ur) = (om.required(), um.required());
            for (name, _) in om.properties() {
                if let Some(prop) = um.property(name) {
                    if !or.contains(&name.as_str()) && ur.contains(&name.as_str()) && !has_default(&u.child(prop)) {
                        ctx.add_at(name, "REQUIRED_ATTRIBUTE_ADDED");
                    }
                }
            }
        });
        self.enter("properties", |ctx| ctx.compare_properties(&om, &um));
        self.enter("dependencies", |ctx| {
            let ((oa, os), (ua, us)) = (om.dependencies(), um.dependencies());
            for (name, u_deps) in &ua {
                match oa.iter().find(|(n, _)| n == name) {
                    None => ctx.add_at(name, "DEPENDENCY_ARRAY_ADDED"),
                    Some((_, o_deps)) => {
                        let covers = |a: &[&str], b: &[&str]| b.iter().all(|x| a.contains(x));
                        if covers(o_deps, u_deps) {
                            // Equal, or DEPENDENCY_ARRAY_NARROWED: the reader demands less.
                        } else if covers(u_deps, o_deps) {
                            ctx.add_at(name, "DEPENDENCY_ARRAY_EXTENDED");
                        } else {
                            ctx.add_at(name, "DEPENDENCY_ARRAY_CHANGED");
                        }
                    }
                }
            }
            for (name, u_schema) in &us {
                match os.iter().find(|(n, _)| n == name) {
                    None => ctx.add_at(name, "DEPENDENCY_SCHEMA_ADDED"),
                    Some((_, o_schema)) => ctx.enter(name.as_str(), |ctx| {
                        ctx.compare(&View::whole(o.child(o_schema)), &View::whole(u.child(u_schema)))
                    }),
                }
            }
        });
        self.enter("additionalProperties", |ctx| {
            if om.permits_additional() != um.permits_additional() {
                if !um.permits_additional() {
                    ctx.add("ADDITIONAL_PROPERTIES_REMOVED");
                }
            } else {
                match (om.additional_schema(), um.additional_schema()) {
                    (None, Some(_)) => ctx.add("ADDITIONAL_PROPERTIES_NARROWED"),
                    (Some(os), Some(us)) => ctx.compare(&View::whole(os), &View::whole(us)),
                    _ => {}
                }
            }
        });
        let (o_max, u_max) = (o.number("maxProperties"), u.number("maxProperties"));
        upper_limit(self, "maxProperties", o_max, u_max, "MAX_PROPERTIES_ADDED", "MAX_PROPERTIES_DECREASED");
        let (o_min, u_min) = (o.number("minProperties"), u.number("minProperties"));
        lower_limit(self, "minProperties", o_min, u_min, "MIN_PROPERTIES_ADDED", "MIN_PROPERTIES_INCREASED");
    }

    fn compare_properties(&mut self, om: &ObjectModel<'_>, um: &ObjectModel<'_>) {
        let mut names: Vec<&String> = om.properties().into_iter().chain(um.properties()).map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        for name in names {
            self.enter(name.as_str(), |ctx| match (om.property(name), um.property(name)) {
                (Some(o), Some(u)) => ctx.compare(&View::whole(om.node.child(o)), &View::whole(um.node.child(u))),
                // Removed: only the reader's content model matters.
                (Some(o), None) => {
                    if um.is_open() {
                        return; // PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
                    }
                    match um.partial_schema(name) {
                        Some(partial) => {
                            let o_node = om.node.child(o);
                            let found = ctx.trial(|ctx| ctx.compare(&View::whole(o_node), &View::whole(partial)));
                            if !found.is_empty() {
                                ctx.diffs.extend(found);
                                ctx.add("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
                            }
                        }
                        None if matches!(o, Value::Bool(false)) => {} // PROPERTY_WITH_FALSE_REMOVED_...
                        None => ctx.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
                    }
                }
                // Added: only the writer's content model matters.
                (None, Some(u)) => {
                    let u_node = um.node.child(u);
                    if om.is_open() {
                        if !matches!(shape(&View::whole(u_node)), Shape::Empty) {
                            ctx.add("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
                        }
                        return;
                    }
                    if let Some(partial) = om.partial_schema(name) {
                        let found = ctx.trial(|ctx| ctx.compare(&View::whole(partial), &View::whole(u_node.clone())));
                        if !found.is_empty() {
                            ctx.diffs.extend(found);
                            ctx.add("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
                        }
                    }
                    if um.required().contains(&name.as_str()) && !has_default(&u_node) {
                        ctx.add("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL");
                    }
                }
                (None, None) => {}
            });
        }
    }
}

/// What an array schema says about its items.
struct ArrayModel<'r> {
    /// The schema every item must match (`items` as a schema; 2020-12 `items` without `prefixItems`).
    all: Option<Node<'r>>,
    /// Positional item schemas (`items` as an array; 2020-12 `prefixItems`).
    tuple: Vec<Node<'r>>,
    /// Whether items past the tuple are allowed, and the schema they must match.
    permits_additional: bool,
    additional: Option<Node<'r>>,
}

impl<'r> ArrayModel<'r> {
    fn of(node: &Node<'r>) -> ArrayModel<'r> {
        let mut model = ArrayModel { all: None, tuple: Vec::new(), permits_additional: true, additional: None };
        let mut additional = node.get("additionalItems");
        match (node.draft, node.get("prefixItems")) {
            (Draft::Draft202012, Some(Value::Array(prefix))) => {
                model.tuple = prefix.iter().map(|v| node.child(v)).collect();
                additional = node.get("items");
            }
            _ => match node.get("items") {
                Some(Value::Array(items)) => model.tuple = items.iter().map(|v| node.child(v)).collect(),
                Some(items) => model.all = Some(node.child(items)),
                None => {}
            },
        }
        match additional {
            Some(Value::Bool(false)) => model.permits_additional = false,
            Some(v @ Value::Object(_)) => model.additional = Some(node.child(v)),
            _ => {}
        }
        model
    }

    fn is_open(&self) -> bool {
        self.permits_additional && self.additional.is_none()
    }
}

impl Ctx {
    pub(super) fn compare_array(&mut self, o: &Node<'_>, u: &Node<'_>) {
        let (om, um) = (ArrayModel::of(o), ArrayModel::of(u));
        self.enter("items", |ctx| ctx.compare_optional(om.all.clone(), um.all.clone()));
        let common = om.tuple.len().min(um.tuple.len());
        for (i, (os, us)) in om.tuple.iter().zip(&um.tuple).enumerate() {
            self.enter(format!("items/{i}"), |ctx| ctx.compare(&View::whole(os.clone()), &View::whole(us.clone())));
        }
        for (i, os) in om.tuple.iter().enumerate().skip(common) {
            self.enter(format!("items/{i}"), |ctx| {
                if um.is_open() {
                    return; // ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
                }
                match &um.additional {
                    Some(partial) => {
                        let found =
                            ctx.trial(|ctx| ctx.compare(&View::whole(os.clone()), &View::whole(partial.clone())));
                        if !found.is_empty() {
                            ctx.diffs.extend(found);
                            ctx.add("ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
                        }
                    }
                    None if matches!(os.value, Value::Bool(false)) => {} // ITEM_WITH_FALSE_REMOVED_...
                    None => ctx.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
                }
            });
        }
        for (i, us) in um.tuple.iter().enumerate().skip(common) {
            self.enter(format!("items/{i}"), |ctx| {
                if om.is_open() {
                    if !matches!(shape(&View::whole(us.clone())), Shape::Empty) {
                        ctx.add("ITEM_ADDED_TO_OPEN_CONTENT_MODEL");
                    }
                    return;
                }
                if let Some(partial) = &om.additional {
                    let found = ctx.trial(|ctx| ctx.compare(&View::whole(partial.clone()), &View::whole(us.clone())));
                    if !found.is_empty() {
                        ctx.diffs.extend(found);
                        ctx.add("ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL");
                    }
                } // else ITEM_ADDED_TO_CLOSED_CONTENT_MODEL: the writer never wrote that position.
            });
        }
        self.enter("additionalItems", |ctx| {
            if om.permits_additional != um.permits_additional {
                if !um.permits_additional {
                    ctx.add("ADDITIONAL_ITEMS_REMOVED");
                }
            } else {
                match (&om.additional, &um.additional) {
                    (None, Some(_)) => ctx.add("ADDITIONAL_ITEMS_NARROWED"),
                    (Some(os), Some(us)) => ctx.compare(&View::whole(os.clone()), &View::whole(us.clone())),
                    _ => {}
                }
            }
        });
        upper_limit(
            self,
            "maxItems",
            o.number("maxItems"),
            u.number("maxItems"),
            "MAX_ITEMS_ADDED",
            "MAX_ITEMS_DECREASED",
        );
        lower_limit(
            self,
            "minItems",
            o.number("minItems"),
            u.number("minItems"),
            "MIN_ITEMS_ADDED",
            "MIN_ITEMS_INCREASED",
        );
        let unique = |n: &Node<'_>| n.get("uniqueItems") == Some(&Value::Bool(true));
        if !unique(o) && unique(u) {
            self.add_at("uniqueItems", "UNIQUE_ITEMS_ADDED");
        }
    }
}
