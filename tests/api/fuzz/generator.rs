//! Random GraphQL operations generated from `schema.graphql`: fields with
//! arguments of the right and of wrong types, aliases, inline and named fragments,
//! variables, `@include`/`@skip`, introspection, mutations, and a share of garbled
//! documents. Deterministic for a given seed.

use std::collections::BTreeMap;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

/// Deepest selection generated; deeper ones are the hostile suite's business.
const MAX_DEPTH: usize = 5;

/// A field or argument: its name, arguments and type.
#[derive(Clone)]
struct Field {
    name: String,
    args: Vec<(String, Type)>,
    ty: Type,
}

/// The schema's types, as the generator needs them.
enum Def {
    Object(Vec<Field>),
    Input(Vec<(String, Type)>),
    Enum(Vec<String>),
    Scalar,
}

/// The types of `schema.graphql`.
pub struct Schema {
    types: BTreeMap<String, Def>,
}

impl Schema {
    pub fn parse(sdl: &str) -> Self {
        let document = async_graphql::parser::parse_schema(sdl).expect("schema.graphql parses");
        let mut types = BTreeMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else { continue };
            let ty = ty.node;
            let def = match ty.kind {
                TypeKind::Object(object) => Def::Object(
                    object
                        .fields
                        .into_iter()
                        .map(|f| Field {
                            name: f.node.name.node.to_string(),
                            args: f
                                .node
                                .arguments
                                .iter()
                                .map(|a| (a.node.name.node.to_string(), a.node.ty.node.clone()))
                                .collect(),
                            ty: f.node.ty.node,
                        })
                        .collect(),
                ),
                TypeKind::InputObject(input) => Def::Input(
                    input.fields.iter().map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone())).collect(),
                ),
                TypeKind::Enum(e) => Def::Enum(e.values.iter().map(|v| v.node.value.node.to_string()).collect()),
                _ => Def::Scalar,
            };
            types.insert(ty.name.node.to_string(), def);
        }
        for scalar in ["String", "Int", "Float", "Boolean", "ID"] {
            types.insert(scalar.into(), Def::Scalar);
        }
        Self { types }
    }
}

/// One generated request.
pub struct Generated {
    pub document: String,
    pub variables: Value,
}

/// Generates operations from a seeded generator.
pub struct Generator<'s> {
    schema: &'s Schema,
    rng: StdRng,
    variables: Vec<(String, String, Value)>,
    fragments: Vec<String>,
}

impl<'s> Generator<'s> {
    pub fn new(schema: &'s Schema, seed: u64) -> Self {
        Self { schema, rng: StdRng::seed_from_u64(seed), variables: Vec::new(), fragments: Vec::new() }
    }

    /// A random operation; about one in six garbled.
    pub fn next(&mut self) -> Generated {
        self.variables.clear();
        self.fragments.clear();
        let (keyword, root) = match self.rng.random_range(0..10) {
            0..=5 => ("query", "Query"),
            6..=8 => ("mutation", "Mutation"),
            _ => ("query", "__introspection"),
        };
        let selection = if root == "__introspection" { self.introspection() } else { self.selection_set(root, 0) };
        let declarations: Vec<String> = self.variables.iter().map(|(name, ty, _)| format!("${name}: {ty}")).collect();
        let header = if declarations.is_empty() { String::new() } else { format!("({})", declarations.join(", ")) };
        let name =
            if self.rng.random_bool(0.5) { format!(" Fuzz{}", self.rng.random_range(0..100)) } else { String::new() };
        let mut document = format!("{keyword}{name}{header} {selection}");
        for fragment in &self.fragments {
            document.push('\n');
            document.push_str(fragment);
        }
        if self.rng.random_bool(1.0 / 6.0) {
            document = self.garble(document);
        }
        let variables = self.variables.iter().map(|(name, _, value)| (name.clone(), value.clone())).collect();
        Generated { document, variables: Value::Object(variables) }
    }

    fn selection_set(&mut self, type_name: &str, depth: usize) -> String {
        let Some(Def::Object(fields)) = self.schema.types.get(type_name) else { return String::new() };
        let fields = fields.clone();
        let mut items = Vec::new();
        for _ in 0..self.rng.random_range(1..=4) {
            let item = match self.rng.random_range(0..20) {
                0..=1 => "__typename".to_owned(),
                2 if depth < MAX_DEPTH => {
                    format!("... on {type_name} {}", self.selection_set(type_name, depth + 1))
                }
                3 if depth < MAX_DEPTH => {
                    let name = format!("Frag{}", self.fragments.len());
                    let body = self.selection_set(type_name, depth + 1);
                    self.fragments.push(format!("fragment {name} on {type_name} {body}"));
                    format!("...{name}")
                }
                _ => {
                    let field = fields.choose(&mut self.rng).expect("a type has fields").clone();
                    self.field(&field, depth)
                }
            };
            items.push(item + &self.directive());
        }
        format!("{{ {} }}", items.join(" "))
    }

    fn field(&mut self, field: &Field, depth: usize) -> String {
        let alias =
            if self.rng.random_bool(0.2) { format!("x{}: ", self.rng.random_range(0..50)) } else { String::new() };
        let mut args = Vec::new();
        for (name, ty) in &field.args {
            if !ty.nullable || self.rng.random_bool(0.5) {
                args.push(format!("{name}: {}", self.argument(ty)));
            }
        }
        let args = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        let named = named(&field.ty).to_owned();
        let selection = match self.schema.types.get(&named) {
            Some(Def::Object(_)) if depth < MAX_DEPTH => self.selection_set(&named, depth + 1),
            Some(Def::Object(_)) => "{ __typename }".to_owned(),
            _ => String::new(),
        };
        format!("{alias}{}{args} {selection}", field.name)
    }

    /// A literal or a variable, of the right type four times in five.
    fn argument(&mut self, ty: &Type) -> String {
        let ty = if self.rng.random_bool(0.8) { ty.clone() } else { self.any_type() };
        if self.rng.random_bool(0.25) {
            let name = format!("v{}", self.variables.len());
            let value = self.json_value(&ty);
            self.variables.push((name.clone(), ty.to_string(), value));
            return format!("${name}");
        }
        self.literal(&ty)
    }

    fn any_type(&mut self) -> Type {
        let names: Vec<&String> = self.schema.types.keys().collect();
        let name = (*names.choose(&mut self.rng).expect("types")).clone();
        Type::new(&name).expect("a named type")
    }

    fn literal(&mut self, ty: &Type) -> String {
        match &ty.base {
            BaseType::List(inner) => format!("[{}]", self.literal(inner)),
            BaseType::Named(name) => match self.schema.types.get(name.as_str()) {
                Some(Def::Enum(values)) => values.choose(&mut self.rng).cloned().unwrap_or_default(),
                Some(Def::Input(fields)) => {
                    let fields = fields.clone();
                    let mut set = Vec::new();
                    for (name, ty) in &fields {
                        if !ty.nullable || self.rng.random_bool(0.5) {
                            set.push(format!("{name}: {}", self.literal(ty)));
                        }
                    }
                    format!("{{ {} }}", set.join(", "))
                }
                _ => self.json_value(ty).to_string(),
            },
        }
    }

    fn json_value(&mut self, ty: &Type) -> Value {
        match &ty.base {
            BaseType::List(inner) => json!([self.json_value(inner)]),
            BaseType::Named(name) => match (name.as_str(), self.schema.types.get(name.as_str())) {
                ("Int", _) => json!([0, 1, 20, 100, 101, -1, i64::from(i32::MAX) + 1].choose(&mut self.rng)),
                ("Float", _) => json!(self.rng.random_range(-1e9..1e9)),
                ("Boolean", _) => json!(self.rng.random_bool(0.5)),
                ("ID", _) => json!(
                    ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "0195f0e2-7c1a-7000-8000-000000000000"]
                        .choose(&mut self.rng)
                ),
                (_, Some(Def::Enum(values))) => json!(values.choose(&mut self.rng)),
                (_, Some(Def::Input(fields))) => {
                    let fields = fields.clone();
                    Value::Object(fields.iter().map(|(name, ty)| (name.clone(), self.json_value(ty))).collect())
                }
                _ => json!(self.text()),
            },
        }
    }

    fn text(&mut self) -> String {
        match self.rng.random_range(0..6) {
            0 => String::new(),
            1 => "  spaced  ".into(),
            2 => "nul \u{0} inside".into(),
            3 => "é✓ 🦀 \"quoted\" \\ back".into(),
            4 => "long ".repeat(self.rng.random_range(40..250)),
            _ => format!("task {}", self.rng.random_range(0..1000)),
        }
    }

    fn directive(&mut self) -> String {
        match self.rng.random_range(0..10) {
            0 => format!(" @include(if: {})", self.rng.random_bool(0.5)),
            1 => format!(" @skip(if: {})", self.rng.random_bool(0.5)),
            2 => {
                let name = format!("v{}", self.variables.len());
                self.variables.push((name.clone(), "Boolean!".into(), json!(self.rng.random_bool(0.5))));
                format!(" @{}(if: ${name})", if self.rng.random_bool(0.5) { "include" } else { "skip" })
            }
            _ => String::new(),
        }
    }

    fn introspection(&mut self) -> String {
        let names: Vec<String> = self.schema.types.keys().cloned().collect();
        let name = names.choose(&mut self.rng).expect("types").clone();
        let choices = [
            "{ __schema { queryType { name } types { name kind fields { name args { name } type { name kind ofType { name } } } } } }".to_owned(),
            format!("{{ __type(name: \"{name}\") {{ name kind fields {{ name type {{ name kind }} }} inputFields {{ name }} enumValues {{ name }} }} }}"),
            "{ __typename __schema { directives { name locations args { name defaultValue } } } }".to_owned(),
        ];
        choices.choose(&mut self.rng).expect("choices").clone()
    }

    /// Cuts, repeats, swaps or splices in punctuation.
    fn garble(&mut self, document: String) -> String {
        let mut chars: Vec<char> = document.chars().collect();
        for _ in 0..self.rng.random_range(1..=3) {
            if chars.is_empty() {
                break;
            }
            let at = self.rng.random_range(0..chars.len());
            match self.rng.random_range(0..5) {
                0 => chars.truncate(at),
                1 => {
                    chars.remove(at);
                }
                2 => {
                    let end = (at + self.rng.random_range(1..20)).min(chars.len());
                    let piece: Vec<char> = chars[at..end].to_vec();
                    chars.splice(at..at, piece);
                }
                3 => chars.insert(
                    at,
                    *['{', '}', '(', ')', '$', '@', '"', ':', '.', '!', '[', '#'].choose(&mut self.rng).unwrap(),
                ),
                _ => {
                    let other = self.rng.random_range(0..chars.len());
                    chars.swap(at, other);
                }
            }
        }
        chars.into_iter().collect()
    }
}

/// The named type under lists and non-null.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}
