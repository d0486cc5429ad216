/**
 * One state machine run in-process (see {@link StateMachineHost}). The parts: `definition.ts`
 * (what the library runs), `lambda-tasks.ts` (Task states), `execution-histories.ts`
 * (GetExecutionHistory), `execution-requests.ts` (request rules, descriptions, pages),
 * `execution-store.ts` (records on disk); `api-server.ts` serves the operations over HTTP.
 */
import './promise-with-resolvers.js';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { Clock, Logger } from '../../functions/domain/ports.js';
import {
  formatExecutionArn,
  parseExecutionArn,
  parseStateMachineArn,
  type StateMachineArnParts,
} from './arns.js';
import { prepareDefinition } from './definition.js';
import {
  ExecutionAlreadyExistsError,
  ExecutionDoesNotExistError,
  InvalidDefinitionError,
  InvalidTokenError,
  StateMachineHostClosedError,
} from './errors.js';
import { ExecutionHistories } from './execution-histories.js';
import {
  decodeHistoryToken,
  encodeHistoryToken,
  numberHistory,
  withoutExecutionData,
} from './execution-history.js';
import {
  decodeToken,
  describe,
  type ExecutionDescription,
  encodeToken,
  type GetExecutionHistoryRequest,
  type GetExecutionHistoryResult,
  type ListExecutionsRequest,
  type ListExecutionsResult,
  listItem,
  readMaxResults,
  type StartExecutionRequest,
  type StopExecutionRequest,
  validateExecutionInput,
  validateExecutionName,
} from './execution-requests.js';
import { ExecutionRuns } from './execution-runs.js';
import { type ExecutionRecord, ExecutionStore } from './execution-store.js';
import type { InvokeLambda } from './lambda-tasks.js';

export type {
  ExecutionDescription,
  ExecutionListItem,
  GetExecutionHistoryRequest,
  GetExecutionHistoryResult,
  ListExecutionsRequest,
  ListExecutionsResult,
  StartExecutionRequest,
  StopExecutionRequest,
} from './execution-requests.js';
export type { ExecutionStatus } from './execution-store.js';
export type { InvokeLambda } from './lambda-tasks.js';

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

interface FinishWaiter {
  readonly resolve: (description: ExecutionDescription) => void;
  readonly reject: (error: Error) => void;
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
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly store: ExecutionStore;
  private readonly histories: ExecutionHistories;
  /** By execution name; insertion order is start order. */
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly startOrder = new Map<string, number>();
  private readonly runs: ExecutionRuns;
  private readonly finishWaiters = new Map<string, FinishWaiter[]>();
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
    this.clock = props.clock ?? { now: () => new Date() };
    this.logger = props.logger ?? { debug() {}, info() {}, warn() {}, error() {} };
    this.creationDate = this.clock.now();

    const { definition, timeoutSeconds, taskTargets } = prepareDefinition(props.definition);
    let machine: StateMachine;
    try {
      machine = new StateMachine(definition);
    } catch (error) {
      throw new InvalidDefinitionError(`The definition of ${props.name} is not valid ASL`, { cause: error });
    }

    this.store = new ExecutionStore(props.dataDir);
    this.histories = new ExecutionHistories(this.store, this.roleArn, this.logger);
    this.runs = new ExecutionRuns({
      machine,
      stateMachineArn: this.stateMachineArn,
      name: this.name,
      roleArn: this.roleArn,
      arnParts: this.arnParts,
      timeoutSeconds,
      taskTargets,
      invokeLambda: props.invokeLambda,
      histories: this.histories,
      clock: this.clock,
      onEnd: (name, outcome) => this.finish(name, outcome),
    });
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
    if (!this.closed) this.runs.launch(record);
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
    const maxResults = readMaxResults(request.maxResults);
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
    const maxResults = readMaxResults(request.maxResults);
    let events = numberHistory(await this.histories.entriesOf(record));
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
    this.runs.halt(record.name);
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
      if (record.status !== 'RUNNING' || this.runs.has(record.name)) continue;
      this.runs.launch(record);
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
    this.runs.haltAll();
    const error = new StateMachineHostClosedError(`${this.name} is closed`);
    for (const waiters of this.finishWaiters.values()) for (const waiter of waiters) waiter.reject(error);
    this.finishWaiters.clear();
    await this.histories.settled();
    await this.store.flush();
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
    this.histories.recordEnd(name, ended);
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
