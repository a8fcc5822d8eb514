import { Gatherer, parseResponseHead, planBody, SINK_CHUNK_BYTES, type ResponseHead } from './object-reader';

const ref = { bucket: 'ev', key: 'rec-1/original.mp4' };

function head(text: string): ResponseHead {
  const parsed = parseResponseHead(text);
  if (!parsed) throw new Error(`not a response head: ${text}`);
  return parsed;
}

describe('parseResponseHead', () => {
  test('reads the status and keeps repeated headers, names in lower case', () => {
    const parsed = head(
      'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nETag: "abc"\r\nX-Amz-Meta-A: 1\r\nx-amz-meta-a: 2',
    );
    expect(parsed.status).toBe(200);
    expect(parsed.headers.get('content-length')).toEqual(['12']);
    expect(parsed.headers.get('etag')).toEqual(['"abc"']);
    expect(parsed.headers.get('x-amz-meta-a')).toEqual(['1', '2']);
  });

  test('refuses what is not an HTTP/1.x response head', () => {
    expect(parseResponseHead('HTTP/2 200\r\ncontent-length: 1')).toBeUndefined();
    expect(parseResponseHead('garbage')).toBeUndefined();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nno colon here')).toBeUndefined();
  });
});

describe('planBody', () => {
  test('a 200 with one Content-Length is read directly, with its ETag and version', () => {
    const plan = planBody(head('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "e"\r\nx-amz-version-id: v1'), {
      ...ref,
      versionId: 'v1',
    });
    expect(plan).toEqual({ kind: 'read', length: 5, etag: '"e"', versionId: 'v1' });
  });

  test('an empty object is a body of length 0', () => {
    expect(planBody(head('HTTP/1.1 200 OK\r\nContent-Length: 0'), ref)).toEqual({ kind: 'read', length: 0 });
  });

  test.each([
    ['an error status', 'HTTP/1.1 404 Not Found\r\nContent-Length: 120'],
    ['a redirect', 'HTTP/1.1 307 Temporary Redirect\r\nLocation: http://elsewhere/\r\nContent-Length: 0'],
    ['a partial response', 'HTTP/1.1 206 Partial Content\r\nContent-Length: 5'],
    ['a chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'],
    ['chunked despite a length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5'],
    ['no length', 'HTTP/1.1 200 OK\r\nETag: "e"'],
    ['two different lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6'],
    ['a length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 5x'],
  ])('%s is left to the SDK', (_what, text) => {
    expect(planBody(head(text), ref).kind).toBe('fallback');
  });

  test('another version than the one asked for is an error, not a silent fallback', () => {
    const plan = planBody(head('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-amz-version-id: v2'), {
      ...ref,
      versionId: 'v1',
    });
    expect(plan).toMatchObject({ kind: 'error' });
    expect(plan.kind === 'error' && plan.message).toContain('version v2');
    expect(planBody(head('HTTP/1.1 200 OK\r\nContent-Length: 5'), { ...ref, versionId: 'v1' }).kind).toBe(
      'error',
    );
  });

  test('the "null" version of an unversioned object may come without a version header', () => {
    expect(planBody(head('HTTP/1.1 200 OK\r\nContent-Length: 5'), { ...ref, versionId: 'null' }).kind).toBe(
      'read',
    );
  });
});

describe('Gatherer', () => {
  test('hands on every byte in order, in pieces of at least SINK_CHUNK_BYTES but the last', () => {
    const input = Buffer.alloc(5 * SINK_CHUNK_BYTES + 12345);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7919) % 251;
    const pieces: Buffer[] = [];
    const gather = new Gatherer((chunk) => pieces.push(Buffer.from(chunk))); // copy: the memory is reused
    // Small reads (as TLS records arrive), a read larger than a piece, and one that straddles a boundary.
    const cuts = [
      0,
      16384,
      32768,
      40000,
      40000 + 2 * SINK_CHUNK_BYTES,
      3 * SINK_CHUNK_BYTES + 5,
      input.length,
    ];
    for (let i = 1; i < cuts.length; i++) gather.push(input.subarray(cuts[i - 1], cuts[i]));
    gather.flush();
    expect(Buffer.concat(pieces).equals(input)).toBe(true);
    expect(gather.delivered).toBe(input.length);
    expect(pieces.slice(0, -1).every((p) => p.length >= SINK_CHUNK_BYTES)).toBe(true);
  });

  test('gives the sink nothing more once stopped, not even the rest of the read in progress', () => {
    let delivered = 0;
    const gather: Gatherer = new Gatherer((chunk) => {
      delivered += chunk.length;
      gather.stop();
    });
    gather.push(Buffer.alloc(SINK_CHUNK_BYTES / 2));
    gather.push(Buffer.alloc(3 * SINK_CHUNK_BYTES));
    gather.flush();
    expect(delivered).toBe(SINK_CHUNK_BYTES);
  });
});
