/**
 * Loads every rule pack (*.yaml, *.yml) from a directory, validates it against RulePackSchema and checks
 * what no single file can: unique ids and that derivedFrom names a loaded pack. All problems of all files
 * are reported together, each as `file:line field: what is wrong (expected form)`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { canonicalJson, sha256Hex } from '../custody-log/chain';
import { RulePackSchema, type RulePack } from './rule-pack';

export type LoadedRulePack = RulePack & {
  /** SHA-256 of the canonical JSON of every field but version: which exact rules a deadline used. */
  fingerprint: string;
  /** The file it came from, for messages. */
  file: string;
};

export class RulePackError extends Error {
  override name = 'RulePackError';
  constructor(
    summary: string,
    readonly problems: readonly string[],
  ) {
    super(problems.length > 0 ? `${summary}:\n  ${problems.join('\n  ')}` : summary);
  }
}

export interface RulePackRegistry {
  readonly packs: readonly LoadedRulePack[];
  ids(): string[];
  /** Throws RulePackError naming the known ids when `id` is unknown. */
  getPack(id: string): LoadedRulePack;
}

type PackParse = { ok: true; pack: LoadedRulePack } | { ok: false; problems: string[] };

/** Parses and validates one pack's YAML text; `file` only labels messages. */
export function parseRulePack(text: string, file: string): PackParse {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined) =>
    offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`;

  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => `${where(error.pos[0])} invalid YAML: ${error.message}`),
    };
  }
  if (!isMap(document.contents)) {
    return { ok: false, problems: [`${file} expected a YAML mapping of fields (id, version, retention, …)`] };
  }
  const result = RulePackSchema.safeParse(document.toJS(), { reportInput: true });
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues.map((issue) => {
        // Point at the offending value; an unknown key at that key's value; a missing field has no line.
        const nodePath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
        const node = document.getIn(nodePath as unknown[], true) as { range?: [number, number] } | undefined;
        return `${where(node?.range?.[0])} ${describeIssue(issue)}`;
      }),
    };
  }
  // The version is left out so that a content change shows as a new fingerprint under the old version.
  const { version: _version, ...content } = result.data;
  const fingerprint = sha256Hex(canonicalJson(content));
  return { ok: true, pack: { ...result.data, fingerprint, file } };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${field}: unknown field ${issue.keys.join(', ')}; see policies/rule-pack.schema.json for the allowed fields`;
  }
  const missing = issue.code === 'invalid_type' && issue.input === undefined ? 'missing; ' : '';
  return `${field}: ${missing}${issue.message}`;
}

/** Reads every pack in `directory`; throws one RulePackError listing every problem found. */
export async function loadRulePacks(directory: string): Promise<RulePackRegistry> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => /\.ya?ml$/.test(name)).sort();
  } catch (error) {
    throw new RulePackError(
      `cannot read the rule pack directory ${directory} (${(error as Error).message}); set CUSTODY_POLICY_DIR to the folder holding the *.yaml packs`,
      [],
    );
  }
  if (names.length === 0) {
    throw new RulePackError(
      `no rule packs (*.yaml) in ${directory}; set CUSTODY_POLICY_DIR to the policies folder`,
      [],
    );
  }

  const problems: string[] = [];
  const packs: LoadedRulePack[] = [];
  for (const name of names) {
    const file = path.join(directory, name);
    const parsed = parseRulePack(await readFile(file, 'utf8'), file);
    if (parsed.ok) packs.push(parsed.pack);
    else problems.push(...parsed.problems);
  }

  const byId = new Map<string, LoadedRulePack>();
  for (const pack of packs) {
    const earlier = byId.get(pack.id);
    if (earlier)
      problems.push(`${pack.file} id: duplicate id ${pack.id}, already defined in ${earlier.file}`);
    else byId.set(pack.id, pack);
  }
  for (const pack of packs) {
    if (pack.derivedFrom !== undefined && !byId.has(pack.derivedFrom)) {
      problems.push(
        `${pack.file} derivedFrom: unknown rule pack ${pack.derivedFrom}; known: ${[...byId.keys()].join(', ')}`,
      );
    }
  }
  if (problems.length > 0) throw new RulePackError(`invalid rule packs in ${directory}`, problems);

  const ids = [...byId.keys()].sort();
  return {
    packs,
    ids: () => [...ids],
    getPack(id: string): LoadedRulePack {
      const pack = byId.get(id);
      if (!pack) throw new RulePackError(`unknown rule pack ${id}; known: ${ids.join(', ')}`, []);
      return pack;
    },
  };
}
