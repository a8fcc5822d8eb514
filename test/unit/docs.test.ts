/**
 * Keeps README.md and docs/ true to the code: the reference pages list exactly what the code has (variables,
 * commands and flags, exit codes, rule packs, custody-log actions, states, metrics), and every link resolves.
 * A failure names what to add to, or remove from, which page.
 */
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { VARIABLES } from '../../workers/config';
import { program } from '../../cli/main';
import { EXIT } from '../../cli/context';
import { CUSTODY_ACTIONS } from '../../domain/custody-log';
import { LIFECYCLE_STATES, QUARANTINE_REASONS, STAGES } from '../../domain/types';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const read = (relative: string) => readFileSync(path.join(REPO_ROOT, relative), 'utf8');
const DOC_PAGES = readdirSync(path.join(REPO_ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const MARKDOWN_FILES = ['README.md', ...DOC_PAGES];

/** Fenced code blocks hold diagrams and shell lines, not prose: links and tables inside them do not count. */
function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** The cells of every table row (separator rows left out), trimmed. */
function tableRows(markdown: string): string[][] {
  return withoutCodeBlocks(markdown)
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

/** The rows whose first cell is one backticked name matching `pattern`, by that name. */
function rowsByCodeName(markdown: string, pattern: RegExp): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const cells of tableRows(markdown)) {
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (name !== undefined && pattern.test(name)) rows.set(name, cells);
  }
  return rows;
}

function headings(markdown: string): string[] {
  return [...withoutCodeBlocks(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)].map((m) => m[1]!);
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const heading of headings(markdown)) {
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The sections under `### ` headings, by heading text. */
function level3Sections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  const parts = withoutCodeBlocks(markdown)
    .split(/^### +/m)
    .slice(1);
  for (const part of parts) {
    const newline = part.indexOf('\n');
    const heading = part.slice(0, newline).trim();
    const body = part.slice(newline + 1).split(/^#{1,2} /m)[0]!;
    sections.set(heading, body);
  }
  return sections;
}

const sorted = (values: Iterable<string>) => [...values].sort();

describe('README.md', () => {
  it('stays a five-minute read (under 8 KB); reference material belongs in docs/', () => {
    expect(Buffer.byteLength(read('README.md'))).toBeLessThan(8 * 1024);
  });

  it('links every page in docs/', () => {
    const readme = read('README.md');
    const unlinked = DOC_PAGES.filter((page) => !readme.includes(`](${page})`));
    expect(unlinked).toEqual([]);
  });
});

describe('links in README.md and docs/', () => {
  const links = MARKDOWN_FILES.flatMap((file) =>
    [...withoutCodeBlocks(read(file)).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ file, target: m[1]! })),
  );
  const local = links.filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));

  it('finds the links it checks', () => {
    expect(local.length).toBeGreaterThan(20);
  });

  it('resolve to a file or folder of this repository', () => {
    const broken = local
      .map(({ file, target }) => ({ file, target, resolved: target.split('#')[0]! }))
      .filter(({ resolved }) => resolved !== '')
      .filter(({ file, resolved }) => !existsSync(path.join(REPO_ROOT, path.dirname(file), resolved)))
      .map(({ file, target }) => `${file}: ${target}`);
    expect(broken).toEqual([]);
  });

  it('point to headings that exist when they name an anchor', () => {
    const broken = local
      .filter(({ target }) => target.includes('#'))
      .filter(({ file, target }) => {
        const [relative, anchor] = target.split('#') as [string, string];
        const page =
          relative === '' ? path.join(REPO_ROOT, file) : path.join(REPO_ROOT, path.dirname(file), relative);
        if (!page.endsWith('.md') || !existsSync(page) || statSync(page).isDirectory()) return true;
        return !headingAnchors(readFileSync(page, 'utf8')).has(anchor);
      })
      .map(({ file, target }) => `${file}: ${target}`);
    expect(broken).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  const rows = rowsByCodeName(read('docs/configuration.md'), /^[A-Z][A-Z0-9_]+$/);

  /** How the table shows a default: machine-specific ones in words, paths relative to the repository, unset as a dash. */
  function shownDefault(fallback: string | undefined): string {
    if (fallback === undefined || fallback === '') return '–';
    if (fallback === tmpdir()) return 'the OS temp directory';
    if (fallback === hostname()) return "this machine's host name";
    if (path.isAbsolute(fallback)) return `\`${path.relative(REPO_ROOT, fallback)}\``;
    return `\`${fallback}\``;
  }

  it('lists exactly the variables workers/config.ts reads', () => {
    expect(sorted(rows.keys())).toEqual(sorted(Object.keys(VARIABLES)));
  });

  it('shows each variable with its default', () => {
    const wrong = Object.entries(VARIABLES)
      .map(([name, spec]) => ({
        name,
        expected: shownDefault('fallback' in spec ? spec.fallback : undefined),
      }))
      .filter(({ name, expected }) => rows.get(name)?.[1] !== expected)
      .map(({ name, expected }) => `${name}: expected ${expected}, documented ${rows.get(name)?.[1]}`);
    expect(wrong).toEqual([]);
  });
});

describe('docs/cli.md', () => {
  const cliPage = read('docs/cli.md');

  interface Registered {
    name: string;
    args: string[];
    flags: string[];
  }

  function registeredCommands(command: Command, prefix: string[] = []): Registered[] {
    return command.commands.flatMap((sub) => {
      const words = [...prefix, sub.name()];
      if (sub.commands.length > 0) return registeredCommands(sub, words);
      return [
        {
          name: words.join(' '),
          args: sub.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)),
          flags: sub.options.map((o) => o.long!),
        },
      ];
    });
  }

  /** `### \`custody policy apply <pack>\`` → name "policy apply", args ["<pack>"], and the flags listed below. */
  const documented = new Map<string, { args: string[]; flags: string[] }>();
  for (const [heading, body] of level3Sections(cliPage)) {
    const synopsis = /^`custody ([^`]+)`$/.exec(heading)?.[1];
    if (synopsis === undefined) continue;
    const words = synopsis.split(' ');
    const firstArg = words.findIndex((w) => w.startsWith('<') || w.startsWith('['));
    const nameWords = firstArg === -1 ? words : words.slice(0, firstArg);
    documented.set(nameWords.join(' '), {
      args: firstArg === -1 ? [] : words.slice(firstArg),
      flags: [...body.matchAll(/^- `(--[a-z0-9-]+)/gm)].map((m) => m[1]!),
    });
  }
  const registered = registeredCommands(program);

  it('finds the commands of cli/main.ts', () => {
    expect(registered.map((c) => c.name)).toEqual(expect.arrayContaining(['ingest', 'policy apply']));
  });

  it('has a section for exactly the commands cli/main.ts registers', () => {
    expect(sorted(documented.keys())).toEqual(sorted(registered.map((c) => c.name)));
  });

  it('names each command with its arguments and lists exactly its flags', () => {
    for (const command of registered) {
      const page = documented.get(command.name);
      expect({ command: command.name, args: page?.args, flags: sorted(page?.flags ?? []) }).toEqual({
        command: command.name,
        args: command.args,
        flags: sorted(command.flags),
      });
    }
  });

  it('explains every exit code of cli/context.ts', () => {
    const codes = tableRows(cliPage)
      .map((cells) => cells[0] ?? '')
      .filter((cell) => /^\d+$/.test(cell))
      .map(Number);
    // 78 (EX_CONFIG) comes from workers/config.ts's loadConfigOrExit, before any command runs.
    expect(codes.sort((a, b) => a - b)).toEqual([...Object.values(EXIT), 78].sort((a, b) => a - b));
  });

  it('lists every state and stage where `custody list` takes them', () => {
    const list = level3Sections(cliPage).get('`custody list`') ?? '';
    const missing = [...LIFECYCLE_STATES, ...STAGES].filter((value) => !list.includes(`\`${value}\``));
    expect(missing).toEqual([]);
  });
});

describe('docs/retention.md', () => {
  it('lists every rule pack in policies/ with its retention', () => {
    const rows = rowsByCodeName(read('docs/retention.md'), /^[a-z0-9-]+$/);
    const packs = readdirSync(path.join(REPO_ROOT, 'policies'))
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => parseYaml(read(`policies/${name}`)) as { id: string; retention: string });
    expect(sorted(rows.keys())).toEqual(sorted(packs.map((p) => p.id)));
    const wrong = packs
      .filter((pack) => !rows.get(pack.id)?.includes(`\`${pack.retention}\``))
      .map((pack) => `${pack.id}: ${pack.retention}`);
    expect(wrong).toEqual([]);
  });
});

describe('docs/custody-log.md', () => {
  it('lists exactly the actions of domain/custody-log.ts', () => {
    const rows = rowsByCodeName(read('docs/custody-log.md'), /^[a-z]+\.[a-z-]+$/);
    expect(sorted(rows.keys())).toEqual(sorted(CUSTODY_ACTIONS));
  });
});

describe('docs/lifecycle.md', () => {
  const lifecycle = read('docs/lifecycle.md');

  it('names every state a recording can be in', () => {
    expect(LIFECYCLE_STATES.filter((state) => !new RegExp(`\\b${state}\\b`).test(lifecycle))).toEqual([]);
  });

  it('names every quarantine reason', () => {
    expect(QUARANTINE_REASONS.filter((reason) => !lifecycle.includes(`\`${reason}\``))).toEqual([]);
  });
});

describe('metrics named in README.md and docs/', () => {
  /** Metric names as the code spells them (prom-client names; Temporal meter names get `_total` on export). */
  function metricNamesInCode(): Set<string> {
    const names = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
          for (const m of readFileSync(full, 'utf8').matchAll(/['"`](custody_[a-z0-9_]+)['"`]/g))
            names.add(m[1]!);
        }
      }
    };
    for (const room of ['domain', 'workflows', 'activities', 'workers']) walk(path.join(REPO_ROOT, room));
    return names;
  }

  it('exist in the code', () => {
    const inCode = metricNamesInCode();
    const named = new Set(MARKDOWN_FILES.flatMap((file) => read(file).match(/\bcustody_[a-z0-9_]+/g) ?? []));
    expect(named.size).toBeGreaterThan(10);
    const unknown = [...named].filter(
      (name) => !inCode.has(name) && !inCode.has(name.replace(/_total$/, '')),
    );
    expect(unknown).toEqual([]);
  });
});
