import './promise-with-resolvers.js';
import { randomUUID } from 'node:crypto';
import {
  ExecutionError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { Clock, Logger } from '../../functions/domain/ports.js';
import {
  formatExecutionArn,
  parseExecutionArn,
  parseStateMachineArn,
  type StateMachineArnParts,
} from './arns.js';
import {
  ExecutionAlreadyExistsError,
  ExecutionDoesNotExistError,
  InvalidDefinitionError,
  InvalidExecutionInputError,
  InvalidNameError,
  InvalidTokenError,
  RequestValidationError,
  StateMachineHostClosedError,
  UnsupportedTaskResourceError,
} from './errors.js';
import {
  decodeHistoryToken,
  encodeHistoryToken,
  endEntryOf,
  type HistoryEvent,
  HistoryRecorder,
  numberHistory,
  TaskEvents,
  withoutExecutionData,
} from './execution-history.js';
import { type ExecutionRecord, type ExecutionStatus, ExecutionStore } from './execution-store.js';

export type { ExecutionStatus } from './execution-store.js';

/** Runs a Lambda function: resolves with its result, rejects with the error it threw. */
export type InvokeLambda = (functionArn: string, payload: unknown) => Promise<unknown>;

export interface StateMachineHostProps {
  /** `arn:<partition>:states:<region>:<account>:stateMachine:<name>`; executions take its region and account. */
  readonly stateMachineArn: string;
  /** The state machine's name; must be the one in `stateMachineArn`. */
  readonly name: string;
  /** The ASL JSON (JSONPath) with tokens resolved, see `resolveDefinitionString`. */
  readonly definition: string;
  /** Where executions are stored (`<dataDir>/executions/`); several machines may share it. */
  readonly dataDir: string;
  /** What Task states call, for both `arn:aws:states:::lambda:invoke` and bare function ARNs. */
  readonly invokeLambda: InvokeLambda;
  /**
   * Reported by DescribeStateMachine.
   * @default `arn:<partition>:iam::<account>:role/<name>-role`
   */
  readonly roleArn?: string;
  /**
   * Dates of executions, and the `TimeoutSeconds` deadline.
   * @default the system clock
   */
  readonly clock?: Clock;
  /** @default silent */
  readonly logger?: Logger;
}

export interface ExecutionListItem {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
}

export interface ExecutionDescription extends ExecutionListItem {
  /** JSON text. */
  readonly input: string;
  /** JSON text, for SUCCEEDED. */
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface StartExecutionRequest {
  /** @default a random UUID */
  readonly name?: string;
  /** JSON text. @default `{}` */
  readonly input?: string;
}

export interface ListExecutionsRequest {
  readonly statusFilter?: ExecutionStatus;
  /** 1 to 1000; 0 or absent means 100. */
  readonly maxResults?: number;
  readonly nextToken?: string;
}

export interface ListExecutionsResult {
  /** Newest first. */
  readonly executions: readonly ExecutionListItem[];
  readonly nextToken?: string;
}

export interface GetExecutionHistoryRequest {
  /** 1 to 1000; 0 or absent means 100. */
  readonly maxResults?: number;
  readonly nextToken?: string;
  /** Newest first. @default false */
  readonly reverseOrder?: boolean;
  /** @default true */
  readonly includeExecutionData?: boolean;
}

export interface GetExecutionHistoryResult {
  readonly events: readonly HistoryEvent[];
  readonly nextToken?: string;
}

export interface StopExecutionRequest {
  readonly error?: string;
  readonly cause?: string;
}

const LAMBDA_INVOKE_RESOURCE = /^arn:aws[a-z-]*:states:::lambda:invoke$/;
const LAMBDA_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[^:]+:[^:]+:function:[^:]+(:[^:]+)?$/;
/**
 * The library gives every Task without `TimeoutSeconds` a 60 s limit; Step Functions gives none
 * (the Lambda's own timeout applies). This is the largest value Node's `setTimeout` accepts;
 * Step Functions' own sentinel (99999999) would overflow it and fire at once.
 */
const UNLIMITED_TASK_TIMEOUT_SECONDS = 2_147_483;
const MAX_TIMER_MS = 2_147_483_647;
const MAX_INPUT_BYTES = 262_144;
const MAX_NAME_LENGTH = 80;
const DEFAULT_MAX_RESULTS = 100;
const MAX_MAX_RESULTS = 1000;
const NAME_FORBIDDEN_CHARACTERS = new Set('<>{}[]?*"#%\\^|~`$&,;:/');

type LocalHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type LocalHandler = LocalHandlers[string];
type JsonValue = Parameters<LocalHandler>[0];
interface TaskTarget {
  /** `lambda:invoke` takes FunctionName and Payload from Parameters; `function` is a bare function ARN. */
  readonly kind: 'lambda:invoke' | 'function';
  readonly resource: string;
}

interface ActiveRun {
  readonly abort: () => void;
  timer: NodeJS.Timeout | undefined;
  /** Settles once the library's event log of the run is drained into the history. */
  drained: Promise<void>;
}

interface FinishWaiter {
  readonly resolve: (description: ExecutionDescription) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A failure thrown by a Lambda, as Step Functions reports it: `name` is the error's name (what
 * `Retry`/`Catch` `ErrorEquals` match) and `message` is the Lambda runtime's error document,
 * `{"errorType","errorMessage","trace"}` as JSON text (what `Catch` records as `Cause`).
 */
class LambdaFunctionError extends Error {
  constructor(errorType: string, cause: string) {
    super(cause);
    this.name = errorType;
  }
}

/**
 * An error that neither `Retry` nor `Catch` (not even `States.ALL`) handles: the library reads
 * `isRetryable`/`isCatchable`. Used for `States.Runtime` and for tasks of an aborted run.
 */
class UnhandledTaskError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Runs one state machine's executions in-process with aws-local-stepfunctions, stored so they
 * survive a crash, and answers the Step Functions operations the API server exposes.
 *
 * Fidelity notes:
 * - StartExecution is idempotent like Step Functions (STANDARD): the same name and input as a
 *   RUNNING execution returns that execution; otherwise a taken name is ExecutionAlreadyExists.
 * - A Lambda error reaches the ASL as `Error` = the thrown error's `name` and `Cause` = the Lambda
 *   runtime's JSON error document; `lambda:invoke` tasks return `{ ExecutedVersion, Payload, StatusCode }`.
 * - The definition's `TimeoutSeconds` counts from the execution's original start, across restarts.
 *
 * Resume design: an execution's record is written (atomically) as RUNNING before
 * StartExecution answers, and again once it ends. On start-up, {@link resumeRunning} re-runs
 * every execution still recorded RUNNING *from the beginning* with its original input, because
 * the library has no checkpoint of a run in progress. This is safe because every step of the
 * pipeline is idempotent (the job record, not the execution, holds the progress). It also means
 * a Lambda may run again after a restart, as it may under Step Functions' own retries.
 */
export class StateMachineHost {
  readonly stateMachineArn: string;
  readonly name: string;
  /** The ASL JSON as given. */
  readonly definition: string;
  readonly roleArn: string;
  readonly creationDate: Date;

  private readonly arnParts: StateMachineArnParts;
  private readonly machine: StateMachine;
  private readonly timeoutSeconds: number | undefined;
  private readonly taskTargets: ReadonlyMap<string, TaskTarget>;
  private readonly invokeLambda: InvokeLambda;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly store: ExecutionStore;
  /** By execution name; insertion order is start order. */
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly startOrder = new Map<string, number>();
  private readonly active = new Map<string, ActiveRun>();
  private readonly finishWaiters = new Map<string, FinishWaiter[]>();
  /** Histories of executions that have not ended; ended ones are read from the store. */
  private readonly histories = new Map<string, HistoryRecorder>();
  private readonly drains = new Map<string, Promise<void>>();
  private readonly historyWrites = new Set<Promise<void>>();
  private nextStartOrder = 0;
  private closed = false;

  /**
   * Validates the definition and loads the stored executions (synchronously, once).
   * Nothing runs until {@link startExecution} or {@link resumeRunning}.
   *
   * @throws InvalidArnError if `stateMachineArn` is not a state machine ARN.
   * @throws InvalidDefinitionError if `name` differs from the ARN's, or the definition is not valid ASL.
   * @throws UnsupportedTaskResourceError for a Task resource other than a Lambda invocation.
   */
  constructor(props: StateMachineHostProps) {
    this.arnParts = parseStateMachineArn(props.stateMachineArn);
    if (props.name !== this.arnParts.stateMachineName) {
      throw new InvalidDefinitionError(
        `State machine name '${props.name}' differs from the one in ${props.stateMachineArn}`,
      );
    }
    this.stateMachineArn = props.stateMachineArn;
    this.name = props.name;
    this.definition = props.definition;
    this.roleArn =
      props.roleArn ?? `arn:${this.arnParts.partition}:iam::${this.arnParts.account}:role/${props.name}-role`;
    this.invokeLambda = props.invokeLambda;
    this.clock = props.clock ?? { now: () => new Date() };
    this.logger = props.logger ?? { debug() {}, info() {}, warn() {}, error() {} };
    this.creationDate = this.clock.now();

    const { definition, timeoutSeconds, taskTargets } = prepareDefinition(props.definition);
    this.timeoutSeconds = timeoutSeconds;
    this.taskTargets = taskTargets;
    try {
      this.machine = new StateMachine(definition);
    } catch (error) {
      throw new InvalidDefinitionError(`The definition of ${props.name} is not valid ASL`, { cause: error });
    }

    this.store = new ExecutionStore(props.dataDir);
    for (const record of this.store.loadSync(this.stateMachineArn, this.logger)) this.remember(record);
  }

  /**
   * Starts an execution, or returns the RUNNING one with the same name and input.
   * Resolves once the RUNNING record is durable.
   *
   * @throws InvalidNameError, InvalidExecutionInputError for a bad request.
   * @throws ExecutionAlreadyExistsError if the name is taken by another input or an ended execution.
   * @throws StateMachineHostClosedError after {@link close}.
   */
  async startExecution(request: StartExecutionRequest): Promise<{ executionArn: string; startDate: Date }> {
    if (this.closed) throw new StateMachineHostClosedError(`${this.name} is closed`);
    const name = request.name ?? randomUUID();
    const input = request.input ?? '{}';
    validateExecutionName(name);
    validateExecutionInput(input);

    const executionArn = formatExecutionArn(this.arnParts, name);
    const existing = this.records.get(name);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: new Date(existing.startDate) };
      }
      throw new ExecutionAlreadyExistsError(`Execution Already Exists: '${executionArn}'`);
    }

    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      input,
      status: 'RUNNING',
      startDate: this.clock.now().toISOString(),
    };
    // Claimed before the write, so a concurrent start with the same name sees it.
    this.remember(record);
    try {
      await this.store.save(record);
    } catch (error) {
      this.records.delete(name);
      this.startOrder.delete(name);
      throw error;
    }
    if (!this.closed) this.launch(record);
    return { executionArn, startDate: new Date(record.startDate) };
  }

  /**
   * @throws InvalidArnError if `executionArn` is not an execution ARN.
   * @throws ExecutionDoesNotExistError if this machine has no such execution.
   */
  describeExecution(executionArn: string): ExecutionDescription {
    return describe(this.recordOf(executionArn));
  }

  /**
   * Executions newest first, optionally only those in one status. `nextToken` continues after
   * the last execution of the previous page, so executions started meanwhile do not shift pages.
   *
   * @throws InvalidTokenError for a token this host did not hand out.
   * @throws RequestValidationError for `maxResults` outside 0 to 1000.
   */
  listExecutions(request: ListExecutionsRequest = {}): ListExecutionsResult {
    const maxResults = request.maxResults || DEFAULT_MAX_RESULTS;
    if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_MAX_RESULTS) {
      throw new RequestValidationError(`maxResults must be an integer from 0 to ${MAX_MAX_RESULTS}`);
    }
    const matching = [...this.records.values()]
      .filter((record) => request.statusFilter === undefined || record.status === request.statusFilter)
      .sort(
        (a, b) =>
          b.startDate.localeCompare(a.startDate) ||
          (this.startOrder.get(b.name) ?? 0) - (this.startOrder.get(a.name) ?? 0),
      );
    let start = 0;
    if (request.nextToken !== undefined) {
      const after = decodeToken(request.nextToken);
      const index = matching.findIndex((record) => record.executionArn === after);
      if (index < 0) throw new InvalidTokenError(`Invalid Token: '${request.nextToken}'`);
      start = index + 1;
    }
    const page = matching.slice(start, start + maxResults);
    const last = page[page.length - 1];
    const hasMore = start + maxResults < matching.length;
    return {
      executions: page.map(listItem),
      ...(hasMore && last ? { nextToken: encodeToken(last.executionArn) } : {}),
    };
  }

  /**
   * The execution's events, oldest first (or newest first with `reverseOrder`), in pages.
   * An execution that ended before histories were kept gets its start and its end.
   *
   * @throws InvalidArnError, ExecutionDoesNotExistError as {@link describeExecution}.
   * @throws InvalidTokenError for a token this host did not hand out.
   * @throws RequestValidationError for `maxResults` outside 0 to 1000.
   */
  async getExecutionHistory(
    executionArn: string,
    request: GetExecutionHistoryRequest = {},
  ): Promise<GetExecutionHistoryResult> {
    const record = this.recordOf(executionArn);
    const maxResults = request.maxResults || DEFAULT_MAX_RESULTS;
    if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_MAX_RESULTS) {
      throw new RequestValidationError(`maxResults must be an integer from 0 to ${MAX_MAX_RESULTS}`);
    }
    const entries =
      this.histories.get(record.name)?.ordered() ??
      (await this.store.loadHistory(executionArn)) ??
      this.bareHistory(record).ordered();
    let events = numberHistory(entries);
    if (request.reverseOrder) events = events.reverse();
    if (request.includeExecutionData === false) events = events.map(withoutExecutionData);
    let start = 0;
    if (request.nextToken !== undefined) {
      const after = decodeHistoryToken(request.nextToken);
      const index = after === undefined ? -1 : events.findIndex((event) => event.id === after);
      if (index < 0) throw new InvalidTokenError(`Invalid Token: '${request.nextToken}'`);
      start = index + 1;
    }
    const page = events.slice(start, start + maxResults);
    const last = page.at(-1);
    return {
      events: page,
      ...(start + maxResults < events.length && last !== undefined
        ? { nextToken: encodeHistoryToken(last.id) }
        : {}),
    };
  }

  /**
   * Stops a RUNNING execution: status ABORTED with the given error and cause. A Lambda already
   * running finishes, but its result is ignored and the run calls no further Lambda. Stopping
   * an execution that already ended changes nothing.
   *
   * @throws InvalidArnError, ExecutionDoesNotExistError as {@link describeExecution}.
   */
  async stopExecution(executionArn: string, request: StopExecutionRequest = {}): Promise<{ stopDate: Date }> {
    const record = this.recordOf(executionArn);
    if (record.status !== 'RUNNING') {
      return { stopDate: record.stopDate === undefined ? this.clock.now() : new Date(record.stopDate) };
    }
    this.halt(record.name);
    const stopped = await this.finish(record.name, {
      status: 'ABORTED',
      ...(request.error === undefined ? {} : { error: request.error }),
      ...(request.cause === undefined ? {} : { cause: request.cause }),
    });
    return { stopDate: new Date(stopped?.stopDate ?? this.clock.now().toISOString()) };
  }

  /**
   * Resolves with the execution's description once it is no longer RUNNING and that is stored
   * (at once if it already ended). For the local runtime and tests; Step Functions has no such call.
   *
   * @throws InvalidArnError, ExecutionDoesNotExistError as {@link describeExecution}.
   * @throws StateMachineHostClosedError (rejection) if the host closes first.
   */
  whenFinished(executionArn: string): Promise<ExecutionDescription> {
    const record = this.recordOf(executionArn);
    if (record.status !== 'RUNNING') return Promise.resolve(describe(record));
    return new Promise((resolve, reject) => {
      const waiters = this.finishWaiters.get(record.name) ?? [];
      waiters.push({ resolve, reject });
      this.finishWaiters.set(record.name, waiters);
    });
  }

  /**
   * Call once at start-up: re-runs, from the beginning and with its original input, every
   * execution recorded RUNNING that is not running here (see the class notes). One whose
   * `TimeoutSeconds` deadline passed while the runtime was down ends TIMED_OUT instead.
   *
   * @returns the ARNs of the executions resumed.
   */
  async resumeRunning(): Promise<readonly string[]> {
    if (this.closed) throw new StateMachineHostClosedError(`${this.name} is closed`);
    const resumed: string[] = [];
    for (const record of [...this.records.values()]) {
      if (record.status !== 'RUNNING' || this.active.has(record.name)) continue;
      this.launch(record);
      resumed.push(record.executionArn);
    }
    if (resumed.length > 0) {
      this.logger.info('Resumed running executions from the start', {
        stateMachine: this.name,
        count: resumed.length,
      });
    }
    await this.store.flush();
    return resumed;
  }

  /**
   * Stops running executions *without* recording an end, so that the next host on the same
   * `dataDir` resumes them; resolves once pending writes are done. Lambdas already running finish
   * in the background, ignored. Waiters of {@link whenFinished} are rejected.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const name of [...this.active.keys()]) this.halt(name);
    const error = new StateMachineHostClosedError(`${this.name} is closed`);
    for (const waiters of this.finishWaiters.values()) for (const waiter of waiters) waiter.reject(error);
    this.finishWaiters.clear();
    await Promise.allSettled([...this.historyWrites]);
    await this.store.flush();
  }

  private launch(record: ExecutionRecord): void {
    const deadlineMs =
      this.timeoutSeconds === undefined
        ? undefined
        : Date.parse(record.startDate) + this.timeoutSeconds * 1000;
    if (deadlineMs !== undefined && deadlineMs <= this.clock.now().getTime()) {
      // Ran out of time while the runtime was down: end it without running a state.
      void this.finish(record.name, this.timedOut());
      return;
    }
    const controller = new AbortController();
    // A resumed execution runs again from the start, and so does its history.
    const history = this.bareHistory({ ...record, status: 'RUNNING' });
    this.histories.set(record.name, history);
    const execution = this.machine.run(parseJson(record.input), {
      overrides: { taskResourceLocalHandlers: this.createTaskHandlers(controller.signal, history) },
      noThrowOnAbort: true,
      context: {
        Execution: { Id: record.executionArn, Name: record.name, RoleArn: this.roleArn },
        StateMachine: { Id: this.stateMachineArn, Name: this.name },
      },
    });
    const run: ActiveRun = {
      abort: () => {
        controller.abort();
        execution.abort();
      },
      timer: undefined,
      drained: Promise.resolve(),
    };
    this.active.set(record.name, run);
    if (deadlineMs !== undefined) this.armTimeout(record.name, run, deadlineMs);
    run.drained = this.logEvents(record.name, execution.eventLogs, history);
    this.drains.set(record.name, run.drained);
    execution.result.then(
      (output) => this.settle(record.name, run, { status: 'SUCCEEDED', output: JSON.stringify(output) }),
      (error: unknown) => this.settle(record.name, run, failureOf(error)),
    );
  }

  /** A run ended by itself; ignored if it was stopped, timed out or closed meanwhile. */
  private settle(name: string, run: ActiveRun, outcome: Partial<ExecutionRecord>): void {
    if (this.active.get(name) !== run) return;
    this.halt(name);
    void this.finish(name, outcome);
  }

  private armTimeout(name: string, run: ActiveRun, deadlineMs: number): void {
    const remainingMs = deadlineMs - this.clock.now().getTime();
    const onTimeout = () => {
      if (this.active.get(name) !== run) return;
      this.halt(name);
      void this.finish(name, this.timedOut());
    };
    run.timer =
      remainingMs > MAX_TIMER_MS
        ? setTimeout(() => this.armTimeout(name, run, deadlineMs), MAX_TIMER_MS)
        : setTimeout(onTimeout, Math.max(0, remainingMs));
  }

  private timedOut(): Partial<ExecutionRecord> {
    return {
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      cause: `The execution ran longer than its TimeoutSeconds (${this.timeoutSeconds} s)`,
    };
  }

  /** Aborts the run of `name`, if any, and forgets it. */
  private halt(name: string): void {
    const run = this.active.get(name);
    if (!run) return;
    this.active.delete(name);
    clearTimeout(run.timer);
    run.abort();
  }

  /** Records the end of a RUNNING execution; store failures are logged (a restart re-runs it). */
  private async finish(
    name: string,
    outcome: Partial<ExecutionRecord>,
  ): Promise<ExecutionRecord | undefined> {
    const current = this.records.get(name);
    if (current?.status !== 'RUNNING') return current;
    const ended: ExecutionRecord = { ...current, ...outcome, stopDate: this.clock.now().toISOString() };
    this.records.set(name, ended);
    this.recordEnd(name, ended);
    this.logger.info('Execution ended', { execution: ended.executionArn, status: ended.status });
    try {
      await this.store.save(ended);
    } catch (error) {
      this.logger.error('Could not store the end of an execution', {
        execution: ended.executionArn,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    // After the write, so whoever waits can rely on the end surviving a restart.
    const waiters = this.finishWaiters.get(name) ?? [];
    this.finishWaiters.delete(name);
    for (const waiter of waiters) waiter.resolve(describe(ended));
    return ended;
  }

  /** Adds the end to the history and stores it once the library's log of the run is drained. */
  private recordEnd(name: string, ended: ExecutionRecord): void {
    const history = this.histories.get(name);
    if (history === undefined) return;
    history.add(endEntryOf(ended));
    const drained = this.drains.get(name) ?? Promise.resolve();
    this.drains.delete(name);
    const write = (async () => {
      // The log normally ends with the run; an aborted run's may not, so the wait is bounded.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        drained,
        new Promise((resolve) => (timer = setTimeout(resolve, HISTORY_DRAIN_MS))),
      ]);
      clearTimeout(timer);
      history.placeAllPending();
      try {
        await this.store.saveHistory(ended.executionArn, history.ordered());
        if (this.histories.get(name) === history) this.histories.delete(name);
      } catch (error) {
        this.logger.error('Could not store the history of an execution', {
          execution: ended.executionArn,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    })();
    this.historyWrites.add(write);
    void write.finally(() => this.historyWrites.delete(write));
  }

  /** A history of the start alone (plus the end, for an execution that ended). */
  private bareHistory(record: ExecutionRecord): HistoryRecorder {
    const history = new HistoryRecorder();
    history.add({
      timestamp: Date.parse(record.startDate),
      type: 'ExecutionStarted',
      details: {
        key: 'executionStartedEventDetails',
        value: {
          input: record.input,
          inputDetails: { truncated: false },
          roleArn: this.roleArn,
        },
      },
    });
    if (record.status !== 'RUNNING') history.add(endEntryOf(record));
    return history;
  }

  private createTaskHandlers(signal: AbortSignal, history: HistoryRecorder): LocalHandlers {
    const handlers: LocalHandlers = {};
    for (const [stateName, target] of this.taskTargets) {
      handlers[stateName] = (input) => this.runTask(stateName, target, input, signal, history);
    }
    return handlers;
  }

  private async runTask(
    stateName: string,
    target: TaskTarget,
    input: JsonValue,
    signal: AbortSignal,
    history: HistoryRecorder,
  ): Promise<JsonValue> {
    const abortedError = () =>
      new UnhandledTaskError('ExecutionAborted', `The execution stopped before '${stateName}' finished`);
    if (signal.aborted) throw abortedError();
    let functionArn: string;
    let payload: unknown;
    if (target.kind === 'lambda:invoke') {
      if (!isRecord(input) || typeof input.FunctionName !== 'string') {
        throw new UnhandledTaskError(
          'States.Runtime',
          `'${stateName}': lambda:invoke needs Parameters with a FunctionName string`,
        );
      }
      functionArn = input.FunctionName;
      payload = input.Payload ?? {};
    } else {
      functionArn = target.resource;
      payload = input;
    }
    const events = new TaskEvents(history, stateName, target, this.arnParts.region, functionArn);
    events.scheduled(target.kind === 'lambda:invoke' ? input : payload);
    let result: unknown;
    try {
      result = await this.invokeLambda(functionArn, payload);
    } catch (error) {
      if (signal.aborted) throw abortedError();
      const failure = toLambdaFunctionError(error);
      events.failed(failure.name, failure.message);
      throw failure;
    }
    if (signal.aborted) throw abortedError();
    const json = toJsonValue(result);
    const output: JsonValue =
      target.kind === 'lambda:invoke' ? { ExecutedVersion: '$LATEST', Payload: json, StatusCode: 200 } : json;
    events.succeeded(output);
    return output;
  }

  private async logEvents(
    name: string,
    events: ReturnType<StateMachine['run']>['eventLogs'],
    history: HistoryRecorder,
  ): Promise<void> {
    // Draining the log also keeps the library from queueing every event of a long run in memory.
    for await (const event of events) {
      history.addLibraryEvent(event);
      switch (event.type) {
        case 'StateEntered':
          this.logger.debug('Entered state', { execution: name, state: event.state.name });
          break;
        case 'StateRetried':
          this.logger.info('Retrying state', {
            execution: name,
            state: event.state.name,
            attempt: event.retry.attempt,
          });
          break;
        case 'StateCaught':
          this.logger.info('Caught an error', { execution: name, state: event.state.name });
          break;
        case 'StateFailed':
          this.logger.info('State failed', { execution: name, state: event.state.name, error: event.Error });
          break;
      }
    }
  }

  private recordOf(executionArn: string): ExecutionRecord {
    const parts = parseExecutionArn(executionArn);
    const record =
      parts.stateMachineArn === this.stateMachineArn ? this.records.get(parts.executionName) : undefined;
    if (!record) throw new ExecutionDoesNotExistError(`Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  private remember(record: ExecutionRecord): void {
    this.records.set(record.name, record);
    this.startOrder.set(record.name, this.nextStartOrder++);
  }
}

/** How long the end of an execution waits for the last events of the library's log. */
const HISTORY_DRAIN_MS = 1000;

/**
 * What the library runs: `TimeoutSeconds` removed (the host enforces it from the original start
 * date, which survives restarts), Tasks without a timeout given an unlimited one.
 */
function prepareDefinition(definitionText: string): {
  definition: StateMachineDefinition;
  timeoutSeconds: number | undefined;
  taskTargets: ReadonlyMap<string, TaskTarget>;
} {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definitionText);
  } catch (error) {
    throw new InvalidDefinitionError('The state machine definition is not JSON', { cause: error });
  }
  if (!isRecord(parsed) || !isRecord(parsed.States)) {
    throw new InvalidDefinitionError('The state machine definition has no States object');
  }
  const { TimeoutSeconds: timeoutSeconds, ...rest } = parsed;
  if (timeoutSeconds !== undefined && (typeof timeoutSeconds !== 'number' || timeoutSeconds <= 0)) {
    throw new InvalidDefinitionError('TimeoutSeconds must be a positive number');
  }
  const taskTargets = new Map<string, TaskTarget>();
  for (const [stateName, resource] of findTaskResources(rest)) {
    if (LAMBDA_INVOKE_RESOURCE.test(resource))
      taskTargets.set(stateName, { kind: 'lambda:invoke', resource });
    else if (LAMBDA_FUNCTION_ARN.test(resource)) taskTargets.set(stateName, { kind: 'function', resource });
    else {
      throw new UnsupportedTaskResourceError(
        `Task '${stateName}' uses ${resource}; the local runtime runs only Lambda tasks`,
      );
    }
  }
  withUnlimitedTaskTimeouts(rest);
  // The library validates the shape (asl-validator) in its constructor.
  return { definition: rest as unknown as StateMachineDefinition, timeoutSeconds, taskTargets };
}

/** Task state name -> Resource, through Parallel branches and Map processors. */
function findTaskResources(definition: unknown, found = new Map<string, string>()): Map<string, string> {
  if (!isRecord(definition) || !isRecord(definition.States)) return found;
  for (const [stateName, state] of Object.entries(definition.States)) {
    if (!isRecord(state)) continue;
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      const previous = found.get(stateName);
      if (previous !== undefined && previous !== state.Resource) {
        // The library keys local handlers by state name alone.
        throw new UnsupportedTaskResourceError(
          `Two Task states named '${stateName}' use different resources`,
        );
      }
      found.set(stateName, state.Resource);
    }
    for (const nested of nestedMachines(state)) findTaskResources(nested, found);
  }
  return found;
}

function withUnlimitedTaskTimeouts(definition: unknown): void {
  if (!isRecord(definition) || !isRecord(definition.States)) return;
  for (const state of Object.values(definition.States)) {
    if (!isRecord(state)) continue;
    if (
      state.Type === 'Task' &&
      state.TimeoutSeconds === undefined &&
      state.TimeoutSecondsPath === undefined
    ) {
      state.TimeoutSeconds = UNLIMITED_TASK_TIMEOUT_SECONDS;
    }
    for (const nested of nestedMachines(state)) withUnlimitedTaskTimeouts(nested);
  }
}

function nestedMachines(state: Record<string, unknown>): unknown[] {
  const branches = Array.isArray(state.Branches) ? state.Branches : [];
  return [...branches, state.Iterator, state.ItemProcessor].filter((machine) => machine !== undefined);
}

function validateExecutionName(name: string): void {
  const valid =
    name.length >= 1 &&
    name.length <= MAX_NAME_LENGTH &&
    [...name].every((character) => {
      const code = character.codePointAt(0) ?? 0;
      const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f);
      return !control && !/\s/u.test(character) && !NAME_FORBIDDEN_CHARACTERS.has(character);
    });
  if (!valid) throw new InvalidNameError(`Invalid Name: '${name}'`);
}

function validateExecutionInput(input: string): void {
  if (Buffer.byteLength(input, 'utf8') > MAX_INPUT_BYTES) {
    throw new InvalidExecutionInputError(`The input is over ${MAX_INPUT_BYTES} bytes`);
  }
  try {
    JSON.parse(input);
  } catch {
    throw new InvalidExecutionInputError(`Invalid State Machine Execution Input: '${input.slice(0, 100)}'`);
  }
}

function failureOf(error: unknown): Partial<ExecutionRecord> {
  const reason = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
  if (reason instanceof Error) return { status: 'FAILED', error: reason.name, cause: reason.message };
  return { status: 'FAILED', error: 'States.Runtime', cause: String(reason) };
}

/** What the Node.js Lambda runtime reports for a thrown value. */
function toLambdaFunctionError(thrown: unknown): LambdaFunctionError {
  const errorType = thrown instanceof Error ? thrown.name : 'Error';
  const errorMessage = thrown instanceof Error ? thrown.message : String(thrown);
  const trace = thrown instanceof Error && thrown.stack !== undefined ? thrown.stack.split('\n') : [];
  return new LambdaFunctionError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}

/** The result as Lambda would return it: JSON-serialized, `undefined` as null. */
function toJsonValue(value: unknown): JsonValue {
  const text = value === undefined ? undefined : JSON.stringify(value);
  return text === undefined ? null : parseJson(text);
}

function parseJson(text: string): JsonValue {
  // Only ever called on text produced by JSON.stringify or validated as JSON.
  return JSON.parse(text) as JsonValue;
}

function describe(record: ExecutionRecord): ExecutionDescription {
  return {
    ...listItem(record),
    input: record.input,
    ...(record.output === undefined ? {} : { output: record.output }),
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.cause === undefined ? {} : { cause: record.cause }),
  };
}

function listItem(record: ExecutionRecord): ExecutionListItem {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: new Date(record.startDate),
    ...(record.stopDate === undefined ? {} : { stopDate: new Date(record.stopDate) }),
  };
}

function encodeToken(executionArn: string): string {
  return Buffer.from(JSON.stringify({ after: executionArn }), 'utf8').toString('base64url');
}

function decodeToken(token: string): string | undefined {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return isRecord(decoded) && typeof decoded.after === 'string' ? decoded.after : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
