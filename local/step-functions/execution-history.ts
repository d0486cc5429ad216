/**
 * An execution's history as Step Functions' `GetExecutionHistory` reports it, built from what the
 * local runner already sees: the library's event log (states entered and exited), the Lambda
 * tasks the host runs itself, and how the execution ended.
 *
 * Event types and detail fields follow the Step Functions API (`HistoryEvent`): for example
 * `TaskStateEntered` with `stateEnteredEventDetails`, `TaskScheduled` with
 * `taskScheduledEventDetails`, `WaitStateExited`, `ExecutionSucceeded`. The library's own
 * `StateRetried`, `StateCaught` and `StateFailed` have no counterpart in a real history (a retry
 * shows as a second `TaskScheduled`, a catch as the next state entered), so they are left out.
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import type { ExecutionRecord } from './execution-store.js';

/** One entry of the library's event log (its type is not exported). */
export type LibraryEvent =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncIterable<infer E> ? E : never;

/** One event of `GetExecutionHistory`, before ids are numbered. */
export interface HistoryEntry {
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly type: string;
  /** The detail member, e.g. `stateEnteredEventDetails`, and its value. */
  readonly details?: { readonly key: string; readonly value: Record<string, unknown> };
}

/** A history event as the API returns it (timestamps still in milliseconds). */
export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: number;
  readonly type: string;
  readonly [detailKey: string]: unknown;
}

const STATE_TYPE_PREFIX: Readonly<Record<string, string>> = {
  Task: 'Task',
  Choice: 'Choice',
  Wait: 'Wait',
  Pass: 'Pass',
  Succeed: 'Succeed',
  Fail: 'Fail',
  Parallel: 'Parallel',
  Map: 'Map',
};

/**
 * Collects one execution's history entries in the order Step Functions writes them. The library's
 * event log is drained asynchronously, so a task's own events (recorded synchronously by the host)
 * would land before its state's `TaskStateEntered`: they are held per state and placed when the
 * library reports the state exited, failed or retried (or at the end, or on read while it runs).
 */
export class HistoryRecorder {
  private readonly entries: HistoryEntry[] = [];
  private readonly pendingByState = new Map<string, HistoryEntry[]>();

  constructor(initial: readonly HistoryEntry[] = []) {
    this.entries.push(...initial);
  }

  add(entry: HistoryEntry): void {
    this.entries.push(entry);
  }

  /** A task's own event, placed after its state's entry (see the class notes). */
  addTaskEvent(stateName: string, entry: HistoryEntry): void {
    const pending = this.pendingByState.get(stateName) ?? [];
    pending.push(entry);
    this.pendingByState.set(stateName, pending);
  }

  /** Records a library event log entry; ignores the ones a real history does not have. */
  addLibraryEvent(event: LibraryEvent): void {
    if (event.type === 'StateRetried' || event.type === 'StateFailed') {
      this.placePending(event.state.name);
      return;
    }
    if (event.type !== 'StateEntered' && event.type !== 'StateExited') return;
    const prefix = STATE_TYPE_PREFIX[event.state.type] ?? event.state.type;
    if (event.type === 'StateEntered') {
      this.add({
        timestamp: event.timestamp,
        type: `${prefix}StateEntered`,
        details: {
          key: 'stateEnteredEventDetails',
          value: {
            name: event.state.name,
            input: JSON.stringify(event.state.input ?? null),
            inputDetails: { truncated: false },
          },
        },
      });
      return;
    }
    this.placePending(event.state.name);
    this.add({
      timestamp: event.timestamp,
      type: `${prefix}StateExited`,
      details: {
        key: 'stateExitedEventDetails',
        value: {
          name: event.state.name,
          output: JSON.stringify(event.state.output ?? null),
          outputDetails: { truncated: false },
        },
      },
    });
  }

  /** Places every held task event (the run ended). */
  placeAllPending(): void {
    for (const stateName of [...this.pendingByState.keys()]) this.placePending(stateName);
  }

  /** Entries in order: the start first, the end last, held task events before the end. */
  ordered(): HistoryEntry[] {
    const held = [...this.pendingByState.values()].flat();
    const ends = this.entries.filter((entry) => isEnd(entry.type));
    return [...this.entries.filter((entry) => !isEnd(entry.type)), ...held, ...ends];
  }

  private placePending(stateName: string): void {
    const pending = this.pendingByState.get(stateName);
    if (pending === undefined) return;
    this.pendingByState.delete(stateName);
    this.entries.push(...pending);
  }
}

function isEnd(type: string): boolean {
  return type !== 'ExecutionStarted' && type.startsWith('Execution');
}

/**
 * Numbers entries as Step Functions does: ids from 1, `previousEventId` the event before it
 * (0 for the first). Step Functions links an event to its cause, which for this linear machine
 * is the event before it.
 */
export function numberHistory(entries: readonly HistoryEntry[]): HistoryEvent[] {
  return entries.map((entry, index) => ({
    id: index + 1,
    previousEventId: index,
    timestamp: entry.timestamp,
    type: entry.type,
    ...(entry.details === undefined ? {} : { [entry.details.key]: entry.details.value }),
  }));
}

const EXECUTION_DATA_FIELDS = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);

/** Drops `input`/`output` (and their `...Details`) from every detail, for `includeExecutionData: false`. */
export function withoutExecutionData(event: HistoryEvent): HistoryEvent {
  const stripped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventDetails') && value !== null && typeof value === 'object') {
      stripped[key] = Object.fromEntries(
        Object.entries(value).filter(([field]) => !EXECUTION_DATA_FIELDS.has(field)),
      );
    } else stripped[key] = value;
  }
  return stripped as unknown as HistoryEvent;
}

/**
 * The history events of one Lambda task: `TaskScheduled`/`TaskStarted`/`TaskSucceeded`/`TaskFailed`
 * for `lambda:invoke`, `LambdaFunction...` for a bare function ARN, as Step Functions writes them.
 * Stamped with `Date.now()`, the clock of the library's own events around them.
 */
export class TaskEvents {
  constructor(
    private readonly history: HistoryRecorder,
    private readonly stateName: string,
    private readonly target: { readonly kind: 'lambda:invoke' | 'function' },
    private readonly region: string,
    private readonly functionArn: string,
  ) {}

  scheduled(input: unknown): void {
    if (this.target.kind === 'lambda:invoke') {
      this.add('TaskScheduled', 'taskScheduledEventDetails', {
        ...this.resource(),
        region: this.region,
        parameters: JSON.stringify(input),
      });
      this.add('TaskStarted', 'taskStartedEventDetails', this.resource());
    } else {
      this.add('LambdaFunctionScheduled', 'lambdaFunctionScheduledEventDetails', {
        resource: this.functionArn,
        input: JSON.stringify(input),
        inputDetails: { truncated: false },
      });
      this.history.addTaskEvent(this.stateName, { timestamp: Date.now(), type: 'LambdaFunctionStarted' });
    }
  }

  succeeded(output: unknown): void {
    const text = JSON.stringify(output);
    if (this.target.kind === 'lambda:invoke') {
      this.add('TaskSucceeded', 'taskSucceededEventDetails', {
        ...this.resource(),
        output: text,
        outputDetails: { truncated: false },
      });
    } else {
      this.add('LambdaFunctionSucceeded', 'lambdaFunctionSucceededEventDetails', {
        output: text,
        outputDetails: { truncated: false },
      });
    }
  }

  failed(error: string, cause: string): void {
    if (this.target.kind === 'lambda:invoke') {
      this.add('TaskFailed', 'taskFailedEventDetails', { ...this.resource(), error, cause });
    } else this.add('LambdaFunctionFailed', 'lambdaFunctionFailedEventDetails', { error, cause });
  }

  private resource(): Record<string, string> {
    return { resourceType: 'lambda', resource: 'invoke' };
  }

  private add(type: string, key: string, value: Record<string, unknown>): void {
    this.history.addTaskEvent(this.stateName, { timestamp: Date.now(), type, details: { key, value } });
  }
}

/** The event that ends an execution's history, from its record. */
export function endEntryOf(record: ExecutionRecord): HistoryEntry {
  const timestamp = Date.parse(record.stopDate ?? record.startDate);
  const failure = {
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.cause === undefined ? {} : { cause: record.cause }),
  };
  switch (record.status) {
    case 'SUCCEEDED':
      return {
        timestamp,
        type: 'ExecutionSucceeded',
        details: {
          key: 'executionSucceededEventDetails',
          value: { output: record.output ?? 'null', outputDetails: { truncated: false } },
        },
      };
    case 'FAILED':
      return {
        timestamp,
        type: 'ExecutionFailed',
        details: { key: 'executionFailedEventDetails', value: failure },
      };
    case 'TIMED_OUT':
      return {
        timestamp,
        type: 'ExecutionTimedOut',
        details: { key: 'executionTimedOutEventDetails', value: failure },
      };
    default:
      return {
        timestamp,
        type: 'ExecutionAborted',
        details: { key: 'executionAbortedEventDetails', value: failure },
      };
  }
}

export function encodeHistoryToken(afterEventId: number): string {
  return Buffer.from(JSON.stringify({ afterEvent: afterEventId }), 'utf8').toString('base64url');
}

export function decodeHistoryToken(token: string): number | undefined {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return decoded !== null &&
      typeof decoded === 'object' &&
      'afterEvent' in decoded &&
      typeof decoded.afterEvent === 'number'
      ? decoded.afterEvent
      : undefined;
  } catch {
    return undefined;
  }
}
