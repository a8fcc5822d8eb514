/**
 * readObjectInto / hashStoredObject against the real versitygw: the direct GET gives the same bytes as a local
 * hash for every size, reads the exact version asked for, fails like the SDK for what is missing, and stops on
 * abort without leaving a socket. Responses versitygw never sends (chunked, cut short, wrong version) come
 * from a small HTTP server of the test's own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { testConfig, connectTestClients } from '../harness/env';
import { requireTool } from '../harness/servers';
import { freeLoopbackPort } from '../../workers/ports';
import { hashStoredObject } from '../../activities/custody-log/read';
import { readObjectInto, type ObjectReaderOptions } from '../../activities/storage/object-reader';
import { isNotFound } from '../../activities/storage/errors';

const MiB = 1024 * 1024;
const config = testConfig('object-reader');
let clients: Awaited<ReturnType<typeof connectTestClients>>;
beforeAll(async () => {
  clients = await connectTestClients(config);
});
afterAll(() => clients?.close());

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function put(key: string, body: Buffer) {
  const stored = await clients.s3.send(
    new PutObjectCommand({ Bucket: config.buckets.evidence, Key: key, Body: body }),
  );
  return { bucket: config.buckets.evidence, key, versionId: stored.VersionId!, etag: stored.ETag! };
}

/** Hashes through readObjectInto and returns what it reported, with the hash. */
async function hashWith(
  s3: S3Client,
  ref: { bucket: string; key: string; versionId?: string },
  options?: ObjectReaderOptions,
) {
  const hash = createHash('sha256');
  const read = await readObjectInto(s3, ref, (chunk) => hash.update(chunk), undefined, options);
  return { ...read, sha256: hash.digest('hex') };
}

/** The error today's path (GetObject through the SDK) gives for `ref`. */
async function sdkError(ref: { bucket: string; key: string; versionId?: string }) {
  const error = await clients.s3
    .send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        ...(ref.versionId && { VersionId: ref.versionId }),
      }),
    )
    .then(
      () => undefined,
      (err: unknown) => err as Error & { $metadata?: { httpStatusCode?: number } },
    );
  if (!error) throw new Error(`GetObject of ${ref.key} succeeded; the test expected it to fail`);
  return error;
}

/** Every client socket `net` opens while `run` runs (Node publishes them on a diagnostics channel). */
async function socketsOpenedDuring<T>(
  run: () => Promise<T>,
): Promise<{ sockets: Socket[]; result: PromiseSettledResult<T> }> {
  const sockets: Socket[] = [];
  const onSocket = (message: unknown) => sockets.push((message as { socket: Socket }).socket);
  subscribe('net.client.socket', onSocket);
  try {
    const [result] = await Promise.allSettled([run()]);
    return { sockets, result };
  } finally {
    unsubscribe('net.client.socket', onSocket);
  }
}

test.each([
  ['0 B', 0],
  ['1 B', 1],
  ['1 MiB + 3', MiB + 3],
  ['64 MiB', 64 * MiB],
])('an object of %s hashes like a local hash, read directly', async (_size, bytes) => {
  const body = randomBytes(bytes);
  const stored = await put(`sizes/${bytes}`, body);
  const direct = await hashWith(clients.s3, stored);
  expect(direct).toEqual({
    bytes,
    sha256: sha256(body),
    etag: stored.etag,
    versionId: stored.versionId,
    via: 'direct',
  });
  // The SDK path (the fallback) agrees byte for byte.
  expect(await hashWith(clients.s3, stored, { direct: false })).toEqual({ ...direct, via: 'sdk' });
  expect(await hashStoredObject(clients.s3, stored)).toEqual({ sha256: sha256(body), bytes });
});

test('keys with spaces, umlauts and reserved characters are requested exactly as signed', async () => {
  const body = randomBytes(1000);
  const stored = await put("odd keys/Übergabe 1 + 2 (copy) 100% ~'x'&y=z;#.mp4", body);
  expect(await hashWith(clients.s3, stored)).toMatchObject({ sha256: sha256(body), via: 'direct' });
});

test('a specific version of a versioned key is the one hashed; no version means the latest', async () => {
  const first = randomBytes(3 * MiB + 17);
  const second = randomBytes(2 * MiB + 5);
  const v1 = await put('versions/original.mp4', first);
  const v2 = await put('versions/original.mp4', second);
  expect(v1.versionId).not.toBe(v2.versionId);

  expect(await hashWith(clients.s3, v1)).toMatchObject({
    sha256: sha256(first),
    versionId: v1.versionId,
    etag: v1.etag,
    via: 'direct',
  });
  expect(await hashStoredObject(clients.s3, v2)).toEqual({ sha256: sha256(second), bytes: second.length });
  const { versionId: _latest, ...latest } = v2;
  expect(await hashWith(clients.s3, latest)).toMatchObject({
    sha256: sha256(second),
    versionId: v2.versionId,
  });
});

test('a missing object or version fails with the same not-found error as GetObject', async () => {
  const missingKey = { bucket: config.buckets.evidence, key: 'missing/never-stored.mp4' };
  const expected = await sdkError(missingKey);
  const actual = await hashStoredObject(clients.s3, missingKey).catch((err: unknown) => err as Error);
  expect(actual).toBeInstanceOf(Error);
  expect(isNotFound(actual)).toBe(true);
  expect(actual).toMatchObject({
    name: expected.name,
    message: expected.message,
    $metadata: { httpStatusCode: expected.$metadata?.httpStatusCode },
  });

  const stored = await put('missing/has-a-version.mp4', randomBytes(10));
  const missingVersion = { ...stored, versionId: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' };
  const expectedVersion = await sdkError(missingVersion);
  await expect(hashStoredObject(clients.s3, missingVersion)).rejects.toMatchObject({
    name: expectedVersion.name,
    $metadata: { httpStatusCode: 404 },
  });
});

test.each([
  ['direct', true],
  ['through the SDK', false],
])(
  'an abort mid-transfer (%s) stops the read with the signal’s reason and closes the connection',
  async (_path, direct) => {
    const stored = await put(`abort/large-${direct}.mp4`, randomBytes(64 * MiB));
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    let bytesSeen = 0;
    let callsAfterAbort = 0;
    const { sockets, result } = await socketsOpenedDuring(() =>
      readObjectInto(
        clients.s3,
        stored,
        (chunk) => {
          if (controller.signal.aborted) callsAfterAbort++;
          bytesSeen += chunk.length;
          if (bytesSeen >= 4 * MiB) controller.abort(reason);
        },
        controller.signal,
        { direct },
      ),
    );
    expect(result).toEqual({ status: 'rejected', reason });
    expect(bytesSeen).toBeGreaterThan(0);
    expect(bytesSeen).toBeLessThan(64 * MiB);
    expect(callsAfterAbort).toBe(0);
    expect(sockets.length).toBeGreaterThan(0);
    expect(sockets.filter((socket) => !socket.destroyed).length).toBe(0); // none left open

    // Already cancelled: nothing is read at all.
    await expect(hashStoredObject(clients.s3, stored, AbortSignal.abort(reason))).rejects.toBe(reason);
  },
);

describe('responses versitygw does not send, from a server of the test’s own', () => {
  let server: Server;
  let respond: (socket: Socket, requestNumber: number) => void;
  let requests = 0;
  let s3: S3Client;
  const body = randomBytes(3 * MiB + 1);
  const ref = { bucket: 'any', key: 'rec/original.mp4' };

  beforeAll(async () => {
    server = createServer((socket) => {
      socket.once('data', () => respond(socket, ++requests));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    s3 = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
  });
  beforeEach(() => {
    requests = 0;
  });
  afterAll(async () => {
    s3?.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  test('a chunked body is left to the SDK, which reads it whole', async () => {
    respond = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "c"\r\n\r\n');
      for (let offset = 0; offset < body.length; offset += MiB) {
        const piece = body.subarray(offset, offset + MiB);
        socket.write(`${piece.length.toString(16)}\r\n`);
        socket.write(piece);
        socket.write('\r\n');
      }
      socket.end('0\r\n\r\n');
    };
    expect(await hashWith(s3, ref)).toMatchObject({ sha256: sha256(body), bytes: body.length, via: 'sdk' });
    expect(requests).toBe(2); // the direct GET, then the SDK's
  });

  test('a body cut short after bytes reached the sink is an error naming the object and how far it got', async () => {
    respond = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.end(body.subarray(0, 2 * MiB));
    };
    await expect(hashWith(s3, ref)).rejects.toThrow(
      `Reading s3://any/rec/original.mp4 stopped after ${2 * MiB} of ${body.length} bytes`,
    );
    expect(requests).toBe(1);
  });

  test('cut short before anything reached the sink, the SDK tries and reports the short body', async () => {
    respond = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.end(body.subarray(0, 1000));
    };
    await expect(hashWith(s3, ref)).rejects.toThrow();
    expect(requests).toBe(2);
  });

  test('another version than asked for is refused', async () => {
    respond = (socket) =>
      socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 3\r\nx-amz-version-id: other\r\n\r\nabc`);
    await expect(hashWith(s3, { ...ref, versionId: 'wanted' })).rejects.toThrow(
      'Asked for s3://any/rec/original.mp4 (version wanted), the store answered with version other',
    );
  });
});

describe('over https (a versitygw of the test’s own with a self-signed certificate)', () => {
  let dir: string;
  let gateway: ChildProcess | undefined;
  let s3: S3Client;
  let ca: Buffer;
  const bucket = 'tls-evidence';

  beforeAll(async () => {
    const versitygw = requireTool('versitygw');
    dir = mkdtempSync(path.join(tmpdir(), 'object-reader-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
          ...['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1'],
          ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
        ],
        { stdio: 'ignore' },
      );
    } catch (err) {
      throw new Error(`openssl could not make a test certificate (apt-get install openssl): ${String(err)}`);
    }
    ca = readFileSync(path.join(dir, 'cert.pem'));
    mkdirSync(path.join(dir, 'root'));
    const port = await freeLoopbackPort();
    const command = [
      versitygw,
      ...['--access', 'tls-test', '--secret', 'tls-test-secret', '--port', `127.0.0.1:${port}`],
      ...['--cert', path.join(dir, 'cert.pem'), '--key', path.join(dir, 'key.pem'), '--quiet'],
      ...['posix', path.join(dir, 'root')],
    ].join(' ');
    // The shell stops versitygw when jest goes away, even when jest is killed.
    gateway = spawn(
      'bash',
      [
        '-c',
        `${command} & gw=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $gw 2>/dev/null; do sleep 1; done; kill $gw`,
      ],
      { detached: true, stdio: 'ignore' },
    );
    s3 = new S3Client({
      endpoint: `https://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'tls-test', secretAccessKey: 'tls-test-secret' },
      forcePathStyle: true,
      requestHandler: { httpsAgent: new HttpsAgent({ ca }) },
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`versitygw with TLS did not start: ${String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  });
  afterAll(() => {
    s3?.destroy();
    if (gateway?.pid) process.kill(-gateway.pid, 'SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the direct GET reads over TLS; a certificate it does not trust leaves the read to the SDK', async () => {
    const body = randomBytes(5 * MiB + 7);
    const stored = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'tls/original.mp4', Body: body }),
    );
    const ref = { bucket, key: 'tls/original.mp4' };
    expect(await hashWith(s3, ref, { tlsCa: ca })).toEqual({
      bytes: body.length,
      sha256: sha256(body),
      etag: stored.ETag,
      via: 'direct',
    });
    // Without the CA the direct connection fails its certificate check before any byte: the SDK (which
    // trusts the CA here) reads instead. With the same trust on both, as in production, both fail alike.
    expect(await hashWith(s3, ref)).toMatchObject({ sha256: sha256(body), via: 'sdk' });
  });
});
