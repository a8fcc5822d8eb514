/**
 * The capacity policy (policies/capacity/capacity.yaml, path from CUSTODY_CAPACITY_FILE): per pool the replica
 * bounds and the scaling rules the controller and `custody capacity scale` obey, and the measured throughputs
 * `custody capacity plan` computes with. Policy is data: policies/capacity/capacity.schema.json is generated
 * from the zod schema below (for editors) and a unit test keeps the two in step.
 */
import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';

/** The pools the controller can scale; `controller` itself is not scaled by the controller. */
export const CAPACITY_POOLS = ['orchestration', 'media-io', 'transcode'] as const;
export type CapacityPool = (typeof CAPACITY_POOLS)[number];

const wholeNumber = (min: number, what: string) =>
  z.int({ error: `expected a whole number ≥ ${min} (${what})` }).min(min, {
    error: `expected a whole number ≥ ${min} (${what})`,
  });

const PoolRulesSchema = z
  .strictObject({
    minReplicas: wholeNumber(0, 'replicas').meta({
      description: 'Never fewer replicas. Only transcode may be 0 (its queue then waits for a scale-up).',
    }),
    maxReplicas: wholeNumber(1, 'replicas').meta({ description: 'Never more replicas.' }),
    targetBacklogPerReplica: z
      .number({ error: 'expected a number > 0 (queued tasks one replica should face)' })
      .positive({ error: 'expected a number > 0 (queued tasks one replica should face)' })
      .meta({
        description:
          'Desired replicas = ceil(task-queue backlog ÷ this), within min/max. Roughly the concurrency of one replica.',
      }),
    maxStepUp: wholeNumber(1, 'replicas added in one decision').meta({
      description: 'At most this many replicas are added in one decision.',
    }),
    maxStepDown: wholeNumber(1, 'replicas removed in one decision').meta({
      description: 'At most this many replicas are removed in one decision.',
    }),
    scaleUpCooldownSeconds: wholeNumber(0, 'seconds').meta({
      description: 'After a scale-up, the next scale-up waits this long.',
    }),
    scaleDownCooldownSeconds: wholeNumber(0, 'seconds').meta({
      description:
        'A scale-down waits this long after any change (and after the controller became leader): pods that were just added get to work off the backlog first.',
    }),
  })
  .superRefine((rules, ctx) => {
    if (rules.minReplicas > rules.maxReplicas) {
      ctx.addIssue({
        code: 'custom',
        path: ['minReplicas'],
        message: `is ${rules.minReplicas}, above maxReplicas ${rules.maxReplicas}; lower minReplicas or raise maxReplicas`,
      });
    }
  });

export type PoolRules = z.infer<typeof PoolRulesSchema>;

const MeasuredSchema = z
  .strictObject({
    value: z
      .number({ error: 'expected a number > 0' })
      .positive({ error: 'expected a number > 0' })
      .meta({ description: 'The figure.' }),
    measured: z.boolean({ error: 'expected true (a measurement) or false (an estimate)' }).meta({
      description: 'true: measured on our code (cite the run in source); false: an estimate, say on what.',
    }),
    source: z
      .string({ error: 'expected where the figure comes from, e.g. bench/RESULTS.md run 20261123T013920Z' })
      .min(1, { error: 'expected where the figure comes from, e.g. bench/RESULTS.md run 20261123T013920Z' })
      .meta({ description: 'Where the figure comes from: the benchmark run, the command, the machine.' }),
  })
  .meta({ description: 'A throughput figure and its provenance.' });

export type Measured = z.infer<typeof MeasuredSchema>;

const ProfileSchema = z.strictObject({
  description: z
    .string({ error: 'expected a short description of the camera setting' })
    .min(1, { error: 'expected a short description of the camera setting' }),
  bitrateMbps: z
    .number({ error: 'expected the recording bitrate in Mbit/s, a number > 0' })
    .positive({ error: 'expected the recording bitrate in Mbit/s, a number > 0' })
    .meta({ description: 'Bitrate of the original recordings (video + audio), Mbit/s.' }),
  averageRecordingMinutes: z
    .number({ error: 'expected minutes > 0' })
    .positive({ error: 'expected minutes > 0' })
    .meta({ description: 'Average length of one recording: turns minutes per day into recordings per day.' }),
  transcodeRealTimeFactor: MeasuredSchema.meta({
    description:
      'Seconds of recording one transcode replica (2 cores, concurrency 1) turns into the review proxy per wall-clock second.',
  }),
});

export type CaptureProfile = z.infer<typeof ProfileSchema>;

export const CapacityPolicySchema = z
  .strictObject({
    version: wholeNumber(1, 'bump it when anything changes'),
    pools: z.strictObject({
      orchestration: PoolRulesSchema,
      'media-io': PoolRulesSchema,
      transcode: PoolRulesSchema,
    }),
    plan: z.strictObject({
      headroom: z
        .number({ error: 'expected a factor ≥ 1, e.g. 1.5 (50 % spare capacity)' })
        .min(1, { error: 'expected a factor ≥ 1, e.g. 1.5 (50 % spare capacity)' })
        .meta({ description: 'Computed workers are multiplied by this before rounding up.' }),
      processingWindowHours: z
        .number({ error: 'expected hours in (0, 24]' })
        .positive({ error: 'expected hours in (0, 24]' })
        .max(24, { error: 'expected hours in (0, 24]' })
        .meta({
          description:
            'A day of recordings must be through ingest and transcode within this many hours (docks upload at shift changes, not evenly over 24 h).',
        }),
      defaultProfile: z.string({ error: 'expected the name of one of plan.profiles' }),
      profiles: z
        .record(
          z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected a profile name like 1080p30' }),
          ProfileSchema,
        )
        .refine((profiles) => Object.keys(profiles).length > 0, { error: 'expected at least one profile' }),
      throughput: z.strictObject({
        mediaIoMegabytesPerSecond: MeasuredSchema.meta({
          description:
            'MB/s (10⁶ bytes) of originals one media-io replica copies from the incoming to the evidence store and hashes.',
        }),
        orchestrationRecordingsPerHour: MeasuredSchema.meta({
          description: 'Recording lifecycles one orchestration replica takes through ingest per hour.',
        }),
      }),
    }),
  })
  .superRefine((policy, ctx) => {
    for (const pool of ['orchestration', 'media-io'] as const) {
      if (policy.pools[pool].minReplicas < 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['pools', pool, 'minReplicas'],
          message:
            'is 0, but only transcode may scale to zero (orchestration runs every workflow task and timer, media-io every ingest); set it to 1 or more',
        });
      }
    }
    if (!(policy.plan.defaultProfile in policy.plan.profiles)) {
      ctx.addIssue({
        code: 'custom',
        path: ['plan', 'defaultProfile'],
        message: `names ${policy.plan.defaultProfile}, which is not in plan.profiles (${Object.keys(policy.plan.profiles).join(', ')})`,
      });
    }
  })
  .meta({
    title: 'custody capacity policy',
    description:
      'Replica bounds and scaling rules per worker pool, and measured throughputs for capacity planning. Validated by workers/controller/capacity-policy.ts.',
  });

export type CapacityPolicy = z.infer<typeof CapacityPolicySchema> & {
  /** The file it was read from, for messages. */
  file: string;
};

/** The JSON Schema written to policies/capacity/capacity.schema.json. */
export function capacityPolicyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(CapacityPolicySchema, { io: 'input' });
}

export class CapacityPolicyError extends Error {
  override name = 'CapacityPolicyError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `invalid capacity policy ${file} (CUSTODY_CAPACITY_FILE):\n  ${problems.join('\n  ')}\n` +
        'Fix the file (policies/capacity/capacity.schema.json describes every field) or point CUSTODY_CAPACITY_FILE at a valid one.',
    );
  }
}

/** Parses and validates a capacity policy's YAML text; `file` labels the messages. */
export function parseCapacityPolicy(text: string, file: string): CapacityPolicy {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined) =>
    offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`;
  if (document.errors.length > 0) {
    throw new CapacityPolicyError(
      file,
      document.errors.map((error) => `${where(error.pos[0])} invalid YAML: ${error.message}`),
    );
  }
  if (!isMap(document.contents)) {
    throw new CapacityPolicyError(file, [`${file} expected a YAML mapping with version, pools and plan`]);
  }
  const result = CapacityPolicySchema.safeParse(document.toJS(), { reportInput: true });
  if (!result.success) {
    throw new CapacityPolicyError(
      file,
      result.error.issues.map((issue) => {
        const nodePath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
        const node = document.getIn(nodePath as unknown[], true) as { range?: [number, number] } | undefined;
        return `${where(node?.range?.[0])} ${describeIssue(issue)}`;
      }),
    );
  }
  return { ...result.data, file };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${field}: unknown field ${issue.keys.join(', ')}; remove it or fix its spelling (see capacity.schema.json)`;
  }
  const missing = issue.code === 'invalid_type' && issue.input === undefined ? 'missing; ' : '';
  return `${field}: ${missing}${issue.message}`;
}

/** Reads and validates the capacity policy file; every problem is a CapacityPolicyError naming file and field. */
export async function loadCapacityPolicy(file: string): Promise<CapacityPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CapacityPolicyError(file, [
      `cannot read it (${(err as Error).message}); set CUSTODY_CAPACITY_FILE to the capacity policy, e.g. policies/capacity/capacity.yaml`,
    ]);
  }
  return parseCapacityPolicy(text, file);
}
