// Starts GraphiQL on this page. Settings come from the JSON the service puts in
// #graphiql-config (never from a CDN: everything is served by the service itself).
(function () {
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var fetcher = GraphiQL.createFetcher({
    url: config.endpoint,
    // Same-origin requests carry the Better Auth session cookie.
    fetch: function (input, init) {
      return window.fetch(input, Object.assign({}, init, { credentials: 'same-origin' }));
    },
  });
  var props = { fetcher: fetcher, defaultEditorToolsVisibility: true };
  if (config.query) props.defaultQuery = config.query;
  if (config.headers) props.defaultHeaders = config.headers;
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
