import { createServer } from 'node:net';
import { freeLoopbackPorts } from './ports';

test('freeLoopbackPorts gives distinct ports that are free to bind', async () => {
  const ports = await freeLoopbackPorts(6);
  expect(new Set(ports).size).toBe(6);
  for (const port of ports) {
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  }
});
