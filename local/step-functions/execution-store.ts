import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../functions/domain/ports.js';
import type { HistoryEntry } from './execution-history.js';

export const EXECUTION_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

const executionRecordSchema = z.object({
  executionArn: z.string(),
  stateMachineArn: z.string(),
  name: z.string(),
  /** The execution input as JSON text, exactly as given to StartExecution. */
  input: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  /** ISO 8601 with milliseconds. */
  startDate: z.iso.datetime(),
  stopDate: z.iso.datetime().optional(),
  /** JSON text of the result, for SUCCEEDED. */
  output: z.string().optional(),
  error: z.string().optional(),
  cause: z.string().optional(),
});

const historySchema = z.array(
  z.object({
    timestamp: z.number(),
    type: z.string(),
    details: z.object({ key: z.string(), value: z.record(z.string(), z.unknown()) }).optional(),
  }),
);

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What is stored for one execution; the file is replaced whole at each change of status. */
export type ExecutionRecord = z.infer<typeof executionRecordSchema>;

const RECORD_SUFFIX = '.json';
const TEMP_SUFFIX = '.tmp';

/**
 * One JSON file per execution under `<dataDir>/executions/`, named by a hash of the execution
 * ARN (names may hold characters a file system refuses), replaced atomically (temp file, fsync,
 * rename), so a `kill -9` at any moment leaves either the old or the new record.
 */
export class ExecutionStore {
  private readonly directory: string;
  /** Last pending write per execution ARN: writes to one execution land in call order. */
  private readonly pendingWrites = new Map<string, Promise<void>>();

  private readonly historyDirectory: string;

  constructor(dataDir: string) {
    this.directory = join(dataDir, 'executions');
    this.historyDirectory = join(this.directory, 'history');
    mkdirSync(this.historyDirectory, { recursive: true });
  }

  /**
   * Stores the history of an execution that ended (written once, atomically, beside its record).
   * Resolves once it is durable.
   */
  async saveHistory(executionArn: string, entries: readonly HistoryEntry[]): Promise<void> {
    await this.writeAtomically(this.historyPathOf(executionArn), entries);
  }

  /** The stored history of an execution that ended; undefined when none was stored (or it is unreadable). */
  async loadHistory(executionArn: string): Promise<HistoryEntry[] | undefined> {
    let text: string;
    try {
      text = await readFile(this.historyPathOf(executionArn), 'utf8');
    } catch {
      return undefined;
    }
    const parsed = historySchema.safeParse(safeJson(text));
    return parsed.success ? parsed.data : undefined;
  }

  private historyPathOf(executionArn: string): string {
    const hash = createHash('sha256').update(executionArn).digest('hex');
    return join(this.historyDirectory, `${hash}${RECORD_SUFFIX}`);
  }

  /**
   * Reads the records of one state machine, oldest first. Synchronous because it runs once,
   * at start-up, before anything can ask for an execution. Deletes temp files a crash left
   * behind and skips (with a warning) files that do not parse.
   */
  loadSync(stateMachineArn: string, logger: Logger): ExecutionRecord[] {
    const records: ExecutionRecord[] = [];
    for (const file of readdirSync(this.directory)) {
      const path = join(this.directory, file);
      if (file.endsWith(TEMP_SUFFIX)) {
        rmSync(path, { force: true });
        continue;
      }
      if (!file.endsWith(RECORD_SUFFIX)) continue;
      const parsed = parseRecord(readFileSync(path, 'utf8'));
      if (!parsed.success) {
        logger.warn('Skipping an unreadable execution record', { path, problem: parsed.problem });
        continue;
      }
      if (parsed.record.stateMachineArn === stateMachineArn) records.push(parsed.record);
    }
    return records.sort(
      (a, b) => a.startDate.localeCompare(b.startDate) || a.executionArn.localeCompare(b.executionArn),
    );
  }

  /** Stores `record`, replacing the previous version; resolves once it is durable. */
  save(record: ExecutionRecord): Promise<void> {
    const key = record.executionArn;
    const previous = this.pendingWrites.get(key) ?? Promise.resolve();
    const write = previous.catch(() => {}).then(() => this.writeAtomically(this.pathOf(key), record));
    this.pendingWrites.set(key, write);
    const forget = () => {
      if (this.pendingWrites.get(key) === write) this.pendingWrites.delete(key);
    };
    write.then(forget, forget);
    return write;
  }

  /** Resolves once every write started so far has finished (successfully or not). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites.values()]);
  }

  private pathOf(executionArn: string): string {
    const hash = createHash('sha256').update(executionArn).digest('hex');
    return join(this.directory, `${hash}${RECORD_SUFFIX}`);
  }

  private async writeAtomically(
    path: string,
    record: ExecutionRecord | readonly HistoryEntry[],
  ): Promise<void> {
    const temporary = `${path}.${randomUUID()}${TEMP_SUFFIX}`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  }
}

function parseRecord(
  text: string,
): { success: true; record: ExecutionRecord } | { success: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { success: false, problem: error instanceof Error ? error.message : String(error) };
  }
  const result = executionRecordSchema.safeParse(json);
  return result.success
    ? { success: true, record: result.data }
    : { success: false, problem: result.error.message };
}
