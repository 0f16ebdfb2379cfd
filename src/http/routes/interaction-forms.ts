// What the hosted pages of an OpenID sign-in share (./openid.routes.ts: sign in, second step, consent,
// organisation; ./openid-signup.routes.ts: sign up, forgot password): the interaction the browser's
// cookie names, the form checks, and handing the outcome back to the provider.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import type { SignedIn } from '../../domain/accounts/accounts.service.ts';
import { AppError } from '../../domain/errors.ts';
import { SIGNIN_COOKIE } from '../../domain/oidc/openid-provider.ts';
import type { Services } from '../../domain/services.ts';
import { providerErrorPage } from '../../pages/openid-pages.ts';
import { sendBrandedPage } from './pages.routes.ts';

export const TAGS = ['Hosted sign-in'];
export const Html = Type.String({ description: 'An HTML page' });
export const HtmlPage = { description: 'An HTML page', content: { 'text/html': { schema: Html } } };
export const Uid = Type.Object({ uid: Type.String({ maxLength: 64 }) });
export const SeeOther = { description: 'On to the next step of the sign-in (the provider, or back to the application)', type: 'null' };

/**
 * The provider builds every URL it publishes from the request: it is told the public address
 * (PUBLIC_URL), whatever the request said, and the client's address as Gatehouse's TRUST_PROXY read it.
 * Its cookies are then Secure exactly when PUBLIC_URL is https.
 */
export function asPublic(request: FastifyRequest, publicUrl: URL) {
  const headers = request.raw.headers;
  headers['x-forwarded-proto'] = publicUrl.protocol.slice(0, -1);
  headers['x-forwarded-host'] = publicUrl.host;
  headers['x-forwarded-for'] = request.ip;
  return request.raw;
}

/** A form arrives URL-encoded; anything else (or a field given twice) is no form of ours. */
export function formField(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Where a page's forms may end up: the application's origin, when a step goes back to it. */
export const formTargets = (redirectUri: unknown) => {
  const url = typeof redirectUri === 'string' ? URL.parse(redirectUri) : null;
  return url ? [url.origin] : [];
};

type InteractionResult = Parameters<Awaited<ReturnType<Services['openid']['provider']>>['interactionResult']>[2];

/** Reads URL-encoded forms (up to `bodyLimit` bytes) in the plugin `app`, and answers the helpers its routes share. */
export function interactionForms(app: Pick<FastifyInstance, 'addContentTypeParser'>, { services, config }: { services: Services; config: Config }, bodyLimit: number) {
  const publicUrl = new URL(config.publicUrl);
  const secure = publicUrl.protocol === 'https:';
  const { openid } = services;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  /** Hands the step's outcome to the provider, and the browser on to where it says. */
  async function finish(request: FastifyRequest, reply: FastifyReply, result: InteractionResult) {
    const to = await (await openid.provider()).interactionResult(asPublic(request, publicUrl), reply.raw, result, { mergeWithLastSubmission: true });
    return reply.redirect(to, 303);
  }

  return {
    /** The interaction the browser's cookie names, when it is the one in the URL; otherwise null. */
    async interactionOf(request: FastifyRequest, reply: FastifyReply, uid: string) {
      try {
        const details = await (await openid.provider()).interactionDetails(asPublic(request, publicUrl), reply.raw);
        return details.uid === uid ? details : null;
      } catch {
        return null;
      }
    },

    /** Like a dead mailed link: a page that says what to do next (the API's errors stay JSON). */
    expired: (reply: FastifyReply) => sendBrandedPage(reply, providerErrorPage(config.brand, { error: 'interaction_expired', description: undefined }), config.brand),

    /** A form of ours, posted from our own pages: never from another site (Sec-Fetch-Site), always with its token. */
    async checkForm(request: FastifyRequest, uid: string) {
      const site = request.headers['sec-fetch-site'];
      if (site === 'cross-site' || site === 'same-site') throw new AppError('FORBIDDEN');
      if (!(await openid.csrfValid(uid, formField(request.body, 'csrf')))) throw new AppError('FORBIDDEN');
    },

    async clientOf(clientId: unknown) {
      const client = typeof clientId === 'string' ? await services.oidcClients.forProvider(clientId) : undefined;
      return { name: client?.name ?? 'the application', firstParty: client?.firstParty ?? false };
    },

    finish,

    /**
     * A Gatehouse session was opened in this sign-in: the sign-in cookie names it, and the provider's
     * login carries how and when the person proved who they are.
     */
    async signedIn(request: FastifyRequest, reply: FastifyReply, signed: SignedIn) {
      const { sessionId, authentication } = signed.principal;
      reply.header('set-cookie', `${SIGNIN_COOKIE}=${await openid.signinCookie(sessionId)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${config.refreshTokenTtlSeconds}${secure ? '; Secure' : ''}`);
      return finish(request, reply, { login: { accountId: signed.user.id, amr: [...authentication.amr], ts: Math.floor(authentication.authTime.getTime() / 1000) } });
    },
  };
}
