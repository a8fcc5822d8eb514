/**
 * Reads one stored object (one version of it) and hands its bytes, in order, to a synchronous sink — the
 * re-hash behind `custody verify` and fixity. Receiving GetObject's body through the SDK's streams costs
 * 1.2–1.5 CPU-s per GB on the one JS thread (3–4 on a busy node), twice SHA-256 itself (≈ 0.7), so a re-hash
 * ran at a third of `openssl dgst`. Here the GET is a plain HTTP/1.1 request on a presigned URL, read with the
 * socket's `onread` option into one reused buffer: no allocation and no stream per chunk, ≈ 0.3 CPU-s/GB to
 * receive, and the re-hash runs at about openssl's speed. bench/FINDINGS.md ("rehash") has the measurements.
 *
 * The direct path takes only the plain case: status 200 with a Content-Length body. Anything else before the
 * first body byte (an error status, a redirect, a chunked body, a connection that fails) is answered by
 * GetObject through the SDK instead, so errors (NoSuchKey, NoSuchVersion, AccessDenied, …) are exactly the
 * SDK's, retries included. Once bytes have reached the sink nothing is retried: a short or broken body is an
 * error naming the object and how far it got.
 */
import { isIP, connect as connectTcp, type Socket, type TcpNetConnectOpts } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { addAbortSignal, type Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface StoredObjectRef {
  bucket: string;
  key: string;
  versionId?: string;
}

/**
 * Receives the body in order. The chunk's memory is reused as soon as the call returns: consume it (hash it,
 * copy it) before returning, never keep a reference.
 */
export type BodySink = (chunk: Uint8Array) => void;

export interface ObjectRead {
  /** Bytes handed to the sink; always equal to the Content-Length the store announced. */
  bytes: number;
  etag?: string;
  /** The version the store answered with (equal to the requested one when a version was asked for). */
  versionId?: string;
  /** `direct`: HTTP/1.1 GET on a presigned URL; `sdk`: GetObject through the SDK (the fallback). */
  via: 'direct' | 'sdk';
}

export interface ObjectReaderOptions {
  /** false: always read through the SDK (diagnostics, comparison). */
  direct?: boolean;
  /** The reused receive buffer of the direct path. */
  receiveBufferBytes?: number;
  /** Give up when the store sends nothing for this long. */
  idleTimeoutMs?: number;
  /** Extra trust for an https endpoint (PEM); the default trust store otherwise, as the SDK's. */
  tlsCa?: string | Buffer;
  /**
   * Called as body bytes arrive, with the count so far (it starts again from 0 if the SDK takes over): the sink
   * is handed SINK_CHUNK_BYTES at a time, which on a slow link can be minutes apart. Heartbeats go here.
   */
  onProgress?: (receivedBytes: number) => void;
}

/** 4 MiB: fewer, larger reads; a 1 MiB buffer cost 20–30 % more CPU per GB in the measurements. */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** Reads smaller than this (TLS delivers 16 KiB records) are gathered first: small hash updates cost more. */
export const SINK_CHUNK_BYTES = 1024 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;
const IDLE_TIMEOUT_MS = 60_000;
/** Only needs to outlive connecting; the body may take as long as it takes once the request is accepted. */
const PRESIGN_EXPIRES_SECONDS = 300;

export function describeObject(ref: StoredObjectRef): string {
  return `s3://${ref.bucket}/${ref.key}${ref.versionId ? ` (version ${ref.versionId})` : ''}`;
}

/** Reads the object's body into `sink`; rejects with the signal's reason when the signal aborts. */
export async function readObjectInto(
  s3: S3Client,
  ref: StoredObjectRef,
  sink: BodySink,
  signal?: AbortSignal,
  options: ObjectReaderOptions = {},
): Promise<ObjectRead> {
  if (signal?.aborted) throw abortReason(signal);
  if (options.direct !== false) {
    // A client the presigner cannot serve is the SDK's to read, with the SDK's own error if it has one.
    const url = await getSignedUrl(s3, getObjectCommand(ref), { expiresIn: PRESIGN_EXPIRES_SECONDS }).then(
      (signed) => new URL(signed),
      () => undefined,
    );
    if (url && (url.protocol === 'http:' || url.protocol === 'https:')) {
      const outcome = await readDirect(url, ref, sink, signal, options);
      if (outcome.read) return outcome.read;
    }
  }
  return readViaSdk(s3, ref, sink, signal, options.onProgress);
}

function getObjectCommand(ref: StoredObjectRef): GetObjectCommand {
  return new GetObjectCommand({
    Bucket: ref.bucket,
    Key: ref.key,
    ...(ref.versionId && { VersionId: ref.versionId }),
  });
}

async function readViaSdk(
  s3: S3Client,
  ref: StoredObjectRef,
  sink: BodySink,
  signal?: AbortSignal,
  onProgress?: (receivedBytes: number) => void,
): Promise<ObjectRead> {
  const object = await s3.send(getObjectCommand(ref), signal ? { abortSignal: signal } : {});
  const body = object.Body as Readable;
  if (signal) addAbortSignal(signal, body);
  const gather = new Gatherer(sink);
  const stop = () => gather.stop();
  signal?.addEventListener('abort', stop, { once: true });
  let received = 0;
  try {
    for await (const chunk of body) {
      received += (chunk as Buffer).length;
      onProgress?.(received);
      gather.push(chunk as Buffer);
    }
    gather.flush();
    signal?.throwIfAborted();
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
    body.destroy();
  }
  if (object.ContentLength !== undefined && gather.delivered !== object.ContentLength) {
    throw new Error(
      `Reading ${describeObject(ref)} ended after ${gather.delivered} of ${object.ContentLength} bytes; ` +
        'the store closed the response early. Read it again; if it keeps happening, check the store.',
    );
  }
  return {
    bytes: gather.delivered,
    ...(object.ETag && { etag: object.ETag }),
    ...(object.VersionId && { versionId: object.VersionId }),
    via: 'sdk',
  };
}

/** Hands the sink at least SINK_CHUNK_BYTES at a time (except the last), without copying large reads. */
export class Gatherer {
  private staging: Buffer | undefined;
  private staged = 0;
  /** Set on abort or error: the sink gets nothing more, even from the read in progress. */
  private stopped = false;
  delivered = 0;

  constructor(private readonly sink: BodySink) {}

  stop(): void {
    this.stopped = true;
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length && !this.stopped) {
      const rest = chunk.length - offset;
      if (this.staged === 0 && rest >= SINK_CHUNK_BYTES) {
        this.deliver(offset === 0 ? chunk : chunk.subarray(offset)); // large enough as it is: no copy
        return;
      }
      this.staging ??= Buffer.allocUnsafe(SINK_CHUNK_BYTES);
      const n = Math.min(rest, SINK_CHUNK_BYTES - this.staged);
      this.staging.set(chunk.subarray(offset, offset + n), this.staged);
      this.staged += n;
      offset += n;
      if (this.staged === SINK_CHUNK_BYTES) this.flush();
    }
  }

  flush(): void {
    if (this.stopped || this.staged === 0 || !this.staging) return;
    const block = this.staging.subarray(0, this.staged);
    this.staged = 0;
    this.deliver(block);
  }

  private deliver(chunk: Uint8Array): void {
    this.sink(chunk);
    this.delivered += chunk.length;
  }
}

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated headers keep every value. */
  headers: Map<string, string[]>;
}

/** Parses an HTTP/1.x status line and header fields (the text before the blank line); undefined if malformed. */
export function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!status) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(name, values);
  }
  return { status: Number(status[1]), headers };
}

export type BodyPlan =
  | { kind: 'read'; length: number; etag?: string; versionId?: string }
  | { kind: 'fallback'; reason: string }
  | { kind: 'error'; message: string };

/**
 * What to do with a response: read a plain Content-Length body, leave it to the SDK (anything unusual, so
 * the SDK's own handling and errors apply), or stop (the store answered with another version than asked for).
 */
export function planBody(head: ResponseHead, ref: StoredObjectRef): BodyPlan {
  if (head.status !== 200) return { kind: 'fallback', reason: `status ${head.status}` };
  if (head.headers.has('transfer-encoding')) return { kind: 'fallback', reason: 'no Content-Length body' };
  const lengths = new Set(head.headers.get('content-length') ?? []);
  const [length] = [...lengths];
  if (lengths.size !== 1 || length === undefined || !/^\d{1,15}$/.test(length)) {
    return { kind: 'fallback', reason: 'no single valid Content-Length' };
  }
  const versionId = head.headers.get('x-amz-version-id')?.[0];
  // An unversioned object's version is "null", and stores may leave the header out for it.
  if (ref.versionId && versionId !== ref.versionId && !(ref.versionId === 'null' && !versionId)) {
    return {
      kind: 'error',
      message:
        `Asked for ${describeObject(ref)}, the store answered with version ${versionId ?? '(none)'}: ` +
        'refusing to hash another version. Check that the store supports versioned reads.',
    };
  }
  const etag = head.headers.get('etag')?.[0];
  return {
    kind: 'read',
    length: Number(length),
    ...(etag && { etag }),
    ...(versionId && { versionId }),
  };
}

type DirectOutcome = { read: ObjectRead; fallback?: undefined } | { read?: undefined; fallback: string };

const HEAD_END = Buffer.from('\r\n\r\n');

function readDirect(
  url: URL,
  ref: StoredObjectRef,
  sink: BodySink,
  signal: AbortSignal | undefined,
  options: ObjectReaderOptions,
): Promise<DirectOutcome> {
  return new Promise<DirectOutcome>((resolve, reject) => {
    const buffer = Buffer.allocUnsafe(options.receiveBufferBytes ?? RECEIVE_BUFFER_BYTES);
    const gather = new Gatherer(sink);
    let head: Buffer = Buffer.alloc(0);
    let plan: Extract<BodyPlan, { kind: 'read' }> | undefined;
    let received = 0;
    let settled = false;

    const finish = (outcome: { value: DirectOutcome } | { error: Error }) => {
      if (settled) return;
      settled = true;
      gather.stop();
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.value);
    };
    /** Before the first body byte reached the sink the SDK can still take over; after it, it is an error. */
    const fail = (problem: string) => {
      if (gather.delivered === 0) {
        finish({ value: { fallback: problem } });
        return;
      }
      finish({
        error: new Error(
          `Reading ${describeObject(ref)} stopped after ${received} of ${plan!.length} bytes: ${problem}. ` +
            'Read it again; if it keeps happening, check the store and the network to it.',
        ),
      });
    };
    const onAbort = () => finish({ error: abortReason(signal!) });

    const onBody = (chunk: Buffer) => {
      const wanted = plan!.length - received;
      const body = chunk.length > wanted ? chunk.subarray(0, wanted) : chunk;
      received += body.length;
      if (body.length) options.onProgress?.(received);
      gather.push(body);
      if (received === plan!.length && !settled) {
        gather.flush();
        const { length: _length, kind: _kind, ...identity } = plan!;
        finish({ value: { read: { bytes: gather.delivered, ...identity, via: 'direct' } } });
      }
    };

    const onHead = (chunk: Buffer) => {
      head = head.length ? Buffer.concat([head, chunk]) : Buffer.from(chunk);
      const end = head.indexOf(HEAD_END);
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) fail(`response head over ${MAX_HEAD_BYTES} bytes`);
        return;
      }
      const parsed = parseResponseHead(head.subarray(0, end).toString('latin1'));
      if (!parsed) {
        fail('malformed response head');
        return;
      }
      const next = planBody(parsed, ref);
      if (next.kind === 'fallback') fail(next.reason);
      else if (next.kind === 'error') finish({ error: new Error(next.message) });
      else {
        plan = next;
        const rest = head.subarray(end + HEAD_END.length);
        head = Buffer.alloc(0);
        onBody(rest);
      }
    };

    const onread = {
      buffer,
      callback: (length: number, data: Buffer): boolean => {
        if (settled) return false;
        try {
          const chunk = data.subarray(0, length);
          if (plan) onBody(chunk);
          else onHead(chunk);
        } catch (err) {
          finish({ error: err as Error }); // the sink threw: its error, not ours
        }
        return !settled;
      },
    };
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 literal comes bracketed
    const request =
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
      'User-Agent: custody-object-reader\r\nConnection: close\r\n\r\n';
    // tls.connect takes `onread` as net does (Node ≥ 14.18; documented, missing from @types/node).
    const tlsOptions: ConnectionOptions & Pick<TcpNetConnectOpts, 'onread'> = {
      host,
      port,
      onread,
      ...(isIP(host) === 0 && { servername: host }),
      ...(options.tlsCa && { ca: options.tlsCa }),
    };
    const socket: Socket =
      url.protocol === 'https:' ? connectTls(tlsOptions) : connectTcp({ host, port, onread });
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.setTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () =>
      fail(`no data from the store for ${(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS) / 1000} s`),
    );
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => fail(plan ? 'the store closed the connection' : 'no response'));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort(); // aborted while the URL was being signed
  });
}

/** Temporal passes its CancelledFailure as the reason: that is what the activity must throw. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new Error(`Reading the object was cancelled: ${String(reason)}`, { cause: reason });
}
