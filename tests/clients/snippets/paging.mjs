// Every task, page by page: each page's endCursor is the next page's `after`.
import { gql } from '@apollo/client';

export const TASKS_PAGE = gql`
  query TasksPage($after: String) {
    tasks(first: 50, after: $after) {
      nodes {
        id
        title
        completed
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

export async function allTasks(client) {
  const tasks = [];
  let after = null;
  for (;;) {
    const { data } = await client.query({ query: TASKS_PAGE, variables: { after }, fetchPolicy: 'network-only' });
    tasks.push(...data.tasks.nodes);
    if (!data.tasks.pageInfo.hasNextPage) return tasks;
    after = data.tasks.pageInfo.endCursor;
  }
}
