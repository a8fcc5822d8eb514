import { ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import { loadConfig } from '../../workers/config';
import {
  checkedServiceUrl,
  deviceFlowFailure,
  describeOAuthError,
  DEV_ISSUER,
  issuerFor,
  oauthErrorCode,
} from './oidc';

const tokenError = (error: string, description?: string) =>
  new ResponseBodyError('server responded with an error in the response body', {
    cause: { error, ...(description && { error_description: description }) },
    response: new Response(null, { status: 400 }),
  });

test.each([
  ['https://custody.example.org/', 'https://custody.example.org'],
  ['https://idp.example.org/realms/police', 'https://idp.example.org/realms/police'],
  ['http://127.0.0.1:9090', 'http://127.0.0.1:9090'],
  ['http://localhost:8443/', 'http://localhost:8443'],
  ['http://[::1]:8443', 'http://[::1]:8443'],
])('%s is a URL tokens may go to (%s)', (given, expected) => {
  expect(checkedServiceUrl(given, '--api')).toBe(expected);
});

test.each(['http://custody.example.org', 'http://127.0.0.1.evil.example', 'ftp://127.0.0.1', 'custody'])(
  '%s is refused: plain http only on loopback',
  (given) => {
    expect(() => checkedServiceUrl(given, '--api')).toThrow(/^--api /);
  },
);

test('the issuer: --issuer, else CUSTODY_OIDC_ISSUER, else the development provider of command 1', () => {
  expect(issuerFor(loadConfig({}))).toBe(DEV_ISSUER);
  expect(DEV_ISSUER).toBe('http://127.0.0.1:9090');
  const configured = loadConfig({ CUSTODY_OIDC_ISSUER: 'https://idp.example.org/realms/police' });
  expect(issuerFor(configured)).toBe('https://idp.example.org/realms/police');
  expect(issuerFor(configured, 'https://other.example.org/')).toBe('https://other.example.org');
});

test('a denied sign-in and an expired code each say so, and what to do', () => {
  expect(deviceFlowFailure(tokenError('access_denied', 'the person cancelled the sign-in'))).toBe(
    'the sign-in was denied or cancelled at the OpenID Provider (access_denied): run custody login to try again',
  );
  expect(deviceFlowFailure(tokenError('expired_token'))).toMatch(
    /^the code expired before the sign-in was completed \(expired_token\): run custody login again$/,
  );
  // openid-client stops polling at expires_in with a ClientError of code OAUTH_TIMEOUT
  const timedOut = Object.assign(new ClientError('operation timed out'), { code: 'OAUTH_TIMEOUT' });
  expect(deviceFlowFailure(timedOut)).toMatch(/code expired/);
  expect(deviceFlowFailure(tokenError('invalid_client', 'client not found'))).toBe(
    'the sign-in failed: invalid_client: client not found',
  );
});

test('other errors are described with their cause', () => {
  const fetchFailed = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
  expect(describeOAuthError(fetchFailed)).toBe('fetch failed (connect ECONNREFUSED 127.0.0.1:1)');
  expect(describeOAuthError('odd')).toBe('odd');
});

test("a refused client secret (a 401 with a WWW-Authenticate challenge) is described by the challenge's error", () => {
  const refused = new WWWAuthenticateChallengeError('server responded with a challenge', {
    cause: [
      {
        scheme: 'basic',
        parameters: {
          realm: 'x',
          error: 'invalid_client',
          error_description: 'client authentication failed',
        },
      },
    ],
    response: new Response(null, { status: 401 }),
  });
  expect(describeOAuthError(refused)).toBe('invalid_client: client authentication failed');
  expect(oauthErrorCode(refused)).toBe('invalid_client');
});
