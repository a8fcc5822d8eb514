/**
 * The custody command's one way to the custody API: the base URL of the cached sign-in (or CUSTODY_API_URL), a
 * Bearer token from the current session (refreshed when due), JSON in and out, and the API's error shape
 * (api/errors.ts: `{ statusCode, error, message, requestId }`) turned into an error whose message is the API's
 * own, with the HTTP status and the request id to quote to the operators.
 */
import type { CustodyConfig } from '../workers/config';
import { currentSession, type Session } from './auth/session';
import { checkedServiceUrl } from './auth/oidc';
import { CliError, EXIT } from './context';

export const SESSION_ENDED = 'your session has expired or was revoked: run custody login';

/** An answer of the API other than 2xx. */
export class ApiRequestError extends CliError {
  constructor(
    /** The API's own message (or, without one, what the command could tell). */
    readonly apiMessage: string,
    readonly status: number,
    readonly requestId: string | undefined,
    /** Retry-After, when the API said when to ask again (a 409 while the same bytes are being verified). */
    readonly retryAfterSeconds?: number,
  ) {
    super(
      `${apiMessage} (HTTP ${status}${requestId ? `, request id ${requestId}` : ''})`,
      // 409: the recording's workflow (or the API) refused the action, with its reason.
      status === 404 ? EXIT.unknown : status === 409 ? EXIT.rejected : EXIT.error,
    );
  }
}

interface ErrorBody {
  message?: unknown;
  requestId?: unknown;
}

/**
 * The error an answer with `status` and `body` stands for. A 401 means the token was refused: a person must
 * sign in again, a service account's credentials are wrong or revoked.
 */
export function apiErrorFrom(
  status: number,
  bodyText: string,
  options: {
    requestIdHeader?: string | null;
    serviceAccount?: boolean;
    retryAfterHeader?: string | null;
  } = {},
): ApiRequestError {
  let body: ErrorBody = {};
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    if (parsed && typeof parsed === 'object') body = parsed;
  } catch {
    // Not the API's shape (a proxy's HTML page, say): the status speaks alone.
  }
  const requestId =
    typeof body.requestId === 'string' ? body.requestId : (options.requestIdHeader ?? undefined);
  const message = typeof body.message === 'string' && body.message ? body.message : undefined;
  if (status === 401) {
    const why = options.serviceAccount
      ? `the custody API refused the service account's token${message ? ` (${message})` : ''}`
      : SESSION_ENDED;
    return new ApiRequestError(why, status, requestId);
  }
  const retryAfter = Number(options.retryAfterHeader ?? NaN);
  return new ApiRequestError(
    message ?? `the custody API answered HTTP ${status}`,
    status,
    requestId,
    Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  );
}

export type Query = Record<string, string | number | undefined>;

export interface ApiClient {
  /** The API's base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly session: Session;
  /** The raw answer of a successful request (2xx); other answers throw ApiRequestError. */
  request(
    method: string,
    route: string,
    options?: { query?: Query; body?: unknown; accept?: string },
  ): Promise<Response>;
  getJson<T>(route: string, query?: Query): Promise<T>;
  /** The body as text, e.g. a CSV export. */
  getText(route: string, query: Query | undefined, accept: string): Promise<string>;
  sendJson<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', route: string, body: unknown): Promise<T>;
}

export function createApiClient(baseUrl: string, session: Session): ApiClient {
  const base = checkedServiceUrl(baseUrl, 'the custody API URL');
  const client: ApiClient = {
    baseUrl: base,
    session,
    async request(method, route, options = {}) {
      const url = new URL(`${base}${route.startsWith('/') ? route : `/${route}`}`);
      for (const [name, value] of Object.entries(options.query ?? {})) {
        if (value !== undefined) url.searchParams.set(name, String(value));
      }
      const headers: Record<string, string> = {
        authorization: `Bearer ${await session.accessToken()}`,
        accept: options.accept ?? 'application/json',
      };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
          redirect: 'error', // a redirect would carry the token elsewhere
        });
      } catch (err) {
        const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : '';
        throw new CliError(
          `cannot reach the custody API at ${base} (${cause || (err as Error).message})`,
          EXIT.error,
        );
      }
      if (!response.ok) {
        throw apiErrorFrom(response.status, await response.text(), {
          requestIdHeader: response.headers.get('x-request-id'),
          retryAfterHeader: response.headers.get('retry-after'),
          serviceAccount: session.kind === 'service-account',
        });
      }
      return response;
    },
    async getJson<T>(route: string, query?: Query) {
      return readJson<T>(await client.request('GET', route, query && { query }), route);
    },
    async getText(route, query, accept) {
      const response = await client.request('GET', route, { ...(query && { query }), accept });
      return response.text();
    },
    async sendJson<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', route: string, body: unknown) {
      return readJson<T>(await client.request(method, route, { body }), route);
    },
  };
  return client;
}

async function readJson<T>(response: Response, route: string): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`the custody API answered ${route} with something that is not JSON`);
  }
}

/**
 * The client for the current session: a person's sign-in talks to the API it was made for (its tokens are for that
 * audience), a service account to CUSTODY_API_URL.
 */
export function connectApi(config: CustodyConfig): ApiClient {
  const session = currentSession(config);
  return createApiClient(session.apiUrl ?? config.cli.apiUrl, session);
}
