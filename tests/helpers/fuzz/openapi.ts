// The operations of the OpenAPI document, with their $refs resolved, and the check every answer
// must pass: no 5xx, the documented media type and schema when the status is documented, and the
// error shape of the API it belongs to.
import assert from 'node:assert/strict';
import { accepts, type Schema } from './schema-values.ts';

type Json = Record<string, unknown>;

export interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: Schema;
}

export interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  operationId: string;
  tags: string[];
  parameters: Parameter[];
  body: Schema | null;
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  /** The seed-compatible set it belongs to (SPEC §3), whose errors are `{message}` or `{msg}`. */
  compat: 'saas' | 'user-api' | 'basic' | null;
  /** An OAuth 2.0 endpoint: form bodies, errors `{error, error_description}` (RFC 6749 §5.2). */
  oauth: boolean;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Replaces every local `$ref` by what it points to, so schemas can be used on their own. */
export function dereference(doc: Json): Json {
  const resolve = (pointer: string): unknown =>
    pointer
      .replace(/^#\/?/, '')
      .split('/')
      .filter(Boolean)
      .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (node as Json)[key], doc);
  const walk = (node: unknown, seen: string[]): unknown => {
    if (Array.isArray(node)) return node.map((item) => walk(item, seen));
    if (node === null || typeof node !== 'object') return node;
    const ref = (node as Json).$ref;
    if (typeof ref === 'string' && ref.startsWith('#')) {
      if (seen.includes(ref)) throw new Error(`recursive $ref ${ref} is not supported by the fuzzer`);
      return walk(resolve(ref), [...seen, ref]);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value, seen)]));
  };
  return walk(doc, []) as Json;
}

function compatSet(tags: string[]): Operation['compat'] {
  const tag = tags.find((t) => /^(saas|user-api|basic)\b/.test(t));
  return tag ? (tag.split(' ')[0] as Operation['compat']) : null;
}

export function operationsOf(document: Json): Operation[] {
  const doc = dereference(document);
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const tags = (op.tags as string[] | undefined) ?? [];
      const requestBody = op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined;
      operations.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        operationId: String(op.operationId),
        tags,
        parameters: [...((item.parameters as Parameter[] | undefined) ?? []), ...((op.parameters as Parameter[] | undefined) ?? [])],
        body: requestBody?.content?.['application/json']?.schema ?? null,
        responses: (op.responses as Operation['responses'] | undefined) ?? {},
        compat: compatSet(tags),
        oauth: tags.includes('OAuth 2.0'),
      });
    }
  }
  return operations;
}

const header = (answer: Answer, name: string) => {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value === undefined ? undefined : String(value);
};

const isJsonType = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json');

function parseJson(answer: Answer, where: string): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    assert.fail(`${where}: the body is not JSON: ${answer.text.slice(0, 300)}`);
  }
}

const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;

/** `{status, message, statusCode, code, requestId}`, or a 422's `{errors: [{field, message}]}`. */
function checkCoreError(body: unknown, answer: Answer, where: string) {
  assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), `${where}: an error body must be an object`);
  const error = body as Json;
  if (answer.status === 422) {
    assert.deepEqual(Object.keys(error), ['errors'], `${where}: a 422 is {errors}`);
    assert.ok(Array.isArray(error.errors) && error.errors.length > 0, `${where}: a 422 names at least one field`);
    for (const entry of error.errors as Json[]) {
      assert.deepEqual(Object.keys(entry).sort(), ['field', 'message'], `${where}: each 422 entry is {field, message}`);
      assert.ok(typeof entry.field === 'string' && typeof entry.message === 'string' && entry.message.length > 0, `${where}: field and message are text`);
    }
    return;
  }
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'requestId', 'status', 'statusCode'], `${where}: not the error envelope`);
  assert.equal(error.statusCode, answer.status, `${where}: statusCode differs from the status`);
  assert.ok(typeof error.status === 'string' && error.status.length > 0, `${where}: status is text`);
  assert.ok(typeof error.message === 'string' && error.message.length > 0, `${where}: message is text`);
  assert.ok(typeof error.code === 'string' && ERROR_CODE.test(error.code), `${where}: code is UPPER_SNAKE`);
  assert.equal(error.requestId, header(answer, 'x-request-id'), `${where}: requestId is the x-request-id header`);
}

/** The properties every answer to every request must have; throws with what was wrong. */
export function checkAnswer(op: Operation, answer: Answer) {
  const where = `${op.method} ${op.path} → ${answer.status} ${answer.text.slice(0, 500)}`;
  assert.ok(answer.status < 500, `${where}: a 5xx`);
  if (answer.status === 429) assert.ok(header(answer, 'retry-after'), `${where}: a 429 without Retry-After`);
  const mediaType = (header(answer, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const documented = op.responses[String(answer.status)];
  assert.ok(documented || answer.status >= 400, `${where}: a success status the document does not list (it lists ${Object.keys(op.responses).join(', ')})`);
  if (documented?.content) {
    const media = documented.content[mediaType];
    assert.ok(media, `${where}: answered ${mediaType || 'no content type'}, documented ${Object.keys(documented.content).join(', ')}`);
    if (media.schema) {
      const value = isJsonType(mediaType) ? parseJson(answer, where) : answer.text;
      assert.ok(accepts(media.schema, value), `${where}: the body does not match the documented schema`);
    }
  }
  if (answer.status < 400) return;
  const body = parseJson(answer, where);
  if (op.oauth) {
    const error = body as Json | null;
    assert.ok(error !== null && typeof error === 'object', `${where}: an error body must be an object`);
    assert.deepEqual(Object.keys(error).sort(), ['error', 'error_description'], `${where}: not an RFC 6749 error`);
    assert.match(String(error.error), /^[a-z_]+$/, `${where}: error is an RFC 6749 code`);
    if (answer.status === 401) assert.ok(header(answer, 'www-authenticate'), `${where}: a 401 without WWW-Authenticate`);
    return;
  }
  if (op.compat) {
    // SPEC §3: the seed sets answer `{msg}` (user-api) or `{message}`; a path the router never
    // matched is answered by the core API's not-found handler, in its envelope.
    const key = op.compat === 'user-api' ? 'msg' : 'message';
    const error = body as Json | null;
    if (error !== null && typeof error === 'object' && typeof error[key] === 'string' && Object.keys(error).length === 1) return;
    checkCoreError(body, answer, `${where}: neither {${key}} nor`);
    return;
  }
  checkCoreError(body, answer, where);
}
