// app/api/tasks/route.js: the signed-in user's open tasks, fetched on the server
import { CombinedGraphQLErrors, gql } from '@apollo/client';
import { createApolloClient } from '@/lib/apollo-client';

const OPEN_TASKS = gql`
  query OpenTasks {
    tasks(first: 20, filter: { status: PENDING }) {
      nodes {
        id
        title
      }
    }
  }
`;

export async function GET(request) {
  // A client per request: its cache holds this user's data only.
  const client = createApolloClient({ cookie: request.headers.get('cookie') ?? undefined });
  try {
    const { data } = await client.query({ query: OPEN_TASKS });
    return Response.json(data.tasks.nodes);
  } catch (error) {
    const signedOut =
      CombinedGraphQLErrors.is(error) && error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
    return Response.json({ error: error.message }, { status: signedOut ? 401 : 502 });
  }
}
