//! GraphiQL, served entirely by the service: the page, GraphiQL, React and the
//! graphql-ws client its subscriptions use (vendored from their npm packages at
//! pinned versions, with their licences, in `assets/graphiql/`), under a
//! Content-Security-Policy that allows nothing else.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

/// Nothing from anywhere but this origin; inline scripts are not needed. CSP 3's
/// `'self'` in `connect-src` also admits `ws:`/`wss:` to this host and port, which
/// the subscriptions' WebSocket uses.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Where the assets are served.
pub const ASSETS: &str = "/graphiql";

const FILES: [(&str, &str, &[u8]); 8] = [
    ("graphiql.min.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/graphiql/graphiql.min.js")),
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("../../assets/graphiql/graphiql.min.css")),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    ("graphql-ws.min.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/graphiql/graphql-ws.min.js")),
    ("init.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/graphiql/init.js")),
    ("page.css", "text/css; charset=utf-8", include_bytes!("../../assets/graphiql/page.css")),
    ("LICENSES", "text/plain; charset=utf-8", LICENSES.as_bytes()),
];

const LICENSES: &str = concat!(
    include_str!("../../assets/graphiql/VERSIONS"),
    "\n== graphiql ==\n",
    include_str!("../../assets/graphiql/LICENSE-graphiql"),
    "\n== react ==\n",
    include_str!("../../assets/graphiql/LICENSE-react"),
    "\n== react-dom ==\n",
    include_str!("../../assets/graphiql/LICENSE-react-dom"),
    "\n== graphql-ws ==\n",
    include_str!("../../assets/graphiql/LICENSE-graphql-ws"),
);

/// The GraphiQL page. `headers` and `query` prefill the editors.
pub fn page(headers: Option<&serde_json::Value>, query: Option<&str>) -> Response {
    let config = json!({ "endpoint": "/graphql", "headers": headers.map(|h| h.to_string()), "query": query });
    // `</` cannot end the JSON's script element early once escaped.
    let config = config.to_string().replace("</", "<\\/");
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>todo-graphql · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{ASSETS}/graphiql.min.css">
<link rel="stylesheet" href="{ASSETS}/page.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="graphiql-config" type="application/json">{config}</script>
<script src="{ASSETS}/react.production.min.js"></script>
<script src="{ASSETS}/react-dom.production.min.js"></script>
<script src="{ASSETS}/graphiql.min.js"></script>
<script src="{ASSETS}/graphql-ws.min.js"></script>
<script src="{ASSETS}/init.js"></script>
</body>
</html>
"#
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /graphiql/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}
