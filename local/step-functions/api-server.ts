import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../../functions/domain/ports.js';
import { listen, readJsonBody, sendJson } from '../http.js';
import { parseExecutionArn, parseStateMachineArn } from './arns.js';
import {
  ExecutionDoesNotExistError,
  RequestValidationError,
  StateMachineDoesNotExistError,
  StepFunctionsApiError,
  UnknownOperationError,
} from './errors.js';
import { EXECUTION_STATUSES } from './execution-store.js';
import type { ExecutionListItem, StateMachineHost } from './host.js';

export interface StepFunctionsApiOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  readonly machines: readonly StateMachineHost[];
  /** @default silent */
  readonly logger?: Logger;
}

export interface StepFunctionsApi {
  /** `http://<host>:<port>`, the endpoint for SDK clients and `--endpoint-url`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops open connections; the machines stay open. */
  close(): Promise<void>;
}

const TARGET_PREFIX = 'AWSStepFunctions.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
const MAX_BODY_BYTES = 2 * 1024 * 1024;

const arnField = z.string().min(1);
const requests = {
  StartExecution: z.object({
    stateMachineArn: arnField,
    name: z.string().optional(),
    input: z.string().optional(),
    traceHeader: z.string().optional(),
  }),
  DescribeExecution: z.object({ executionArn: arnField }),
  ListExecutions: z.object({
    stateMachineArn: arnField,
    statusFilter: z.enum(EXECUTION_STATUSES).optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  StopExecution: z.object({
    executionArn: arnField,
    error: z.string().optional(),
    cause: z.string().optional(),
  }),
  ListStateMachines: z.object({ maxResults: z.number().int().optional(), nextToken: z.string().optional() }),
  DescribeStateMachine: z.object({ stateMachineArn: arnField }),
  DescribeStateMachineForExecution: z.object({ executionArn: arnField }),
  GetExecutionHistory: z.object({
    executionArn: arnField,
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
    reverseOrder: z.boolean().optional(),
    includeExecutionData: z.boolean().optional(),
  }),
};
type Operation = keyof typeof requests;

/**
 * Serves the Step Functions API (AWS JSON 1.0: `POST /`, `X-Amz-Target: AWSStepFunctions.<Op>`)
 * for `machines`, so `@aws-sdk/client-sfn` and `aws stepfunctions --endpoint-url` work unchanged.
 * Operations: StartExecution, DescribeExecution, ListExecutions, StopExecution, ListStateMachines,
 * DescribeStateMachine, DescribeStateMachineForExecution, GetExecutionHistory. Dates are epoch seconds; errors are HTTP 400 `{ "__type", "message" }`
 * with Step Functions' codes. Signatures are not checked.
 *
 * @throws (rejection) the listen error, e.g. EADDRINUSE.
 */
export async function startStepFunctionsApi(options: StepFunctionsApiOptions): Promise<StepFunctionsApi> {
  const logger = options.logger ?? { debug() {}, info() {}, warn() {}, error() {} };
  const machines = new Map(options.machines.map((machine) => [machine.stateMachineArn, machine]));
  const server = createServer((request, response) => {
    handle(request, response, machines).catch((error: unknown) => {
      if (error instanceof StepFunctionsApiError) {
        send(response, error.httpStatus, { __type: error.code, message: error.message });
        return;
      }
      logger.error('Step Functions API request failed', {
        error: error instanceof Error ? error.message : String(error),
      });
      send(response, 500, { __type: 'InternalFailure', message: 'The local Step Functions runtime failed' });
    });
  });
  const address = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    ...address,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // SDK clients keep connections alive; without this, close() waits for them.
        server.closeAllConnections();
      }),
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  machines: ReadonlyMap<string, StateMachineHost>,
): Promise<void> {
  if (request.method !== 'POST') throw new UnknownOperationError('Only POST / is served');
  const target = request.headers['x-amz-target'];
  const operation =
    typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
  if (!isOperation(operation)) throw new UnknownOperationError(`Unknown operation: '${String(target)}'`);
  const body = await readRequestBody(request);
  send(response, 200, await run(operation, body, machines));
}

async function run(
  operation: Operation,
  body: unknown,
  machines: ReadonlyMap<string, StateMachineHost>,
): Promise<Record<string, unknown>> {
  switch (operation) {
    case 'StartExecution': {
      const input = parse(operation, body);
      const started = await machineOf(input.stateMachineArn, machines).startExecution({
        ...(input.name === undefined ? {} : { name: input.name }),
        ...(input.input === undefined ? {} : { input: input.input }),
      });
      return { executionArn: started.executionArn, startDate: epochSeconds(started.startDate) };
    }
    case 'DescribeExecution': {
      const input = parse(operation, body);
      const execution = executionMachineOf(input.executionArn, machines).describeExecution(
        input.executionArn,
      );
      return {
        ...listItemJson(execution),
        input: execution.input,
        inputDetails: { included: true },
        ...(execution.output === undefined
          ? {}
          : { output: execution.output, outputDetails: { included: true } }),
        ...(execution.error === undefined ? {} : { error: execution.error }),
        ...(execution.cause === undefined ? {} : { cause: execution.cause }),
      };
    }
    case 'ListExecutions': {
      const input = parse(operation, body);
      const page = machineOf(input.stateMachineArn, machines).listExecutions({
        ...(input.statusFilter === undefined ? {} : { statusFilter: input.statusFilter }),
        ...(input.maxResults === undefined ? {} : { maxResults: input.maxResults }),
        ...(input.nextToken === undefined ? {} : { nextToken: input.nextToken }),
      });
      return {
        executions: page.executions.map(listItemJson),
        ...(page.nextToken === undefined ? {} : { nextToken: page.nextToken }),
      };
    }
    case 'StopExecution': {
      const input = parse(operation, body);
      const stopped = await executionMachineOf(input.executionArn, machines).stopExecution(
        input.executionArn,
        {
          ...(input.error === undefined ? {} : { error: input.error }),
          ...(input.cause === undefined ? {} : { cause: input.cause }),
        },
      );
      return { stopDate: epochSeconds(stopped.stopDate) };
    }
    case 'ListStateMachines': {
      parse(operation, body);
      return {
        stateMachines: [...machines.values()].map((machine) => ({
          stateMachineArn: machine.stateMachineArn,
          name: machine.name,
          type: 'STANDARD',
          creationDate: epochSeconds(machine.creationDate),
        })),
      };
    }
    case 'DescribeStateMachineForExecution': {
      const input = parse(operation, body);
      const machine = executionMachineOf(input.executionArn, machines);
      // Throws ExecutionDoesNotExist for an unknown execution of a known machine.
      machine.describeExecution(input.executionArn);
      return {
        stateMachineArn: machine.stateMachineArn,
        name: machine.name,
        definition: machine.definition,
        roleArn: machine.roleArn,
        updateDate: epochSeconds(machine.creationDate),
      };
    }
    case 'GetExecutionHistory': {
      const input = parse(operation, body);
      const page = await executionMachineOf(input.executionArn, machines).getExecutionHistory(
        input.executionArn,
        {
          ...(input.maxResults === undefined ? {} : { maxResults: input.maxResults }),
          ...(input.nextToken === undefined ? {} : { nextToken: input.nextToken }),
          ...(input.reverseOrder === undefined ? {} : { reverseOrder: input.reverseOrder }),
          ...(input.includeExecutionData === undefined
            ? {}
            : { includeExecutionData: input.includeExecutionData }),
        },
      );
      return {
        events: page.events.map((event) => ({ ...event, timestamp: event.timestamp / 1000 })),
        ...(page.nextToken === undefined ? {} : { nextToken: page.nextToken }),
      };
    }
    case 'DescribeStateMachine': {
      const input = parse(operation, body);
      const machine = machineOf(input.stateMachineArn, machines);
      return {
        stateMachineArn: machine.stateMachineArn,
        name: machine.name,
        status: 'ACTIVE',
        definition: machine.definition,
        roleArn: machine.roleArn,
        type: 'STANDARD',
        creationDate: epochSeconds(machine.creationDate),
      };
    }
  }
}

function parse<O extends Operation>(operation: O, body: unknown): z.infer<(typeof requests)[O]> {
  const result = requests[operation].safeParse(body);
  if (!result.success) {
    throw new RequestValidationError(`Invalid ${operation} request: ${z.prettifyError(result.error)}`);
  }
  return result.data as z.infer<(typeof requests)[O]>;
}

function machineOf(
  stateMachineArn: string,
  machines: ReadonlyMap<string, StateMachineHost>,
): StateMachineHost {
  parseStateMachineArn(stateMachineArn);
  const machine = machines.get(stateMachineArn);
  if (!machine) throw new StateMachineDoesNotExistError(`State Machine Does Not Exist: '${stateMachineArn}'`);
  return machine;
}

function executionMachineOf(
  executionArn: string,
  machines: ReadonlyMap<string, StateMachineHost>,
): StateMachineHost {
  const machine = machines.get(parseExecutionArn(executionArn).stateMachineArn);
  if (!machine) throw new ExecutionDoesNotExistError(`Execution Does Not Exist: '${executionArn}'`);
  return machine;
}

function listItemJson(item: ExecutionListItem): Record<string, unknown> {
  return {
    executionArn: item.executionArn,
    stateMachineArn: item.stateMachineArn,
    name: item.name,
    status: item.status,
    startDate: epochSeconds(item.startDate),
    ...(item.stopDate === undefined ? {} : { stopDate: epochSeconds(item.stopDate) }),
  };
}

/** AWS JSON protocols send timestamps as (fractional) epoch seconds. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function isOperation(name: string): name is Operation {
  return Object.hasOwn(requests, name);
}

function readRequestBody(request: IncomingMessage): Promise<unknown> {
  return readJsonBody(request, MAX_BODY_BYTES, {
    tooLarge: (max) => new RequestValidationError(`The request body is over ${max} bytes`),
    notJson: () => new RequestValidationError('The request body is not JSON'),
  });
}

function send(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  sendJson(response, status, body, { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': randomUUID() });
}
