import { listQuery } from './list';

test('list filters become one visibility query over search attributes', () => {
  expect(listQuery({ state: 'held', policy: 'bw-polg-44', device: "cam-'7" })).toBe(
    "WorkflowType = 'recordingLifecycle' AND CustodyState = 'held' AND CustodyPolicy = 'bw-polg-44' AND CustodyDeviceId = 'cam-\\'7'",
  );
  expect(listQuery({ overdue: true }, new Date('2026-11-23T00:00:00Z'))).toContain(
    "CustodyHeld = false AND CustodyDeleteAfter < '2026-11-23T00:00:00.000Z'",
  );
});

test('unknown states and stages are refused with the valid ones', () => {
  expect(() => listQuery({ state: 'archived' })).toThrow(
    /--state archived is not a state: one of ingesting, .*quarantined/,
  );
  expect(() => listQuery({ stage: 'upload' })).toThrow(
    /--stage upload is not a stage: one of ingest, transcode/,
  );
});
