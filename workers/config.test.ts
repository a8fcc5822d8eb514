import { loadConfig, ConfigError, VARIABLES } from './config';
import { addDuration } from '../domain/duration';

test('dev defaults need nothing set', () => {
  const config = loadConfig({});
  expect(config.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
  expect(config.s3.endpoint).toBe('http://127.0.0.1:7070');
  expect(config.pools).toEqual(['orchestration', 'media-io', 'transcode']);
  expect(config.taskQueues['media-io']).toBe('custody-media-io');
  expect(config.concurrency).toEqual({ orchestration: 50, 'media-io': 4, transcode: 1 });
});

test.each([
  ['AWS_ENDPOINT_URL_S3', 'not a url', 'an http(s) URL'],
  ['CUSTODY_POOLS', 'bogus', 'a comma-separated list of orchestration, media-io, transcode, controller'],
  ['TEMPORAL_ADDRESS', 'localhost', 'host:port'],
  ['CUSTODY_MEDIA_IO_CONCURRENCY', '0', 'a positive integer'],
  ['CUSTODY_BUCKET_EVIDENCE', 'Not_A_Bucket', 'an S3 bucket name'],
  ['CUSTODY_AUDIT_RETENTION', '10 years', 'an ISO 8601 duration'],
])('%s=%j is rejected with the variable, the value and the expected form', (name, value, form) => {
  let error: unknown;
  try {
    loadConfig({ [name]: value });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain(`${name}=${JSON.stringify(value)} is invalid: expected ${form}`);
});

test('every problem is reported at once', () => {
  expect(() => loadConfig({ CUSTODY_POOLS: 'bogus', CUSTODY_HTTP_PORT: '70000' })).toThrow(
    /CUSTODY_POOLS[\s\S]*CUSTODY_HTTP_PORT/,
  );
});

test('the same bucket for two stores is refused', () => {
  expect(() => loadConfig({ CUSTODY_BUCKET_AUDIT: 'custody-evidence' })).toThrow(/five different buckets/);
});

test('a client certificate without its key is refused', () => {
  expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/tls/crt.pem' })).toThrow(
    /must be set together/,
  );
});

test('TLS settings are passed through', () => {
  const config = loadConfig({
    TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem',
    TEMPORAL_TLS_CLIENT_KEY_PATH: '/k.pem',
    TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
  });
  expect(config.temporal.tls).toEqual({
    clientCertPath: '/c.pem',
    clientKeyPath: '/k.pem',
    serverName: 'temporal.internal',
  });
});

test('every variable has a form for its error message', () => {
  for (const [name, spec] of Object.entries(VARIABLES)) expect(`${name}: ${spec.form}`).toMatch(/: \S/);
});

test.each(['PT1.5S', 'P0D', 'p10y', 'P1H'])(
  'CUSTODY_AUDIT_RETENTION=%s is refused by the one duration grammar the custody log uses too',
  (value) => {
    expect(() => loadConfig({ CUSTODY_AUDIT_RETENTION: value })).toThrow(
      new RegExp(`CUSTODY_AUDIT_RETENTION="${value}" is invalid: expected an ISO 8601 duration`),
    );
  },
);

test('every duration the config accepts is one the custody log can add', () => {
  const config = loadConfig({ CUSTODY_AUDIT_RETENTION: 'P1Y2M3DT4H5M6S' });
  expect(addDuration('2026-01-31T00:00:00Z', config.auditRetention)).toBe('2027-04-03T04:05:06.000Z');
});
