/** The benchmark's pure logic: statistics, ratios and targets, run order, result merging, derived ffmpeg args. */
import { buildTranscodePlan, DEFAULT_TRANSCODE_PROFILE, type MediaInfo } from '../activities/media/ffmpeg';
import { proxyOnlyArgs } from './cases/transcode';
import { mergeResults, renderMarkdown, type CaseRecord, type RunInfo } from './report';
import { compareRow, pairedRatio, repeatInRotation, stats, type Stats } from './runner';

const of = (...samples: number[]): Stats => stats(samples);

describe('stats', () => {
  it('gives median, extremes and quartiles of unsorted samples', () => {
    expect(of(5, 1, 3)).toMatchObject({ n: 3, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
    expect(of(4, 1, 2, 3).median).toBe(2.5);
  });

  it('refuses an empty sample', () => {
    expect(() => stats([])).toThrow(/no samples/);
  });
});

describe('compareRow', () => {
  const row = (subject: number, baseline: number, target?: { op: '>=' | '<='; value: number }) =>
    compareRow({
      case: 'x',
      measure: 'm',
      unit: 'MB/s',
      subject: { label: 's', stats: of(subject) },
      baseline: { label: 'b', stats: of(baseline) },
      ...(target && { target }),
    });

  it('divides the medians and checks an at-least target', () => {
    expect(row(80, 100, { op: '>=', value: 0.8 })).toMatchObject({ ratio: 0.8, pass: true });
    expect(row(79, 100, { op: '>=', value: 0.8 }).pass).toBe(false);
  });

  it('checks an at-most target', () => {
    expect(row(105, 100, { op: '<=', value: 1.05 }).pass).toBe(true);
    expect(row(106, 100, { op: '<=', value: 1.05 }).pass).toBe(false);
  });

  it('pairs the samples of the same round for the paired ratio', () => {
    const paired = compareRow({
      case: 'x',
      measure: 'm',
      unit: 's',
      subject: { label: 's', stats: of(11, 30, 10) },
      baseline: { label: 'b', stats: of(10, 30, 10) },
    });
    expect(pairedRatio(paired)).toBeCloseTo(1, 5);
    expect(paired.ratio).toBeCloseTo(11 / 10, 5);
  });

  it('judges an absolute target on the custody figure, not on the ratio', () => {
    const absolute = (subject: number, baseline?: number) =>
      compareRow({
        case: 'x',
        measure: 'm',
        unit: 'rec/s',
        subject: { label: 's', stats: of(subject) },
        ...(baseline !== undefined && { baseline: { label: 'b', stats: of(baseline) } }),
        target: { op: '>=', value: 20 },
        targetOn: 'value',
      });
    expect(absolute(25, 100)).toMatchObject({ ratio: 0.25, pass: true });
    expect(absolute(19, 10)).toMatchObject({ ratio: 1.9, pass: false });
    expect(absolute(21)).toMatchObject({ pass: true });
    expect(absolute(21).ratio).toBeUndefined();
  });

  it('leaves pass undefined without a target', () => {
    expect(row(1, 2)).toMatchObject({ ratio: 0.5 });
    expect(row(1, 2).pass).toBeUndefined();
  });
});

describe('repeatInRotation', () => {
  it('alternates the order, drops warm-up samples and splits named measurements', async () => {
    const calls: string[] = [];
    const samples = await repeatInRotation(
      [
        { label: 'a', run: () => Promise.resolve((calls.push('a'), 1)) },
        { label: 'b', run: () => Promise.resolve((calls.push('b'), { x: 2, y: 3 })) },
      ],
      { warmup: 1, repetitions: 2, log: () => undefined, show: String },
    );
    expect(calls).toEqual(['a', 'b', 'b', 'a', 'a', 'b']);
    expect(samples.get('a')?.n).toBe(2);
    expect(samples.get('b x')?.median).toBe(2);
    expect(samples.get('b y')?.median).toBe(3);
    expect(samples.get('a cpu')?.n).toBe(2);
  });
});

describe('mergeResults', () => {
  const run = (mode: 'full' | 'quick', id: string): RunInfo => ({
    id,
    date: `2026-01-0${id}T00:00:00Z`,
    mode,
    args: [],
    revision: 'r',
    machine: { cores: 2, cpuModel: 'cpu', shaExtensions: true, memoryGiB: 8, kernel: 'Linux' },
    versions: {},
    loadAverage: { atStart: [0, 0, 0] },
  });
  const record = (mode: 'full' | 'quick', id: string): CaseRecord => ({
    case: 'ingest',
    title: 'ingest',
    run: run(mode, id),
    seconds: 1,
    rows: [
      compareRow({
        case: 'ingest',
        measure: 'upload',
        unit: 'MB/s',
        subject: { label: 's', stats: of(90) },
        baseline: { label: 'b', stats: of(100) },
        target: { op: '>=', value: 0.8 },
      }),
    ],
  });

  it('keeps a full result when a quick one arrives, and takes a newer full one', () => {
    const full = mergeResults({ about: '', cases: {} }, [record('full', '1')]);
    expect(mergeResults(full, [record('quick', '2')]).cases.ingest?.run.id).toBe('1');
    expect(mergeResults(full, [record('full', '3')]).cases.ingest?.run.id).toBe('3');
  });

  it('renders the ratio, the target and the verdict', () => {
    const markdown = renderMarkdown(mergeResults({ about: '', cases: {} }, [record('full', '1')]));
    expect(markdown).toMatch(
      /\| ingest \| upload \| s: \*\*90\*\* \(90–90\) \| b: \*\*100\*\* .*\| 0\.90× \| ≥ 0\.8× \| PASS \|/,
    );
  });
});

describe('renderMarkdown with absolute targets and findings', () => {
  it('prints the target in the row’s unit and keeps the hand-written findings', () => {
    const row = compareRow({
      case: 'deletion-sweep',
      measure: 'sweep',
      unit: 's',
      subject: { label: 'sweep', stats: of(700) },
      target: { op: '<=', value: 600 },
      targetOn: 'value',
    });
    const runInfo: RunInfo = {
      id: '1',
      date: '2026-01-01T00:00:00Z',
      mode: 'full',
      args: [],
      revision: 'r',
      machine: { cores: 2, cpuModel: 'cpu', shaExtensions: true, memoryGiB: 8, kernel: 'Linux' },
      versions: {},
      loadAverage: { atStart: [0, 0, 0] },
    };
    const markdown = renderMarkdown(
      mergeResults({ about: '', cases: {} }, [
        { case: 'deletion-sweep', title: 't', run: runInfo, seconds: 1, rows: [row] },
      ]),
      'Benchmark results',
      'Temporal saturates.',
    );
    expect(markdown).toMatch(
      /\| sweep: \*\*700\.0\*\* \(700\.0–700\.0\) \| — \| s \| 1 \| — \| ≤ 600 s \| \*\*FAIL\*\* \|/,
    );
    expect(markdown).toMatch(/## Findings and profiles\n\nTemporal saturates\.\n/);
  });
});

describe('proxyOnlyArgs', () => {
  const media: MediaInfo = {
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationS: 60,
    videoStreamIndex: 0,
    videoCodec: 'h264',
    audioStreamIndex: 1,
    audioCodec: 'aac',
    hasAudio: true,
    width: 1920,
    height: 1080,
    codedWidth: 1920,
    codedHeight: 1080,
    rotation: 0,
    fps: 30,
    bitRate: 15_000_000,
  };
  const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, media, {
    inputPath: '/in.mp4',
    outputDir: '/out',
  });

  it('keeps the scale chain and the proxy encoder settings, without sprite and poster', () => {
    const args = proxyOnlyArgs(plan);
    const graph = args[args.indexOf('-filter_complex') + 1];
    expect(graph).toBe('[0:0]scale=1280:720,setsar=1,format=yuv420p[proxy]');
    expect(args).toContain('/out/proxy.mp4');
    expect(args).not.toContain('/out/sprite.jpg');
    expect(args).not.toContain('/out/poster.jpg');
    const proxyOptions = plan.invocation.outputs.find((o) => o.kind === 'proxy')!.options;
    expect(args.slice(-proxyOptions.length - 1, -1)).toEqual(proxyOptions);
  });
});
