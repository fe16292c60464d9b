//! GraphQL subscriptions over WebSocket on `/graphql`: `graphql-transport-ws` (the
//! `graphql-ws` package, Apollo's `GraphQLWsLink`, urql) as graphql-ws's PROTOCOL.md
//! defines it, close codes included, and the legacy `graphql-ws`
//! (subscriptions-transport-ws).
//!
//! Hand-written over axum's WebSocket rather than async-graphql's
//! `http::WebSocket`: that one has no 4401/4409/4429, no init timeout, no
//! per-connection cap, no session re-check and no shutdown frame, and wrapping it
//! would mean parsing every message twice. async-graphql still executes each
//! subscription (`Schema::execute_stream`), after the document went through the
//! same parse-once-and-measure path as HTTP ([`Documents`]).
//!
//! Who is subscribing: the session cookie (or `Authorization`) of the upgrade
//! request, or `{"authorization": "Bearer …"}` in `connection_init`'s payload, by
//! the HTTP rules ([`SessionReader`]: signatures first, then one query). Nothing is
//! acknowledged and nothing is ever sent about tasks without a valid session. The
//! session is looked up again every `WS_SESSION_CHECK_SECS` and at its
//! `expiresAt`; once it is gone the socket is closed with 4403.
//!
//! Bounds: `connection_init` within `WS_INIT_TIMEOUT_SECS` (4408); messages up to
//! `MAX_BODY_BYTES`; `WS_MAX_SUBSCRIPTIONS` per socket (more: an `error` message);
//! `WS_MAX_CONNECTIONS_PER_USER` per user (more: close 1013); at most
//! `MAX_CONNECTIONS` sockets in all (more: 503 before the upgrade); a WebSocket ping every
//! `WS_PING_SECS`, and a peer that stays silent for two intervals, or does not take
//! a message within one, is dropped; a subscription that falls behind its events
//! ends with `TOO_SLOW` (see [`crate::events`]). On shutdown every socket gets close
//! 1001.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::{
    Request, Response as GqlResponse, ServerError, Variables,
    futures_util::{
        StreamExt as _,
        future::poll_immediate,
        stream::{self, AbortHandle, Abortable, BoxStream, SelectAll},
    },
    parser::types::OperationType,
};
use axum::{
    extract::{
        FromRequest as _, Request as HttpRequest, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    handler::Handler as _,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::{
    sync::{Semaphore, mpsc, watch},
    time::{Instant, sleep_until},
};

use super::{SharedState, exchange::selected_operation};
use crate::{
    auth::Viewer,
    config::Subscriptions,
    error::{self, code},
    graphql::{self, documents::Refused, limits::Budget},
};

/// Whether `origin` names the host the request was sent to (the service's own pages,
/// such as GraphiQL): not a cross-site request, whatever `CORS_ORIGINS` lists. A page
/// that rebinds its own name to the service passes this too, but its requests carry
/// no cookie of the service's site, so it can open no session.
fn same_origin(origin: &http::HeaderValue, headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) =
        (origin.to_str().ok(), headers.get(header::HOST).and_then(|host| host.to_str().ok()))
    else {
        return false;
    };
    let Some(authority) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else {
        return false;
    };
    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
}

/// `graphql-transport-ws`, graphql-ws's protocol.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy `graphql-ws` of subscriptions-transport-ws.
pub const LEGACY_WS: &str = "graphql-ws";

/// Close codes of graphql-ws's PROTOCOL.md, and the standard ones used here.
pub mod close {
    /// A message that is not one of the protocol's, or malformed.
    pub const BAD_MESSAGE: u16 = 4400;
    /// `subscribe` before the connection was acknowledged.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `connection_init` refused: no valid session (or it ended).
    pub const FORBIDDEN: u16 = 4403;
    /// No subprotocol this service speaks.
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    /// No `connection_init` in time.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// A second subscription under an id in use.
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    /// A second `connection_init`.
    pub const TOO_MANY_INITS: u16 = 4429;
    /// The service is stopping.
    pub const GOING_AWAY: u16 = 1001;
    /// The user holds as many sockets as allowed; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// What the WebSocket side shares across connections.
pub struct Sockets {
    settings: Subscriptions,
    cors_origins: Vec<String>,
    stop: watch::Receiver<bool>,
    /// Each live socket holds a clone; the receiver sees `None` once all are gone.
    live: mpsc::Sender<()>,
    per_user: Mutex<HashMap<String, usize>>,
    /// Open sockets, signed in or not yet, bounded like connections (`MAX_CONNECTIONS`):
    /// an upgraded connection has left the accept loop's count.
    slots: Arc<Semaphore>,
}

impl Sockets {
    /// The shared part, and the receiver that [`wait_closed`] drains at shutdown.
    pub fn new(
        settings: Subscriptions,
        cors_origins: &[String],
        max_sockets: usize,
        stop: watch::Receiver<bool>,
    ) -> (Arc<Self>, mpsc::Receiver<()>) {
        let (live, closed) = mpsc::channel(1);
        let sockets = Self {
            settings,
            cors_origins: cors_origins.to_vec(),
            stop,
            live,
            per_user: Mutex::default(),
            slots: Arc::new(Semaphore::new(max_sockets)),
        };
        (Arc::new(sockets), closed)
    }

    /// Counts a socket of `user_id`, unless the user is at the cap.
    fn admit(self: &Arc<Self>, user_id: &str) -> Option<UserSlot> {
        let mut per_user = self.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = per_user.entry(user_id.to_owned()).or_default();
        if *count >= self.settings.max_connections_per_user {
            return None;
        }
        *count += 1;
        Some(UserSlot { sockets: self.clone(), user_id: user_id.to_owned() })
    }
}

/// Waits until every socket has closed (each holds a sender; the router's and the
/// state's copies must be gone too, which they are once the accept loop returned).
pub async fn wait_closed(mut closed: mpsc::Receiver<()>) {
    while closed.recv().await.is_some() {}
}

/// One of a user's sockets; released when dropped.
struct UserSlot {
    sockets: Arc<Sockets>,
    user_id: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut per_user = self.sockets.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = per_user.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_user.remove(&self.user_id);
            }
        }
    }
}

/// `GET /graphql`: a WebSocket upgrade, else GraphQL over HTTP or GraphiQL.
pub async fn get(State(state): State<SharedState>, request: HttpRequest) -> Response {
    let upgrading = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrading {
        return super::graphql::get.call(request, state).await;
    }
    let headers = request.headers().clone();
    if let Some(origin) = headers.get(header::ORIGIN)
        && !state.sockets.cors_origins.iter().any(|allowed| allowed.as_bytes() == origin.as_bytes())
        && !same_origin(origin, &headers)
    {
        return (StatusCode::FORBIDDEN, "this origin may not open a WebSocket here").into_response();
    }
    let Ok(slot) = state.sockets.slots.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many WebSockets are open; try again later").into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request(request, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let max = state.limits.max_body_bytes;
    let upgrade = upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite's defaults are 128 KiB each, per socket, held while it idles;
        // client messages are small, and larger ones still grow the buffer.
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(state.limits.max_response_bytes.saturating_mul(2).max(1 << 20));
    let protocol = match upgrade.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some(TRANSPORT_WS) => Some(Protocol::Transport),
        Some(LEGACY_WS) => Some(Protocol::Legacy),
        _ => None,
    };
    upgrade.on_upgrade(move |socket| async move {
        let live = state.sockets.live.clone();
        match protocol {
            Some(protocol) => Connection::new(socket, protocol, state, &headers).run().await,
            None => {
                let mut socket = socket;
                let _ =
                    socket.send(close_message(close::SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")).await;
            }
        }
        drop((live, slot));
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    Transport,
    Legacy,
}

/// A close frame; the reason cut to the 123 bytes a close frame can carry (it may
/// hold a client's subscription id).
fn close_message(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame { code, reason: reason[..end].into() }))
}

/// A message from the client, either protocol.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Json>,
    },
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    /// Legacy `start`.
    Start {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
    /// Legacy `stop`.
    Stop {
        id: String,
    },
    Ping {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Json>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Json>,
    },
    /// Legacy `connection_terminate`.
    ConnectionTerminate,
}

#[derive(Deserialize)]
struct SubscribePayload {
    query: String,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Json>,
}

/// One item of the merged subscription streams: `(id, generation, response, first)`;
/// a `None` response is the end of that subscription.
type Item = (String, u64, Option<GqlResponse>, bool);

/// What a client message came to.
enum Handled {
    /// Keep serving.
    Continue,
    /// `connection_ack` sent; the session is next checked at `next_check`.
    Acknowledged { next_check: Instant },
    /// The client ended the connection.
    Ended,
}

/// Why the connection loop stops.
enum Stop {
    /// Close with this code and reason.
    Close(u16, String),
    /// Just drop the socket (the peer is gone or stuck).
    Drop,
}

/// The signed-in user of an acknowledged connection.
struct Signed {
    viewer: Arc<Viewer>,
    user_id: String,
    token: String,
    expires_at: DateTime<Utc>,
    _slot: UserSlot,
}

struct Connection {
    socket: WebSocket,
    protocol: Protocol,
    state: SharedState,
    /// Tokens the upgrade request offered (cookie, `Authorization`), verified.
    header_candidates: Vec<String>,
    init_received: bool,
    signed: Option<Signed>,
    running: HashMap<String, (u64, AbortHandle)>,
    streams: SelectAll<BoxStream<'static, Item>>,
    generation: u64,
    last_heard: Instant,
}

impl Connection {
    fn new(socket: WebSocket, protocol: Protocol, state: SharedState, headers: &HeaderMap) -> Self {
        let header_candidates = state.sessions.candidates(headers);
        Self {
            socket,
            protocol,
            state,
            header_candidates,
            init_received: false,
            signed: None,
            running: HashMap::new(),
            streams: SelectAll::new(),
            generation: 0,
            last_heard: Instant::now(),
        }
    }

    fn settings(&self) -> &Subscriptions {
        &self.state.sockets.settings
    }

    async fn run(mut self) {
        let stop = match self.serve().await {
            Ok(()) => return,
            Err(stop) => stop,
        };
        self.running.values().for_each(|(_, handle)| handle.abort());
        if let Stop::Close(code, reason) = stop {
            let _ = self.send(close_message(code, &reason)).await;
        }
    }

    async fn serve(&mut self) -> Result<(), Stop> {
        let settings = self.settings().clone();
        let init_deadline = Instant::now() + settings.init_timeout;
        let mut ping = tokio::time::interval_at(Instant::now() + settings.ping_interval, settings.ping_interval);
        let mut stop = self.state.sockets.stop.clone();
        let mut next_check = init_deadline;
        loop {
            let acknowledged = self.signed.is_some();
            tokio::select! {
                received = self.socket.recv() => match received {
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        match self.handle(message).await? {
                            Handled::Continue => {}
                            Handled::Acknowledged { next_check: at } => next_check = at,
                            Handled::Ended => return Ok(()),
                        }
                    }
                    // Closed by the peer, or a frame over the size limit.
                    Some(Err(_)) | None => return Ok(()),
                },
                Some((id, generation, response, first)) = self.streams.next(), if !self.streams.is_empty() => {
                    self.forward(id, generation, response, first).await?;
                }
                _ = ping.tick() => {
                    if self.last_heard.elapsed() > settings.ping_interval * 2 {
                        return Err(Stop::Drop);
                    }
                    self.send(Message::Ping(Default::default())).await?;
                    if self.protocol == Protocol::Legacy && acknowledged {
                        self.send_json(&json!({ "type": "ka" })).await?;
                    }
                }
                () = sleep_until(init_deadline), if !self.init_received => {
                    return Err(Stop::Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                () = sleep_until(next_check), if acknowledged => {
                    next_check = self.check_session().await?;
                }
                () = stopped(&mut stop) => {
                    return Err(Stop::Close(close::GOING_AWAY, "the service is stopping".into()));
                }
            }
        }
    }

    /// Handles one client message.
    async fn handle(&mut self, message: Message) -> Result<Handled, Stop> {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return Ok(Handled::Ended),
            Message::Ping(_) | Message::Pong(_) => return Ok(Handled::Continue),
            Message::Binary(_) => return Err(bad_message("binary messages are not part of the protocol")),
        };
        let parsed: ClientMessage =
            serde_json::from_str(text.as_str()).map_err(|err| bad_message(&format!("{err}")))?;
        let legacy = self.protocol == Protocol::Legacy;
        match parsed {
            ClientMessage::ConnectionInit { payload } => {
                return self.init(payload).await.map(|next_check| Handled::Acknowledged { next_check });
            }
            ClientMessage::Subscribe { id, payload } if !legacy => self.subscribe(id, payload).await?,
            ClientMessage::Start { id, payload } if legacy => self.subscribe(id, payload).await?,
            ClientMessage::Complete { id } if !legacy => self.cancel(&id),
            ClientMessage::Stop { id } if legacy => self.cancel(&id),
            ClientMessage::Ping { .. } if !legacy => self.send_json(&json!({ "type": "pong" })).await?,
            ClientMessage::Pong { .. } if !legacy => {}
            ClientMessage::ConnectionTerminate if legacy => return Ok(Handled::Ended),
            _ => return Err(bad_message("this message type is not part of the protocol")),
        }
        Ok(Handled::Continue)
    }

    /// `connection_init`: one per connection; the session from its payload's
    /// `authorization`, else from the upgrade request.
    async fn init(&mut self, payload: Option<Json>) -> Result<Instant, Stop> {
        if self.init_received {
            return Err(Stop::Close(close::TOO_MANY_INITS, "Too many initialisation requests".into()));
        }
        self.init_received = true;
        let mut candidates = Vec::new();
        if let Some(payload) = &payload {
            let authorization = match payload {
                Json::Object(map) => map
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
                    .map(|(_, value)| value.as_str().ok_or_else(|| bad_message("authorization must be a string")))
                    .transpose()?,
                Json::Null => None,
                _ => return Err(bad_message("connection_init's payload must be an object")),
            };
            if let Some(token) = authorization.and_then(|value| self.state.sessions.bearer(value)) {
                candidates.push(token);
            }
        }
        candidates.extend(self.header_candidates.iter().cloned());
        candidates.truncate(4);
        let found = self.state.users.find_live_session(&candidates, Utc::now()).await.map_err(|err| {
            tracing::warn!(error = %err, "looking up a WebSocket's session failed");
            Stop::Close(close::TRY_AGAIN_LATER, "the session could not be checked; try again".into())
        })?;
        let Some((session, user)) = found else {
            if self.protocol == Protocol::Legacy {
                self.send_json(&json!({ "type": "connection_error", "payload": { "message": "Forbidden" } })).await?;
            }
            return Err(Stop::Close(close::FORBIDDEN, "Forbidden".into()));
        };
        let Some(slot) = self.state.sockets.admit(&user.id) else {
            return Err(Stop::Close(close::TRY_AGAIN_LATER, "too many connections for this user".into()));
        };
        let next = self.next_check(session.expires_at);
        self.signed = Some(Signed {
            user_id: user.id.clone(),
            viewer: Arc::new(Viewer::known(user)),
            token: session.token,
            expires_at: session.expires_at,
            _slot: slot,
        });
        self.send_json(&json!({ "type": "connection_ack" })).await?;
        if self.protocol == Protocol::Legacy {
            self.send_json(&json!({ "type": "ka" })).await?;
        }
        Ok(next)
    }

    /// The earlier of the next periodic check and the session's expiry.
    fn next_check(&self, expires_at: DateTime<Utc>) -> Instant {
        let until_expiry = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + self.settings().session_check.min(until_expiry)
    }

    /// Looks the session up again; gone (signed out, expired): close 4403.
    async fn check_session(&mut self) -> Result<Instant, Stop> {
        let Some(signed) = &mut self.signed else {
            return Ok(Instant::now() + self.settings().session_check);
        };
        let now = Utc::now();
        match self.state.users.session_expiry(&signed.token, &signed.user_id, now).await {
            Ok(Some(expires_at)) => {
                signed.expires_at = expires_at;
                Ok(self.next_check(expires_at))
            }
            Ok(None) => Err(Stop::Close(close::FORBIDDEN, "Forbidden: the session ended".into())),
            // The database did not answer: keep going until the known expiry, no further.
            Err(err) if now < signed.expires_at => {
                tracing::warn!(error = %err, "re-checking a WebSocket's session failed; trying again");
                let expires_at = signed.expires_at;
                Ok(self.next_check(expires_at))
            }
            Err(_) => Err(Stop::Close(close::FORBIDDEN, "Forbidden: the session ended".into())),
        }
    }

    async fn subscribe(&mut self, id: String, payload: SubscribePayload) -> Result<(), Stop> {
        let Some(signed) = &self.signed else {
            return Err(Stop::Close(close::UNAUTHORIZED, "Unauthorized".into()));
        };
        if self.running.contains_key(&id) {
            return Err(Stop::Close(close::SUBSCRIBER_EXISTS, format!("Subscriber for {id} already exists")));
        }
        let viewer = signed.viewer.clone();
        if self.running.len() >= self.settings().max_per_connection {
            let message = format!("at most {} subscriptions per connection", self.settings().max_per_connection);
            return self.send_error(&id, vec![error::refusal(message, code::BAD_REQUEST)]).await;
        }
        let document = match self.state.documents.prepare(&payload.query).await {
            Ok(document) => document,
            Err(Refused::Parse(err)) => {
                return self.send_error(&id, vec![error::parse_failed(err)]).await;
            }
            Err(Refused::Limit(refusal_)) => {
                let error = error::invalid(refusal_.to_string());
                return self.send_error(&id, vec![error]).await;
            }
        };
        let budget = Arc::new(Budget::new(&self.state.limits));
        if let Err(refused) = budget.spend_document(document.measure) {
            return self.send_error(&id, vec![error::invalid(refused.to_string())]).await;
        }
        match selected_operation(&document.parsed, payload.operation_name.as_deref()) {
            Some((_, OperationType::Subscription)) => {}
            Some(_) => {
                let message = "only subscriptions are served over WebSocket; send queries and mutations over HTTP";
                return self.send_error(&id, vec![error::refusal(message, code::BAD_REQUEST)]).await;
            }
            None => {
                let message = "the document has several operations: name the one to run in operationName";
                return self.send_error(&id, vec![error::refusal(message, code::BAD_REQUEST)]).await;
            }
        }
        let mut request = Request::new(payload.query);
        request.operation_name = payload.operation_name;
        if let Some(variables) = payload.variables {
            request.variables = Variables::from_json(variables);
        }
        request.set_parsed_query(document.parsed.clone());
        let request = request.data(viewer).data(budget).data(graphql::owner_loader(&self.state.users));
        self.generation += 1;
        let generation = self.generation;
        let (handle, registration) = AbortHandle::new_pair();
        let responses = self.state.schema.execute_stream(request);
        let tagged = {
            let id = id.clone();
            Abortable::new(responses, registration)
                .enumerate()
                .map(move |(n, response)| (id.clone(), generation, Some(response), n == 0))
        };
        let end = stream::once({
            let id = id.clone();
            async move { (id, generation, None, false) }
        });
        self.streams.push(tagged.chain(end).boxed());
        self.running.insert(id, (generation, handle));
        // Runs the new subscription up to its first wait, which registers it with the
        // hub before the next client message is read: whatever the client does after
        // an answer to a later message (a `pong`) is seen by this subscription.
        if let Some(Some((id, generation, response, first))) = poll_immediate(self.streams.next()).await {
            self.forward(id, generation, response, first).await?;
        }
        Ok(())
    }

    fn cancel(&mut self, id: &str) {
        if let Some((_, handle)) = self.running.remove(id) {
            handle.abort();
        }
    }

    /// Sends one result of a subscription, or its end.
    async fn forward(
        &mut self,
        id: String,
        generation: u64,
        response: Option<GqlResponse>,
        first: bool,
    ) -> Result<(), Stop> {
        if self.running.get(&id).is_none_or(|(running, _)| *running != generation) {
            // Completed by the client (or replaced): nothing more goes out for it.
            return Ok(());
        }
        let Some(response) = response else {
            self.running.remove(&id);
            return self.send_json(&json!({ "type": "complete", "id": id })).await;
        };
        // Refused before execution (validation): an `error` message, and no
        // `complete` after it. A later error (`TOO_SLOW`) is a `next` with errors,
        // then `complete`.
        if first && response.data == async_graphql::Value::Null && !response.errors.is_empty() {
            if let Some((_, handle)) = self.running.remove(&id) {
                handle.abort();
            }
            return self.send_error(&id, response.errors).await;
        }
        let kind = if self.protocol == Protocol::Legacy { "data" } else { "next" };
        self.send_json(&json!({ "type": kind, "id": id, "payload": response })).await
    }

    async fn send_error(&mut self, id: &str, errors: Vec<ServerError>) -> Result<(), Stop> {
        let message = match self.protocol {
            Protocol::Transport => json!({ "type": "error", "id": id, "payload": errors }),
            // subscriptions-transport-ws sends one error object.
            Protocol::Legacy => json!({ "type": "error", "id": id, "payload": errors.first() }),
        };
        self.send_json(&message).await
    }

    async fn send_json(&mut self, value: &Json) -> Result<(), Stop> {
        self.send(Message::Text(value.to_string().into())).await
    }

    /// Sends within one ping interval, else the peer is not reading: dropped.
    async fn send(&mut self, message: Message) -> Result<(), Stop> {
        match tokio::time::timeout(self.settings().ping_interval, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Stop::Drop),
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone), holding no borrow of it.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn bad_message(detail: &str) -> Stop {
    Stop::Close(close::BAD_MESSAGE, format!("Invalid message received: {detail}"))
}
