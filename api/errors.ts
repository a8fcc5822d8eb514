/** The error answers of the API: one JSON shape (schemas.ts errorBody), and RFC 6750's Bearer challenge. */
import type { FastifyReply } from 'fastify';

/** An answer other than 2xx, with the error shape of schemas.ts. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * RFC 6750 §3: the challenge of a Bearer-protected resource. Its values may hold printable ASCII without `"`
 * and `\`; anything else becomes `'` or `?`, so a description can never break out of its quotes.
 */
export function bearerChallenge(error?: string, description?: string): string {
  const quoted = (text: string) => `"${text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?')}"`;
  return [
    'Bearer realm="custody"',
    ...(error ? [`error=${quoted(error)}`] : []),
    ...(description ? [`error_description=${quoted(description)}`] : []),
  ].join(', ');
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendError(
  reply: FastifyReply,
  statusCode: number,
  message: string,
  headers: Record<string, string> = {},
  error = STATUS_TEXT[statusCode] ?? 'Error',
) {
  return reply
    .code(statusCode)
    .headers(headers)
    .type('application/json; charset=utf-8')
    .send({ statusCode, error, message, requestId: reply.request.id });
}
