//! Content negotiation and the CSRF rule of GraphQL over HTTP.

use http::{HeaderMap, header};

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: request errors answer 4xx.
    GraphQLResponse,
    /// `application/json`: every well-formed request answers 200.
    Json,
}

impl Media {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// The media type the client prefers; `None` when it accepts neither.
/// No `Accept` at all means a legacy client: `application/json`.
pub fn response_media(headers: &HeaderMap) -> Option<Media> {
    let accept: Vec<&str> = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    if accept.iter().all(|v| v.trim().is_empty()) {
        return Some(Media::Json);
    }
    let mut best: Option<(f32, Media)> = None;
    for range in accept.iter().flat_map(|v| v.split(',')) {
        let mut parts = range.split(';').map(str::trim);
        let media = match parts.next().unwrap_or("").to_ascii_lowercase().as_str() {
            "application/graphql-response+json" => Media::GraphQLResponse,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        let quality = parts.filter_map(|p| p.strip_prefix("q=")).find_map(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        let better = match best {
            None => true,
            Some((q, current)) => quality > q || (quality == q && media == Media::GraphQLResponse && current != media),
        };
        if quality > 0.0 && better {
            best = Some((quality, media));
        }
    }
    best.map(|(_, media)| media)
}

/// Whether the client asks for HTML (a browser opening `/graphql`).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// The media type of the request body, lower-cased, without parameters.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// Apollo Server's CSRF prevention: a request a browser could send cross-site
/// without a preflight is refused unless it carries a non-simple `Content-Type` or
/// one of Apollo's preflight headers.
pub fn passes_csrf_rule(headers: &HeaderMap) -> bool {
    let preflight_header = ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|name| headers.get(*name).is_some_and(|v| !v.is_empty()));
    let non_simple_type = content_type(headers).is_some_and(|essence| {
        !matches!(essence.as_str(), "text/plain" | "multipart/form-data" | "application/x-www-form-urlencoded")
    });
    preflight_header || non_simple_type
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_response_type_follows_accept() {
        assert_eq!(response_media(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(response_media(&accept("application/json")), Some(Media::Json));
        assert_eq!(
            response_media(&accept("application/graphql-response+json, application/json;q=0.9")),
            Some(Media::GraphQLResponse)
        );
        assert_eq!(
            response_media(&accept("application/graphql-response+json;q=0.5, application/json")),
            Some(Media::Json)
        );
        assert_eq!(response_media(&accept("*/*")), Some(Media::Json));
        assert_eq!(response_media(&accept("text/xml")), None);
    }

    #[test]
    fn simple_requests_need_a_preflight_marker() {
        let mut headers = HeaderMap::new();
        assert!(!passes_csrf_rule(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain;charset=utf-8"));
        assert!(!passes_csrf_rule(&headers));
        headers.insert("apollo-require-preflight", HeaderValue::from_static("true"));
        assert!(passes_csrf_rule(&headers));
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(passes_csrf_rule(&json));
    }
}
