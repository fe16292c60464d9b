//! Hostile GraphQL documents, each as large as one request body allows.

use serde_json::{Value, json};

use super::BODY_BUDGET;

/// GraphiQL's introspection query.
pub const GRAPHIQL_INTROSPECTION: &str = include_str!("../../fixtures/introspection.graphql");
/// graphql-js's `getIntrospectionQuery()` with every option.
pub const GRAPHQL_JS_INTROSPECTION: &str = include_str!("../../fixtures/introspection-graphql-js.graphql");

/// A deep `__Schema` fragment: the whole schema, one type-list level deep (which
/// today's introspection rule allows), about 40 KB of answer per use.
const SCHEMA_FRAGMENT: &str = "fragment S on __Schema { types { name kind description \
    fields { name description args { name description defaultValue type { name kind ofType { name kind ofType { name kind } } } } \
    type { name kind ofType { name kind ofType { name kind ofType { name } } } } isDeprecated deprecationReason } \
    inputFields { name description defaultValue type { name kind ofType { name kind } } } \
    enumValues { name description isDeprecated deprecationReason } interfaces { name } possibleTypes { name } } \
    directives { name description locations args { name description type { name kind ofType { name } } } } }";

/// `{"query": document}` as the body's text.
pub fn body(document: &str) -> String {
    json!({ "query": document }).to_string()
}

/// How many bytes `text` takes inside a JSON string.
fn json_len(text: &str) -> usize {
    Value::from(text).to_string().len() - 2
}

/// `head`, then `unit(i)` for i = 0, 1, … while the JSON-encoded document stays
/// within `budget` bytes, then `tail`.
fn fill(head: &str, unit: impl Fn(usize) -> String, tail: &str, budget: usize) -> String {
    let mut document = head.to_owned();
    let mut used = json_len(head) + json_len(tail);
    for i in 0.. {
        let next = unit(i);
        used += json_len(&next);
        if used > budget {
            break;
        }
        document.push_str(&next);
    }
    document.push_str(tail);
    document
}

/// `{ ...F0 }`, each `Fi` spreading `F(i+1)` twice: 2^n `__typename`s once expanded.
pub fn fragment_bomb(n: usize) -> String {
    let mut document = String::from("{ ...F0 }\n");
    for i in 0..n {
        document.push_str(&format!("fragment F{i} on Query {{ ...F{next} ...F{next} }}\n", next = i + 1));
    }
    document.push_str(&format!("fragment F{n} on Query {{ __typename }}\n"));
    document
}

/// `{ a0: __schema { ...S } a1: … }` with the deep `__Schema` fragment, filling `budget`.
pub fn introspection_alias_bomb(budget: usize) -> String {
    let tail = format!("}}\n{SCHEMA_FRAGMENT}");
    fill("{", |i| format!(" a{i}: __schema {{ ...S }}"), &tail, budget)
}

/// `n` aliases of `__typename`.
pub fn aliases(n: usize) -> String {
    let fields: String = (0..n).map(|i| format!(" a{i}: __typename")).collect();
    format!("{{{fields} }}")
}

/// `{ __typename __typename … }` filling `budget`: about 95,000 tokens in 1 MiB.
pub fn tokens(budget: usize) -> String {
    fill("{", |_| " __typename".to_owned(), " }", budget)
}

/// One field under `n` directives.
pub fn directives(n: usize) -> String {
    format!("{{ __typename{} }}", " @include(if: true)".repeat(n))
}

/// `__type(name: "Query") { fields { type { fields { type { … } } } } }`, `levels` times.
pub fn nested_type(levels: usize) -> String {
    format!("{{ __type(name: \"Query\") {{ {}name{} }} }}", "fields { type { ".repeat(levels), " } }".repeat(levels))
}

/// `{a{a{a…}}}`, `levels` deep.
pub fn nesting(levels: usize) -> String {
    format!("{}{}", "{a".repeat(levels), "}".repeat(levels))
}

/// `{ __typename }` after comments filling `budget`.
pub fn comments(budget: usize) -> String {
    fill("", |_| "# a comment that the lexer has to skip, line after line\n".to_owned(), "{ __typename }", budget)
}

/// `{ __type(name: "aaa…") { name } }`, the string filling `budget`.
pub fn string_argument(budget: usize) -> String {
    let overhead = json_len("{ __type(name: \"\") { name } }");
    format!("{{ __type(name: \"{}\") {{ name }} }}", "a".repeat(budget - overhead))
}

/// `query Q0 { __typename } query Q1 { __typename } …` filling `budget`.
pub fn operations(budget: usize) -> String {
    fill("", |i| format!("query Q{i} {{ __typename }}\n"), "", budget)
}

/// The heaviest introspection that should pass: three `__schema` roots, each with
/// GraphiQL's whole `FullType` fragment.
pub fn near_limit_introspection() -> String {
    let fragments = &GRAPHIQL_INTROSPECTION[GRAPHIQL_INTROSPECTION.find("fragment FullType").unwrap()..];
    format!(
        "query Near {{ s0: __schema {{ ...Schema }} s1: __schema {{ ...Schema }} s2: __schema {{ ...Schema }} }}\n\
         fragment Schema on __Schema {{ types {{ ...FullType }} directives {{ name locations args {{ ...InputValue }} }} }}\n{fragments}"
    )
}

/// A JSON batch of `requests` documents, as one body's text.
pub fn batch(documents: impl IntoIterator<Item = String>) -> String {
    Value::Array(documents.into_iter().map(|document| json!({ "query": document })).collect()).to_string()
}

/// A comment-only document of about `size` bytes, distinct per `n`: it never parses.
pub fn comment_only(n: usize, size: usize) -> String {
    let mut document = format!("# unparseable document {n}\n");
    let line = "# nothing but comments, so there is nothing to execute #####\n";
    document.push_str(&line.repeat(size.min(BODY_BUDGET) / line.len()));
    document
}
