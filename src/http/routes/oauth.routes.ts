// The OAuth 2.0 endpoints for machine clients: token (client credentials, RFC 6749 §4.4),
// introspection (RFC 7662) and revocation (RFC 7009). Unlike the rest of the API they take
// `application/x-www-form-urlencoded` bodies (RFC 6749 §4.4.2), and answer errors in RFC 6749 §5.2's
// shape, `{error, error_description}`, which OAuth libraries read: this plugin has a body parser and
// an error handler of its own, and nothing else sees them.
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import Type from 'typebox';
import { OAuthError, type ClientCredentials } from '../../domain/credentials/oauth.service.ts';
import type { Services } from '../../domain/services.ts';
import { clientInfo } from '../auth.ts';
import { toAppError } from '../errors.ts';

const TAGS = ['OAuth 2.0'];
/** Form bodies here are a handful of short parameters. */
const FORM_LIMIT = 16 * 1024;
const FORM = 'application/x-www-form-urlencoded';

export const OAuthErrorBody = Type.Object(
  { error: Type.String({ examples: ['invalid_client'] }), error_description: Type.String() },
  { description: 'An error as RFC 6749 §5.2 shapes it' },
);

const Param = Type.String({ maxLength: 4096 });
/** RFC 6749 §3.1: parameters the endpoint does not know are ignored, in the query too. */
const AnyQuery = Type.Object({}, { additionalProperties: true });
const ClientAuthFields = {
  client_id: Type.Optional(Type.String({ maxLength: 4096, description: 'With client_secret_post' })),
  client_secret: Type.Optional(Type.String({ maxLength: 4096, description: 'With client_secret_post' })),
};
type Form = Record<string, string | undefined>;

/**
 * The client's credentials, from `Authorization: Basic` (client_secret_basic: the id and secret
 * form-encoded, then base64) or from the body (client_secret_post); using both is refused (RFC 6749 §2.3).
 */
function credentialsOf(authorization: string | undefined, body: Form): ClientCredentials | null {
  const basic = authorization ? /^Basic[ ]+([A-Za-z0-9+/=]+)$/i.exec(authorization.trim()) : null;
  if (authorization && !basic) throw new OAuthError('invalid_client', 'Client authentication must be HTTP Basic (client_secret_basic) or in the body (client_secret_post)');
  if (basic) {
    if (body.client_secret !== undefined) throw new OAuthError('invalid_request', 'Use one client authentication method, not two');
    const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_client', 'Malformed HTTP Basic credentials');
    const part = (text: string) => {
      try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        throw new OAuthError('invalid_client', 'Malformed HTTP Basic credentials');
      }
    };
    const clientId = part(decoded.slice(0, colon));
    if (body.client_id !== undefined && body.client_id !== clientId) throw new OAuthError('invalid_request', 'client_id differs from the authenticated client');
    return { clientId, clientSecret: part(decoded.slice(colon + 1)) };
  }
  if (body.client_id !== undefined && body.client_secret !== undefined) return { clientId: body.client_id, clientSecret: body.client_secret };
  return null;
}

function sendOAuthError(reply: FastifyReply, error: OAuthError) {
  // RFC 6749 §5.2: a failed client authentication is a 401 that says how to authenticate.
  if (error.status === 401) reply.header('www-authenticate', 'Basic realm="gatehouse", charset="UTF-8"');
  return reply.code(error.status).header('pragma', 'no-cache').send({ error: error.error, error_description: error.message });
}

export const oauthRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  // Form bodies only, here: a parameter given twice is refused (RFC 6749 §3.1).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) => {
    const form: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(body as string)) {
      if (Object.hasOwn(form, name)) return done(new OAuthError('invalid_request', `${name} is given more than once`), undefined);
      form[name] = value;
    }
    return done(null, form);
  });
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined) request.body = {};
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof OAuthError) return sendOAuthError(reply, error);
    if (error.validation) {
      const first = error.validation[0];
      const field = String(first?.instancePath ?? '').replace(/^\//, '') || String((first?.params as { missingProperty?: string } | undefined)?.missingProperty ?? 'body');
      return sendOAuthError(reply, new OAuthError('invalid_request', `${field} is invalid`));
    }
    const known = toAppError(error);
    if (known && 'status' in known && known.status < 500) {
      const description = known.code === 'UNSUPPORTED_MEDIA_TYPE' ? `Send the body as ${FORM}` : known.message;
      return reply.code(known.status).send({ error: 'invalid_request', error_description: description });
    }
    if (known && 'status' in known) return reply.code(known.status).header('retry-after', '5').send({ error: 'temporarily_unavailable', error_description: known.message });
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'server_error', error_description: 'Something went wrong' });
  });

  const common = { auth: 'public' as const, oauth: true };
  const errors = { 400: OAuthErrorBody, 401: OAuthErrorBody };

  app.post(
    '/oauth/token',
    {
      config: common,
      schema: {
        operationId: 'oauthToken',
        tags: TAGS,
        summary: 'A machine client’s access token (client credentials grant, RFC 6749 §4.4)',
        description:
          'Form-encoded. `grant_type=client_credentials`; the client authenticates with HTTP Basic (client_secret_basic) or `client_id` and `client_secret` in the body (client_secret_post). `scope`, space-separated permissions, narrows the token to part of the client’s permissions (`invalid_scope` beyond them); without it the token holds them all. The token (RFC 9068: `sub` = `client_id`, `org_id`, `scope`) is a Bearer on its organisation’s routes. Errors are RFC 6749 §5.2’s.',
        consumes: [FORM],
        querystring: AnyQuery,
        body: Type.Object({ grant_type: Type.Optional(Param), scope: Type.Optional(Param), ...ClientAuthFields }, { additionalProperties: true }),
        response: {
          200: Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer(), scope: Type.String() }, { description: 'The token' }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Form;
      const answer = await services.oauth.token(credentialsOf(request.headers.authorization, body), { grant_type: body.grant_type, scope: body.scope });
      return reply.header('pragma', 'no-cache').send(answer);
    },
  );

  app.post(
    '/oauth/introspect',
    {
      config: common,
      schema: {
        operationId: 'oauthIntrospect',
        tags: TAGS,
        summary: 'Whether a token is active (RFC 7662)',
        description:
          'Form-encoded `token` (and an optional `token_type_hint`, ignored); the caller authenticates as a machine client, as at the token endpoint. Active only for a live machine token of the caller’s own organisation; anything else is `{"active": false}`.',
        consumes: [FORM],
        querystring: AnyQuery,
        body: Type.Object({ token: Type.Optional(Param), token_type_hint: Type.Optional(Param), ...ClientAuthFields }, { additionalProperties: true }),
        response: {
          200: Type.Object(
            {
              active: Type.Boolean(),
              scope: Type.Optional(Type.String()),
              client_id: Type.Optional(Type.String()),
              sub: Type.Optional(Type.String()),
              org_id: Type.Optional(Type.String()),
              token_type: Type.Optional(Type.String()),
              exp: Type.Optional(Type.Integer()),
              iat: Type.Optional(Type.Integer()),
              iss: Type.Optional(Type.String()),
              aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
              jti: Type.Optional(Type.String()),
            },
            { description: 'The token’s state' },
          ),
          ...errors,
        },
      },
    },
    async (request) => {
      const body = request.body as Form;
      return services.oauth.introspect(credentialsOf(request.headers.authorization, body), body.token, clientInfo(request));
    },
  );

  app.post(
    '/oauth/revoke',
    {
      config: common,
      schema: {
        operationId: 'oauthRevoke',
        tags: TAGS,
        summary: 'Revoke a token (RFC 7009)',
        description:
          'Form-encoded `token` (and an optional `token_type_hint`, ignored); the caller authenticates as a machine client. A token the caller was issued stops working on every node within 5 seconds. Any other token, known or not, gets the same 200 and changes nothing.',
        consumes: [FORM],
        querystring: AnyQuery,
        body: Type.Object({ token: Type.Optional(Param), token_type_hint: Type.Optional(Param), ...ClientAuthFields }, { additionalProperties: true }),
        response: { 200: Type.Object({}, { description: 'Revoked, or nothing to revoke' }), ...errors },
      },
    },
    async (request) => {
      const body = request.body as Form;
      await services.oauth.revoke(credentialsOf(request.headers.authorization, body), body.token);
      return {};
    },
  );
};
