// Starts GraphiQL on this page. Settings come from the JSON the service puts in
// #graphiql-config (never from a CDN: everything is served by the service itself).
(function () {
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  // Subscriptions go over a WebSocket to the same endpoint (graphql-transport-ws,
  // through the vendored graphql-ws client). The browser sends the session cookie on
  // the upgrade; an Authorization header typed in the headers editor goes in
  // connection_init instead, as browsers cannot set headers on a WebSocket.
  var headers = {};
  var wsClient = graphqlWs.createClient({
    url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + config.endpoint,
    lazy: true,
    retryAttempts: 0,
    connectionParams: function () {
      var authorization = headers.authorization || headers.Authorization;
      return authorization ? { authorization: authorization } : {};
    },
  });
  var fetch = GraphiQL.createFetcher({
    url: config.endpoint,
    wsClient: wsClient,
    // Same-origin requests carry the Better Auth session cookie.
    fetch: function (input, init) {
      return window.fetch(input, Object.assign({}, init, { credentials: 'same-origin' }));
    },
  });
  var fetcher = function (params, options) {
    headers = (options && options.headers) || {};
    return fetch(params, options);
  };
  var props = { fetcher: fetcher, defaultEditorToolsVisibility: true };
  if (config.query) props.defaultQuery = config.query;
  if (config.headers) props.defaultHeaders = config.headers;
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
