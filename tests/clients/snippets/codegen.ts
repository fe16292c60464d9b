// codegen.ts: `npx graphql-codegen` turns src/**/*.graphql into typed documents
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // A copy of the service's schema.graphql (or its URL: introspection passes the limits).
  schema: 'schema.graphql',
  documents: ['src/**/*.graphql'],
  generates: {
    'src/gql/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: { scalars: { DateTime: 'string' } },
    },
  },
};

export default config;
