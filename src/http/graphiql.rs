//! GraphiQL, served entirely by the service: the page, GraphiQL, React and the
//! graphql-ws client its subscriptions use (vendored from their npm packages at
//! pinned versions, with their licences, in `assets/graphiql/`), under a
//! Content-Security-Policy that allows nothing else.

use std::net::SocketAddr;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header, uri::Authority},
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

/// Whether the page may carry embedded mode's demo token: only for a loopback peer
/// that asked for a loopback host by name (`localhost`, `127.0.0.1`, `[::1]`, any
/// port). A peer elsewhere on the network never gets it, and neither does a page
/// loaded through another name that resolves to this machine (DNS rebinding: a
/// hostile site's script would otherwise read the token from the same origin). No
/// peer address (no `ConnectInfo`) means no token.
pub fn may_hold_demo_token(peer: Option<SocketAddr>, headers: &HeaderMap, uri: &Uri) -> bool {
    let Some(peer) = peer else {
        return false;
    };
    // `Host` in HTTP/1.1; HTTP/2 carries it in the URI's authority instead.
    let authority = match headers.get(header::HOST) {
        // A `Host` has no user part; `user@localhost` would otherwise pass as localhost.
        Some(host) => {
            host.to_str().ok().filter(|host| !host.contains('@')).and_then(|host| host.parse::<Authority>().ok())
        }
        None => uri.authority().filter(|a| !a.as_str().contains('@')).cloned(),
    };
    let loopback_name = authority.is_some_and(|authority| {
        let host = authority.host().to_ascii_lowercase();
        matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    });
    peer.ip().to_canonical().is_loopback() && loopback_name
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

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("")));
        headers
    }

    fn decide(peer: &str, host_header: &str) -> bool {
        may_hold_demo_token(
            Some(peer.parse().unwrap_or_else(|_| panic!("{peer}"))),
            &host(host_header),
            &Uri::default(),
        )
    }

    #[test]
    fn only_a_loopback_peer_naming_a_loopback_host_gets_the_token() {
        for (peer, host) in [
            ("127.0.0.1:50000", "localhost:8080"),
            ("127.0.0.1:50000", "LOCALHOST"),
            ("127.0.0.1:50000", "127.0.0.1:8080"),
            ("[::1]:50000", "[::1]:8080"),
            ("[::ffff:127.0.0.1]:50000", "localhost:8080"),
        ] {
            assert!(decide(peer, host), "{peer} asking for {host}");
        }
        for (peer, host) in [
            ("192.168.1.20:50000", "localhost:8080"),
            ("10.0.0.5:50000", "127.0.0.1:8080"),
            ("[2001:db8::1]:50000", "[::1]:8080"),
            ("[::ffff:192.168.1.20]:50000", "localhost"),
            ("127.0.0.1:50000", "attacker.example"),
            ("127.0.0.1:50000", "attacker.example:8080"),
            ("127.0.0.1:50000", "localhost.attacker.example"),
            ("127.0.0.1:50000", "127.0.0.1.nip.io"),
            ("127.0.0.1:50000", "localhost."),
            ("127.0.0.1:50000", "127.0.0.2:8080"),
            ("127.0.0.1:50000", ""),
            ("127.0.0.1:50000", "user@localhost"),
        ] {
            assert!(!decide(peer, host), "{peer} asking for {host:?}");
        }
    }

    #[test]
    fn no_peer_address_or_no_host_means_no_token() {
        assert!(!may_hold_demo_token(None, &host("localhost"), &Uri::default()));
        assert!(!may_hold_demo_token(Some(([127, 0, 0, 1], 1).into()), &HeaderMap::new(), &Uri::default()));
        let http2: Uri = "http://localhost:8080/graphql".parse().unwrap_or_default();
        assert!(may_hold_demo_token(Some(([127, 0, 0, 1], 1).into()), &HeaderMap::new(), &http2));
    }
}
