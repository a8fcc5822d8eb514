// Integration tests drive real servers and real ffmpeg: minutes, not the unit default of 5 s.
jest.setTimeout(Number(process.env.CUSTODY_TEST_TIMEOUT_MS ?? 180_000));
