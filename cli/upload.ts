/**
 * The bytes of an upload through the API (api/routes/uploads.ts): the file's SHA-256 first (the API's duplicate
 * check needs it before a byte is sent; a second read of a file just read comes from the page cache), then the
 * parts PUT straight to the store on the presigned URLs the API hands out, a few at a time, each part read
 * into a buffer (so the request has its length; one per part in flight, reused) and retried on a network error
 * or a 5xx. The PUT goes through node:http(s), not fetch: fetch copies every body it is given (the Fetch standard
 * says so), and those copies, 8 MiB a part, piled up faster than the garbage collector took them (bench memory
 * case: 334 MiB peak for a 4 GiB file with fetch).
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { CHUNK_BYTES } from '../activities/storage/hashing-stream';

/** Parts in flight: as the CLI's direct multipart upload had (bench: 4 saturate a local store on 2 cores). */
export const PARTS_IN_FLIGHT = 4;
/** Part URLs asked for at once: one API call per 64 parts (512 MiB at 8 MiB parts). */
export const PART_URL_BATCH = 64;
const PART_ATTEMPTS = 4;

export interface PartUrl {
  partNumber: number;
  bytes: number;
  url: string;
}

export interface PartPlan {
  partSize: number;
  partCount: number;
}

/**
 * The SHA-256 and size of a file, read in 1 MiB pieces into one reused buffer: a read stream allocates a new
 * buffer per piece, 4,096 of them for a 4 GiB file, which the garbage collector lets pile up (bench memory case).
 */
export async function hashFile(
  file: string,
  onProgress?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const handle = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      onProgress?.(bytes);
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    await handle.close();
  }
}

export class PartUploadError extends Error {
  override name = 'PartUploadError';
}

/**
 * PUTs every part of `file` to the URLs `partUrls` gives (asked for in batches, as the upload reaches them, so
 * none expires while it waits its turn). Resolves when the store holds every part.
 */
export async function uploadParts(
  file: string,
  plan: PartPlan,
  partUrls: (partNumbers: number[]) => Promise<PartUrl[]>,
  onProgress?: (bytes: number) => void,
): Promise<void> {
  const handle = await open(file, 'r');
  try {
    let next = 1;
    let sent = 0;
    const fetched = new Map<number, Promise<Map<number, PartUrl>>>();
    const urlOf = async (partNumber: number): Promise<PartUrl> => {
      const batch = Math.floor((partNumber - 1) / PART_URL_BATCH);
      let urls = fetched.get(batch);
      if (!urls) {
        const first = batch * PART_URL_BATCH + 1;
        const numbers = Array.from(
          { length: Math.min(PART_URL_BATCH, plan.partCount - first + 1) },
          (_, i) => first + i,
        );
        urls = partUrls(numbers).then((parts) => new Map(parts.map((p) => [p.partNumber, p])));
        fetched.set(batch, urls);
      }
      const url = (await urls).get(partNumber);
      if (!url) throw new PartUploadError(`the custody API gave no URL for part ${partNumber}`);
      return url;
    };
    const worker = async () => {
      // One buffer per part in flight, reused part after part: memory stays at PARTS_IN_FLIGHT × part size
      // whatever the file's size (a new buffer per part left the garbage collector hundreds of MiB behind).
      const buffer = Buffer.allocUnsafe(plan.partSize);
      while (next <= plan.partCount) {
        const partNumber = next++;
        const part = await urlOf(partNumber);
        if (part.bytes > buffer.length) {
          throw new PartUploadError(
            `part ${partNumber} is ${part.bytes} bytes, more than the ${buffer.length} planned`,
          );
        }
        const body = await readPart(handle, buffer.subarray(0, part.bytes), (partNumber - 1) * plan.partSize);
        await putPart(part, body);
        sent += part.bytes;
        onProgress?.(sent);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, plan.partCount) }, worker));
  } finally {
    await handle.close();
  }
}

/** Fills `buffer` from the file at `position`; the file must not end before it is full. */
async function readPart(handle: FileHandle, buffer: Buffer, position: number): Promise<Buffer> {
  const length = buffer.length;
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) {
      throw new PartUploadError(
        `the file ended ${length - filled} bytes early in part at offset ${position}: it changed while being uploaded`,
      );
    }
    filled += bytesRead;
  }
  return buffer;
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: PARTS_IN_FLIGHT }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: PARTS_IN_FLIGHT }),
};

/** One PUT of `body` to `url`: the status and the first 300 characters of the answer. */
function put(url: string, body: Buffer): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const agent = target.protocol === 'https:' ? agents['https:'] : agents['http:'];
  return new Promise((resolve, reject) => {
    const request = client.request(
      target,
      { method: 'PUT', agent, headers: { 'content-length': body.length } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (text.length < 300) text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: text.slice(0, 300) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function putPart(part: PartUrl, body: Buffer): Promise<void> {
  let problem = '';
  for (let attempt = 1; attempt <= PART_ATTEMPTS; attempt++) {
    try {
      const answer = await put(part.url, body);
      if (answer.status >= 200 && answer.status < 300) return;
      problem = `HTTP ${answer.status}: ${answer.text}`;
      // A 4xx (an expired or refused URL) does not heal by itself; a redirect would be one too.
      if (answer.status < 500) break;
    } catch (err) {
      problem = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
  }
  throw new PartUploadError(`the store refused part ${part.partNumber} (${problem})`);
}
