/**
 * /healthz (the process is alive), /readyz (every pool of this process is polling) and /metrics (custody's
 * registry followed by the Temporal SDK's own Prometheus metrics, scraped from its local exporter).
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSources {
  registry: Registry;
  isReady(): boolean;
  /** The SDK's exporter, e.g. http://127.0.0.1:9465/metrics; omitted in tests that run no Runtime exporter. */
  sdkMetricsUrl?: string;
}

export async function startHttpServer(
  port: number,
  sources: HealthSources,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/healthz') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        } else if (req.url === '/readyz') {
          const ready = sources.isReady();
          res
            .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
            .end(ready ? 'ready\n' : 'not ready\n');
        } else if (req.url === '/metrics') {
          let body = await sources.registry.metrics();
          if (sources.sdkMetricsUrl) {
            const sdk = await fetch(sources.sdkMetricsUrl, { signal: AbortSignal.timeout(2000) })
              .then((r) => r.text())
              .catch(() => '');
            body = `${body.trimEnd()}\n${sdk}`;
          }
          res.writeHead(200, { 'content-type': sources.registry.contentType }).end(body);
        } else {
          res
            .writeHead(404, { 'content-type': 'text/plain' })
            .end('not found: try /healthz, /readyz or /metrics\n');
        }
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', resolve);
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}
