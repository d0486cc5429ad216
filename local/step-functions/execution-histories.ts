/**
 * The histories of one state machine's executions (GetExecutionHistory): a running execution's
 * is kept in memory, filled from the library's event log and the Task events; once it ends, its
 * history is stored beside its record. An execution that ended before histories were kept gets
 * its start and its end.
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import type { Logger } from '../../functions/domain/ports.js';
import { endEntryOf, type HistoryEntry, HistoryRecorder } from './execution-history.js';
import type { ExecutionRecord, ExecutionStore } from './execution-store.js';

/** How long the end of an execution waits for the last events of the library's log. */
const HISTORY_DRAIN_MS = 1000;

type EventLog = ReturnType<StateMachine['run']>['eventLogs'];

/** Histories by execution name, for one state machine. */
export class ExecutionHistories {
  /** Histories of executions that have not ended; ended ones are read from the store. */
  private readonly live = new Map<string, HistoryRecorder>();
  private readonly drains = new Map<string, Promise<void>>();
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly store: ExecutionStore,
    /** Reported in `ExecutionStarted`. */
    private readonly roleArn: string,
    private readonly logger: Logger,
  ) {}

  /** The history of a run starting now: a resumed execution runs again from the start, and so does its history. */
  begin(record: ExecutionRecord): HistoryRecorder {
    const history = this.bare({ ...record, status: 'RUNNING' });
    this.live.set(record.name, history);
    return history;
  }

  /** Drains the library's event log of the run of `name` into its history, logging the notable steps. */
  follow(name: string, events: EventLog, history: HistoryRecorder): void {
    this.drains.set(name, this.drain(name, events, history));
  }

  /** The entries of an execution, oldest first. */
  async entriesOf(record: ExecutionRecord): Promise<HistoryEntry[]> {
    return (
      this.live.get(record.name)?.ordered() ??
      (await this.store.loadHistory(record.executionArn)) ??
      this.bare(record).ordered()
    );
  }

  /** Adds the end to the history and stores it once the library's log of the run is drained. */
  recordEnd(name: string, ended: ExecutionRecord): void {
    const history = this.live.get(name);
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
        if (this.live.get(name) === history) this.live.delete(name);
      } catch (error) {
        this.logger.error('Could not store the history of an execution', {
          execution: ended.executionArn,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    })();
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /** Resolves once every history write under way has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  /** A history of the start alone (plus the end, for an execution that ended). */
  private bare(record: ExecutionRecord): HistoryRecorder {
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

  private async drain(name: string, events: EventLog, history: HistoryRecorder): Promise<void> {
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
}
