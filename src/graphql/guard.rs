//! Request checks that run inside async-graphql: error codes for documents that do
//! not parse or validate, and the depth and complexity limits.
//!
//! A document made only of introspection (`__schema`, `__type`, `__typename`) is held
//! to graphql-js's introspection rule instead of the limits, so GraphiQL and codegen
//! are never locked out while `fields { type { fields … } }` loops stay refused.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use crate::error::code;

/// Nested `fields`/`interfaces`/`possibleTypes`/`inputFields` an introspection query
/// may have, as graphql-js's `MaxIntrospectionDepthRule` allows.
const MAX_INTROSPECTION_LISTS: usize = 3;
/// Deepest selection followed while classifying a document, against hostile nesting.
const MAX_WALK_DEPTH: usize = 64;

/// Builds one [`Guard`] per request.
pub struct GuardFactory {
    /// Deepest selection allowed.
    pub max_depth: usize,
    /// Highest complexity allowed.
    pub max_complexity: usize,
}

impl ExtensionFactory for GuardFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            introspection_only: AtomicBool::new(false),
        })
    }
}

/// The per-request extension.
struct Guard {
    max_depth: usize,
    max_complexity: usize,
    introspection_only: AtomicBool,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Guard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|e| with_code(e, code::GRAPHQL_PARSE_FAILED))?;
        match classify(&document) {
            Shape::Introspection => self.introspection_only.store(true, Ordering::Relaxed),
            Shape::Other => {}
            Shape::IntrospectionTooDeep => {
                return Err(with_code(
                    ServerError::new("Maximum introspection depth exceeded", None),
                    code::GRAPHQL_VALIDATION_FAILED,
                ));
            }
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors.into_iter().map(|e| with_code(e, code::GRAPHQL_VALIDATION_FAILED)).collect::<Vec<_>>()
        })?;
        if !self.introspection_only.load(Ordering::Relaxed) {
            let refuse =
                |message: String| vec![with_code(ServerError::new(message, None), code::GRAPHQL_VALIDATION_FAILED)];
            if result.depth > self.max_depth {
                return Err(refuse(format!(
                    "Query is nested too deep: depth {} exceeds {}",
                    result.depth, self.max_depth
                )));
            }
            if result.complexity > self.max_complexity {
                return Err(refuse(format!(
                    "Query is too complex: complexity {} exceeds {}",
                    result.complexity, self.max_complexity
                )));
            }
        }
        Ok(result)
    }
}

/// Sets `extensions.code` unless the error already carries one.
pub fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Introspection,
    IntrospectionTooDeep,
    Other,
}

/// Whether every operation of the document only introspects, and if so, whether it
/// nests type lists deeper than graphql-js allows.
fn classify(document: &ExecutableDocument) -> Shape {
    let mut too_deep = false;
    for (_, operation) in document.operations.iter() {
        if operation.node.ty != OperationType::Query {
            return Shape::Other;
        }
        let mut walk = Walk { document, visiting: HashSet::new(), lists: 0, depth: 0, too_deep: false };
        if !walk.root_is_introspection(&operation.node.selection_set.node) {
            return Shape::Other;
        }
        walk.visit(&operation.node.selection_set.node);
        too_deep |= walk.too_deep;
    }
    if too_deep { Shape::IntrospectionTooDeep } else { Shape::Introspection }
}

struct Walk<'d> {
    document: &'d ExecutableDocument,
    visiting: HashSet<&'d str>,
    lists: usize,
    depth: usize,
    too_deep: bool,
}

impl<'d> Walk<'d> {
    fn root_is_introspection(&mut self, set: &'d SelectionSet) -> bool {
        set.items.iter().all(|item| match &item.node {
            Selection::Field(field) => field.node.name.node.starts_with("__"),
            Selection::InlineFragment(inline) => self.root_is_introspection(&inline.node.selection_set.node),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match self.document.fragments.get(name) {
                    Some(fragment) if self.visiting.insert(name) => {
                        let ok = self.root_is_introspection(&fragment.node.selection_set.node);
                        self.visiting.remove(name);
                        ok
                    }
                    _ => false,
                }
            }
        })
    }

    fn visit(&mut self, set: &'d SelectionSet) {
        if self.too_deep || self.depth > MAX_WALK_DEPTH {
            self.too_deep = true;
            return;
        }
        self.depth += 1;
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let counts = matches!(
                        field.node.name.node.as_str(),
                        "fields" | "interfaces" | "possibleTypes" | "inputFields"
                    );
                    self.lists += usize::from(counts);
                    if self.lists >= MAX_INTROSPECTION_LISTS {
                        self.too_deep = true;
                    }
                    self.visit(&field.node.selection_set.node);
                    self.lists -= usize::from(counts);
                }
                Selection::InlineFragment(inline) => self.visit(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(fragment) = self.document.fragments.get(name)
                        && self.visiting.insert(name)
                    {
                        self.visit(&fragment.node.selection_set.node);
                        self.visiting.remove(name);
                    }
                }
            }
        }
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(query: &str) -> Shape {
        classify(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn graphiql_introspection_is_introspection() {
        let query = include_str!("../../tests/fixtures/introspection.graphql");
        assert_eq!(shape(query), Shape::Introspection);
        assert_eq!(shape("{ __typename }"), Shape::Introspection);
    }

    #[test]
    fn anything_else_is_not() {
        assert_eq!(shape("{ __typename me { id } }"), Shape::Other);
        assert_eq!(shape("mutation { __typename }"), Shape::Other);
        assert_eq!(shape("query A { __typename } query B { me { id } }"), Shape::Other);
    }

    #[test]
    fn looping_through_type_lists_is_refused() {
        let query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert_eq!(shape(query), Shape::IntrospectionTooDeep);
        let cyclic = "{ __schema { ...A } } fragment A on __Schema { ...A }";
        assert_ne!(shape(cyclic), Shape::Other);
    }
}
