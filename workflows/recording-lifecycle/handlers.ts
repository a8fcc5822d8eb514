/**
 * What may be asked of a recording: Queries answer, Updates change. A person's Update carries the custody API's
 * signed assertion (assertions.ts), which its validator verifies with the worker's keys before anything else; a
 * rejection returns the reason to the caller and leaves no trace in history. Actions one person may take alone run
 * at once (actions.ts); those that need a second person are requests (requests.ts). Handlers only record what was
 * asked and write their log entries; the main path (index.ts) acts on them.
 *
 * Updates of the time before signed assertions (`by` named by the caller, and release, deleteEarly and applyPolicy
 * as single Updates) stay registered so that old histories replay; their validators refuse every new one.
 */
import { condition, log, setHandler } from '@temporalio/workflow';
import { extensionNeedsApproval, SOLE_EXTENSION_LIMIT } from '../../domain/requests';
import * as messages from '../messages';
import {
  applyPolicy,
  approveEarlyDeletion,
  checkMarkEvidence,
  checkQuarantineRelease,
  checkReplay,
  extendDeadline,
  extensionTarget,
  markEvidence,
  placeHold,
  releaseFromQuarantine,
  releaseHolds,
  requestReplay,
} from './actions';
import { acceptAction, isSigned, legacyActor, verifiedAction } from './assertions';
import {
  cancelRequest,
  checkCancellation,
  checkDecision,
  checkRequestCreation,
  createRequest,
  decideRequest,
} from './requests';
import type { RecordingRun } from './state';

/** The Updates that became four-eyes requests: refused with where to go instead. */
function nowARequest(kind: string): never {
  throw new Error(
    `${kind} needs a second person: it is a four-eyes request now (POST /v1/recordings/{id}/requests, or ` +
      '`custody request`), which an approver decides',
  );
}

function nonEmpty(value: unknown, what: string) {
  if (typeof value !== 'string' || !value.trim()) throw new Error(what);
}

export function registerHandlers(run: RecordingRun): void {
  setHandler(messages.statusQuery, () => run.snapshot());

  /** Nothing more happens to this recording for review without a person or its deadline. */
  const reviewSettled = () => {
    switch (run.status.state) {
      case 'ingesting':
      case 'transcoding':
        return false;
      case 'retained':
      case 'held':
        // A resumed run (continue-as-new) only ever starts idle: whatever transcoding it had is behind it.
        return run.status.reviewReady || run.input.transcode === false || run.resumed !== undefined;
      default:
        return true;
    }
  };
  setHandler(messages.awaitReviewReadyUpdate, async () => {
    await condition(reviewSettled);
    return run.snapshot();
  });

  setHandler(
    messages.replayUpdate,
    async (request) => {
      if (!isSigned(request)) return requestReplay(run, legacyActor(request.by), request.reason);
      const { claims, actor } = acceptAction<'recording.replay'>(run, request);
      return requestReplay(run, actor, claims.prm.reason);
    },
    {
      validator: (request: messages.ReplayRequest) => {
        verifiedAction(run, request, 'recording.replay');
        checkReplay(run);
      },
    },
  );

  setHandler(
    messages.holdUpdate,
    async (request) => {
      if (!isSigned(request)) return placeHold(run, legacyActor(request.by), request);
      const { claims, actor } = acceptAction<'hold.place'>(run, request);
      return placeHold(run, actor, claims.prm);
    },
    {
      validator: (request: messages.HoldRequest) => {
        const { prm } = verifiedAction(run, request, 'hold.place');
        run.requireRetention();
        nonEmpty(prm.caseId, 'a hold needs a case number');
        nonEmpty(prm.reason, 'a hold needs a reason');
      },
    },
  );

  setHandler(
    messages.extendUpdate,
    async (request) => {
      if (!isSigned(request)) {
        const { by, reason, caseId } = request;
        const target = 'until' in request ? { until: request.until } : { for: request.for };
        return extendDeadline(run, legacyActor(by), { ...target, reason, ...(caseId && { caseId }) });
      }
      const { claims, actor } = acceptAction<'retention.extend'>(run, request);
      return extendDeadline(run, actor, claims.prm);
    },
    {
      validator: (request: messages.ExtendRequest) => {
        const { prm } = verifiedAction(run, request, 'retention.extend');
        nonEmpty(prm.reason, 'an extension needs a reason');
        const until = extensionTarget(run, prm);
        const statutory = run.requireRetention().deadline.statutoryDeadline;
        if (extensionNeedsApproval(statutory, until)) {
          throw new Error(
            `${until} is more than ${SOLE_EXTENSION_LIMIT} past the statutory deadline ${statutory}: an extension ` +
              'that far needs a second person — make it a request (kind retention.extend)',
          );
        }
      },
    },
  );

  setHandler(
    messages.markEvidenceUpdate,
    async (request) => {
      if (!isSigned(request)) return markEvidence(run, legacyActor(request.by), request);
      const { claims, actor } = acceptAction<'evidence.mark'>(run, request);
      return markEvidence(run, actor, claims.prm);
    },
    {
      validator: (request: messages.MarkEvidenceRequest) => {
        const { prm } = verifiedAction(run, request, 'evidence.mark');
        checkMarkEvidence(run, prm.caseId);
      },
    },
  );

  setHandler(
    messages.releaseQuarantineUpdate,
    async (request) => {
      if (!isSigned(request)) return releaseFromQuarantine(run, legacyActor(request.by), request);
      const { claims, actor } = acceptAction<'quarantine.release'>(run, request);
      return releaseFromQuarantine(run, actor, { reason: claims.prm.reason });
    },
    {
      validator: (request: messages.ReleaseQuarantineRequest) => {
        const { prm } = verifiedAction(run, request, 'quarantine.release');
        nonEmpty(prm.reason, 'a release from quarantine needs a reason');
        checkQuarantineRelease(run, false);
      },
    },
  );

  setHandler(
    messages.createRequestUpdate,
    async (request) => {
      const { claims, actor } = acceptAction<'request.create'>(run, request);
      return createRequest(run, claims, actor);
    },
    {
      validator: (request: messages.SignedAction) =>
        checkRequestCreation(run, verifiedAction(run, request, 'request.create')),
    },
  );

  setHandler(
    messages.decideRequestUpdate,
    async (request) => {
      const { claims, actor } = acceptAction<'request.decide'>(run, request);
      return decideRequest(run, claims, actor);
    },
    {
      validator: (request: messages.SignedAction) =>
        checkDecision(run, verifiedAction(run, request, 'request.decide')),
    },
  );

  setHandler(
    messages.cancelRequestUpdate,
    async (request) => {
      const { claims, actor } = acceptAction<'request.cancel'>(run, request);
      return cancelRequest(run, claims, actor);
    },
    {
      validator: (request: messages.SignedAction) =>
        checkCancellation(run, verifiedAction(run, request, 'request.cancel')),
    },
  );

  setHandler(
    messages.recordAdministrativeNoteUpdate,
    async (request) => {
      const { claims, actor } = acceptAction<'admin.note'>(run, request);
      await run.log.append(actor.by, `admin.${claims.prm.action}`, {
        reason: claims.prm.reason,
        ...claims.prm.details,
        ...actor.proof,
      });
      return { recorded: true as const };
    },
    {
      validator: (request: messages.SignedAction) => {
        const { prm } = verifiedAction(run, request, 'admin.note');
        if (prm.action !== 'reset') throw new Error('the only administrative note is reset');
        nonEmpty(prm.reason, 'an administrative note needs a reason');
        const details = Object.values(prm.details ?? {});
        if (details.length > 20 || details.some((v) => v !== null && typeof v === 'object'))
          throw new Error('an administrative note carries at most 20 plain details');
      },
    },
  );

  // --- Before signed assertions: in histories only; each validator refuses a new one. ---

  setHandler(
    messages.releaseUpdate,
    async (request) => {
      const reason = request.reason;
      return releaseHolds(
        run,
        legacyActor(request.by),
        { by: request.approvedBy, ...(reason && { reason }) },
        request.holdId,
      );
    },
    { validator: (_request) => nowARequest('a hold release') },
  );

  setHandler(
    messages.deleteEarlyUpdate,
    async (request) =>
      approveEarlyDeletion(run, legacyActor(request.by), {
        by: request.approvedBy,
        requestId: '',
        reason: request.reason,
      }),
    { validator: (_request) => nowARequest('an early deletion') },
  );

  setHandler(
    messages.applyPolicyUpdate,
    async (request) => applyPolicy(run, legacyActor(request.by), request.pack, request.reason),
    { validator: (_request) => nowARequest('a policy change') },
  );

  setHandler(messages.fixityMismatchSignal, (notice) => {
    if (!run.deletable()) return;
    run.pendingFixity = notice;
    run.retentionChanged = true;
  });

  // A signal cannot be refused, so anyone reaching Temporal could write admin.* entries with it: ignored now
  // (recordAdministrativeNoteUpdate is signed). Histories from before still write their entry on replay.
  setHandler(messages.administrativeNoteSignal, async (note) => {
    if (run.signalsUntrusted) {
      log.warn('administrativeNote signal ignored: administrative notes arrive as a signed Update', {
        action: note.action,
      });
      return;
    }
    await run.log.append(note.by, `admin.${note.action}`, { reason: note.reason, ...note.details });
  });
}
