/** Every benchmark case, in the order a full run takes them (cheap and most-watched first). */
import type { BenchCase } from '../runner';
import { ingestCase } from './ingest';
import { rehashCase } from './rehash';
import { copyAndHashCase } from './copy-and-hash';
import { memoryCase } from './memory';
import { transcodeCase } from './transcode';

export const CASES: readonly BenchCase[] = [
  ingestCase,
  rehashCase,
  copyAndHashCase,
  memoryCase,
  transcodeCase,
];
