import { accessLogRequest, accessLogTable } from './access-log';

test("a recording's reads, or a subject's, with the time window and format passed on", () => {
  expect(accessLogRequest('rec-1', { format: 'json' })).toEqual({
    route: '/v1/recordings/rec-1/access-log',
    query: { from: undefined, to: undefined, format: 'json' },
  });
  expect(
    accessLogRequest(undefined, {
      user: 'sub/1',
      from: '2030-01-01',
      to: '2030-02-01T00:00:00Z',
      format: 'csv',
    }),
  ).toEqual({
    route: '/v1/access-log',
    query: { subject: 'sub/1', from: '2030-01-01', to: '2030-02-01T00:00:00Z', format: 'csv' },
  });
  expect(accessLogRequest('../x', { format: 'json' }).route).toBe('/v1/recordings/..%2Fx/access-log');
});

test('exactly one of a recording id and --user; times must be times', () => {
  expect(() => accessLogRequest(undefined, { format: 'json' })).toThrow(/either a recording id or --user/);
  expect(() => accessLogRequest('rec-1', { user: 's', format: 'json' })).toThrow(/not both/);
  expect(() => accessLogRequest('rec-1', { from: 'last tuesday', format: 'json' })).toThrow(
    /--from last tuesday: not a time/,
  );
});

test('the table has a column per field, in the order the API gives them, nested values as JSON', () => {
  const text = accessLogTable([
    { time: '2030-01-01T10:00:00Z', subject: 'a7b73c06', action: 'view', recordingId: 'rec-1' },
    { time: '2030-01-01T11:00:00Z', subject: 'dbaf6ac1', action: 'download', client: { ip: 'a-1' } },
  ]);
  expect(text.split('\n')).toEqual([
    'TIME                  SUBJECT   ACTION    RECORDING ID  CLIENT',
    '2030-01-01T10:00:00Z  a7b73c06  view      rec-1',
    '2030-01-01T11:00:00Z  dbaf6ac1  download                {"ip":"a-1"}',
  ]);
  expect(accessLogTable([])).toBe('(no recorded access)');
});
