/**
 * Typed search attributes of a recording's workflow: ids, state and dates only — never a person's name
 * (officer ids stay in the custody log, not in visibility). The dev server registers these at start
 * (test/harness/servers.ts); a production namespace needs them created once (helm/custody/README.md shows the commands).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const RecordingIdAttr = defineSearchAttributeKey('CustodyRecordingId', SearchAttributeType.KEYWORD);
export const DeviceIdAttr = defineSearchAttributeKey('CustodyDeviceId', SearchAttributeType.KEYWORD);
/** The organisational unit (domain/roles.ts), set at start: the API lists a caller's units only. */
export const UnitAttr = defineSearchAttributeKey('CustodyUnit', SearchAttributeType.KEYWORD);
export const StateAttr = defineSearchAttributeKey('CustodyState', SearchAttributeType.KEYWORD);
/** The stage that needs attention (ingest, transcode, deletion, fixity), empty otherwise. */
export const StageAttr = defineSearchAttributeKey('CustodyStage', SearchAttributeType.KEYWORD);
export const PolicyAttr = defineSearchAttributeKey('CustodyPolicy', SearchAttributeType.KEYWORD);
export const DeleteAfterAttr = defineSearchAttributeKey('CustodyDeleteAfter', SearchAttributeType.DATETIME);
export const EvidenceAttr = defineSearchAttributeKey('CustodyEvidence', SearchAttributeType.BOOL);
export const HeldAttr = defineSearchAttributeKey('CustodyHeld', SearchAttributeType.BOOL);
/** The kinds of four-eyes request waiting for a decision (domain/requests.ts): the approvers' work list. */
export const OpenRequestsAttr = defineSearchAttributeKey(
  'CustodyOpenRequests',
  SearchAttributeType.KEYWORD_LIST,
);

export const ALL_SEARCH_ATTRIBUTES = [
  RecordingIdAttr,
  DeviceIdAttr,
  UnitAttr,
  StateAttr,
  StageAttr,
  PolicyAttr,
  DeleteAfterAttr,
  EvidenceAttr,
  HeldAttr,
  OpenRequestsAttr,
] as const;

/** `Name=Type` pairs in the form `temporal server start-dev --search-attribute` and the operator CLI take. */
export function searchAttributeRegistrations(): string[] {
  const cliType: Record<string, string> = {
    [SearchAttributeType.KEYWORD]: 'Keyword',
    [SearchAttributeType.DATETIME]: 'Datetime',
    [SearchAttributeType.BOOL]: 'Bool',
    [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
  };
  return ALL_SEARCH_ATTRIBUTES.map((key) => `${key.name}=${cliType[key.type] ?? 'Keyword'}`);
}
