//! What the service adds to async-graphql's own parse and validation steps: an
//! `extensions.code` on every error they report, and the complexity limit, which
//! applies to introspection too and to a batch as a whole.
//!
//! Documents reach this point already parsed and measured ([`super::documents`]),
//! so the passes async-graphql makes over them are bounded.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::ExecutableDocument,
};

use super::limits::Budget;
use crate::error::{self, code, with_code};

/// Builds one [`Validation`] per request.
pub struct ValidationFactory {
    /// Highest complexity allowed, when the request carries no batch budget.
    pub max_complexity: usize,
}

impl ExtensionFactory for ValidationFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Validation { max_complexity: self.max_complexity })
    }
}

/// The per-request extension.
struct Validation {
    max_complexity: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Validation {
    /// Fields resolve without this extension in their way (see vendor/README.md).
    fn wraps_resolve(&self) -> bool {
        false
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| with_code(e, code::GRAPHQL_PARSE_FAILED))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors.into_iter().map(|e| with_code(e, code::GRAPHQL_VALIDATION_FAILED)).collect::<Vec<_>>()
        })?;
        let refuse = |message: String| vec![error::invalid(message)];
        match ctx.data_opt::<Arc<Budget>>() {
            Some(budget) => budget.spend_complexity(result.complexity).map_err(|e| refuse(e.to_string()))?,
            None if result.complexity > self.max_complexity => {
                return Err(refuse(format!(
                    "the document is too complex: complexity {} exceeds {} (MAX_COMPLEXITY)",
                    result.complexity, self.max_complexity
                )));
            }
            None => {}
        }
        Ok(result)
    }
}
