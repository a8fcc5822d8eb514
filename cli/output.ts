/** Output conventions, after Temporal's CLI: aligned tables and key/value blocks for people, JSON for scripts. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatTable(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

export function formatFields(fields: [string, string | number | boolean | undefined | null][]): string {
  const shown = fields.filter(([, v]) => v !== undefined && v !== null && v !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`).join('\n');
}

export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A progress line: a bar with bytes, rate and ETA on a terminal; plain lines every few seconds otherwise. */
export function createProgress(total: number, label: string, stream: NodeJS.WriteStream = process.stderr) {
  const started = Date.now();
  let lastPrint = 0;
  const render = (done: number, final = false) => {
    const now = Date.now();
    const seconds = Math.max((now - started) / 1000, 0.001);
    const rate = done / seconds;
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    const share = total > 0 ? done / total : 1;
    const text = `${humanBytes(done)} / ${humanBytes(total)}  ${humanBytes(rate)}/s  ETA ${eta.toFixed(0)}s`;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(share * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${text}\x1b[K`,
      );
      if (final) stream.write('\n');
    } else if (final || now - lastPrint >= 5000) {
      lastPrint = now;
      stream.write(`${label}: ${(share * 100).toFixed(0)}%  ${text}\n`);
    }
  };
  let lastRender = 0;
  return {
    update(done: number) {
      const now = Date.now();
      if (now - lastRender >= 200) {
        lastRender = now;
        render(done);
      }
    },
    finish(done: number) {
      render(done, true);
    },
  };
}
