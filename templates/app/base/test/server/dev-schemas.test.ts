// src/server/dev-schemas.ts: `npm run dev` compiles each route's schemas with Fastify's own compilers
// on the route's first request. What it validates and writes must equal compiling at start-up.
import ajvCompiler from '@fastify/ajv-compiler';
import serializerCompiler from '@fastify/fast-json-stringify-compiler';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lazySchemaCompilers } from '../../src/server/dev-schemas.js';

/** the server's Ajv options (src/server/app.ts) */
const AJV = { customOptions: { removeAdditional: false as const } };
const body = {
  schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false },
  method: 'POST',
  url: '/things',
  httpPart: 'body',
};

test('a validator accepts and refuses what the start-up one does, with the same errors', () => {
  const lazy = lazySchemaCompilers().buildValidator({}, AJV)(body);
  const eager = ajvCompiler()({}, AJV)(body);
  for (const data of [{ name: 'a' }, { name: 1 }, {}, { name: 'a', tenant_id: 't' }]) {
    const accepted = eager(data);
    assert.is(lazy(data), accepted, JSON.stringify(data));
    if (!accepted) assert.ok(lazy.errors?.length, `errors for ${JSON.stringify(data)}`);
    assert.equal(lazy.errors ?? null, eager.errors ?? null, JSON.stringify(data));
  }
});

test('a serializer writes what the start-up one writes: the declared fields only', () => {
  const route = { schema: { type: 'object', properties: { id: { type: 'string' } } }, method: 'GET', url: '/things', httpStatus: '200' };
  const lazy = lazySchemaCompilers().buildSerializer({}, {})(route);
  const eager = serializerCompiler()({}, {})(route);
  const row = { id: 'x', password_hash: 'secret' };
  assert.is(lazy(row), eager(row));
  assert.is(lazy(row), '{"id":"x"}');
});

test('nothing is compiled before the first request: a schema that does not compile fails there', () => {
  const validate = lazySchemaCompilers().buildValidator({}, AJV)({ ...body, schema: { type: 'no-such-type' } });
  assert.throws(() => validate({}));
});

test.run();
