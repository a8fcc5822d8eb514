// Integration tests drive real servers and real ffmpeg: minutes, not the unit default of 5 s.
import { Runtime, DefaultLogger } from '@temporalio/worker';

jest.setTimeout(Number(process.env.CUSTODY_TEST_TIMEOUT_MS ?? 180_000));

// Workers in tests log warnings and errors only; jest may reuse this process for several files.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  /* already installed in this process */
}
