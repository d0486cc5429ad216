/**
 * A job's path from its S3 event to its end, built from what the pipeline records: the job
 * record, the Step Functions history of each attempt's execution, the terminal events and the
 * webhook deliveries. What none of them records is listed in `missing`, not guessed.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { Job } from '../../functions/domain/job.js';
import { StateName } from '../../infra/state-names.js';
import { explainError } from '../web/error-words.js';

export type StepTone = 'ok' | 'wait' | 'error' | 'info';

export interface TimelineStep {
  /** ISO instant; absent when the source records none. */
  readonly at?: string;
  readonly title: string;
  readonly detail?: string;
  readonly tone: StepTone;
  readonly attempt: number;
  /** Where the step was read: `record`, `execution`, `events`, `webhooks`. */
  readonly source: 'record' | 'execution' | 'events' | 'webhooks';
}

export interface Timeline {
  readonly steps: readonly TimelineStep[];
  readonly missing: readonly string[];
}

/** A terminal event line as the events file holds it (only the fields read here). */
export interface EventRecord {
  readonly time: string;
  readonly detailType: string;
  readonly detail: { readonly jobId: string; readonly status: string; readonly attempt?: number };
}

/** A line of `webhook-deliveries.jsonl` (only the fields read here). */
export interface WebhookAttempt {
  readonly jobId: string;
  readonly attempt: number;
  readonly at: string;
  readonly url: string;
  readonly outcome: string;
  readonly httpStatus?: number;
  readonly error?: string;
  readonly nextAttemptAt?: string;
}

export interface TimelineInputs {
  /** Execution ARN -> its history, or why it could not be read. */
  readonly histories: ReadonlyMap<string, readonly HistoryEvent[] | { readonly unavailable: string }>;
  /** The job's terminal events; undefined when the target's events cannot be read back. */
  readonly events?: readonly EventRecord[];
  readonly eventsUnavailable?: string;
  /** The job's webhook attempts; undefined when no delivery log is kept here. */
  readonly webhooks?: readonly WebhookAttempt[];
  readonly webhooksUnavailable?: string;
}

/** The timeline of `job` (its raw record, with the submission claim). */
export function buildTimeline(job: Job, inputs: TimelineInputs): Timeline {
  const steps: TimelineStep[] = [];
  const missing: string[] = [];
  const add = (step: TimelineStep) => steps.push(step);
  const first = job.attempts?.[0]?.attempt ?? job.attempt;
  add({
    at: job.createdAt,
    title: job.trigger.kind === 'manifest' ? 'Manifest received' : 'Upload received',
    detail: `s3://${job.trigger.bucket}/${job.trigger.key}${job.source.size > 0 ? ` (${job.source.size} bytes)` : ''}`,
    tone: 'info',
    attempt: first,
    source: 'record',
  });
  for (const previous of job.attempts ?? []) {
    if (previous.submittedAt !== undefined) {
      add({
        at: previous.submittedAt,
        title: 'POST answered',
        detail: previous.generationId ? `generation ${previous.generationId}` : undefined,
        tone: 'ok',
        attempt: previous.attempt,
        source: 'record',
      } as TimelineStep);
    }
    addExecution(previous.executionArn, previous.attempt, inputs, add, missing);
    add({
      ...(previous.completedAt === undefined ? {} : { at: previous.completedAt }),
      title: `Attempt ${previous.attempt} ended ${previous.status}`,
      ...(previous.error === undefined ? {} : { detail: explainError(previous.error) }),
      tone: previous.status === 'COMPLETED' ? 'ok' : 'error',
      attempt: previous.attempt,
      source: 'record',
    });
  }
  addAdmission(job, add, missing);
  const claim = job.submissionClaim;
  if (claim !== undefined) {
    add({
      at: claim.claimedAt,
      title: 'Claimed for submission',
      tone: 'info',
      attempt: job.attempt,
      source: 'record',
    });
    if (claim.sendingAt !== undefined) {
      add({
        at: claim.sendingAt,
        title: 'POST sent to the provider',
        tone: 'info',
        attempt: job.attempt,
        source: 'record',
      });
    }
  } else if (job.submittedAt !== undefined) {
    missing.push('when the submission was claimed and the POST sent (the claim is cleared once answered)');
  }
  if (job.submittedAt !== undefined) {
    add({
      at: job.submittedAt,
      title: 'POST answered',
      ...(job.generationId ? { detail: `generation ${job.generationId}` } : {}),
      tone: 'ok',
      attempt: job.attempt,
      source: 'record',
    });
  }
  addExecution(job.executionArn, job.attempt, inputs, add, missing);
  if (job.pollCount > 0) {
    missing.push(
      `the provider's status at each check (the record keeps only the last: ${job.providerStatus ?? 'none'})`,
    );
  }
  addEnd(job, inputs, add, missing);
  return { steps, missing };
}

function addAdmission(job: Job, add: (step: TimelineStep) => void, missing: string[]): void {
  if (job.status === 'WAITING') {
    add({
      at: job.statusChangedAt,
      title: 'Waiting',
      detail:
        job.waitingFor === 'BUDGET'
          ? "today's credit budget would be passed; it runs when the budget allows"
          : 'as many generations as the in-flight cap allows are running; it runs when one ends',
      tone: 'wait',
      attempt: job.attempt,
      source: 'record',
    });
  }
  if (job.admittedAt !== undefined) {
    add({
      at: job.admittedAt,
      title: 'Admitted',
      detail: 'let through the in-flight cap and the credit budget',
      tone: 'ok',
      attempt: job.attempt,
      source: 'record',
    });
    missing.push('whether (and how long) the job waited before it was admitted');
  }
  if (job.status === 'AWAITING_PROMPT') {
    add({
      at: job.statusChangedAt,
      title: 'Awaiting a prompt',
      detail: 'no source named a prompt; add one in a sidecar or preset',
      tone: 'wait',
      attempt: job.attempt,
      source: 'record',
    });
  }
}

function addExecution(
  executionArn: string | undefined,
  attempt: number,
  inputs: TimelineInputs,
  add: (step: TimelineStep) => void,
  missing: string[],
): void {
  if (executionArn === undefined) return;
  const history = inputs.histories.get(executionArn);
  if (history === undefined) return;
  if ('unavailable' in history) {
    missing.push(`the execution history of attempt ${attempt}: ${history.unavailable}`);
    return;
  }
  const at = (event: HistoryEvent) => event.timestamp?.toISOString();
  let checks = 0;
  let enteredState = '';
  for (const event of history) {
    const details = event.stateEnteredEventDetails;
    if (details !== undefined) enteredState = details.name ?? '';
    switch (event.type) {
      case 'ExecutionStarted':
        add({
          at: at(event),
          title: 'Polling execution started',
          tone: 'info',
          attempt,
          source: 'execution',
        });
        break;
      case 'WaitStateEntered': {
        const seconds = numberField(details?.input, 'waitSeconds');
        add({
          at: at(event),
          title: 'Waiting before the next check',
          ...(seconds === undefined ? {} : { detail: `${seconds} s` }),
          tone: 'wait',
          attempt,
          source: 'execution',
        });
        break;
      }
      case 'TaskSucceeded':
      case 'LambdaFunctionSucceeded': {
        const output =
          event.taskSucceededEventDetails?.output ?? event.lambdaFunctionSucceededEventDetails?.output;
        if (enteredState === StateName.checkGeneration) {
          checks += 1;
          const payload = payloadOf(output);
          const finished = payload?.finished === true;
          add({
            at: at(event),
            title: `Check ${checks}: ${finished ? 'the generation is ready' : 'not ready yet'}`,
            ...(finished || typeof payload?.waitSeconds !== 'number'
              ? {}
              : { detail: `next check in ${payload.waitSeconds} s` }),
            tone: finished ? 'ok' : 'info',
            attempt,
            source: 'execution',
          });
        } else if (enteredState === StateName.copyResult) {
          add({
            at: at(event),
            title: 'Copied the result to the output bucket',
            tone: 'ok',
            attempt,
            source: 'execution',
          });
        } else if (enteredState === StateName.recordFailure) {
          add({
            at: at(event),
            title: 'Recorded the failure on the job',
            tone: 'error',
            attempt,
            source: 'execution',
          });
        }
        break;
      }
      case 'TaskFailed':
      case 'LambdaFunctionFailed': {
        const failed = event.taskFailedEventDetails ?? event.lambdaFunctionFailedEventDetails;
        add({
          at: at(event),
          title: `${enteredState || 'A task'} failed`,
          detail: failed?.error ?? '',
          tone: 'error',
          attempt,
          source: 'execution',
        });
        break;
      }
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimedOut':
        add({
          at: at(event),
          title: `Polling execution ${event.type.slice('Execution'.length).toLowerCase()}`,
          tone:
            event.type === 'ExecutionSucceeded' ? 'ok' : event.type === 'ExecutionAborted' ? 'info' : 'error',
          attempt,
          source: 'execution',
        });
        break;
    }
  }
}

function addEnd(
  job: Job,
  inputs: TimelineInputs,
  add: (step: TimelineStep) => void,
  missing: string[],
): void {
  const attempt = job.attempt;
  if (job.output !== undefined) {
    add({
      ...(job.completedAt === undefined ? {} : { at: job.completedAt }),
      title: 'Record file written',
      detail: `s3://${job.output.bucket}/${job.output.key.replace(/\.mp4$/, '.json')}`,
      tone: 'ok',
      attempt,
      source: 'record',
    });
  }
  if (job.completedAt !== undefined) {
    add({
      at: job.completedAt,
      title: `Ended ${job.status}`,
      ...(job.error === undefined ? {} : { detail: explainError(job.error) }),
      tone: job.status === 'COMPLETED' ? 'ok' : job.status === 'CANCELLED' ? 'info' : 'error',
      attempt,
      source: 'record',
    });
  }
  if (inputs.events !== undefined) {
    for (const event of inputs.events) {
      add({
        at: event.time,
        title: `Event ${event.detailType} published`,
        tone: 'info',
        attempt: event.detail.attempt ?? 1,
        source: 'events',
      });
    }
  } else if (job.eventPublishedAt !== undefined) {
    add({
      at: job.eventPublishedAt,
      title: 'Terminal event published',
      tone: 'info',
      attempt,
      source: 'record',
    });
    if (inputs.eventsUnavailable) missing.push(inputs.eventsUnavailable);
  }
  if (inputs.webhooks !== undefined) {
    for (const delivery of inputs.webhooks) {
      add({
        at: delivery.at,
        title: `Webhook attempt ${delivery.attempt}: ${delivery.outcome}`,
        detail:
          [
            delivery.httpStatus === undefined ? '' : `HTTP ${delivery.httpStatus}`,
            delivery.error ?? '',
            delivery.nextAttemptAt ? `next at ${delivery.nextAttemptAt}` : '',
          ]
            .filter((part) => part !== '')
            .join(', ') || delivery.url,
        tone: delivery.outcome === 'delivered' ? 'ok' : delivery.outcome === 'failed' ? 'error' : 'wait',
        attempt,
        source: 'webhooks',
      });
    }
  } else if (inputs.webhooksUnavailable) missing.push(inputs.webhooksUnavailable);
}

function payloadOf(output: string | undefined): Record<string, unknown> | undefined {
  if (output === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(output);
    if (value === null || typeof value !== 'object') return undefined;
    const record = value as Record<string, unknown>;
    const payload = 'Payload' in record ? record.Payload : record;
    return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function numberField(json: string | undefined, field: string): number | undefined {
  const value = payloadOf(json)?.[field];
  return typeof value === 'number' ? value : undefined;
}
