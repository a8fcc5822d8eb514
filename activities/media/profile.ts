/**
 * The transcode profile: data with a schema, validated once when the worker starts. Defaults follow the
 * issue: libx264 veryfast CRF 23, at most 720p, a sprite frame every 10 s.
 */
import { z } from 'zod';

const X264_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
  'slower',
  'veryslow',
] as const;

export const transcodeProfileSchema = z
  .object({
    /** libx264 speed/size trade-off. */
    preset: z.enum(X264_PRESETS),
    /** libx264 constant rate factor: lower is better quality and larger files. */
    crf: z.number().min(0).max(51),
    /**
     * Bound of the proxy's SHORTER displayed side ("720p"): landscape 1920x1080 → 1280x720, portrait
     * 1080x1920 → 720x1280. Never upscales. Even, because H.264 4:2:0 needs even dimensions.
     */
    maxShortSide: z
      .number()
      .int()
      .min(144)
      .max(2160)
      .refine((n) => n % 2 === 0, 'must be even'),
    audioBitrateK: z.number().int().min(32).max(512),
    /** One sprite tile every N seconds of recording (raised for long recordings, see spriteMaxTiles). */
    spriteIntervalS: z.number().int().min(1).max(3600),
    spriteTileWidth: z
      .number()
      .int()
      .min(32)
      .max(640)
      .refine((n) => n % 2 === 0, 'must be even'),
    spriteColumns: z.number().int().min(1).max(32),
    /** Caps the sprite image size for long recordings by widening the interval instead. */
    spriteMaxTiles: z.number().int().min(1).max(2000),
    /** The poster frame is taken at min(posterAtS, 10 % of the duration). */
    posterAtS: z.number().min(0).max(3600),
    /** JPEG quality of sprite and poster as ffmpeg's -q:v (2 best … 31 worst). */
    imageQuality: z.number().int().min(2).max(31),
  })
  .strict();

export type TranscodeProfile = z.infer<typeof transcodeProfileSchema>;

export const DEFAULT_TRANSCODE_PROFILE: TranscodeProfile = Object.freeze({
  preset: 'veryfast',
  crf: 23,
  maxShortSide: 720,
  audioBitrateK: 128,
  spriteIntervalS: 10,
  spriteTileWidth: 160,
  spriteColumns: 10,
  spriteMaxTiles: 400,
  posterAtS: 2,
  imageQuality: 4,
});

/** Where an operator sets a field, so that an error can name the fix. */
const CONFIG_NAMES: Partial<Record<keyof TranscodeProfile, string>> = {
  preset: 'CUSTODY_TRANSCODE_PRESET',
  crf: 'CUSTODY_TRANSCODE_CRF',
  spriteIntervalS: 'CUSTODY_SPRITE_INTERVAL_SECONDS',
};

/** Defaults overlaid with the given fields; throws an error naming every bad field and where to fix it. */
export function resolveTranscodeProfile(overrides: Partial<Record<keyof TranscodeProfile, unknown>> = {}) {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const parsed = transcodeProfileSchema.safeParse({ ...DEFAULT_TRANSCODE_PROFILE, ...defined });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    const configName = CONFIG_NAMES[field as keyof TranscodeProfile];
    const where = configName ? ` (set by ${configName})` : '';
    return field ? `${field}${where}: ${issue.message}` : issue.message;
  });
  throw new Error(`Invalid transcode profile: ${problems.join('; ')}`);
}
