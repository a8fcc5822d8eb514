import { Transform, type TransformCallback } from 'node:stream';
import { createHash } from 'node:crypto';

/** 1 MiB: hashing and piping in the 16–64 KiB pieces sockets and files deliver costs about 3× here. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * A pass-through that SHA-256-hashes every byte on its way and re-chunks to CHUNK_BYTES, so the bytes that
 * are hashed are exactly the bytes that are written, in one read.
 */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  bytes = 0;

  constructor(private readonly onProgress?: (bytes: number) => void) {
    super({ readableHighWaterMark: CHUNK_BYTES, writableHighWaterMark: CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= CHUNK_BYTES) this.flushPending();
    done();
  }

  override _flush(done: TransformCallback): void {
    this.flushPending();
    done();
  }

  private flushPending(): void {
    if (this.pendingBytes === 0) return;
    const block =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.hash.update(block);
    this.bytes += block.length;
    this.onProgress?.(this.bytes);
    this.push(block);
  }

  /** Hex SHA-256 of everything that passed; call once, after the stream ended. */
  sha256(): string {
    return this.hash.digest('hex');
  }
}
