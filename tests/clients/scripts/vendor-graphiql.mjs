// Copies GraphiQL, React and graphql-ws (GraphiQL's subscription client), at the versions package-lock.json pins, from
// node_modules into assets/graphiql/, where the service embeds them. Run after
// changing their versions: `npm run vendor-graphiql --prefix tests/clients`.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, '..', '..', '..', 'assets', 'graphiql');
const require = createRequire(import.meta.url);
const root = (name) => dirname(require.resolve(`${name}/package.json`));

export const vendored = [
  ['graphiql', 'graphiql.min.js', 'graphiql.min.js'],
  ['graphiql', 'graphiql.min.css', 'graphiql.min.css'],
  ['react', 'umd/react.production.min.js', 'react.production.min.js'],
  ['react-dom', 'umd/react-dom.production.min.js', 'react-dom.production.min.js'],
  ['graphql-ws', 'umd/graphql-ws.min.js', 'graphql-ws.min.js'],
];

/** Each package's licence file, where it keeps it. */
const licences = { graphiql: 'LICENSE', react: 'LICENSE', 'react-dom': 'LICENSE', 'graphql-ws': 'LICENSE.md' };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(target, { recursive: true });
  const versions = [];
  for (const [pkg, from, to] of vendored) {
    copyFileSync(join(root(pkg), from), join(target, to));
  }
  for (const [pkg, licence] of Object.entries(licences)) {
    copyFileSync(join(root(pkg), licence), join(target, `LICENSE-${pkg}`));
    versions.push(`${pkg} ${JSON.parse(readFileSync(join(root(pkg), 'package.json'))).version}`);
  }
  writeFileSync(join(target, 'VERSIONS'), versions.join('\n') + '\n');
  console.log(`vendored into ${target}:\n${versions.join('\n')}`);
}
