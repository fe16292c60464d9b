// lib/apollo-client.js
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';

// The service's endpoint, e.g. https://api.example.com/graphql in production.
const GRAPHQL_URL = process.env.NEXT_PUBLIC_GRAPHQL_URL ?? 'http://localhost:8080/graphql';

/**
 * In the browser: createApolloClient(). The browser sends Better Auth's session
 * cookie itself, cross-origin only because of credentials: 'include'.
 * On a server (a Next.js server component, route handler or server action) there
 * is no browser: pass the incoming request's Cookie header, and never cache.
 */
export function createApolloClient({ cookie, uri = GRAPHQL_URL } = {}) {
  return new ApolloClient({
    link: new HttpLink({
      uri,
      credentials: 'include',
      ...(cookie ? { headers: { cookie }, fetchOptions: { cache: 'no-store' } } : {}),
    }),
    cache: new InMemoryCache(),
  });
}
