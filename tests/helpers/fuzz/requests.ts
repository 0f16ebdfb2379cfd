// Requests for one documented operation: path parameters that name real things or nothing, query
// strings from the schema and beside it, bodies the schema accepts or refuses (and bodies that are
// not JSON at all), with no token, a real one or a forged one. A generated request prints as what
// was sent, so a counterexample can be replayed by hand.
import fc from 'fast-check';
import { PASSWORD } from '../api.ts';
import { algNone, tamper } from '../matrix.ts';
import type { Operation } from './openapi.ts';
import { invalidObject, validValue, type Hints } from './schema-values.ts';
import type { Wire, World } from './world.ts';

export type FuzzRequest = Wire & { tokenLabel: string };

const clip = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text);

function described(request: FuzzRequest): FuzzRequest {
  const shown = () => {
    const payload = request.payload === undefined ? '' : ` payload ${JSON.stringify(clip(String(request.payload)))}`;
    return `${request.method} ${clip(request.url)} headers ${clip(JSON.stringify(request.headers))} (token: ${request.tokenLabel})${payload}`;
  };
  return Object.assign(request, { [fc.toStringMethod]: shown });
}

/** Over the 1 MiB body limit: built once, it is large. */
let oversize: string | null = null;
const oversizeBody = () => (oversize ??= JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 16) }));

const RAW_PATH_JUNK = ['%', '%zz', '%00', '..', '.', '%2F', '%C0%AF', '%E2%80%AE', 'me', '0', '-1', 'null', 'undefined', '%20'];
const MALFORMED_JSON = ['{', '{"a":1,}', "{'a':1}", 'nul', '\uFEFF{}', '[1,2', '{"a":}', '"unterminated', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', 'NaN', '1e999999'];
const OTHER_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-16', 'application/vnd.api+json', 'application/json-patch+json'];

const junkText = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.noShrink(fc.string({ unit: 'grapheme-ascii', minLength: 200, maxLength: 3000 })));

/** A time as the statistics take it: ISO 8601 or Unix seconds. */
const moment = fc.date({ min: new Date(Date.UTC(2000, 0)), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }).chain((date) => fc.constantFrom(date.toISOString(), String(Math.floor(date.getTime() / 1000))));

function worldHints(world: World): Hints {
  const people = [world.owner, world.member, world.admin];
  const orgIds = [world.orgId, ...world.personalOrgIds];
  const emails = [...people.map((p) => p.email), world.invitedEmail, world.owner.email.toUpperCase()];
  const tokens = [...world.mailedTokens, world.owner.refreshToken, world.member.refreshToken];
  const byName: Record<string, fc.Arbitrary<unknown>> = {
    email: fc.constantFrom(...emails),
    password: fc.constant(PASSWORD),
    currentPassword: fc.constant(PASSWORD),
    token: fc.constantFrom(...tokens),
    refreshToken: fc.constantFrom(...tokens),
    inviteToken: fc.constantFrom(...tokens),
    userId: fc.constantFrom(...people.map((p) => p.userId)),
    user_id: fc.constantFrom(...people.map((p) => p.userId)),
    orgId: fc.constantFrom(...orgIds),
    org_id: fc.constantFrom(...orgIds),
    organization_id: fc.constantFrom(...orgIds),
    organisationId: fc.constantFrom(...orgIds),
    role: fc.constantFrom('owner', 'admin', 'member', world.roleName),
    username: fc.constantFrom(...people.map((p) => p.username)),
    from: moment,
    to: moment,
  };
  return (name) => byName[name];
}

/** Real values for a path parameter by its name, or every id the world has. */
function realIds(world: World, name: string): string[] {
  const people = [world.owner, world.member, world.admin];
  const all = [world.orgId, ...world.personalOrgIds, world.roleId, ...world.builtInRoleIds, world.invitationId, ...people.flatMap((p) => [p.userId, p.sessionId])];
  const named: Record<string, string[]> = {
    orgId: [world.orgId, ...world.personalOrgIds],
    userId: people.map((p) => p.userId),
    id: people.map((p) => p.userId),
    roleId: [world.roleId, ...world.builtInRoleIds],
    invitationId: [world.invitationId],
    sessionId: people.map((p) => p.sessionId),
    username: people.map((p) => p.username),
  };
  return named[name] ?? all;
}

function pathValue(world: World, name: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...realIds(world, name), ...realIds(world, '')).map(encodeURIComponent) },
    { weight: 2, arbitrary: fc.uuid().map(encodeURIComponent) },
    { weight: 2, arbitrary: junkText.map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_PATH_JUNK) },
  );
}

const queryFields = (op: Operation) => op.parameters.filter((p) => p.in === 'query');

function toQuery(values: Record<string, unknown>, tail = ''): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString() + tail;
  return text ? `?${text}` : '';
}

/** Documented parameters with values their schemas accept; a cursor only comes from a previous page. */
function validQuery(op: Operation, hints: Hints): fc.Arbitrary<string> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of queryFields(op)) {
    if (field.name !== 'cursor') model[field.name] = hints(field.name) ?? validValue(field.schema);
  }
  return fc.record(model, { requiredKeys: [] }).map((values) => toQuery(values));
}

function anyQuery(op: Operation, hints: Hints): fc.Arbitrary<string> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of queryFields(op)) {
    const hint = hints(field.name);
    model[field.name] = fc.oneof(validValue(field.schema), junkText, fc.array(junkText, { minLength: 2, maxLength: 3 }), ...(hint ? [hint] : []));
  }
  model.extra = junkText;
  const tail = fc.constantFrom('', '', '', '&%zz=%', '&limit', '&=', '&a[b]=1');
  return fc.tuple(fc.record(model, { requiredKeys: [] }), tail).map(([values, raw]) => toQuery(values, raw));
}

interface BodyPart {
  contentType?: string;
  payload?: string;
}

const json = (value: unknown): BodyPart => ({ contentType: 'application/json', payload: JSON.stringify(value) });

function validBody(op: Operation, hints: Hints): fc.Arbitrary<BodyPart> {
  return op.body ? validValue(op.body, hints).map(json) : fc.constant({});
}

/** Anything: valid, refused by the schema, not JSON, not declared as JSON, too large. */
function anyBody(op: Operation, hints: Hints): fc.Arbitrary<BodyPart> {
  const valid = op.body ? validValue(op.body, hints) : fc.constant({});
  const raw = fc.oneof(
    fc.tuple(valid, fc.nat()).map(([value, cut]): BodyPart => {
      const text = JSON.stringify(value);
      return { contentType: 'application/json', payload: text.slice(0, cut % Math.max(text.length, 1)) };
    }),
    fc.constantFrom(...MALFORMED_JSON).map((payload): BodyPart => ({ contentType: 'application/json', payload })),
    fc.tuple(fc.constantFrom(...OTHER_TYPES), valid).map(([contentType, value]): BodyPart => ({ contentType, payload: JSON.stringify(value) })),
    valid.map((value): BodyPart => ({ payload: JSON.stringify(value) })),
    fc.constant<BodyPart>({ contentType: 'application/json', payload: '' }),
  );
  const oversized = fc.constant(null).map((): BodyPart => ({ contentType: 'application/json', payload: oversizeBody() }));
  if (!op.body) return fc.oneof({ weight: 4, arbitrary: fc.constant<BodyPart>({}) }, { weight: 2, arbitrary: fc.jsonValue().map(json) }, { weight: 2, arbitrary: raw });
  return fc.oneof(
    { weight: 2, arbitrary: valid.map(json) },
    { weight: 4, arbitrary: invalidObject(op.body, hints).map(json) },
    { weight: 3, arbitrary: raw },
    { weight: 1, arbitrary: fc.constant<BodyPart>({}) },
    { weight: 1, arbitrary: oversized },
  );
}

type Credential = [label: string, header: string | undefined];
const bearer = (token: string) => `Bearer ${token}`;

const signedIn = (world: World) =>
  fc.constantFrom<Credential>(['owner', bearer(world.owner.accessToken)], ['member', bearer(world.member.accessToken)], ['admin', bearer(world.admin.accessToken)]);

function anyCredential(world: World): fc.Arbitrary<Credential> {
  return fc.oneof(
    { weight: 3, arbitrary: signedIn(world) },
    { weight: 2, arbitrary: fc.constant<Credential>(['none', undefined]) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((junk): Credential => ['garbage', bearer(junk)]) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Credential>(
        ['tampered', bearer(tamper(world.owner.accessToken))],
        ['alg none', bearer(algNone(world.owner.accessToken))],
        ['refresh token', bearer(world.owner.refreshToken)],
        ['basic', 'Basic dXNlcjpwYXNz'],
        ['bare', 'Bearer'],
        ['huge', bearer('a'.repeat(20_000))],
      ),
    },
  );
}

function assemble(op: Operation, [path, query, body, [tokenLabel, auth]]: [string, string, BodyPart, Credential]): FuzzRequest {
  const headers: Record<string, string> = {};
  if (auth !== undefined) headers.authorization = auth;
  if (body.contentType) headers['content-type'] = body.contentType;
  return described({ method: op.method, url: path + query, headers, tokenLabel, ...(body.payload !== undefined ? { payload: body.payload } : {}) });
}

/**
 * Half the requests are coherent (real ids where ids belong, a valid query and body, a signed-in
 * caller), so that handlers and their SQL are reached and not only the checks in front of them;
 * the other half mix anything with anything.
 */
export function requestsFor(op: Operation, world: World): fc.Arbitrary<FuzzRequest> {
  const hints = worldHints(world);
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
  const fill = (values: string[]) => names.reduce((path, name, i) => path.replace(`{${name}}`, values[i]!), op.path);
  const realPath = fc.tuple(...names.map((name) => fc.constantFrom(...realIds(world, name)).map(encodeURIComponent))).map(fill);
  const anyPath = fc.tuple(...names.map((name) => pathValue(world, name))).map(fill);
  const coherent = fc.tuple(realPath, validQuery(op, hints), validBody(op, hints), signedIn(world));
  const chaotic = fc.tuple(anyPath, anyQuery(op, hints), anyBody(op, hints), anyCredential(world));
  return fc.oneof(coherent, chaotic).map((parts) => assemble(op, parts));
}
