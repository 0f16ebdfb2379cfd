// Request validation. JSON bodies are validated as sent (a number where a string belongs is an
// error, not a string); query strings and path parameters are text, so they are coerced as usual.
// Every failure becomes a 422 naming each invalid field once, in the order the route lists them, the
// first MAX_FIELD_ERRORS of them.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import type { FieldError } from '../domain/errors.ts';
import type { LazyCompilers } from './lazy-compilers.ts';

// ajv-formats is CommonJS; under NodeNext its default export arrives one level down.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function newAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ allErrors: true, coerceTypes, useDefaults: true, removeAdditional: false, strict: false, verbose: true });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = newAjv(false);
const textAjv = newAjv(true);

/**
 * Where in a request a NUL character hides (as a JSON pointer), or null. A walk with its own stack,
 * not recursion: however deep a value nests, it cannot overflow the call stack. Bodies reach it only
 * within the JSON limits (json-limits.ts), so it is linear in a bounded input.
 */
function nulAt(value: unknown): string | null {
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return path;
    } else if (item !== null && typeof item === 'object') {
      // Pushed in reverse, so the first field in the document is reported first.
      for (const [key, child] of Object.entries(item).reverse()) pending.push([child, `${path}/${key}`]);
    }
  }
  return null;
}

/** Ajv's validator, after one check of our own: PostgreSQL text cannot hold U+0000, so no field may. */
function guarded(validator: () => ValidateFunction) {
  const guard = Object.assign(
    (data: unknown): boolean => {
      const at = nulAt(data);
      if (at !== null) {
        guard.errors = [{ keyword: 'nul', instancePath: at, schemaPath: '#', params: {} }];
        return false;
      }
      const validate = validator();
      const valid = validate(data) as boolean;
      guard.errors = validate.errors ?? null;
      return valid;
    },
    { errors: null as ErrorObject[] | null },
  );
  return guard;
}

const compile = (schema: unknown, httpPart: string | undefined) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);

/** The validator of one schema, compiled now. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const validate = compile(schema, httpPart);
  return guarded(() => validate);
};

/** The same for every route of an app, each compiled when first needed (./lazy-compilers.ts). */
export const lazyValidatorCompiler =
  (lazy: LazyCompilers): FastifySchemaCompiler<unknown> =>
  ({ schema, httpPart }) =>
    guarded(lazy.later(() => compile(schema, httpPart)));

/** "firstName" → "First name": the label a field's message starts with. */
export function fieldLabel(field: string): string {
  const words = field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const TYPE_NAMES: Record<string, string> = { string: 'text', integer: 'a whole number', number: 'a number', boolean: 'true or false', array: 'a list', object: 'an object' };
const FORMAT_MESSAGES: Record<string, string> = { email: 'must be a valid email address', uuid: 'must be a valid id', 'date-time': 'must be an ISO 8601 date and time', uri: 'must be a URL' };
/** Ajv reports these alongside the error that explains them; they add nothing for a person. */
const SHADOW_KEYWORDS = new Set(['if', 'anyOf', 'oneOf', 'allOf', 'not']);

interface Issue {
  field: string;
  message: string;
  rank: number;
}

function describe(error: ErrorObject): Issue | null {
  if (SHADOW_KEYWORDS.has(error.keyword)) return null;
  const path = error.instancePath.split('/').filter(Boolean);
  // A property may carry `x-message`: what to say when its pattern does not match ({label} is its name).
  const custom = (error.parentSchema as { 'x-message'?: string } | undefined)?.['x-message'];
  switch (error.keyword) {
    case 'required': {
      const field = String((error.params as { missingProperty: string }).missingProperty);
      return { field: path[0] ?? field, message: `${fieldLabel(field)} is required`, rank: 0 };
    }
    case 'additionalProperties': {
      const field = String((error.params as { additionalProperty: string }).additionalProperty);
      // `?=` names a query parameter with no name at all.
      if (path[0] === undefined && field === '') return { field, message: 'A field with no name is not allowed here', rank: 1 };
      return { field: path[0] ?? field, message: `${fieldLabel(field)} is not allowed here`, rank: 1 };
    }
  }
  const field = path[0] ?? '';
  const label = field ? fieldLabel(field) : 'The body';
  const params = error.params as Record<string, unknown>;
  if (custom && error.keyword === 'pattern') return { field, message: custom.replace('{label}', label), rank: 2 };
  switch (error.keyword) {
    case 'type': {
      // For a field that takes text or null, "must be null" only hides what is wrong with the text.
      if (params.type === 'null') return null;
      const expected = String(params.type).split(',')[0] ?? 'string';
      return { field, message: `${label} must be ${TYPE_NAMES[expected] ?? expected}`, rank: 1 };
    }
    case 'minLength':
      return params.limit === 1 ? { field, message: `${label} is required`, rank: 0 } : { field, message: `${label} must be at least ${String(params.limit)} characters`, rank: 2 };
    case 'maxLength':
      return { field, message: `${label} must be at most ${String(params.limit)} characters`, rank: 2 };
    case 'format':
      return { field, message: `${label} ${FORMAT_MESSAGES[String(params.format)] ?? 'has an invalid format'}`, rank: 2 };
    case 'minimum':
      return { field, message: `${label} must be at least ${String(params.limit)}`, rank: 2 };
    case 'maximum':
      return { field, message: `${label} must be at most ${String(params.limit)}`, rank: 2 };
    case 'enum':
      return { field, message: `${label} must be one of: ${(params.allowedValues as unknown[]).join(', ')}`, rank: 2 };
    case 'const':
      return { field, message: `${label} must be ${JSON.stringify(params.allowedValue)}`, rank: 2 };
    case 'maxItems':
      return { field, message: `${label} must have at most ${String(params.limit)} entries`, rank: 2 };
    case 'nul':
      return { field, message: `${label} must not contain a NUL character`, rank: 1 };
    case 'uniqueItems':
      return { field, message: `${label} must not repeat an entry`, rank: 2 };
    default:
      return { field, message: `${label} is invalid`, rank: 3 };
  }
}

type PartName = 'body' | 'querystring' | 'params';

/** The field order a route declares for one part of the request. */
function declaredOrder(schema: FastifySchema | undefined, part: PartName): string[] {
  const partSchema = (schema as Record<string, { properties?: Record<string, unknown> } | undefined> | undefined)?.[part];
  return Object.keys(partSchema?.properties ?? {});
}

/** A 422 lists at most this many problems: the answer to a body full of unknown keys stays small. */
const MAX_FIELD_ERRORS = 20;

export function toFieldErrors(errors: ErrorObject[], schema: FastifySchema | undefined, part: string): FieldError[] {
  const order = declaredOrder(schema, part as PartName);
  const byField = new Map<string, Issue>();
  for (const error of errors) {
    const issue = describe(error);
    if (!issue) continue;
    const field = issue.field || (part === 'querystring' ? 'query' : part);
    const known = byField.get(field);
    if (!known || issue.rank < known.rank) byField.set(field, { ...issue, field });
  }
  const position = (field: string) => {
    const index = order.indexOf(field);
    return index === -1 ? order.length : index;
  };
  return [...byField.values()]
    .sort((a, b) => position(a.field) - position(b.field))
    .slice(0, MAX_FIELD_ERRORS)
    .map(({ field, message }) => ({ field, message }));
}
