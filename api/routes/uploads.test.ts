/** The rules of an upload that need no server: which unit it is filed under, and whether its parts are whole. */
import type { Part } from '@aws-sdk/client-s3';
import { partProblem, uploadUnit } from './uploads';
import { planUpload } from '../uploads';
import type { ApiError } from '../errors';

describe('uploadUnit', () => {
  test('a declared unit of the uploader is taken; of another unit, refused with 403', () => {
    expect(uploadUnit(['ka-west', 'ka-nord'], 'ka-nord')).toBe('ka-nord');
    expect(() => uploadUnit(['ka-west'], 'ka-nord')).toThrow(/unit ka-nord is not one of yours \(ka-west\)/);
    try {
      uploadUnit(['ka-west'], 'ka-nord');
    } catch (err) {
      expect((err as ApiError).statusCode).toBe(403);
    }
  });

  test('no unit declared: the only unit, or for every-unit callers none; several units must name one', () => {
    expect(uploadUnit(['ka-west'], undefined)).toBe('ka-west');
    expect(uploadUnit(['*'], undefined)).toBeUndefined();
    expect(uploadUnit(['*'], 'ka-nord')).toBe('ka-nord');
    expect(() => uploadUnit(['ka-west', 'ka-nord'], undefined)).toThrow(/one of ka-west, ka-nord/);
    expect(() => uploadUnit([], undefined)).toThrow(/you belong to no unit/);
  });
});

describe('partProblem', () => {
  const bytes = 20 * 1024 * 1024;
  const plan = planUpload(bytes);
  const ticket = {
    ...plan,
    bytes,
    subject: 's',
    issuer: 'i',
    key: 'k',
    uploadId: 'u',
    sha256: 'ab'.repeat(32),
  };
  const part = (n: number, size: number): Part => ({ PartNumber: n, Size: size, ETag: `"e${n}"` });
  const whole = [part(1, 8 * 1024 * 1024), part(2, 8 * 1024 * 1024), part(3, 4 * 1024 * 1024)];

  test('every part of its planned size: nothing wrong', () => {
    expect(partProblem(ticket, whole)).toBeUndefined();
  });

  test('a missing part, a short part, a part too many are named', () => {
    expect(partProblem(ticket, [whole[0]!, whole[2]!])).toBe('part 2 of 3 has not arrived');
    expect(partProblem(ticket, [whole[0]!, part(2, 100), whole[2]!])).toBe(
      'part 2 has 100 bytes, not the 8388608 planned',
    );
    expect(partProblem(ticket, [...whole, part(4, 1)])).toBe('the store holds more parts than the 3 planned');
  });
});
