/**
 * The development identity provider (api/dev-idp) against the token contract the custody API verifies
 * (docs/identity.md): discovery, JWT access tokens for `custody-api` with the custody claims and no personal data,
 * the device flow and authorization code + PKCE signed in through the HTML forms as a browser would, refresh,
 * wrong passwords, and keys that survive a restart and a rotation. The shared provider is the one global-setup.ts
 * started; the restart test starts its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWK,
} from 'jose';
import { DEMO_PEOPLE, DEMO_UNITS, SERVICE_ACCOUNTS, demoPerson } from '../../api/dev-idp/demo-people';
import { rotateSigningKeys } from '../../api/dev-idp/keys';
import { readSecrets } from '../../api/dev-idp/secrets';
import {
  FormBrowser,
  authorizationCodeSignIn,
  clientCredentialsToken,
  deviceFlowSignIn,
  devIdpSecrets,
  discover,
  pkcePair,
  postToken,
  testIssuer,
  type Discovery,
} from '../harness/dev-idp-client';
import { freePort, startDevIdp, type DevIdpServer } from '../harness/servers';
import { CUSTODY_ROLES } from '../../domain/roles';

const AUDIENCE = 'custody-api';
/** What a name, a login or a mail address would be carried in; none may be in an access token. */
const PERSONAL_CLAIMS = ['name', 'given_name', 'family_name', 'preferred_username', 'email', 'nickname'];

let issuer: string;
let discovery: Discovery;

beforeAll(async () => {
  issuer = testIssuer();
  discovery = await discover(issuer);
});

/** Verifies as the custody API does: the issuer's JWKS, issuer, audience, an asymmetric algorithm, at+jwt. */
async function verifyAccessToken(token: string, issuerUrl = issuer) {
  const jwks = createRemoteJWKSet(new URL((await discover(issuerUrl)).jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: issuerUrl,
    audience: AUDIENCE,
    algorithms: ['RS256', 'ES256'],
    typ: 'at+jwt',
  });
  return { payload, protectedHeader };
}

function expectNoPersonalData(token: string, username: string) {
  const payload = decodeJwt(token);
  for (const claim of PERSONAL_CLAIMS) expect(payload).not.toHaveProperty(claim);
  const person = demoPerson(username);
  const text = JSON.stringify(payload);
  for (const personal of [person.username, person.givenName, person.familyName]) {
    expect(text).not.toContain(personal);
  }
}

test('the demo people cover every custody role (a docking station the dock role), both units, four-eyes and a recording officer', () => {
  const holding = (role: string) => DEMO_PEOPLE.filter((person) => (person.roles as string[]).includes(role));
  for (const role of CUSTODY_ROLES.filter((r) => r !== 'dock'))
    expect(holding(role).length).toBeGreaterThan(0);
  expect(holding('dock')).toEqual([]); // a role of service accounts, not of people
  expect(SERVICE_ACCOUNTS.filter((account) => account.roles.includes('dock')).length).toBeGreaterThan(0);
  expect(new Set(holding('investigator').flatMap((person) => person.units)).size).toBeGreaterThanOrEqual(2);
  expect(holding('approver').length).toBeGreaterThanOrEqual(2);
  expect(holding('auditor').every((person) => person.units.includes('*'))).toBe(true);
  for (const unit of DEMO_UNITS) expect(DEMO_PEOPLE.some((person) => person.units.includes(unit))).toBe(true);
  expect(DEMO_PEOPLE.filter((person) => person.officerId).length).toBeGreaterThanOrEqual(1);
  expect(new Set(DEMO_PEOPLE.map((person) => person.subject)).size).toBe(DEMO_PEOPLE.length);
  expect(new Set(Object.values(devIdpSecrets().passwords)).size).toBe(DEMO_PEOPLE.length);
});

test('the discovery document names the issuer, the flows custody uses and a JWKS with RS256 and ES256 keys', async () => {
  expect(discovery.issuer).toBe(issuer);
  expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(discovery.grant_types_supported).toEqual(
    expect.arrayContaining([
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]),
  );
  expect(discovery.grant_types_supported).not.toContain('implicit');
  expect(discovery.response_types_supported).toEqual(['code']);
  expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
  expect(discovery.device_authorization_endpoint).toBe(`${issuer}/device/auth`);
  const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: JWK[] };
  expect(jwks.keys.map((key) => key.alg).sort()).toEqual(['ES256', 'RS256']);
  for (const key of jwks.keys) {
    expect(key.kid).toEqual(expect.any(String));
    expect(key).not.toHaveProperty('d'); // public keys only
  }
});

test('the pages load nothing from elsewhere and work without JavaScript', async () => {
  const device = await new FormBrowser(issuer).open('/device');
  expect(device.status).toBe(200);
  expect(device.html).toContain('<form');
  expect(device.html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  expect(device.html).not.toMatch(/<script|<link/i);
});

test('client credentials: dock-ka-west gets a JWT for custody-api with its role and unit and nothing personal', async () => {
  const tokens = await clientCredentialsToken(issuer, 'dock-ka-west');
  expect(tokens.token_type).toBe('Bearer');
  expect(tokens.expires_in).toBe(300);
  expect(tokens).not.toHaveProperty('refresh_token');
  const { payload, protectedHeader } = await verifyAccessToken(tokens.access_token);
  expect(protectedHeader.alg).toBe('RS256');
  expect(payload).toMatchObject({
    iss: issuer,
    aud: AUDIENCE,
    sub: 'dock-ka-west',
    client_id: 'dock-ka-west',
    custody_roles: ['dock'],
    custody_units: ['ka-west'],
  });
  expect(payload.exp! - payload.iat!).toBe(300);
  expect(payload).not.toHaveProperty('custody_officer_id');
  for (const claim of PERSONAL_CLAIMS) expect(payload).not.toHaveProperty(claim);

  const automation = await verifyAccessToken(
    (await clientCredentialsToken(issuer, 'custody-automation')).access_token,
  );
  expect(automation.payload).toMatchObject({
    custody_roles: ['operator', 'auditor'],
    custody_units: ['*'],
  });
});

test('client credentials with a wrong secret, or for the public CLI client, are refused', async () => {
  const wrongSecret = await postToken(
    discovery.token_endpoint,
    { grant_type: 'client_credentials' },
    { id: 'dock-ka-west', secret: devIdpSecrets().clientSecrets['custody-automation'] },
  );
  expect(wrongSecret.status).toBe(401);
  expect(wrongSecret.body.error).toBe('invalid_client');
  const publicClient = await postToken(discovery.token_endpoint, {
    grant_type: 'client_credentials',
    client_id: 'custody-cli',
  });
  expect(publicClient.status).toBe(400);
  expect(publicClient.body.error_description).toMatch(/grant type is not allowed for this client/);
});

test('device flow: an investigator confirms the code and signs in by form posts; the CLI polls a token with her roles', async () => {
  const person = demoPerson('sabine.hoffmann');
  const tokens = await deviceFlowSignIn(issuer, person.username, devIdpSecrets().passwords[person.username]!);
  const { payload } = await verifyAccessToken(tokens.access_token);
  expect(payload).toMatchObject({
    sub: person.subject,
    client_id: 'custody-cli',
    custody_roles: ['investigator'],
    custody_units: ['ka-nord'],
  });
  expect(payload).not.toHaveProperty('custody_officer_id');
  expectNoPersonalData(tokens.access_token, person.username);
  // The names are for the client, in the ID token (and userinfo), not in what goes to the API.
  expect(decodeJwt(tokens.id_token!)).toMatchObject({
    sub: person.subject,
    name: 'Sabine Hoffmann',
    preferred_username: 'sabine.hoffmann',
  });
  expect(tokens.refresh_token).toEqual(expect.any(String));
});

test('authorization code + PKCE with a loopback redirect on any port: the recording officer gets his officer id', async () => {
  const person = demoPerson('max.weber');
  const port = await freePort();
  const tokens = await authorizationCodeSignIn(
    issuer,
    person.username,
    devIdpSecrets().passwords[person.username]!,
    {
      port,
    },
  );
  const { payload } = await verifyAccessToken(tokens.access_token);
  expect(payload).toMatchObject({
    sub: person.subject,
    custody_roles: ['viewer'],
    custody_units: ['ka-west'],
    custody_officer_id: 'officer-4711',
  });
  expectNoPersonalData(tokens.access_token, person.username);
  expect(tokens.refresh_token).toEqual(expect.any(String));
});

function authorizeUrl(fields: Record<string, string>): string {
  const url = new URL(discovery.authorization_endpoint);
  for (const [name, value] of Object.entries({
    client_id: 'custody-cli',
    response_type: 'code',
    scope: 'openid',
    ...fields,
  })) {
    url.searchParams.set(name, value);
  }
  return url.href;
}

test('the CLI client is sent back only to loopback addresses, and only with PKCE', async () => {
  const { challenge } = pkcePair();
  const elsewhere = await new FormBrowser(issuer).open(
    authorizeUrl({
      redirect_uri: 'http://attacker.example/callback',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
  );
  expect(elsewhere.redirectedAway).toBeUndefined();
  expect(elsewhere.status).toBe(400);
  expect(elsewhere.html).toContain('redirect_uri');

  const withoutPkce = await new FormBrowser(issuer).open(
    authorizeUrl({ redirect_uri: 'http://127.0.0.1:41234/callback' }),
  );
  expect(withoutPkce.redirectedAway?.searchParams.get('error')).toBe('invalid_request');
  expect(withoutPkce.redirectedAway?.searchParams.get('error_description')).toMatch(/requires PKCE/);
});

test('a wrong password is refused at the form, and the same sign-in then succeeds with the right one', async () => {
  const person = demoPerson('petra.schulz');
  const { challenge } = pkcePair();
  const browser = new FormBrowser(issuer);
  const login = await browser.open(
    authorizeUrl({
      redirect_uri: 'http://127.0.0.1:41235/callback',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
  );
  const refused = await browser.signIn(login, person.username, 'not-her-password');
  expect(refused.status).toBe(401);
  expect(refused.redirectedAway).toBeUndefined();
  expect(refused.html).toContain('wrong password');
  const unknown = await browser.signIn(refused, 'mallory', 'anything');
  expect(unknown.status).toBe(401);
  const accepted = await browser.signIn(
    unknown,
    person.username,
    devIdpSecrets().passwords[person.username]!,
  );
  expect(accepted.redirectedAway?.searchParams.get('code')).toEqual(expect.any(String));
});

test('refresh: a new access token with the same subject and claims; the used refresh token is spent', async () => {
  const person = demoPerson('klaus.wagner');
  const first = await deviceFlowSignIn(issuer, person.username, devIdpSecrets().passwords[person.username]!);
  const refreshed = await postToken(discovery.token_endpoint, {
    grant_type: 'refresh_token',
    refresh_token: first.refresh_token!,
    client_id: 'custody-cli',
  });
  expect(refreshed.status).toBe(200);
  const accessToken = refreshed.body.access_token as string;
  expect(accessToken).not.toBe(first.access_token);
  const { payload } = await verifyAccessToken(accessToken);
  expect(payload).toMatchObject({
    sub: person.subject,
    custody_roles: ['approver'],
    custody_units: ['ka-west', 'ka-nord'],
  });
  expectNoPersonalData(accessToken, person.username);
  // Public clients get a new refresh token each time; presenting the old one again is refused (and, per the
  // rotation rules, ends the grant).
  expect(refreshed.body.refresh_token).toEqual(expect.any(String));
  expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
  const replayed = await postToken(discovery.token_endpoint, {
    grant_type: 'refresh_token',
    refresh_token: first.refresh_token!,
    client_id: 'custody-cli',
  });
  expect(replayed.status).toBe(400);
  expect(replayed.body.error).toBe('invalid_grant');
});

describe('a provider restarted on its directory', () => {
  let dataDir: string;
  let provider: DevIdpServer | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'custody-dev-idp-'));
  });

  afterAll(async () => {
    await provider?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function restart(port: number): Promise<DevIdpServer> {
    await provider?.stop();
    provider = await startDevIdp({ dataDir, port });
    return provider;
  }

  test('keeps its keys, passwords and refresh tokens; after a rotation it signs with the new key and still publishes the old', async () => {
    const first = await restart(await freePort());
    const secrets = readSecrets(first.dir);
    const dockToken = (await clientCredentialsToken(first.issuer, 'dock-ka-west', secrets)).access_token;
    const person = demoPerson('ingrid.neumann');
    const signedIn = await deviceFlowSignIn(
      first.issuer,
      person.username,
      secrets.passwords[person.username]!,
    );
    const oldKid = decodeProtectedHeader(dockToken).kid;

    const second = await restart(first.port);
    expect(second.issuer).toBe(first.issuer);
    expect(readSecrets(second.dir)).toEqual(secrets);
    await expect(verifyAccessToken(dockToken, second.issuer)).resolves.toBeDefined();
    const refreshed = await postToken((await discover(second.issuer)).token_endpoint, {
      grant_type: 'refresh_token',
      refresh_token: signedIn.refresh_token!,
      client_id: 'custody-cli',
    });
    expect(refreshed.status).toBe(200);
    expect(
      (await verifyAccessToken(refreshed.body.access_token as string, second.issuer)).payload,
    ).toMatchObject({
      sub: person.subject,
      custody_roles: ['auditor'],
      custody_units: ['*'],
    });

    const rotated = await rotateSigningKeys(second.dir);
    const third = await restart(first.port);
    const newToken = (await clientCredentialsToken(third.issuer, 'dock-ka-west', secrets)).access_token;
    expect(decodeProtectedHeader(newToken).kid).toBe(rotated.rs256);
    expect(rotated.rs256).not.toBe(oldKid);
    const published = (await (await fetch((await discover(third.issuer)).jwks_uri)).json()) as {
      keys: JWK[];
    };
    expect(published.keys.map((key) => key.kid)).toEqual(
      expect.arrayContaining([rotated.rs256, rotated.es256, oldKid]),
    );
    // Both verify against what is published now: the old token until it expires, the new one from now on.
    const keySet = createLocalJWKSet(published);
    for (const token of [dockToken, newToken]) {
      await expect(
        jwtVerify(token, keySet, { issuer: third.issuer, audience: AUDIENCE }),
      ).resolves.toBeDefined();
    }
  });
});
