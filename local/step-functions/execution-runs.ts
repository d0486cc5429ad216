/**
 * The running executions of one state machine: each run of the library with its Task handlers,
 * its `TimeoutSeconds` deadline (counted from the execution's original start, across restarts)
 * and its abort. How a run ended goes to `onEnd`, which records it; a run that was stopped, timed
 * out or closed meanwhile is ignored when it ends by itself.
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import type { Clock } from '../../functions/domain/ports.js';
import type { StateMachineArnParts } from './arns.js';
import type { TaskTarget } from './definition.js';
import type { ExecutionHistories } from './execution-histories.js';
import type { ExecutionRecord } from './execution-store.js';
import { createTaskHandlers, failureOf, type InvokeLambda, parseJson } from './lambda-tasks.js';

const MAX_TIMER_MS = 2_147_483_647;

interface ActiveRun {
  readonly abort: () => void;
  timer: NodeJS.Timeout | undefined;
}

export interface ExecutionRunsProps {
  readonly machine: StateMachine;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly roleArn: string;
  readonly arnParts: StateMachineArnParts;
  readonly timeoutSeconds: number | undefined;
  readonly taskTargets: ReadonlyMap<string, TaskTarget>;
  readonly invokeLambda: InvokeLambda;
  readonly histories: ExecutionHistories;
  readonly clock: Clock;
  /** Records the end of a RUNNING execution (the host's `finish`). */
  readonly onEnd: (name: string, outcome: Partial<ExecutionRecord>) => Promise<unknown>;
}

/** Runs by execution name. */
export class ExecutionRuns {
  private readonly active = new Map<string, ActiveRun>();

  constructor(private readonly props: ExecutionRunsProps) {}

  /** Whether execution `name` runs here now. */
  has(name: string): boolean {
    return this.active.has(name);
  }

  /** Aborts every run (see {@link halt}). */
  haltAll(): void {
    for (const name of [...this.active.keys()]) this.halt(name);
  }

  /** Runs a RUNNING execution from the start, or ends it TIMED_OUT if its deadline has passed. */
  launch(record: ExecutionRecord): void {
    const deadlineMs =
      this.props.timeoutSeconds === undefined
        ? undefined
        : Date.parse(record.startDate) + this.props.timeoutSeconds * 1000;
    if (deadlineMs !== undefined && deadlineMs <= this.props.clock.now().getTime()) {
      // Ran out of time while the runtime was down: end it without running a state.
      void this.props.onEnd(record.name, this.timedOut());
      return;
    }
    const controller = new AbortController();
    // A resumed execution runs again from the start, and so does its history.
    const history = this.props.histories.begin(record);
    const execution = this.props.machine.run(parseJson(record.input), {
      overrides: {
        taskResourceLocalHandlers: createTaskHandlers({
          taskTargets: this.props.taskTargets,
          invokeLambda: this.props.invokeLambda,
          region: this.props.arnParts.region,
          signal: controller.signal,
          history,
        }),
      },
      noThrowOnAbort: true,
      context: {
        Execution: { Id: record.executionArn, Name: record.name, RoleArn: this.props.roleArn },
        StateMachine: { Id: this.props.stateMachineArn, Name: this.props.name },
      },
    });
    const run: ActiveRun = {
      abort: () => {
        controller.abort();
        execution.abort();
      },
      timer: undefined,
    };
    this.active.set(record.name, run);
    if (deadlineMs !== undefined) this.armTimeout(record.name, run, deadlineMs);
    this.props.histories.follow(record.name, execution.eventLogs, history);
    execution.result.then(
      (output) => this.settle(record.name, run, { status: 'SUCCEEDED', output: JSON.stringify(output) }),
      (error: unknown) => this.settle(record.name, run, failureOf(error)),
    );
  }

  /** A run ended by itself; ignored if it was stopped, timed out or closed meanwhile. */
  private settle(name: string, run: ActiveRun, outcome: Partial<ExecutionRecord>): void {
    if (this.active.get(name) !== run) return;
    this.halt(name);
    void this.props.onEnd(name, outcome);
  }

  private armTimeout(name: string, run: ActiveRun, deadlineMs: number): void {
    const remainingMs = deadlineMs - this.props.clock.now().getTime();
    const onTimeout = () => {
      if (this.active.get(name) !== run) return;
      this.halt(name);
      void this.props.onEnd(name, this.timedOut());
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
      cause: `The execution ran longer than its TimeoutSeconds (${this.props.timeoutSeconds} s)`,
    };
  }

  /** Aborts the run of `name`, if any, and forgets it. */
  halt(name: string): void {
    const run = this.active.get(name);
    if (!run) return;
    this.active.delete(name);
    clearTimeout(run.timer);
    run.abort();
  }
}
