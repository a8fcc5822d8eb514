/**
 * The custody API as a fastify instance, without listening: security headers, request ids, rate limits (per
 * client address before anything else, per subject once authenticated), Bearer-token authentication,
 * permission checks, the access log, the error shape, OpenAPI from the route schemas — and the routes
 * (api/routes/).
 *
 * Order of a request: onRequest (request id, per-address limit) → body limit and parsing → schema validation
 * (a malformed id is a 400 here, before any token is looked at or anything read) → preHandler (authenticate,
 * per-subject limit, permission) → handler → onResponse (one access-log line).
 *
 * Only `Authorization: Bearer` authenticates /v1: no cookies, so no ambient credential a browser would send on
 * its own, and no CSRF surface. A token in the query string is an unknown parameter (400). The one exception is
 * the web console's own path, /console/api/<route> (api/console/sign-in.ts): the same routes, authenticated by
 * the console's SameSite=Strict session cookie, and every change there checked for origin and CSRF token.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { RECORDING_ID_PATTERN } from '../domain/ids';
import { CUSTODY_ROLES, ROLE_PERMISSIONS, type CustodyRole, type Permission } from '../domain/roles';
import { AuthenticationError, type TokenVerifier } from './auth/oidc';
import { identityFromClaims, type ClaimNames, type Identity } from './auth/identity';
import type { Pseudonymiser } from './pseudonym';
import type { RecordingReads } from './reads';
import { BackendUnavailableError } from './reads';
import { BODY_LIMIT_BYTES, healthBody, noQuery } from './schemas';
import { ApiError, bearerChallenge, sendError } from './errors';
import { meRoutes } from './routes/me';
import { recordingRoutes } from './routes/recordings';
import { actionRoutes } from './routes/actions';
import { requestRoutes } from './routes/requests';
import type { RecordingActions } from './actions';
import { installAccessAudit, type AccessAudit } from './access-audit';
import { mediaRoutes, type MediaUrlSettings } from './routes/media';
import { accessLogRoutes } from './routes/access-log';
import { uploadRoutes, type UploadSettings } from './routes/uploads';
import {
  consoleSignInRoutes,
  isConsoleRequest,
  rewriteConsoleUrl,
  type ConsoleSignIn,
  type ConsoleSignInOptions,
} from './console/sign-in';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication step of /v1 routes. */
    identity?: Identity;
  }
  interface FastifyContextConfig {
    /** The permission a /v1 route needs (domain/roles.ts); absent: any authenticated caller. */
    permission?: Permission;
    /** Public routes skip authentication (health, the OpenAPI document). */
    public?: boolean;
  }
}

export interface ApiServerOptions {
  verifier: TokenVerifier;
  claims: ClaimNames;
  roleMapping: Readonly<Record<string, readonly CustodyRole[]>>;
  pseudonyms: Pseudonymiser;
  reads: RecordingReads;
  /** People's actions, signed and sent to the recordings' workflows; absent: the API reads only. */
  actions?: RecordingActions;
  /** The rule packs a policy-change request may name (the workers' policy directory). */
  policyDir?: string;
  rateLimit: { perSubject: number; perIp: number };
  /**
   * The reverse proxies (ingress) in front of the API, addresses or CIDR blocks: from these only, the client
   * address (rate limit, access log, access records) is the one X-Forwarded-For names. Empty: the peer address.
   */
  trustedProxies?: readonly string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** HTTPS key and certificate (PEM); absent: plain HTTP (dev and tests only). */
  tls?: { key: Buffer; cert: Buffer };
  /** Where error and warning lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** Where access-log lines go, one JSON object per line, whatever the log level (default stdout). */
  accessLog?: NodeJS.WritableStream;
  /**
   * The WORM access audit of reads and the media URLs (api/access-audit.ts, api/routes/media.ts); main.ts always
   * gives it. Absent (in-memory unit tests only): reads are not audited, and there are no media or access-log routes.
   */
  accessAudit?: { audit: AccessAudit; media: MediaUrlSettings };
  /** Uploads through presigned multipart parts (api/uploads.ts); needs accessAudit (duplicates are recorded). */
  uploads?: UploadSettings;
  /** The web console's sign-in and session (api/console/); absent: no /console routes. */
  console?: Omit<ConsoleSignInOptions, 'identify'>;
}

/**
 * One line of the access log: who (a pseudonym), what, the outcome — no token, name, e-mail or address in
 * clear.
 */
export interface AccessLogLine {
  kind: 'access';
  time: string;
  requestId: string;
  /** The caller's pseudonym (api/pseudonym.ts); null before authentication succeeded. */
  who: string | null;
  /** The client address's pseudonym. */
  client: string;
  method: string;
  /** The route template, e.g. /v1/recordings/:id (never the raw URL or its query string). */
  route: string | null;
  recordingId?: string;
  status: number;
  ms: number;
}

/**
 * A caller-supplied request id is kept only when it is short and plain (it is written into every log line).
 */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

function rolesGranting(permission: Permission): CustodyRole[] {
  return CUSTODY_ROLES.filter((role) => ROLE_PERMISSIONS[role].includes(permission));
}

export async function buildApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const { pseudonyms } = options;
  const app = Fastify({
    ...(options.tls && { https: { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' } }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Behind an ingress every peer is the ingress: without this, one client's flood would throttle everyone.
    ...(options.trustedProxies?.length && { trustProxy: [...options.trustedProxies] }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    },
    // The access log (below) replaces fastify's request lines, which would carry the client address.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    logger: {
      level: options.logLevel,
      ...(options.logStream && { stream: options.logStream }),
      // Error lines must not carry what the access log leaves out: no address, no headers, no query string.
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, route: req.routeOptions?.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    },
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    ...(options.console && { rewriteUrl: rewriteConsoleUrl }),
  }) as unknown as FastifyInstance;

  // JSON bodies only: a cross-site form or text/plain POST (the bodies a page can send without CORS) is a 415.
  app.removeContentTypeParser('text/plain');

  await app.register(helmet, {
    // A JSON API: nothing to load, nothing to frame.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  });
  // Cookies are read on the console's paths only; without a console nothing reads them.
  if (options.console) await app.register(cookie);
  await app.register(rateLimit, { global: false });
  const perAddress = app.createRateLimit({ max: options.rateLimit.perIp, timeWindow: 60_000 });
  const perSubject = app.createRateLimit({
    max: options.rateLimit.perSubject,
    timeWindow: 60_000,
    keyGenerator: (req) =>
      req.identity ? pseudonyms.subject(req.identity.issuer, req.identity.subject) : req.ip,
  });
  const refuseWhenExceeded = async (limiter: typeof perAddress, request: FastifyRequest, who: string) => {
    const verdict = await limiter(request);
    if (verdict.isAllowed || !verdict.isExceeded) return;
    const wait = String(verdict.ttlInSeconds);
    throw new ApiError(
      429,
      `rate limit exceeded for this ${who}: at most ${verdict.max} requests per minute; retry in ${wait} s`,
      { 'retry-after': wait },
    );
  };

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'custody API',
        version: '1',
        description:
          'The custody API: every human action authenticated (OIDC access tokens), authorised (custody roles and ' +
          'organisational units) and attributable. See docs/api.md.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      security: [{ bearer: [] }],
    },
  });

  // Every route validates and documents what it takes and gives: one without a schema is refused at start.
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    const schema = route.schema;
    const missing = [
      ...(schema?.response ? [] : ['response']),
      ...(schema?.querystring ? [] : ['querystring']),
      ...(route.url.includes(':') && !schema?.params ? ['params'] : []),
      ...(methods.some((m) => ['POST', 'PUT', 'PATCH'].includes(m)) && !schema?.body ? ['body'] : []),
    ];
    if (missing.length > 0) {
      throw new Error(`route ${methods.join(',')} ${route.url} has no JSON schema for ${missing.join(', ')}`);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Everything here is about people and evidence: nothing may be kept by a cache on the way.
    reply.header('cache-control', 'no-store');
    await refuseWhenExceeded(perAddress, request, 'client address');
  });

  const identify = async (token: string) =>
    identityFromClaims(await options.verifier.verify(token), options.claims, options.roleMapping);
  let consoleSignIn: ConsoleSignIn | undefined;
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config.public) return;
    request.identity =
      consoleSignIn && isConsoleRequest(request)
        ? await consoleSignIn.identify(request)
        : await authenticate(request, identify);
    await refuseWhenExceeded(perSubject, request, 'subject');
    const needed = request.routeOptions.config.permission;
    if (needed && !request.identity.permissions.includes(needed)) {
      const holders = rolesGranting(needed).join(', ');
      throw new ApiError(
        403,
        `this needs the permission ${needed} (roles: ${holders}); your roles: ${request.identity.roles.join(', ') || 'none'}`,
        { 'www-authenticate': bearerChallenge('insufficient_scope', `needs the permission ${needed}`) },
      );
    }
  });

  const accessLog = options.accessLog ?? process.stdout;
  app.addHook('onResponse', async (request, reply) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    const line: AccessLogLine = {
      kind: 'access',
      time: new Date().toISOString(),
      requestId: request.id,
      who: request.identity ? pseudonyms.subject(request.identity.issuer, request.identity.subject) : null,
      client: pseudonyms.address(request.ip),
      method: request.method,
      route: request.routeOptions.url ?? null,
      ...(typeof id === 'string' && RECORDING_ID_PATTERN.test(id) && { recordingId: id }),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    accessLog.write(`${JSON.stringify(line)}\n`);
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof AuthenticationError) {
      if (error.statusCode === 503) return sendError(reply, 503, error.description);
      return sendError(
        reply,
        401,
        error.description,
        { 'www-authenticate': bearerChallenge('invalid_token', error.description) },
        'invalid_token',
      );
    }
    if (error instanceof ApiError) return sendError(reply, error.statusCode, error.message, error.headers);
    if (error instanceof BackendUnavailableError) {
      request.log.warn({ err: error }, 'backend unavailable');
      return sendError(reply, 503, `${error.message}; try again shortly`);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      return sendError(reply, 400, `invalid request: ${fastifyError.message}`);
    }
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, status, fastifyError.message);
    }
    request.log.error({ err: error }, 'request failed');
    return sendError(reply, 500, `internal error; quote request id ${request.id} when reporting it`);
  });

  app.setNotFoundHandler(async (_request, reply) =>
    sendError(reply, 404, 'no such route; the routes are listed in /openapi.json'),
  );

  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        summary: 'Liveness: the process answers.',
        security: [],
        querystring: noQuery,
        response: { 200: healthBody },
      },
    },
    (_request, reply) => reply.send({ status: 'ok' }),
  );

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: {
        summary: 'This OpenAPI document, generated from the route schemas.',
        security: [],
        querystring: noQuery,
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    (_request, reply) => reply.send(app.swagger()),
  );

  // Before the routes: the audit's hooks must see every route added after it.
  const auditor =
    options.accessAudit &&
    installAccessAudit(app, { audit: options.accessAudit.audit, pseudonyms, reads: options.reads });
  const reads = auditor?.reads ?? options.reads;
  meRoutes(app);
  recordingRoutes(app, reads);
  if (auditor && options.accessAudit) {
    mediaRoutes(app, reads, auditor, options.accessAudit.media);
    accessLogRoutes(app, { reads, audit: options.accessAudit.audit, auditor, pseudonyms });
    if (options.uploads) uploadRoutes(app, reads, auditor, options.uploads);
  }
  if (options.actions) {
    actionRoutes(app, options.reads, options.actions);
    requestRoutes(app, options.reads, options.actions, options.policyDir ?? 'policies');
  }
  if (options.console) consoleSignIn = consoleSignInRoutes(app, { ...options.console, identify });
  return app;
}

/** The Bearer token of the request, verified; the caller's identity from its claims. */
async function authenticate(
  request: FastifyRequest,
  identify: (token: string) => Promise<Identity>,
): Promise<Identity> {
  const header = request.headers.authorization;
  if (header === undefined) {
    throw new ApiError(401, 'authentication required: send Authorization: Bearer <access token>', {
      'www-authenticate': bearerChallenge(),
    });
  }
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!match) {
    throw new ApiError(401, 'the Authorization header must be "Bearer <access token>"', {
      'www-authenticate': bearerChallenge('invalid_request', 'expected the Bearer scheme'),
    });
  }
  return identify(match[1]!);
}
