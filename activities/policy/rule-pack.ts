/**
 * The shape of a retention rule pack (policies/*.yaml). Policy is data: adding a statute is a YAML file
 * and a test, not code. policies/rule-pack.schema.json is generated from this schema (for editors) and a
 * unit test keeps the two in step.
 *
 * Durations are checked with the workflow's own parser (a pure module with no imports), so a pack that
 * loads is a pack the lifecycle workflow can compute with.
 */
import { z } from 'zod';
import { DURATION_JSON_PATTERN, positiveDurationProblem } from '../../domain/duration';

function positiveDuration(description: string, examples: string[]) {
  return z
    .string({ error: `expected an ISO 8601 duration such as ${examples.join(' or ')}` })
    .superRefine((text, ctx) => {
      const problem = positiveDurationProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({ description, pattern: DURATION_JSON_PATTERN, examples });
}

const approval = z
  .enum(['four-eyes'], { error: 'expected four-eyes (two different people must agree)' })
  .meta({ description: 'Who must agree. The domain facts require two different people (four-eyes).' });

/** Optional in general, required when kind is statute. */
const STATUTE_FIELDS = ['jurisdiction', 'authority', 'citation'] as const;

export const RulePackSchema = z
  .strictObject({
    id: z
      .string({ error: 'expected a lower-case id of letters, digits and dashes, e.g. bw-polg-44' })
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, {
        error: 'expected a lower-case id of letters, digits and dashes, e.g. bw-polg-44',
      })
      .meta({ description: 'Stable identifier; what CUSTODY_DEFAULT_POLICY and the CLI name.' }),
    version: z
      .int({ error: 'expected a whole number ≥ 1' })
      .min(1, { error: 'expected a whole number ≥ 1' })
      .meta({ description: 'Bump whenever anything in the pack changes; recorded with every deadline.' }),
    kind: z
      .enum(['statute', 'demo'], { error: 'expected statute or demo' })
      .meta({ description: 'demo packs are not law: for demonstrations and tests only.' }),
    title: z
      .string({ error: 'expected a short human title' })
      .min(1, { error: 'expected a short human title' })
      .meta({ description: 'Shown to people choosing a pack; a demo pack says it is not a statute.' }),
    jurisdiction: z
      .string({ error: 'expected an ISO 3166-2 code such as DE-BW, or DE for federal law' })
      .regex(/^DE(?:-[A-Z]{2})?$/, {
        error: 'expected an ISO 3166-2 code such as DE-BW, or DE for federal law',
      })
      .optional()
      .meta({ description: 'Required for statute packs.' }),
    authority: z
      .enum(['state-police', 'federal-police', 'municipal-order-service'], {
        error: 'expected state-police, federal-police or municipal-order-service',
      })
      .optional()
      .meta({ description: 'Whose recordings the statute governs. Required for statute packs.' }),
    citation: z
      .string({ error: 'expected the statute reference, e.g. § 44 PolG BW' })
      .min(1, { error: 'expected the statute reference, e.g. § 44 PolG BW' })
      .optional()
      .meta({ description: 'The statute text reference. Required for statute packs.' }),
    sourceUrl: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL of the statute text' })
      .optional()
      .meta({ description: 'Where the statute can be read; only checked sources.' }),
    derivedFrom: z.string({ error: 'expected the id of another rule pack' }).optional().meta({
      description: 'The pack whose rules this statute applies (e.g. § 24 OBG NRW applies § 15c PolG NRW).',
    }),
    inForceSince: z.iso
      .date({ error: 'expected a date YYYY-MM-DD' })
      .optional()
      .meta({ description: 'Date from which the statute applies to this authority.' }),
    retention: positiveDuration(
      'Delete at the latest this long after the recording (a ceiling, not a target).',
      ['P28D', 'P2M'],
    ),
    retentionAsWritten: z
      .string({ error: 'expected the period as the statute words it, e.g. 4 weeks' })
      .min(1, { error: 'expected the period as the statute words it, e.g. 4 weeks' })
      .optional()
      .meta({ description: 'The period in the statute’s words, so a reader can check the duration.' }),
    keepLongerWhen: z
      .array(
        z.enum(['evidence', 'prosecution', 'legal-claims'], {
          error: 'expected evidence, prosecution or legal-claims',
        }),
      )
      .optional()
      .meta({
        description:
          'Grounds the statute names for keeping a recording past the deadline. Every ground still needs a documented evidence marking or legal hold (case number, actor, time).',
      }),
    preRecordingBuffer: z
      .strictObject({
        max: positiveDuration('Longest pre-recording buffer the statute allows.', [
          'PT30S',
          'PT60S',
        ]).optional(),
        deletedAutomatically: z
          .boolean({ error: 'expected true or false' })
          .optional()
          .meta({ description: 'The buffer is overwritten/deleted automatically unless recording starts.' }),
      })
      .optional(),
    deletion: z.strictObject({
      earlyDeletionApproval: approval,
      holdReleaseApproval: approval,
      recordingOfficerDeletion: z
        .enum(['forbidden', 'with-supervisor-consent', 'not-specified'], {
          error: 'expected forbidden, with-supervisor-consent or not-specified',
        })
        .meta({ description: 'Whether the officer who recorded may delete the recording.' }),
      documentCaseByCase: z
        .array(z.enum(['deletion', 'change-of-purpose'], { error: 'expected deletion or change-of-purpose' }))
        .optional()
        .meta({ description: 'Events the statute requires to be documented individually.' }),
    }),
    storageRequirements: z
      .array(z.enum(['encrypted', 'tamper-proof'], { error: 'expected encrypted or tamper-proof' }))
      .optional()
      .meta({ description: 'Requirements the statute sets for stored recordings.' }),
    notes: z
      .array(z.string({ error: 'expected a line of text' }))
      .optional()
      .meta({ description: 'Human notes; not read by the system.' }),
  })
  .superRefine((pack, ctx) => {
    if (pack.kind !== 'statute') return;
    for (const field of STATUTE_FIELDS) {
      if (pack[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'missing; a statute pack must name it' });
      }
    }
  })
  .meta({
    title: 'custody retention rule pack',
    description:
      'One statute’s retention rules for bodycam recordings. Validated by activities/policy/rule-pack.ts.',
  });

export type RulePack = z.infer<typeof RulePackSchema>;

/** The JSON Schema written to policies/rule-pack.schema.json. */
export function rulePackJsonSchema(): Record<string, unknown> {
  // The statute-only requirement lives in a zod refinement, which JSON Schema cannot derive; state it here.
  return {
    ...z.toJSONSchema(RulePackSchema, { io: 'input' }),
    if: { properties: { kind: { const: 'statute' } } },
    then: { required: [...STATUTE_FIELDS] },
  };
}
