// One error handler for the whole API: domain errors, validation failures, constraint violations and
// framework errors all leave in the same envelope. A 5xx never shows what went wrong inside.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mapConstraintError } from '../domain/constraint-errors.ts';
import { AppError, ERRORS, ValidationError, type ErrorCode } from '../domain/errors.ts';
import { toFieldErrors } from './validation.ts';

const REASONS: Record<number, string> = {
  400: 'Bad request',
  401: 'Bad request',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  431: 'Request header fields too large',
  500: 'Internal server error',
  503: 'Service unavailable',
};

export function errorBody(status: number, code: string, message: string, requestId: string) {
  return { status: REASONS[status] ?? 'Error', message, statusCode: status, code, requestId };
}

export function sendError(reply: FastifyReply, error: AppError) {
  setRetryAfter(reply, error);
  return reply.code(error.status).send(errorBody(error.status, error.code, error.message, reply.request.id));
}

/** A 429 or 503 says when to come back. */
export function setRetryAfter(reply: FastifyReply, error: AppError) {
  const seconds = error.retryAfterSeconds ?? (error.code === 'SERVICE_UNAVAILABLE' ? 5 : undefined);
  if (seconds !== undefined) reply.header('retry-after', String(seconds));
}

/** Errors that mean the database cannot be reached right now: the caller may try again shortly. */
function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  // A connection lost inside a transaction surfaces as its failed rollback: "… is not queryable".
  if (typeof code !== 'string') return /Connection terminated|timeout exceeded when trying to connect|not queryable/i.test(String((error as Error).message));
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300'].includes(code) || code.startsWith('08');
}

const FRAMEWORK_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

export function toAppError(error: unknown): AppError | ValidationError | null {
  if (error instanceof AppError || error instanceof ValidationError) return error;
  const mapped = mapConstraintError(error);
  if (mapped instanceof AppError || mapped instanceof ValidationError) return mapped;
  const code = (error as FastifyError).code;
  const framework = code ? FRAMEWORK_ERRORS[code] : undefined;
  if (framework) return new AppError(framework);
  if (isUnavailable(error)) return new AppError('SERVICE_UNAVAILABLE');
  // Text PostgreSQL cannot store (validation refuses NUL first; this is the net under it).
  if (code === '22021' || code === '22P05') return new AppError('UNSTORABLE_TEXT');
  const status = (error as FastifyError).statusCode;
  if (status === 400 && (error as SyntaxError).name === 'SyntaxError') return new AppError('MALFORMED_JSON');
  return null;
}

export function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.validation) {
      const errors = toFieldErrors(error.validation as never, request.routeOptions.schema, error.validationContext ?? 'body');
      return reply.code(422).send({ errors });
    }
    const known = toAppError(error);
    if (known instanceof ValidationError) return reply.code(422).send({ errors: known.errors });
    if (known) {
      if (known.status >= 500) request.log.warn({ err: error }, 'dependency unavailable');
      return sendError(reply, known);
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send(errorBody(500, 'INTERNAL', ERRORS.INTERNAL.message, request.id));
    }
    return reply.code(status).send(errorBody(status, 'BAD_REQUEST', error.message, request.id));
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, new AppError('ROUTE_NOT_FOUND')));
}

const CLIENT_ERRORS: Record<string, ErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
};

/**
 * What a connection gets when Node gives up on it before there is a request to answer: a request
 * whose headers or body came too slowly (408), headers too large (431), or bytes that are not HTTP
 * (400). The answer is in the API's envelope, and the connection is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A request whose answer has begun gets no second one, only the close. (Node's own check; a
  // connection closing after its answer is no longer writable: see src/http/connections.ts.)
  const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !answering) {
    const code = CLIENT_ERRORS[error.code ?? ''] ?? 'BAD_REQUEST';
    const { status, message } = ERRORS[code];
    const body = JSON.stringify(errorBody(status, code, message, randomUUID()));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  // Closed in stages where src/http/connections.ts is installed, so the answer is not lost to a reset.
  socket.destroySoon();
}
