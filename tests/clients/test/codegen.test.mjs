// Schema tooling: graphql-codegen generates the same TypeScript from the running
// service (introspection, default limits on) as from schema.graphql, the result
// type-checks, and graphql-js finds no breaking change between the two schemas.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { generate } from '@graphql-codegen/cli';
import { buildClientSchema, buildSchema, findBreakingChanges, getIntrospectionQuery, introspectionFromSchema, specifiedDirectives } from 'graphql';

import { startService } from '../lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');
const schemaFile = join(here, '..', '..', '..', 'schema.graphql');

async function codegen(schema, out) {
  await generate(
    {
      schema,
      documents: join(fixtures, 'operations.graphql'),
      generates: { [out]: { plugins: ['typescript-operations', 'typed-document-node'] } },
      silent: true,
      errorsOnly: true,
    },
    true,
  );
  return readFileSync(out, 'utf8');
}

describe('schema tooling', () => {
  let service;
  let work;
  before(async () => {
    service = await startService();
    work = mkdtempSync(join(tmpdir(), 'codegen-'));
  });
  after(async () => {
    await service?.stop();
  });

  test('codegen from the service and from schema.graphql agree, and the types compile', async () => {
    const served = await codegen(service.graphqlUrl, join(work, 'served.ts'));
    const checkedIn = await codegen(schemaFile, join(work, 'file.ts'));
    assert.ok(served.includes('export type TasksQuery'), 'codegen produced the operation types');
    assert.equal(served, checkedIn);
    // Through the same loader, the checked-in schema gives exactly the served types.
    const introspected = join(work, 'schema.json');
    writeFileSync(introspected, JSON.stringify(introspectionFromSchema(buildSchema(readFileSync(schemaFile, 'utf8')))));
    assert.equal(await codegen(introspected, join(work, 'file-introspected.ts')), served);

    writeFileSync(join(work, 'generated.ts'), served);
    for (const file of ['typed.ts', 'tsconfig.json']) copyFileSync(join(fixtures, file), join(work, file));
    const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');
    const modules = join(here, '..', 'node_modules');
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({ ...JSON.parse(readFileSync(join(fixtures, 'tsconfig.json'))), compilerOptions: { ...JSON.parse(readFileSync(join(fixtures, 'tsconfig.json'))).compilerOptions, typeRoots: [], baseUrl: '.', paths: { '@graphql-typed-document-node/core': [join(modules, '@graphql-typed-document-node/core')] } } }),
    );
    try {
      execFileSync(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (error) {
      assert.fail(`tsc --noEmit failed:\n${error.stdout}${error.stderr}`);
    }
  });

  test('no breaking change between schema.graphql and the served schema', async () => {
    const response = await fetch(service.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true }) }),
    });
    const { data, errors } = await response.json();
    assert.equal(errors, undefined);
    const served = buildClientSchema(data);
    const file = buildSchema(readFileSync(schemaFile, 'utf8'));
    // Built-in directives come from each side's own library (graphql-js here,
    // async-graphql there; they differ on @deprecated's locations): not our API.
    const builtIn = new Set(specifiedDirectives.map((d) => d.name));
    // So do standard scalars the schema does not use (async-graphql always lists them).
    const ours = (changes) =>
      changes.filter(
        (c) =>
          ![...builtIn].some((name) => c.description.startsWith(`${name} `) || c.description.endsWith(` from ${name}.`)) &&
          !/^Standard scalar \w+ was removed because it is not referenced anymore/.test(c.description),
      );
    assert.deepEqual(ours(findBreakingChanges(file, served)), []);
    assert.deepEqual(ours(findBreakingChanges(served, file)), []);
    assert.ok(served.getType('Task') && served.getQueryType().getFields().tasks, 'the served schema is the real one');
  });
});
