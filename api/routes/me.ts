/** GET /v1/me: who the API takes the caller to be — what `custody whoami` shows. */
import type { FastifyInstance } from 'fastify';
import { authenticatedErrors, meBody, noQuery } from '../schemas';

export function meRoutes(app: FastifyInstance): void {
  app.get(
    '/v1/me',
    {
      schema: {
        summary: 'The verified caller: subject, issuer, custody roles, permissions and units.',
        tags: ['identity'],
        querystring: noQuery,
        response: { 200: meBody, ...authenticatedErrors },
      },
    },
    (request, reply) => {
      const identity = request.identity!;
      return reply.send({
        subject: identity.subject,
        issuer: identity.issuer,
        roles: identity.roles,
        permissions: identity.permissions,
        units: identity.units,
        ...(identity.officerId !== undefined && { officerId: identity.officerId }),
      });
    },
  );
}
