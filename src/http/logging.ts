// What a request looks like in the log. Links in mails carry tokens in their query string, and the
// Authorization header carries a bearer token: neither may reach a log line.
import { createRequire } from 'node:module';
import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogFormat } from '../config/config.ts';

const SECRET_QUERY = /([?&](?:token|inviteToken|refreshToken|code)=)[^&#]*/gi;

export const redactUrl = (url: string) => url.replace(SECRET_QUERY, '$1[redacted]');

export function loggerOptions(level: string, format: LogFormat = 'json'): LoggerOptions & { stream?: PinoPretty.PrettyStream } {
  return {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({ method: request.method, url: redactUrl(request.url), remoteAddress: request.ip }),
    },
    ...(format === 'pretty' ? { stream: prettyStream() } : {}),
  };
}

/**
 * Lines for a person at a terminal: the time, the level, the message, then the other fields. Written
 * in this process and synchronously, so the last lines before an exit are not lost. Loaded only here:
 * a node that logs JSON does not carry the prettifier.
 */
function prettyStream(): PinoPretty.PrettyStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    // The request fields and the request id go into the message line; the mail's fields repeat the block its message shows.
    ignore: 'pid,hostname,req,res,responseTime,requestId,mail',
    messageFormat: prettyMessage,
  });
}

/** One line a request: `GET /healthz` when it comes in, `answered 200 in 6 ms` when it leaves, each with its request id. */
function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const message = String(log[messageKey] ?? '');
  const req = log.req as { method?: string; url?: string } | undefined;
  const res = log.res as { statusCode?: number } | undefined;
  const request = req?.method ? `${req.method} ${req.url}` : null;
  let line = request ? `${message} (${request})` : message;
  if (message === 'incoming request' && request) line = request;
  if (message === 'request completed' && res?.statusCode !== undefined) line = `answered ${res.statusCode} in ${Math.round(Number(log.responseTime))} ms`;
  return typeof log.requestId === 'string' ? `${line} [${log.requestId}]` : line;
}
