/** Every benchmark case, in the order a full run takes them (cheap and most-watched first). */
import type { BenchCase } from '../runner';
import { ingestCase } from './ingest';
import { rehashCase } from './rehash';
import { copyAndHashCase } from './copy-and-hash';
import { memoryCase } from './memory';
import { transcodeCase } from './transcode';
import { lifecycleCase } from './lifecycle';
import { orchestrationCase } from './orchestration';
import { deletionSweepCase } from './deletion-sweep';
import { temporalOverheadCase } from './temporal-overhead';

export const CASES: readonly BenchCase[] = [
  ingestCase,
  rehashCase,
  copyAndHashCase,
  memoryCase,
  transcodeCase,
  lifecycleCase,
  orchestrationCase,
  deletionSweepCase,
  temporalOverheadCase,
];
