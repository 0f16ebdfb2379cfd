// The headers every answer carries: helmet's, for the options Gatehouse gives it. @fastify/helmet
// built a new helmet middleware on every request (parsing the options and the policy each time); the
// answer is the same every time, so it is worked out once here and set as it is.
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

export type HeaderList = ReadonlyArray<readonly [string, string]>;

/** The headers helmet's middleware sets for these options, by running it once against a recorder. */
export function securityHeaders(options: Readonly<HelmetOptions>): HeaderList {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return [...headers];
}

/** Set on the raw response, so that answers written outside Fastify (the OpenID Provider's) carry them too. */
export function setHeaders(response: ServerResponse, headers: HeaderList): void {
  for (const [name, value] of headers) response.setHeader(name, value);
}
