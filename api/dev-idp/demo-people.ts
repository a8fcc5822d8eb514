/**
 * The people and service accounts of the development identity provider: every custody role, two Karlsruhe police
 * stations (`ka-west`, `ka-nord`). Subjects are opaque UUIDs, as a real directory's would be, so an access token
 * (which ends up in proxy logs) carries no name. Passwords and client secrets are not here: they are generated per
 * run directory (secrets.ts) and never committed.
 */

import { ALL_UNITS, type CustodyRole } from '../../domain/roles';

export const DEMO_UNITS = ['ka-west', 'ka-nord'] as const;

export interface DemoPerson {
  /** What the person types at the login page. */
  username: string;
  /** The token subject (`sub`). */
  subject: string;
  givenName: string;
  familyName: string;
  /** What this person is there to show, for the banner and docs. */
  purpose: string;
  roles: CustodyRole[];
  units: string[];
  /** Present for people who record with a bodycam: the officer id the recordings carry. */
  officerId?: string;
}

export interface ServiceAccount {
  /** The OAuth client id, also the token subject. */
  clientId: string;
  purpose: string;
  /** `dock`: a docking station, which uploads the recordings of its unit (domain/roles.ts). */
  roles: CustodyRole[];
  units: string[];
}

export const DEMO_PEOPLE: readonly DemoPerson[] = [
  {
    username: 'max.weber',
    subject: '29edfdfc-2cd2-42aa-be97-b1335e74fce4',
    givenName: 'Max',
    familyName: 'Weber',
    purpose: 'recording officer (the dev demo clip is his)',
    roles: ['viewer'],
    units: ['ka-west'],
    officerId: 'officer-4711',
  },
  {
    username: 'lena.vogel',
    subject: 'c5f19fd3-ce2a-4b18-8d7b-f9baa47e2c4e',
    givenName: 'Lena',
    familyName: 'Vogel',
    purpose: 'sees metadata of her station',
    roles: ['viewer'],
    units: ['ka-nord'],
  },
  {
    username: 'jonas.becker',
    subject: 'dbaf6ac1-3657-4738-9265-fe4cc8ac3808',
    givenName: 'Jonas',
    familyName: 'Becker',
    purpose: 'investigator, ka-west',
    roles: ['investigator'],
    units: ['ka-west'],
  },
  {
    username: 'sabine.hoffmann',
    subject: '4de96e1a-194d-42d2-ad61-3fef391a16da',
    givenName: 'Sabine',
    familyName: 'Hoffmann',
    purpose: 'investigator, ka-nord (another unit)',
    roles: ['investigator'],
    units: ['ka-nord'],
  },
  {
    username: 'thomas.krueger',
    subject: '284f41b4-5982-4ab4-b836-f90f5a2b5857',
    givenName: 'Thomas',
    familyName: 'Krüger',
    purpose: 'extends, requests early deletion and policy changes',
    roles: ['records-admin'],
    units: ['ka-west', 'ka-nord'],
  },
  {
    username: 'petra.schulz',
    subject: 'd24e6980-bf8a-4e5e-be2c-d70d6f3f10e3',
    givenName: 'Petra',
    familyName: 'Schulz',
    purpose: 'first of two approvers (four-eyes)',
    roles: ['approver'],
    units: ['ka-west', 'ka-nord'],
  },
  {
    username: 'klaus.wagner',
    subject: '1bc6bd6d-adf1-4c0f-9a3b-6c3a3e5c9755',
    givenName: 'Klaus',
    familyName: 'Wagner',
    purpose: 'second approver (four-eyes)',
    roles: ['approver'],
    units: ['ka-west', 'ka-nord'],
  },
  {
    username: 'julia.braun',
    subject: 'c28ee277-fdad-4cfa-a0c5-a3a502ffac10',
    givenName: 'Julia',
    familyName: 'Braun',
    purpose: 'shift lead who also records: may not delete her own recordings',
    roles: ['records-admin', 'approver'],
    units: ['ka-nord'],
    officerId: 'officer-0815',
  },
  {
    username: 'stefan.fischer',
    subject: '8d41e58b-ca33-4580-86b0-8a92cea2f7a3',
    givenName: 'Stefan',
    familyName: 'Fischer',
    purpose: 'IT operations: replay, quarantine release, reset, capacity',
    roles: ['operator'],
    units: [ALL_UNITS],
  },
  {
    username: 'ingrid.neumann',
    subject: 'a7b73c06-fa82-46aa-a138-0dfe767e3e7f',
    givenName: 'Ingrid',
    familyName: 'Neumann',
    purpose: 'data-protection auditor: reads everything, changes nothing',
    roles: ['auditor'],
    units: [ALL_UNITS],
  },
];

export const SERVICE_ACCOUNTS: readonly ServiceAccount[] = [
  { clientId: 'dock-ka-west', purpose: 'docking station: uploads only', roles: ['dock'], units: ['ka-west'] },
  {
    clientId: 'custody-automation',
    purpose: 'scheduled jobs and scripts (operations, certificate and access-log exports)',
    roles: ['operator', 'auditor'],
    units: [ALL_UNITS],
  },
];

export function demoPerson(username: string): DemoPerson {
  const person = DEMO_PEOPLE.find((candidate) => candidate.username === username);
  if (!person) throw new Error(`no demo person ${username}`);
  return person;
}

export function personBySubject(subject: string): DemoPerson | undefined {
  return DEMO_PEOPLE.find((person) => person.subject === subject);
}

export function serviceAccount(clientId: string): ServiceAccount | undefined {
  return SERVICE_ACCOUNTS.find((account) => account.clientId === clientId);
}

/** The custody claims of an access token; personal data (names) stays out of it. */
export function custodyClaims(holder: DemoPerson | ServiceAccount): Record<string, string | string[]> {
  return {
    custody_roles: [...holder.roles],
    custody_units: [...holder.units],
    ...('officerId' in holder && holder.officerId ? { custody_officer_id: holder.officerId } : {}),
  };
}
