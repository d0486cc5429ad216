/**
 * The host's side of the Step Functions operations: the request and result types, the rules
 * Step Functions applies to execution names and inputs, how an execution is described and listed,
 * and the pages (`maxResults`, `nextToken`) of ListExecutions and GetExecutionHistory.
 */
import { isRecord } from './definition.js';
import { InvalidExecutionInputError, InvalidNameError, RequestValidationError } from './errors.js';
import type { HistoryEvent } from './execution-history.js';
import type { ExecutionRecord, ExecutionStatus } from './execution-store.js';

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

const MAX_INPUT_BYTES = 262_144;
const MAX_NAME_LENGTH = 80;
const DEFAULT_MAX_RESULTS = 100;
const MAX_MAX_RESULTS = 1000;
const NAME_FORBIDDEN_CHARACTERS = new Set('<>{}[]?*"#%\\^|~`$&,;:/');

/**
 * The page size asked for: 0 or absent means 100.
 *
 * @throws RequestValidationError for a value outside 0 to 1000.
 */
export function readMaxResults(maxResults: number | undefined): number {
  const size = maxResults || DEFAULT_MAX_RESULTS;
  if (!Number.isInteger(size) || size < 0 || size > MAX_MAX_RESULTS) {
    throw new RequestValidationError(`maxResults must be an integer from 0 to ${MAX_MAX_RESULTS}`);
  }
  return size;
}

export function validateExecutionName(name: string): void {
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

export function validateExecutionInput(input: string): void {
  if (Buffer.byteLength(input, 'utf8') > MAX_INPUT_BYTES) {
    throw new InvalidExecutionInputError(`The input is over ${MAX_INPUT_BYTES} bytes`);
  }
  try {
    JSON.parse(input);
  } catch {
    throw new InvalidExecutionInputError(`Invalid State Machine Execution Input: '${input.slice(0, 100)}'`);
  }
}

export function describe(record: ExecutionRecord): ExecutionDescription {
  return {
    ...listItem(record),
    input: record.input,
    ...(record.output === undefined ? {} : { output: record.output }),
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.cause === undefined ? {} : { cause: record.cause }),
  };
}

export function listItem(record: ExecutionRecord): ExecutionListItem {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: new Date(record.startDate),
    ...(record.stopDate === undefined ? {} : { stopDate: new Date(record.stopDate) }),
  };
}

export function encodeToken(executionArn: string): string {
  return Buffer.from(JSON.stringify({ after: executionArn }), 'utf8').toString('base64url');
}

export function decodeToken(token: string): string | undefined {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return isRecord(decoded) && typeof decoded.after === 'string' ? decoded.after : undefined;
  } catch {
    return undefined;
  }
}
