// lib/urql-client.js
import { Client, cacheExchange, fetchExchange } from '@urql/core'; // or from 'urql'

// The service's endpoint, e.g. https://api.example.com/graphql in production.
const GRAPHQL_URL = process.env.NEXT_PUBLIC_GRAPHQL_URL ?? 'http://localhost:8080/graphql';

/** As createApolloClient: no argument in the browser, the Cookie header on a server. */
export function createUrqlClient({ cookie, url = GRAPHQL_URL } = {}) {
  return new Client({
    url,
    exchanges: [cacheExchange, fetchExchange],
    // urql sends queries as GET; the service refuses a GET without a preflight
    // header (its CSRF rule, as Apollo Server's): send everything as POST.
    preferGetMethod: false,
    fetchOptions: cookie
      ? { credentials: 'include', headers: { cookie }, cache: 'no-store' }
      : { credentials: 'include' },
  });
}
