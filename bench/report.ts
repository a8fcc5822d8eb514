/**
 * Results on disk: every run writes bench/out/run-<stamp>/{results.json,RESULTS.md}; the committed
 * bench/results.json and bench/RESULTS.md keep the newest result of every case, where a --quick result never
 * replaces a full one (a quick run is a smoke test of the harness, not a measurement to publish).
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { MachineInfo, Versions } from './environment';
import { pairedRatio, type ResultRow, type Stats, type Unit } from './runner';

export interface RunInfo {
  id: string;
  /** ISO 8601, when the run started. */
  date: string;
  mode: 'full' | 'quick';
  /** The command-line arguments after `run.js`. */
  args: string[];
  revision: string;
  machine: MachineInfo;
  versions: Versions;
  /** 1/5/15-minute load averages when the run started and ended: a busy shared machine shows here. */
  loadAverage: { atStart: number[]; atEnd?: number[] };
}

export interface CaseRecord {
  case: string;
  title: string;
  run: RunInfo;
  seconds: number;
  rows: ResultRow[];
  /** Set when the case threw instead of producing rows. */
  error?: string;
}

export interface ResultsFile {
  about: string;
  cases: Record<string, CaseRecord>;
}

const ABOUT =
  'Written by `npm run bench` (bench/run.ts); the newest result per case, full runs preferred over --quick. ' +
  'Medians over n repetitions; subject and baseline ran side by side in the same process run, in alternating order.';

export function readResults(file: string): ResultsFile {
  if (!existsSync(file)) return { about: ABOUT, cases: {} };
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
  return { about: ABOUT, cases: parsed.cases ?? {} };
}

/** The committed file after this run: a case's entry is replaced unless a quick result would replace a full one. */
export function mergeResults(committed: ResultsFile, records: CaseRecord[]): ResultsFile {
  const cases = { ...committed.cases };
  for (const record of records) {
    const existing = cases[record.case];
    const downgrade = existing?.run.mode === 'full' && record.run.mode === 'quick' && !existing.error;
    if (!downgrade) cases[record.case] = record;
  }
  return { about: ABOUT, cases };
}

function formatValue(value: number, unit: Unit): string {
  const digits = unit === 's' ? 1 : value < 10 ? 1 : 0;
  return value.toFixed(digits);
}

function formatStats(stats: Stats, unit: Unit): string {
  return `**${formatValue(stats.median, unit)}** (${formatValue(stats.min, unit)}–${formatValue(stats.max, unit)})`;
}

function verdict(row: ResultRow): string {
  if (row.pass === undefined) return 'report';
  return row.pass ? 'PASS' : '**FAIL**';
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** Median CPU per run, custody / baseline, e.g. "2.1 / 1.7 CPU s/GB". */
function cpuCell(row: ResultRow): string {
  if (!row.cpu) return '—';
  const digits = (v: number) => v.toFixed(v < 10 ? 2 : 1);
  const baseline = row.cpu.baseline ? ` / ${digits(row.cpu.baseline.median)}` : '';
  return `${digits(row.cpu.subject.median)}${baseline} ${row.cpu.unit}`;
}

const loadText = (load: number[]) => load.map((l) => l.toFixed(1)).join(' / ');

/**
 * `findings`: hand-written analysis (bench/FINDINGS.md: profiles, bottlenecks, suggested changes), kept as
 * its own section so a re-run that rewrites the table never loses it.
 */
export function renderMarkdown(results: ResultsFile, title = 'Benchmark results', findings?: string): string {
  const records = Object.values(results.cases);
  const runs = new Map<string, RunInfo>();
  for (const record of records) runs.set(record.run.id, record.run);
  const lines: string[] = [
    `# ${title}`,
    '',
    'Written by `npm run bench` (bench/run.ts) — do not edit by hand, except bench/FINDINGS.md, which is copied ' +
      'in below the table. Full run: `npm run bench` (2 cores: ~20 min for ingest/rehash/copy/memory/transcode, ' +
      '~30 min for lifecycle/orchestration/temporal-overhead, and the 10,000-recording deletion sweep ~1 h ' +
      'more; `BENCH_SWEEP_N` makes it smaller); smoke test: `npm run bench -- --quick`; one case: ' +
      '`npm run bench -- --only ingest`. Raw samples: [results.json](results.json).',
    '',
    'Each cell: **median** (min–max) over n repetitions. Subject and baseline ran side by side in the same run, in ' +
      'rotating order after a warm-up, on a fresh versitygw on loopback; inputs are page-cached files of ' +
      'pseudo-random bytes. MB = 10⁶ bytes. ratio = median ÷ median, which decides the result; "paired" is the ' +
      'median of the per-round ratios, which cancels load that changed between rounds. CPU = user + system seconds ' +
      'of the harness, its child processes and versitygw per run (per GB for throughput rows), and for the ' +
      'end-to-end cases (lifecycle, orchestration, deletion-sweep) also Temporal and the worker processes with ' +
      'their ffmpeg/ffprobe children; their notes split it per process: on a shared machine it moves less ' +
      'than wall time. A --quick result never replaces a full one here.',
    '',
    '| case | measure | custody | baseline | unit | n | ratio | target | result | CPU custody / baseline | run |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const record of records) {
    if (record.error) {
      lines.push(
        `| ${record.case} | ${cell(record.title)} | — | — | — | — | — | — | **ERROR** | — | ${record.run.id} |`,
      );
      continue;
    }
    for (const row of record.rows) {
      const baseline = row.baseline
        ? `${cell(row.baseline.label)}: ${formatStats(row.baseline.stats, row.unit)}`
        : '—';
      const paired = pairedRatio(row);
      const ratio =
        row.ratio === undefined
          ? '—'
          : `${row.ratio.toFixed(2)}×${paired === undefined ? '' : ` (paired ${paired.toFixed(2)}×)`}`;
      const target = row.target
        ? `${row.target.op === '>=' ? '≥' : '≤'} ${row.target.value}${row.targetOn === 'value' ? ` ${row.unit}` : '×'}`
        : '—';
      lines.push(
        `| ${row.case} | ${cell(row.measure)} | ${cell(row.subject.label)}: ${formatStats(row.subject.stats, row.unit)} ` +
          `| ${baseline} | ${row.unit} | ${row.subject.stats.n} | ${ratio} | ${target} | ${verdict(row)} | ${cpuCell(row)} ` +
          `| ${record.run.id} |`,
      );
    }
  }
  const notes = records.flatMap((record) =>
    record.error
      ? [`- **${record.case}** failed: ${record.error.split('\n')[0]}`]
      : record.rows
          .filter((row) => row.note || row.ratioMeaning)
          .map(
            (row) =>
              `- ${row.case}, ${row.measure}: ratio = ${row.ratioMeaning ?? '—'}${row.note ? `; ${row.note}` : ''}`,
          ),
  );
  if (notes.length) lines.push('', '## Notes', '', ...notes);
  if (findings?.trim()) lines.push('', '## Findings and profiles', '', findings.trim());
  lines.push('', '## Runs', '');
  for (const run of [...runs.values()].sort((a, b) => a.date.localeCompare(b.date))) {
    const m = run.machine;
    lines.push(
      `### ${run.id} (${run.mode})`,
      '',
      `- date: ${run.date}; revision ${run.revision}; arguments: \`${run.args.join(' ') || '(none)'}\``,
      `- load average (1/5/15 min): ${loadText(run.loadAverage.atStart)} at the start, ` +
        `${run.loadAverage.atEnd ? loadText(run.loadAverage.atEnd) : 'unknown'} at the end`,
      `- machine: ${m.cores} cores, ${m.cpuModel}${m.shaExtensions ? ' (SHA extensions)' : ''}, ` +
        `${m.memoryGiB} GiB memory, ${m.kernel}`,
      `- versions: ${Object.entries(run.versions)
        .map(([name, version]) => `${name} ${version}`)
        .join('; ')}`,
      '',
    );
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/**
 * Formats with the repository's prettier settings when prettier is installed (a dev dependency), so the
 * committed files pass `npm run lint` as written; without it the text is written as generated.
 */
async function formatted(file: string, text: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...options, filepath: file });
  } catch {
    return text;
  }
}

export async function writeResults(
  jsonFile: string,
  markdownFile: string,
  results: ResultsFile,
  title?: string,
  findings?: string,
) {
  await writeFile(jsonFile, await formatted(jsonFile, `${JSON.stringify(results, null, 2)}\n`));
  await writeFile(markdownFile, await formatted(markdownFile, renderMarkdown(results, title, findings)));
}
