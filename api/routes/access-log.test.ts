import { parse } from 'csv-parse/sync';
import { accessLogCsv, recordVisible, windowOf } from './access-log';
import type { ExportedAccessRecord } from '../access-audit';

const record = (overrides: Partial<ExportedAccessRecord> = {}): ExportedAccessRecord => ({
  version: 1,
  recordId: 'r-1',
  time: '2026-03-04T10:15:00.123Z',
  requestId: 'req-1',
  action: 'media.url',
  method: 'GET',
  route: '/v1/recordings/:id/media/:object',
  recordingId: '0123456789abcdef0123',
  recordingUnit: 'nord',
  object: { kind: 'proxy', bucket: 'd', key: 'recordings/0123456789abcdef0123/proxy.mp4', versionId: 'v1' },
  who: {
    issuer: 'https://idp.example.org',
    subject: 'alice',
    pseudonym: 's-1',
    roles: ['investigator', 'viewer'],
    units: ['nord'],
  },
  client: { address: '10.0.0.7' },
  outcome: 'granted',
  status: 200,
  retainUntil: '2036-04-01T00:00:00.000Z',
  stored: { key: 'access-log/by-recording/x/y.json', versionId: 'sv1' },
  problems: [],
  ...overrides,
});

describe('CSV (RFC 4180)', () => {
  test('a header row, CRLF line ends, one row per record in the order given', () => {
    const text = accessLogCsv([record(), record({ recordId: 'r-2', time: '2026-03-04T11:00:00.000Z' })]);
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(
      'time,recordId,requestId,action,outcome,status,method,route,recordingId,recordingUnit,object,objectKey,' +
        'objectVersionId,objectSha256,filter,count,issuer,subject,pseudonym,roles,units,officerId,clientAddress,' +
        'retainUntil,storedKey,storedVersionId,problems',
    );
    expect(lines).toHaveLength(4); // header, two rows, and the empty string after the last CRLF
    expect(lines[3]).toBe('');
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    expect(lines[1]).toContain(',investigator viewer,nord,,10.0.0.7,');
  });

  test('commas, quotes and line breaks are quoted; the rows parse back to the values', () => {
    const tricky = record({
      who: { issuer: 'i', subject: 'o"brien, "the second"\nline', pseudonym: 's-2', roles: [], units: [] },
      filter: { state: 'retained', limit: 50 },
      problems: ['shadowed by version 2', 'not JSON'],
    });
    const rows = parse<Record<string, string>>(accessLogCsv([tricky]), { columns: true });
    expect(rows[0]).toMatchObject({
      subject: 'o"brien, "the second"\nline',
      filter: '{"state":"retained","limit":50}',
      problems: 'shadowed by version 2 | not JSON',
      status: '200',
      count: '',
    });
  });

  test('a cell a spreadsheet would run as a formula is defused', () => {
    const text = accessLogCsv([record({ requestId: '=HYPERLINK("http://evil")', recordingUnit: '+1' })]);
    const rows = parse<Record<string, string>>(text, { columns: true });
    expect(rows[0]!.requestId).toBe('\'=HYPERLINK("http://evil")');
    expect(rows[0]!.recordingUnit).toBe("'+1");
  });

  test('no records: the header alone', () => {
    expect(accessLogCsv([]).split('\r\n')).toHaveLength(2);
  });
});

describe('the time window', () => {
  test('instants and dates (a date is its start in UTC); from after to is refused', () => {
    expect(windowOf({ from: '2026-03-01', to: '2026-03-02T12:00:00+02:00' })).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-02T10:00:00.000Z',
    });
    expect(windowOf({})).toEqual({});
    expect(() => windowOf({ from: '2026-03-02', to: '2026-03-01' })).toThrow(
      /from 2026-03-02 is after to 2026-03-01/,
    );
  });
});

describe('unit scoping of the export by person', () => {
  test("records of a recording by the recording's unit; lists by the units the person acted for", () => {
    expect(recordVisible(['nord'], record())).toBe(true);
    expect(recordVisible(['sued'], record())).toBe(false);
    expect(recordVisible(['*'], record({ recordingUnit: undefined }))).toBe(true);
    expect(recordVisible(['nord'], record({ recordingUnit: undefined }))).toBe(false);
    const list = record({ recordingId: undefined, recordingUnit: undefined, action: 'recording.list' });
    expect(recordVisible(['nord'], list)).toBe(true);
    expect(recordVisible(['sued'], list)).toBe(false);
    const unreadable: ExportedAccessRecord = { stored: { key: 'k', versionId: 'v' }, problems: ['not JSON'] };
    expect(recordVisible(['nord'], unreadable)).toBe(false);
    expect(recordVisible(['*'], unreadable)).toBe(true);
  });
});
