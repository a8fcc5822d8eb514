/**
 * Signing people in to the web console, the backend-for-frontend way: the API is the OAuth client (confidential,
 * authorization code + PKCE + nonce), keeps the tokens in its own memory (sessions.ts) and gives the browser only
 * an opaque session cookie — HttpOnly, Secure, SameSite=Strict, host-only (`__Host-`). The console's calls go to
 * /console/api/<route>, which is /v1/<route> authenticated by that cookie instead of a Bearer token; every change
 * there must also come from the console's origin and carry the session's CSRF token (consoleIdentity below).
 *
 *   GET  /console/login?return=/console/…  → the provider's sign-in page
 *   GET  /console/callback?code&state      → a session; on to `return`
 *   GET  /console/session                  → who is signed in, the CSRF token, when the session ends
 *   POST /console/logout                   → the session ends; the provider's end-session URL to go on to
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import * as oauth from 'openid-client';
import { ApiError } from '../errors';
import type { Identity } from '../auth/identity';
import type { ConsoleSessions, ConsoleSession, ConsoleTokens } from './sessions';

export interface ConsoleSignInOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** scheme://host[:port] people open the console at. */
  origin: string;
  sessions: ConsoleSessions;
  /** Verifies an access token and reads the caller from it, exactly as for a Bearer token. */
  identify(accessToken: string): Promise<Identity>;
  /** False only for plain-HTTP dev: cookies without Secure (and so without the `__Host-` prefix). */
  secureCookies: boolean;
}

/** The console's calls: /console/api/<route> is /v1/<route>, authenticated by the session cookie. */
export const CONSOLE_API_PREFIX = '/console/api/';
const CONSOLE_REQUEST = Symbol('custody.consoleRequest');
/** Refresh an access token this long before it expires. */
const REFRESH_MARGIN_MS = 30_000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const RETURN_PATH = /^\/console\/[A-Za-z0-9\-._~/]*$/;
const DOT_SEGMENT = /\/\.{1,2}(\/|$)/;

/** fastify's rewriteUrl: a console call becomes the /v1 route it names, marked so authentication knows. */
export function rewriteConsoleUrl(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (!url.startsWith(CONSOLE_API_PREFIX)) return url;
  (req as IncomingMessage & { [CONSOLE_REQUEST]?: true })[CONSOLE_REQUEST] = true;
  return `/v1/${url.slice(CONSOLE_API_PREFIX.length)}`;
}

export function isConsoleRequest(request: FastifyRequest): boolean {
  return (request.raw as IncomingMessage & { [CONSOLE_REQUEST]?: true })[CONSOLE_REQUEST] === true;
}

function cookieNames(secure: boolean) {
  return secure
    ? { session: '__Host-custody-session', signIn: '__Host-custody-sign-in' }
    : { session: 'custody-session', signIn: 'custody-sign-in' };
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A page that only moves on: the session cookie (SameSite=Strict) is then sent, the navigation being same-site. */
function continuePage(to: string): string {
  const href = to.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  return (
    `<!doctype html><html lang="de"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${href}">` +
    `<title>custody</title></head><body><p><a href="${href}">Weiter / Continue</a></p></body></html>`
  );
}

export interface ConsoleSignIn {
  /** The identity of a console call (under /console/api/): its session, CSRF and origin checked. */
  identify(request: FastifyRequest): Promise<Identity>;
}

export function consoleSignInRoutes(app: FastifyInstance, options: ConsoleSignInOptions): ConsoleSignIn {
  const { sessions, origin } = options;
  const names = cookieNames(options.secureCookies);
  const redirectUri = `${origin}/console/callback`;
  const cookieBase = { httpOnly: true, secure: options.secureCookies, path: '/' } as const;
  let configuration: Promise<oauth.Configuration> | undefined;
  // Discovered on first use and kept; a failure is forgotten so the next sign-in tries again.
  const provider = () => {
    configuration ??= oauth
      .discovery(
        new URL(options.issuer),
        options.clientId,
        undefined,
        oauth.ClientSecretBasic(options.clientSecret),
        new URL(options.issuer).protocol === 'http:' ? { execute: [oauth.allowInsecureRequests] } : undefined,
      )
      .catch((error: unknown) => {
        configuration = undefined;
        throw new ApiError(503, `the OpenID Provider cannot be reached for sign-in: ${String(error)}`);
      });
    return configuration;
  };
  const tokensOf = (response: oauth.TokenEndpointResponse, previous?: ConsoleTokens): ConsoleTokens => ({
    accessToken: response.access_token,
    accessTokenExpiresAt: Date.now() + (response.expires_in ?? 300) * 1000,
    ...((response.refresh_token ?? previous?.refreshToken) && {
      refreshToken: response.refresh_token ?? previous?.refreshToken,
    }),
    ...((response.id_token ?? previous?.idToken) && { idToken: response.id_token ?? previous?.idToken }),
  });
  const refreshing = new WeakMap<ConsoleSession, Promise<void>>();
  const freshAccessToken = async (session: ConsoleSession, sessionId: string): Promise<string> => {
    if (session.tokens.accessTokenExpiresAt - Date.now() > REFRESH_MARGIN_MS)
      return session.tokens.accessToken;
    const { refreshToken } = session.tokens;
    if (!refreshToken) {
      sessions.end(sessionId);
      throw new ApiError(401, 'the console session has expired: sign in again at /console/login');
    }
    // One refresh per session at a time: parallel calls wait for the same one.
    let pending = refreshing.get(session);
    if (!pending) {
      pending = (async () => {
        try {
          session.tokens = tokensOf(
            await oauth.refreshTokenGrant(await provider(), refreshToken),
            session.tokens,
          );
        } catch {
          sessions.end(sessionId);
          throw new ApiError(
            401,
            'the provider ended this sign-in (refresh refused): sign in again at /console/login',
          );
        } finally {
          refreshing.delete(session);
        }
      })();
      refreshing.set(session, pending);
    }
    await pending;
    return session.tokens.accessToken;
  };

  const sessionOf = (request: FastifyRequest) => {
    const id = request.cookies[names.session];
    const session = sessions.touch(id);
    if (!id || !session) {
      throw new ApiError(
        401,
        'not signed in to the console (or the session ended): sign in at /console/login',
      );
    }
    return { id, session };
  };

  /** A change must come from the console's own pages: its origin, and the session's CSRF token. */
  const checkChange = (request: FastifyRequest, session: ConsoleSession) => {
    if (SAFE_METHODS.has(request.method)) return;
    const from = request.headers.origin;
    if (from !== origin) {
      throw new ApiError(403, `a console change must come from ${origin} (Origin: ${from ?? 'absent'})`);
    }
    const token = request.headers['x-csrf-token'];
    if (!sameSecret(typeof token === 'string' ? token : undefined, session.csrfToken)) {
      throw new ApiError(403, 'a console change needs the x-csrf-token header from GET /console/session');
    }
  };

  const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
  const routeConfig = { public: true } as const;

  app.get(
    '/console/login',
    {
      config: routeConfig,
      schema: {
        summary: 'Console sign-in: on to the OpenID Provider (authorization code + PKCE).',
        hide: true, // for browsers, not programs: not in /openapi.json (docs/api.md describes them)
        security: [],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { return: { type: 'string', maxLength: 512 } },
        },
        response: { 302: { type: 'null' } },
      },
    },
    async (request: FastifyRequest<{ Querystring: { return?: string } }>, reply: FastifyReply) => {
      const wanted = request.query.return;
      // Only a path of the console itself: never another site (an open redirect), a scheme-relative URL or a
      // dot segment that climbs out of /console/.
      const safe = wanted && RETURN_PATH.test(wanted) && !wanted.includes('//') && !DOT_SEGMENT.test(wanted);
      const returnTo = safe ? wanted : '/console/';
      const state = oauth.randomState();
      const codeVerifier = oauth.randomPKCECodeVerifier();
      const nonce = oauth.randomNonce();
      sessions.beginSignIn(state, { codeVerifier, nonce, returnTo });
      const authorize = oauth.buildAuthorizationUrl(await provider(), {
        redirect_uri: redirectUri,
        scope: 'openid',
        state,
        nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      });
      // Lax: it must come back with the provider's redirect (a cross-site top-level GET) to tie it to this browser.
      reply.setCookie(names.signIn, state, { ...cookieBase, sameSite: 'lax', maxAge: 600 });
      return reply.redirect(authorize.href, 302);
    },
  );

  app.get(
    '/console/callback',
    {
      config: routeConfig,
      schema: {
        summary: "Console sign-in: the provider's answer; starts a session.",
        hide: true,
        security: [],
        querystring: {
          type: 'object',
          additionalProperties: true,
          properties: {
            code: { type: 'string', maxLength: 2048 },
            state: { type: 'string', maxLength: 512 },
            error: { type: 'string', maxLength: 256 },
          },
        },
        response: { 200: { type: 'string' } },
      },
    },
    async (request: FastifyRequest<{ Querystring: { state?: string; error?: string } }>, reply) => {
      const { state, error } = request.query;
      reply.clearCookie(names.signIn, { ...cookieBase, sameSite: 'lax' });
      if (error)
        throw new ApiError(
          400,
          `the OpenID Provider refused the sign-in (${error}); start again at /console/login`,
        );
      if (!state || !sameSecret(request.cookies[names.signIn], state)) {
        throw new ApiError(
          400,
          'this sign-in was not started in this browser (state does not match): start again at /console/login',
        );
      }
      const pending = sessions.finishSignIn(state);
      if (!pending)
        throw new ApiError(
          400,
          'this sign-in is unknown or older than 10 minutes: start again at /console/login',
        );
      let response: oauth.TokenEndpointResponse;
      try {
        response = await oauth.authorizationCodeGrant(await provider(), new URL(request.url, origin), {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
      } catch (failure) {
        if (failure instanceof ApiError) throw failure;
        throw new ApiError(
          400,
          `the sign-in could not be completed (${(failure as Error).message}); start again at /console/login`,
        );
      }
      // The access token is checked as every API call checks it: a token the API would refuse starts no session.
      const identity = await options.identify(response.access_token);
      const { id } = sessions.create(identity.subject, tokensOf(response));
      reply.setCookie(names.session, id, { ...cookieBase, sameSite: 'strict' });
      return reply.type('text/html; charset=utf-8').send(continuePage(pending.returnTo));
    },
  );

  app.get(
    '/console/session',
    {
      config: routeConfig,
      schema: {
        summary: 'The console session: who is signed in, the CSRF token for changes, when it ends.',
        hide: true,
        security: [],
        querystring: noQuery,
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['subject', 'roles', 'permissions', 'units', 'csrfToken', 'expiresAt'],
            properties: {
              subject: { type: 'string' },
              roles: { type: 'array', items: { type: 'string' } },
              permissions: { type: 'array', items: { type: 'string' } },
              units: { type: 'array', items: { type: 'string' } },
              csrfToken: { type: 'string' },
              expiresAt: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    },
    async (request) => {
      const { id, session } = sessionOf(request);
      const identity = await options.identify(await freshAccessToken(session, id));
      return {
        subject: identity.subject,
        roles: identity.roles,
        permissions: identity.permissions,
        units: identity.units,
        csrfToken: session.csrfToken,
        expiresAt: new Date(session.expiresAt).toISOString(),
      };
    },
  );

  app.post(
    '/console/logout',
    {
      config: routeConfig,
      schema: {
        summary: "Console sign-out: the session ends here; the provider's end-session URL follows.",
        hide: true,
        security: [],
        querystring: noQuery,
        body: { type: 'object', additionalProperties: false, properties: {} },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['signedOut'],
            properties: { signedOut: { type: 'boolean' }, endSessionUrl: { type: 'string' } },
          },
        },
      },
    },
    async (request, reply) => {
      const { id, session } = sessionOf(request);
      checkChange(request, session);
      sessions.end(id);
      reply.clearCookie(names.session, { ...cookieBase, sameSite: 'strict' });
      const { idToken } = session.tokens;
      const config = await provider().catch(() => undefined);
      const endSession =
        config?.serverMetadata().end_session_endpoint &&
        oauth.buildEndSessionUrl(config, {
          post_logout_redirect_uri: `${origin}/console/`,
          ...(idToken && { id_token_hint: idToken }),
        });
      return { signedOut: true, ...(endSession && { endSessionUrl: endSession.href }) };
    },
  );

  return {
    async identify(request) {
      const { id, session } = sessionOf(request);
      checkChange(request, session);
      return options.identify(await freshAccessToken(session, id));
    },
  };
}
