// Requests that change with every send.
import { addressOf, JSON_HEADERS, PASSWORD } from '../lib/http.ts';
import type { Request } from '../lib/load.ts';
import { LOGIN_USERS, loginEmail } from '../setup/small.ts';
import { roundRobin } from './scenario.ts';

/** A thousand accounts in turn, each from its own address (a device it has signed in from before). */
export function signIns(path: string, extraHeaders: Record<string, string> = {}): Request {
  const next = roundRobin(Array.from({ length: LOGIN_USERS }, (_, i) => i));
  return {
    method: 'POST',
    path,
    setupRequest: (request) => {
      const i = next();
      return { ...request, headers: { ...request.headers, ...JSON_HEADERS, ...extraHeaders, 'x-forwarded-for': addressOf(i) }, body: JSON.stringify({ email: loginEmail(i), password: PASSWORD }) };
    },
  };
}

/** A JSON POST whose body (and headers) are made afresh for each send. */
export const post = (path: string, body: () => unknown, headers: () => Record<string, string> = () => ({})): Request => ({
  method: 'POST',
  path,
  setupRequest: (request) => ({ ...request, headers: { ...request.headers, ...JSON_HEADERS, ...headers() }, body: JSON.stringify(body()) }),
});
