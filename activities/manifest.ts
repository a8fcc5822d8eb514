/**
 * The docking station's sidecar manifest `<file>.json`: what the camera says about a recording. Parsed with a
 * schema so that a malformed manifest yields one clear reason (the recording is then quarantined, not lost).
 */
import { z } from 'zod';
import type { DeclaredFacts } from '../domain/types';
import { UNIT_ID_PATTERN } from '../domain/roles';

const manifestSchema = z
  .object({
    deviceId: z.string().trim().min(1).max(128),
    officerId: z.string().trim().min(1).max(128).optional(),
    unit: z
      .string()
      .regex(UNIT_ID_PATTERN, 'must be a unit id: letters, digits and . _ : -, at most 128 characters')
      .optional(),
    recordedAt: z.iso.datetime({ offset: true }),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters')
      .transform((s) => s.toLowerCase())
      .optional(),
    durationS: z.number().positive().finite().optional(),
  })
  .strict();

export type ManifestParse = { ok: true; declared: DeclaredFacts } | { ok: false; problem: string };

export function parseManifest(text: string, name = 'manifest'): ManifestParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      problem: `${name} is not valid JSON (${(err as Error).message}); the dock must write UTF-8 JSON`,
    };
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return {
      ok: false,
      problem: `${name} does not match the manifest schema (${issues}); expected {deviceId, recordedAt (ISO 8601 with offset), optional officerId, unit, sha256, durationS}`,
    };
  }
  const m = parsed.data;
  return {
    ok: true,
    declared: {
      deviceId: m.deviceId,
      recordedAt: new Date(m.recordedAt).toISOString(),
      ...(m.officerId && { officerId: m.officerId }),
      ...(m.unit && { unit: m.unit }),
      ...(m.sha256 && { sha256: m.sha256 }),
      ...(m.durationS !== undefined && { durationS: m.durationS }),
    },
  };
}
