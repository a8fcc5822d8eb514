/**
 * A recording's whole deletion in one activity, with its custody-log entries written where they belong:
 *
 *   deletion.started ─► delete every version, verify absent ─► recording.deleted ─► certificate ─► certificate.written
 *
 * One task-queue round trip instead of five. The order is the one the workflow used to issue step by step, and
 * each step is idempotent on its own: entries are written once (a retry adopts the stored entry of the same
 * step), the deletion works from its WORM inventory, and the certificate is rebuilt from what the log recorded —
 * the stored `recording.deleted` entry's verification time — so a retry after a crash at any line writes the
 * very same certificate. The entries' positions start at `log` (the workflow's head); the workflow continues
 * from the returned head, or, when the activity failed part-way, from the head the store shows.
 */
import { ApplicationFailure } from '@temporalio/common';
import { writeCustodyEntry, type AppendCustodyEntryDeps } from './append-custody-entry';
import { recordingDeletedDetails } from '../domain/custody-log';
import type { DeleteRecordingInput, DeleteRecordingResult } from './delete-recording';
import type { WrittenCertificate } from './write-certificate';
import type { CertificateInput } from './certificate';
import type { AppendedEntry, CustodyEntryInput } from '../domain/types';

export interface DeleteAndCertifyInput extends DeleteRecordingInput {
  /** Where the first entry goes: the workflow's next seq and its head hash. */
  log: { seq: number; prevHash: string };
  /** The `deletion.started` entry, stamped by the workflow (fixed in history). */
  started: Pick<CustodyEntryInput, 'time' | 'actor' | 'details'>;
  /** The certificate's facts; objects, deletion time and log head come from the deletion itself. */
  certificate: Omit<CertificateInput, 'objects' | 'deletedAt' | 'custodyLog'>;
}

export interface CertifiedDeletion {
  verifiedAbsentAt: string;
  objects: number;
  certificate: { key: string; certificateHash: string };
  /** The `certificate.written` entry: the workflow's new head. */
  head: AppendedEntry;
}

export interface DeleteAndCertifyDeps {
  log: AppendCustodyEntryDeps;
  deleteRecording: (input: DeleteRecordingInput) => Promise<DeleteRecordingResult>;
  writeCertificate: (input: CertificateInput) => Promise<WrittenCertificate>;
  /** The clock of the entries this activity stamps itself (a retry adopts the stored ones). */
  now?: () => Date;
}

export function makeDeleteAndCertify(deps: DeleteAndCertifyDeps) {
  const now = deps.now ?? (() => new Date());
  return async function deleteAndCertify(input: DeleteAndCertifyInput): Promise<CertifiedDeletion> {
    const { recordingId } = input;
    const started = await writeCustodyEntry(deps.log, {
      recordingId,
      seq: input.log.seq,
      prevHash: input.log.prevHash,
      action: 'deletion.started',
      ...input.started,
    });

    const deletion = await deps.deleteRecording({ recordingId, objects: input.objects });
    const deleted = await writeCustodyEntry(deps.log, {
      recordingId,
      seq: started.seq + 1,
      prevHash: started.hash,
      time: now().toISOString(),
      actor: 'system',
      action: 'recording.deleted',
      details: recordingDeletedDetails(input.certificate.cause, deletion),
    });
    // A retry verifies again at a later time; the certificate names the time the log recorded.
    const deletedAt = deleted.details.verifiedAbsentAt;
    if (typeof deletedAt !== 'string') {
      throw ApplicationFailure.nonRetryable(
        `Custody log of ${recordingId}: entry ${deleted.seq} (recording.deleted) has no verifiedAbsentAt; ` +
          'inspect it with `custody verify`.',
        'CustodyLogConflict',
      );
    }

    const certificate = await deps.writeCertificate({
      ...input.certificate,
      objects: deletion.deleted,
      deletedAt,
      custodyLog: { headSeq: deleted.seq, headHash: deleted.hash },
    });
    const written = await writeCustodyEntry(deps.log, {
      recordingId,
      seq: deleted.seq + 1,
      prevHash: deleted.hash,
      time: now().toISOString(),
      actor: 'system',
      action: 'certificate.written',
      details: { key: certificate.key, certificateHash: certificate.certificateHash },
    });
    return {
      verifiedAbsentAt: deletedAt,
      objects: deletion.deleted.length,
      certificate: { key: certificate.key, certificateHash: certificate.certificateHash },
      head: { seq: written.seq, hash: written.hash },
    };
  };
}
