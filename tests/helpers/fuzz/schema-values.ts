// Values for the subset of JSON Schema our route schemas use, as fast-check arbitraries: values the
// schema accepts (to reach the handlers) and values it refuses (to reach the validation and parsing
// paths). Hints put real ids, emails and tokens in place of random text, by property name.
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives one level down.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  if?: unknown;
  not?: unknown;
}

/** Real values for a property, by its name: undefined when none applies. */
export type Hints = (name: string) => fc.Arbitrary<unknown> | undefined;

export const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
addFormats(ajv);

const validators = new WeakMap<object, (value: unknown) => boolean>();
/** Whether a value satisfies a schema, with the same ajv the answers are checked with. */
export function accepts(schema: Schema, value: unknown): boolean {
  let validate = validators.get(schema);
  if (!validate) {
    const compiled = ajv.compile(schema);
    validate = (v) => compiled(v) === true;
    validators.set(schema, validate);
  }
  return validate(value);
}

const codePoints = (text: string) => [...text].length;

/** Text of any code point, ASCII half the time so that readable values are tried too. */
const text = (minLength: number, maxLength: number) =>
  fc.oneof(fc.string({ unit: 'grapheme-ascii', minLength, maxLength }), fc.string({ unit: 'binary', minLength, maxLength }));

function stringValue(schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 2000;
  const fits = (value: string) => codePoints(value) >= min && codePoints(value) <= max;
  let candidates: fc.Arbitrary<string>;
  if (schema.format === 'email') candidates = fc.emailAddress();
  else if (schema.format === 'uuid') candidates = fc.uuid();
  else if (schema.format === 'date-time') candidates = fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(Date.UTC(2100, 0)) }).map((d) => d.toISOString());
  else if (schema.pattern?.startsWith('^')) candidates = fc.stringMatching(new RegExp(schema.pattern));
  // Short values mostly, and now and then one of the longest length allowed (not shrunk character
  // by character: that would replay thousands of requests).
  else candidates = fc.oneof({ weight: 4, arbitrary: text(min, Math.min(max, Math.max(min, 40))) }, { weight: 1, arbitrary: fc.noShrink(text(max, max)) });
  // The schema decides; a pattern like "\S" is checked here rather than generated.
  return candidates.filter((value) => fits(value) && accepts(schema, value));
}

const hasConditions = (schema: Schema) => schema.if !== undefined || schema.not !== undefined;

/** Values the schema accepts. */
export function validValue(schema: Schema, hints: Hints = () => undefined): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices) return fc.oneof(...choices.map((choice) => validValue(choice, hints)));
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type) => validValue({ ...schema, type }, hints)));
  const type = schema.type ?? (schema.properties ? 'object' : undefined);
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true });
    case 'string':
      return stringValue(schema);
    case 'array': {
      const item = validValue(schema.items ?? {}, hints);
      const constraints = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 12) };
      return schema.uniqueItems ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) }) : fc.array(item, constraints);
    }
    case 'object':
      return objectValue(schema, hints);
    default:
      return fc.jsonValue();
  }
}

function objectValue(schema: Schema, hints: Hints): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) {
    const hint = hints(name);
    const own = validValue(property, hints);
    model[name] = hint ? fc.oneof(hint, own) : own;
  }
  const value = fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in model) });
  // `if`/`then` (email or username) is rare enough to keep the values that meet it.
  return hasConditions(schema) ? value.filter((v) => accepts(schema, v)) : value;
}

/** A JSON value nested `depth` levels deep. */
export const deeplyNested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);

/** Values of the wrong kind for any field: other types, null, huge or deeply nested. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 4 }),
  fc.constant('x'.repeat(100_000)),
  fc.constant('\u0000'),
  fc.constant(deeplyNested(2000)),
);

/** A body the schema refuses, made from one it accepts: a required field gone, a wrong value, an extra field. */
export function invalidObject(schema: Schema, hints: Hints): fc.Arbitrary<unknown> {
  const names = Object.keys(schema.properties ?? {});
  const required = (schema.required ?? []).filter((name) => names.includes(name));
  const valid = validValue(schema, hints) as fc.Arbitrary<Record<string, unknown>>;
  const mutations: Array<fc.Arbitrary<unknown>> = [
    fc.tuple(valid, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue()).map(([body, key, value]) => ({ ...body, [`extra_${key}`]: value })),
    // Not an object at all.
    fc.oneof(fc.jsonValue().filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)), fc.constant([])),
  ];
  if (required.length > 0) {
    mutations.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([body, name]) => {
        const { [name]: _gone, ...rest } = body;
        return rest;
      }),
    );
  }
  if (names.length > 0) {
    mutations.push(fc.tuple(valid, fc.constantFrom(...names), wrongValue).map(([body, name, value]) => ({ ...body, [name]: value })));
  }
  return fc.oneof(...mutations);
}
