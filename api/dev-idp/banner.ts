/** The demo logins as README command 1 prints them: who, with which password, in which roles and units. */
import { DEMO_PEOPLE, SERVICE_ACCOUNTS } from './demo-people';
import type { DevIdpSecrets } from './secrets';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
}

export function demoLoginLines(secrets: DevIdpSecrets): string[] {
  const people = table([
    ['user', 'password', 'roles', 'units', 'officer id'],
    ...DEMO_PEOPLE.map((person) => [
      person.username,
      secrets.passwords[person.username] ?? '?',
      person.roles.join(','),
      person.units.join(','),
      person.officerId ?? '',
    ]),
  ]);
  const services = table([
    ['service account', 'client secret', 'roles', 'units'],
    ...SERVICE_ACCOUNTS.map((account) => [
      account.clientId,
      secrets.clientSecrets[account.clientId as keyof DevIdpSecrets['clientSecrets']] ?? '?',
      account.roles.join(','),
      account.units.join(','),
    ]),
  ]);
  return [...people, '', ...services];
}
