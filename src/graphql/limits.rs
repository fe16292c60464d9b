//! What a GraphQL document may cost, measured before anything expands it.
//!
//! A document is checked in three steps, each linear in its size:
//!
//! 1. [`scan`] counts lexical tokens and bracket nesting on the raw text, so a huge or
//!    deeply nested document is refused before the parser (which recurses) sees it.
//! 2. The parser runs once.
//! 3. [`measure`] sums fields, aliases and directives with every fragment spread
//!    expanded, and finds the depths, without expanding anything: each fragment is
//!    measured once, in dependency order, and a spread adds its fragment's totals.
//!    A fragment that spreads itself (directly or not) is refused here.
//!
//! Only a document that passes goes to async-graphql, whose own passes (validation,
//! depth, complexity) do expand spreads; the bounds make sure that stays cheap.
//! Introspection is held to the same rules, with a depth of its own
//! (`MAX_INTROSPECTION_DEPTH`) that the standard introspection query passes.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::{
    Name,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::config::Limits;

/// Deepest bracket nesting (`{`, `[`, `(`) read at all. The parser recurses once per
/// level, so this protects it; the depth limits proper come after parsing.
pub const MAX_NESTING: usize = 64;

/// Nested `fields`/`interfaces`/`possibleTypes`/`inputFields` an introspection query
/// may have, as graphql-js's `MaxIntrospectionDepthRule` allows.
const MAX_INTROSPECTION_LISTS: u64 = 3;

/// Why a document is refused; its `Display` is the message the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// More lexical tokens than `MAX_TOKENS`.
    #[error("the document has more than {limit} tokens (MAX_TOKENS)")]
    Tokens {
        /// The limit.
        limit: usize,
    },
    /// A document longer than `MAX_QUERY_BYTES`.
    #[error("the document is larger than {limit} bytes (MAX_QUERY_BYTES)")]
    Bytes {
        /// The limit.
        limit: usize,
    },
    /// Brackets nested deeper than [`MAX_NESTING`].
    #[error("the document nests brackets deeper than {limit}")]
    Nesting {
        /// The limit.
        limit: usize,
    },
    /// A fragment that spreads itself.
    #[error("fragment \"{0}\" spreads itself")]
    FragmentCycle(String),
    /// A batch whose operations together pass a limit.
    #[error("the batch as a whole {what}: {actual} exceeds {limit} ({setting})")]
    Batch {
        /// What is counted, in words.
        what: &'static str,
        /// The measured value.
        actual: u64,
        /// The limit.
        limit: u64,
        /// The setting that holds the limit.
        setting: &'static str,
    },
    /// A measured total above its limit.
    #[error("the document {what}: {actual} exceeds {limit} ({setting})")]
    Over {
        /// What is counted, in words.
        what: &'static str,
        /// The measured value.
        actual: u64,
        /// The limit.
        limit: u64,
        /// The setting that holds the limit.
        setting: &'static str,
    },
}

/// Counts the lexical tokens of `source` and its bracket nesting, giving up as soon
/// as either passes its limit. Linear in the length of `source`; never allocates.
///
/// # Errors
/// [`Refusal::Tokens`] or [`Refusal::Nesting`].
pub fn scan(source: &str, max_tokens: usize) -> Result<usize, Refusal> {
    let bytes = source.as_bytes();
    let (mut i, mut tokens, mut nesting) = (0, 0usize, 0usize);
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => {
                i += 3;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 3;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'{' | b'[' | b'(' => {
                nesting += 1;
                if nesting > MAX_NESTING {
                    return Err(Refusal::Nesting { limit: MAX_NESTING });
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                nesting = nesting.saturating_sub(1);
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => i += 3,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && matches!(bytes[i], b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9') {
                    i += 1;
                }
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
            }
            // Punctuators, and anything the parser will refuse: one token each.
            _ => i += source[i..].chars().next().map_or(1, char::len_utf8),
        }
        tokens += 1;
        if tokens > max_tokens {
            return Err(Refusal::Tokens { limit: max_tokens });
        }
    }
    Ok(tokens)
}

/// A document's totals, every fragment spread expanded (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Field selections.
    pub fields: u64,
    /// Fields with an alias.
    pub aliases: u64,
    /// Directives anywhere.
    pub directives: u64,
    /// `__schema` and `__type` fields at an operation's root.
    pub introspection_roots: u64,
    /// Deepest field under a root field that is not introspection.
    pub depth: u64,
    /// Deepest field under `__schema` or `__type`.
    pub introspection_depth: u64,
    /// Most nested introspection type lists (`fields`, `interfaces`, …) on one path.
    pub introspection_lists: u64,
}

impl Measure {
    /// The sum of two measures (a batch as a whole): counts add, depths take the larger.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            directives: self.directives.saturating_add(other.directives),
            introspection_roots: self.introspection_roots.saturating_add(other.introspection_roots),
            depth: self.depth.max(other.depth),
            introspection_depth: self.introspection_depth.max(other.introspection_depth),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
        }
    }

    /// Checks the totals against the limits.
    ///
    /// # Errors
    /// The first total above its limit.
    pub fn check(&self, limits: &Limits) -> Result<(), Refusal> {
        let over = |what, actual: u64, limit: usize, setting| {
            let limit = u64::try_from(limit).unwrap_or(u64::MAX);
            if actual > limit { Err(Refusal::Over { what, actual, limit, setting }) } else { Ok(()) }
        };
        over("selects too many fields, counting each fragment spread", self.fields, limits.max_fields, "MAX_FIELDS")?;
        over("has too many aliases", self.aliases, limits.max_aliases, "MAX_ALIASES")?;
        over("has too many directives", self.directives, limits.max_directives, "MAX_DIRECTIVES")?;
        over(
            "has too many root introspection fields",
            self.introspection_roots,
            limits.max_introspection_roots,
            "MAX_INTROSPECTION_ROOTS",
        )?;
        over("is nested too deep", self.depth, limits.max_depth, "MAX_DEPTH")?;
        over(
            "nests introspection too deep",
            self.introspection_depth,
            limits.max_introspection_depth,
            "MAX_INTROSPECTION_DEPTH",
        )?;
        if self.introspection_lists >= MAX_INTROSPECTION_LISTS {
            return Err(Refusal::Over {
                what: "nests introspection type lists (fields, interfaces, possibleTypes, inputFields) too deep",
                actual: self.introspection_lists,
                limit: MAX_INTROSPECTION_LISTS - 1,
                setting: "graphql-js's introspection rule",
            });
        }
        Ok(())
    }
}

/// What a selection set (or a fragment) contributes, its own fields taken as root fields.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    fields: u64,
    aliases: u64,
    directives: u64,
    /// Of the top-level fields: how many are `__schema`/`__type`.
    introspection_roots: u64,
    /// Deepest path starting at a top-level field that is not introspection.
    depth: u64,
    /// Deepest path starting at a top-level `__schema`/`__type`.
    introspection_depth: u64,
    /// Most introspection type lists on one path.
    lists: u64,
}

impl Cost {
    fn add(&mut self, other: &Self) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.directives = self.directives.saturating_add(other.directives);
        self.introspection_roots = self.introspection_roots.saturating_add(other.introspection_roots);
        self.depth = self.depth.max(other.depth);
        self.introspection_depth = self.introspection_depth.max(other.introspection_depth);
        self.lists = self.lists.max(other.lists);
    }

    /// The deepest path, whatever its root.
    fn any_depth(&self) -> u64 {
        self.depth.max(self.introspection_depth)
    }
}

/// Measures a parsed document: every operation and the fragments they spread.
///
/// Time and memory are linear in the document's size: fragments are measured once
/// each, in an order where every fragment comes after those it spreads.
///
/// # Errors
/// [`Refusal::FragmentCycle`] when a fragment spreads itself.
pub fn measure(document: &ExecutableDocument) -> Result<Measure, Refusal> {
    let fragments = fragment_costs(document)?;
    let mut total = Cost::default();
    for (_, operation) in document.operations.iter() {
        total.directives = total.directives.saturating_add(operation.node.directives.len() as u64);
        for variable in &operation.node.variable_definitions {
            total.directives = total.directives.saturating_add(variable.node.directives.len() as u64);
        }
        total.add(&cost(&operation.node.selection_set.node, &fragments));
    }
    Ok(Measure {
        fields: total.fields,
        aliases: total.aliases,
        directives: total.directives,
        introspection_roots: total.introspection_roots,
        depth: total.depth,
        introspection_depth: total.introspection_depth,
        introspection_lists: total.lists,
    })
}

/// Each fragment's cost, computed once per fragment in dependency order, without
/// recursion over spreads (a chain of thousands of fragments needs no stack).
fn fragment_costs(document: &ExecutableDocument) -> Result<HashMap<&Name, Cost>, Refusal> {
    let spreads: HashMap<&Name, Vec<&Name>> = document
        .fragments
        .iter()
        .map(|(name, fragment)| {
            let mut found = Vec::new();
            spreads_in(&fragment.node.selection_set.node, &mut found);
            (name, found)
        })
        .collect();
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        Visiting,
        Done,
    }
    let mut state: HashMap<&Name, State> = HashMap::with_capacity(spreads.len());
    let mut costs: HashMap<&Name, Cost> = HashMap::with_capacity(spreads.len());
    for root in spreads.keys() {
        if state.contains_key(root) {
            continue;
        }
        // Depth-first with an explicit stack: (fragment, index of the next spread to follow).
        let mut stack: Vec<(&Name, usize)> = vec![(root, 0)];
        state.insert(root, State::Visiting);
        while let Some((name, next)) = stack.pop() {
            let children = spreads.get(name).map_or(&[][..], Vec::as_slice);
            if let Some(child) = children.get(next) {
                stack.push((name, next + 1));
                match state.get(child) {
                    Some(State::Visiting) => return Err(Refusal::FragmentCycle(child.to_string())),
                    Some(State::Done) => {}
                    // A fragment nobody defined: validation reports it; it costs nothing here.
                    None if !spreads.contains_key(child) => {}
                    None => {
                        state.insert(child, State::Visiting);
                        stack.push((child, 0));
                    }
                }
                continue;
            }
            if let Some(fragment) = document.fragments.get(name) {
                let mut own = cost(&fragment.node.selection_set.node, &costs);
                own.directives = own.directives.saturating_add(fragment.node.directives.len() as u64);
                costs.insert(name, own);
            }
            state.insert(name, State::Done);
        }
    }
    Ok(costs)
}

/// The fragment names spread anywhere in `set`.
fn spreads_in<'d>(set: &'d SelectionSet, found: &mut Vec<&'d Name>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => spreads_in(&field.node.selection_set.node, found),
            Selection::InlineFragment(inline) => spreads_in(&inline.node.selection_set.node, found),
            Selection::FragmentSpread(spread) => found.push(&spread.node.fragment_name.node),
        }
    }
}

/// The cost of `set`, its own fields taken as root fields, with fragments already
/// measured in `fragments`. Recursion follows only the document's own nesting,
/// which [`scan`] bounded.
fn cost(set: &SelectionSet, fragments: &HashMap<&Name, Cost>) -> Cost {
    let mut total = Cost::default();
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                let child = cost(&field.selection_set.node, fragments);
                let mut own = Cost {
                    fields: child.fields.saturating_add(1),
                    aliases: child.aliases.saturating_add(u64::from(field.alias.is_some())),
                    directives: child.directives.saturating_add(field.directives.len() as u64),
                    introspection_roots: 0,
                    depth: 0,
                    introspection_depth: 0,
                    lists: child.lists
                        + u64::from(matches!(
                            field.name.node.as_str(),
                            "fields" | "interfaces" | "possibleTypes" | "inputFields"
                        )),
                };
                let depth = child.any_depth() + 1;
                if matches!(field.name.node.as_str(), "__schema" | "__type") {
                    own.introspection_roots = 1;
                    own.introspection_depth = depth;
                } else {
                    own.depth = depth;
                }
                total.add(&own);
            }
            Selection::InlineFragment(inline) => {
                let mut own = cost(&inline.node.selection_set.node, fragments);
                own.directives = own.directives.saturating_add(inline.node.directives.len() as u64);
                total.add(&own);
            }
            Selection::FragmentSpread(spread) => {
                total.directives = total.directives.saturating_add(spread.node.directives.len() as u64);
                if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                    total.add(fragment);
                }
            }
        }
    }
    total
}

/// Parses and measures `query`: the one parse of a request's document.
///
/// # Errors
/// A parse error (as async-graphql reports it) or a refusal.
/// Answers the document, its totals and its token count.
pub fn prepare(query: &str, limits: &Limits) -> Result<(ExecutableDocument, Measure, usize), Prepared> {
    let tokens = scan(query, limits.max_tokens).map_err(Prepared::Refused)?;
    let document = async_graphql::parser::parse_query(query).map_err(Prepared::Parse)?;
    let measure = measure(&document).map_err(Prepared::Refused)?;
    measure.check(limits).map_err(Prepared::Refused)?;
    Ok((document, measure, tokens))
}

/// What one HTTP request may still spend: a batch is held to the limits as a whole,
/// so ten operations cannot each take the budget of one.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    spent: Mutex<Spent>,
}

#[derive(Debug, Default)]
struct Spent {
    query_bytes: usize,
    measure: Measure,
    complexity: usize,
    response_bytes: usize,
}

impl Budget {
    /// A fresh budget under `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self { limits: limits.clone(), spent: Mutex::default() }
    }

    fn spent(&self) -> std::sync::MutexGuard<'_, Spent> {
        self.spent.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an operation's document text, before it is hashed or parsed.
    ///
    /// # Errors
    /// When the request's documents together pass `MAX_QUERY_BYTES`.
    pub fn spend_query_bytes(&self, bytes: usize) -> Result<(), Refusal> {
        let mut spent = self.spent();
        let total = spent.query_bytes.saturating_add(bytes);
        let limit = self.limits.max_query_bytes;
        if total > limit {
            return Err(if spent.query_bytes > 0 {
                Refusal::Batch {
                    what: "is too large, in bytes of documents",
                    actual: total as u64,
                    limit: limit as u64,
                    setting: "MAX_QUERY_BYTES",
                }
            } else {
                Refusal::Bytes { limit }
            });
        }
        spent.query_bytes = total;
        Ok(())
    }

    /// Adds an operation's document.
    ///
    /// # Errors
    /// When the request's documents together pass a limit; nothing is spent then.
    pub fn spend_document(&self, measure: Measure) -> Result<(), Refusal> {
        let mut spent = self.spent();
        let total = spent.measure.plus(measure);
        total.check(&self.limits).map_err(|refusal| match refusal {
            Refusal::Over { what, actual, limit, setting } if spent.measure != Measure::default() => {
                Refusal::Batch { what, actual, limit, setting }
            }
            other => other,
        })?;
        spent.measure = total;
        Ok(())
    }

    /// Adds an operation's complexity, as async-graphql computed it.
    ///
    /// # Errors
    /// When the request's operations together pass `MAX_COMPLEXITY`.
    pub fn spend_complexity(&self, complexity: usize) -> Result<(), Refusal> {
        let mut spent = self.spent();
        let total = spent.complexity.saturating_add(complexity);
        if total > self.limits.max_complexity {
            let (actual, limit) = (total as u64, self.limits.max_complexity as u64);
            let what = "is too complex";
            return Err(if spent.complexity > 0 {
                Refusal::Batch { what, actual, limit, setting: "MAX_COMPLEXITY" }
            } else {
                Refusal::Over { what, actual, limit, setting: "MAX_COMPLEXITY" }
            });
        }
        spent.complexity = total;
        Ok(())
    }

    /// Response bytes the request may still send.
    pub fn response_bytes_left(&self) -> usize {
        self.limits.max_response_bytes.saturating_sub(self.spent().response_bytes)
    }

    /// Records response bytes sent.
    pub fn spend_response_bytes(&self, bytes: usize) {
        let mut spent = self.spent();
        spent.response_bytes = spent.response_bytes.saturating_add(bytes);
    }
}

/// Why [`prepare`] gave no document.
#[derive(Debug)]
pub enum Prepared {
    /// The document does not parse.
    Parse(async_graphql::parser::Error),
    /// The document parses but is over a limit.
    Refused(Refusal),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(query: &str) -> Result<Measure, Refusal> {
        measure(&async_graphql::parser::parse_query(query).unwrap())
    }

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn tokens_are_counted_like_graphql_lexes_them() {
        assert_eq!(scan("{ a }", 100), Ok(3));
        assert_eq!(scan("# only a comment\n", 100), Ok(0));
        assert_eq!(
            scan(
                "query Q($a: [Int!] = [1, -2.5e3]) { f(s: \"x\\\"y\", b: \"\"\"b\\\"\"\"q\"\"\") ... on T { g } }",
                100
            ),
            Ok(33)
        );
        assert_eq!(scan(&"{ a } ".repeat(10), 29), Err(Refusal::Tokens { limit: 29 }));
        let deep = format!("{}{}", "{a".repeat(MAX_NESTING + 1), "}".repeat(MAX_NESTING + 1));
        assert_eq!(scan(&deep, usize::MAX), Err(Refusal::Nesting { limit: MAX_NESTING }));
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        let n = 60;
        let mut query = String::from("{ ...F0 }\n");
        for i in 0..n {
            query.push_str(&format!("fragment F{i} on Query {{ ...F{next} ...F{next} }}\n", next = i + 1));
        }
        query.push_str(&format!("fragment F{n} on Query {{ __typename }}\n"));
        let measure = measured(&query).unwrap();
        assert_eq!(measure.fields, 1 << n, "each level doubles the expanded fields");
        assert!(matches!(measure.check(&limits()), Err(Refusal::Over { setting: "MAX_FIELDS", .. })));
    }

    #[test]
    fn cycles_are_refused() {
        let cycle = measured("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        assert!(matches!(cycle, Err(Refusal::FragmentCycle(_))), "{cycle:?}");
        assert!(measured("{ __schema { ...A } } fragment A on __Schema { ...A }").is_err());
    }

    #[test]
    fn aliases_directives_and_roots_count_through_fragments() {
        let m = measured(
            "query($x: Boolean!) { a: __typename @include(if: $x) ...F ...F } fragment F on Query { b: __schema { types { name } } }",
        )
        .unwrap();
        assert_eq!((m.aliases, m.directives, m.introspection_roots), (3, 1, 2));
        assert_eq!((m.depth, m.introspection_depth, m.fields), (1, 3, 7));
    }

    #[test]
    fn the_standard_introspection_query_passes_the_defaults() {
        let query = include_str!("../../tests/fixtures/introspection.graphql");
        let tokens = scan(query, usize::MAX).unwrap();
        let measure = measured(query).unwrap();
        println!("GraphiQL's introspection query: {tokens} tokens, {measure:?}");
        assert!(tokens <= limits().max_tokens);
        measure.check(&limits()).unwrap();
    }

    #[test]
    fn looping_through_type_lists_is_refused() {
        let query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        let refusal = measured(query).unwrap().check(&limits()).unwrap_err();
        assert!(refusal.to_string().contains("type lists"), "{refusal}");
    }
}
