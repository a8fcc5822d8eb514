/**
 * Storage for the development identity provider's sessions, grants, codes and refresh tokens: kept in memory and
 * written to one file in its directory after each change, so a restarted dev stack keeps everyone signed in (a
 * refresh token issued before still works). One process, a handful of people: a JSON file is enough; a real
 * deployment's IdP brings its own database.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { writePrivateFile } from './secrets';

export const STATE_FILE = 'state.json';

interface Entry {
  payload: AdapterPayload;
  /** Epoch milliseconds; absent for entries without an expiry. */
  expiresAt?: number;
}

/** All models share one store, keyed `<model>:<id>`; lookups by uid, user code or grant scan it (it is small). */
export function fileAdapterFactory(dir: string): AdapterFactory {
  const file = path.join(dir, STATE_FILE);
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Entry>) : {};
  const entries = new Map<string, Entry>(Object.entries(stored));

  const live = (entry: Entry | undefined) =>
    entry && (entry.expiresAt === undefined || entry.expiresAt > Date.now()) ? entry : undefined;

  const save = () => {
    for (const [key, entry] of entries) if (!live(entry)) entries.delete(key);
    writePrivateFile(file, JSON.stringify(Object.fromEntries(entries)));
  };

  const findWhere = (model: string, matches: (payload: AdapterPayload) => boolean) => {
    for (const [key, entry] of entries) {
      if (key.startsWith(`${model}:`) && live(entry) && matches(entry.payload)) return entry.payload;
    }
    return undefined;
  };

  // Everything is in memory, so each method has its answer at once; the interface wants promises.
  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert(id, payload, expiresIn) {
        entries.set(key(id), {
          payload,
          ...(expiresIn === undefined ? {} : { expiresAt: Date.now() + expiresIn * 1000 }),
        });
        save();
        return Promise.resolve();
      },
      find(id) {
        return Promise.resolve(live(entries.get(key(id)))?.payload);
      },
      findByUid(uid) {
        return Promise.resolve(findWhere(model, (payload) => payload.uid === uid));
      },
      findByUserCode(userCode) {
        return Promise.resolve(findWhere(model, (payload) => payload.userCode === userCode));
      },
      consume(id) {
        const entry = live(entries.get(key(id)));
        if (entry) {
          entry.payload.consumed = Math.floor(Date.now() / 1000);
          save();
        }
        return Promise.resolve();
      },
      destroy(id) {
        if (entries.delete(key(id))) save();
        return Promise.resolve();
      },
      revokeByGrantId(grantId) {
        for (const [entryKey, entry] of entries) {
          if (entry.payload.grantId === grantId) entries.delete(entryKey);
        }
        save();
        return Promise.resolve();
      },
    };
  };
}
