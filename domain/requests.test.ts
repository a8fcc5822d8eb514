/**
 * The rules of four-eyes requests: their lifetime and expiry, when an extension needs a second person, and the
 * recording officer. Expiry is tested here because the workflow tier's Temporal server cannot skip 72 hours; the
 * workflow refuses to decide or cancel whatever requestStateAt calls expired. Times are fixed instants.
 */
import type { AssertedPerson } from './assertion';
import {
  REQUEST_LIFETIME_MS,
  SOLE_EXTENSION_LIMIT,
  extensionNeedsApproval,
  isRecordingOfficer,
  requestExpiry,
  requestStateAt,
  type FourEyesRequest,
} from './requests';

const REQUESTED_AT = new Date('2026-03-27T16:30:00.000Z');
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const records: AssertedPerson = {
  issuer: 'https://idp.example',
  subject: 'records-1',
  roles: ['records-admin'],
};

function requestOf(state: FourEyesRequest['state']): FourEyesRequest {
  return {
    id: 'req-1',
    kind: 'deletion.early',
    params: {},
    reason: 'recorded by mistake',
    requestedBy: records,
    requestedAt: REQUESTED_AT.toISOString(),
    expiresAt: requestExpiry(REQUESTED_AT),
    state,
  };
}
const at = (msAfterRequest: number) => new Date(REQUESTED_AT.getTime() + msAfterRequest);

describe('lifetime', () => {
  test('a request waits 72 hours for a decision, counted in UTC across a daylight-saving change', () => {
    expect(REQUEST_LIFETIME_MS).toBe(72 * HOUR_MS);
    // 2026-03-29 is the last Sunday of March: clocks in Germany go forward; 72 hours are still 72 hours.
    expect(requestExpiry(REQUESTED_AT)).toBe('2026-03-30T16:30:00.000Z');
  });

  test('a pending request reads as expired from its expiry on, not a millisecond before', () => {
    const request = requestOf('pending');
    expect(requestStateAt(request, REQUESTED_AT)).toBe('pending');
    expect(requestStateAt(request, at(REQUEST_LIFETIME_MS - 1))).toBe('pending');
    expect(requestStateAt(request, at(REQUEST_LIFETIME_MS))).toBe('expired');
    expect(requestStateAt(request, at(REQUEST_LIFETIME_MS + 365 * DAY_MS))).toBe('expired');
    // Expiry is read, not stored: the request itself still says pending.
    expect(request.state).toBe('pending');
  });

  test('a decided request keeps its outcome after the expiry', () => {
    for (const state of ['approved', 'rejected', 'cancelled', 'failed'] as const) {
      expect(requestStateAt(requestOf(state), at(REQUEST_LIFETIME_MS + DAY_MS))).toBe(state);
    }
  });
});

describe('extensions beyond the sole limit', () => {
  const statutory = '2026-04-10T00:00:00.000Z';
  const after = (ms: number) => new Date(Date.parse(statutory) + ms).toISOString();

  test(`up to ${SOLE_EXTENSION_LIMIT} past the statutory deadline one records administrator decides`, () => {
    expect(SOLE_EXTENSION_LIMIT).toBe('P90D');
    expect(extensionNeedsApproval(statutory, after(DAY_MS))).toBe(false);
    expect(extensionNeedsApproval(statutory, after(90 * DAY_MS))).toBe(false);
  });

  test('a millisecond beyond needs a second person', () => {
    expect(extensionNeedsApproval(statutory, after(90 * DAY_MS + 1))).toBe(true);
    expect(extensionNeedsApproval(statutory, after(2 * 365 * DAY_MS))).toBe(true);
  });
});

describe('the recording officer', () => {
  const officer: AssertedPerson = { ...records, subject: 'officer-a', officerId: 'officer-7' };

  test('is the person whose officer id is the recording’s', () => {
    expect(isRecordingOfficer(officer, 'officer-7')).toBe(true);
    expect(isRecordingOfficer(officer, 'officer-8')).toBe(false);
  });

  test('a recording without an officer, or a person without an officer id, has no recording officer', () => {
    expect(isRecordingOfficer(officer, undefined)).toBe(false);
    expect(isRecordingOfficer(records, undefined)).toBe(false);
    expect(isRecordingOfficer(records, 'officer-7')).toBe(false);
  });
});
