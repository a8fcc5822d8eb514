import { ApiRequestError, apiErrorFrom, createApiClient, SESSION_ENDED } from './api-client';
import { EXIT } from './context';

test("the API's error shape becomes an error with its message, status and request id", () => {
  const error = apiErrorFrom(
    403,
    JSON.stringify({
      statusCode: 403,
      error: 'Forbidden',
      message: 'recording x is not in your units',
      requestId: 'r-1',
    }),
  );
  expect(error).toBeInstanceOf(ApiRequestError);
  expect(error).toMatchObject({
    apiMessage: 'recording x is not in your units',
    status: 403,
    requestId: 'r-1',
  });
  expect(error.message).toBe('recording x is not in your units (HTTP 403, request id r-1)');
  expect(error.exitCode).toBe(EXIT.error);
});

test('a 401 tells a person to log in again, and a service account that its token was refused', () => {
  const body = JSON.stringify({ statusCode: 401, message: 'token expired', requestId: 'r-2' });
  expect(apiErrorFrom(401, body).message).toBe(`${SESSION_ENDED} (HTTP 401, request id r-2)`);
  expect(apiErrorFrom(401, body, { serviceAccount: true }).message).toBe(
    "the custody API refused the service account's token (token expired) (HTTP 401, request id r-2)",
  );
});

test('an unknown recording exits 2, like the other commands', () => {
  expect(apiErrorFrom(404, JSON.stringify({ message: 'no recording r' })).exitCode).toBe(EXIT.unknown);
});

test("an answer not in the API's shape (a proxy's page) is described by its status and the header's request id", () => {
  const error = apiErrorFrom(502, '<html>Bad Gateway</html>', { requestIdHeader: 'edge-7' });
  expect(error.message).toBe('the custody API answered HTTP 502 (HTTP 502, request id edge-7)');
});

test('a base URL on plain http off the loopback interface is refused before any token is sent', () => {
  let asked = false;
  const session = {
    kind: 'person' as const,
    issuer: 'https://idp.example.org',
    apiUrl: undefined,
    accessToken: () => {
      asked = true;
      return Promise.resolve('t');
    },
    expiresAt: () => undefined,
  };
  expect(() => createApiClient('http://custody.example.org', session)).toThrow(/must be https/);
  expect(asked).toBe(false);
});

test('a network error names the URL it could not reach', async () => {
  const session = {
    kind: 'person' as const,
    issuer: 'https://idp.example.org',
    apiUrl: undefined,
    accessToken: () => Promise.resolve('t'),
    expiresAt: () => undefined,
  };
  // Port 1 on loopback: nothing listens there.
  const client = createApiClient('http://127.0.0.1:1', session);
  await expect(client.getJson('/v1/me')).rejects.toThrow(
    /^cannot reach the custody API at http:\/\/127\.0\.0\.1:1 \(/,
  );
});
