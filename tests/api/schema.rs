//! The checked-in `schema.graphql` is what the service serves, and it holds every
//! type, field, argument, default and nullability of the shared contract.

use std::collections::BTreeSet;

use async_graphql::parser::{
    parse_schema,
    types::{TypeKind, TypeSystemDefinition},
};
use serde_json::{Value, json};

use crate::helpers::*;

fn checked_in() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap()
}

#[test]
fn schema_graphql_is_the_served_sdl() {
    assert!(
        checked_in() == todo_graphql::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
}

/// Every promise an SDL makes, one line each.
fn promises(sdl: &str) -> BTreeSet<String> {
    let document = parse_schema(sdl).unwrap();
    let mut lines = BTreeSet::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(definition) = definition else { continue };
        let definition = definition.node;
        let name = definition.name.node.to_string();
        let value_line = |owner: &str, field: &async_graphql::parser::types::InputValueDefinition| {
            let default = field.default_value.as_ref().map(|v| format!(" = {}", v.node)).unwrap_or_default();
            format!("{owner}.{}: {}{default}", field.name.node, field.ty.node)
        };
        match definition.kind {
            TypeKind::Scalar => {
                lines.insert(format!("scalar {name}"));
            }
            TypeKind::Object(object) => {
                lines.insert(format!("type {name}"));
                for field in object.fields {
                    let field = field.node;
                    let path = format!("{name}.{}", field.name.node);
                    lines.insert(format!("{path}: {}", field.ty.node));
                    for argument in field.arguments {
                        lines.insert(value_line(&path, &argument.node));
                    }
                }
            }
            TypeKind::InputObject(input) => {
                lines.insert(format!("input {name}"));
                for field in input.fields {
                    lines.insert(value_line(&name, &field.node));
                }
            }
            TypeKind::Enum(values) => {
                for value in values.values {
                    lines.insert(format!("enum {name}.{}", value.node.value.node));
                }
            }
            other => panic!("the contract has no {other:?}"),
        }
    }
    lines
}

#[test]
fn every_promise_of_the_contract_is_served() {
    let contract = promises(include_str!("../fixtures/contract.graphql"));
    let served = promises(&checked_in());
    let missing: Vec<&str> = contract.difference(&served).map(String::as_str).collect();
    assert!(missing.is_empty(), "the contract promises more than the schema serves: {missing:?}");
}

#[tokio::test]
async fn introspection_over_http_agrees_with_schema_graphql() {
    let app = spawn_app().await;
    let body = app.graphql(None, include_str!("../fixtures/introspection.graphql"), json!({})).await;
    let served = promises(&checked_in());
    let mut seen = 0;
    for kind in body["data"]["__schema"]["types"].as_array().unwrap() {
        let name = kind["name"].as_str().unwrap();
        if name.starts_with("__") || ["String", "Boolean", "Int", "Float", "ID"].contains(&name) {
            continue;
        }
        for field in kind["fields"].as_array().into_iter().flatten() {
            let line = format!("{name}.{}: {}", field["name"].as_str().unwrap(), type_ref(&field["type"]));
            assert!(served.contains(&line), "served but not in schema.graphql: {line}");
            seen += 1;
        }
    }
    assert!(seen > 20, "introspection returned too little: {body}");
}

fn type_ref(ty: &Value) -> String {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => format!("{}!", type_ref(&ty["ofType"])),
        "LIST" => format!("[{}]", type_ref(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap().to_owned(),
    }
}
