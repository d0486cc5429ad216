/**
 * Starting the polling execution through the Step Functions API (AWS, or the local runtime's
 * loopback API, which answers StartExecution the same way: local/step-functions/host.ts).
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionStatus, Executions } from '../domain/ports.js';

export class StepFunctionsExecutions implements Executions {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: unknown): Promise<{ readonly executionArn: string }> {
    try {
      const result = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      if (result.executionArn === undefined) throw new Error('StartExecution returned no executionArn');
      return { executionArn: result.executionArn };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return this.adoptExisting(name, input, error);
      throw error;
    }
  }

  /**
   * StartExecution answers ExecutionAlreadyExists (AWS, and the local API alike) only when the
   * name is taken by an execution that has ended, or by a running one with another input: the
   * same name and input on a RUNNING execution succeeds by itself. Names are unique per job
   * attempt (`executionNameOf`), so an execution of the same job under this name IS this
   * attempt's: running with another first wait (planned at another moment), it polls the job;
   * ended, it is recorded on the job, and the sweeper records how it ended (sweep-jobs.ts).
   * An execution of another job under this name is an invariant breach: the error is thrown.
   */
  private async adoptExisting(
    name: string,
    input: unknown,
    error: ExecutionAlreadyExists,
  ): Promise<{ readonly executionArn: string }> {
    const executionArn = executionArnOf(this.stateMachineArn, name);
    const existing = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (jobIdOf(existing.input) !== jobIdOf(input) || jobIdOf(input) === undefined) throw error;
    return { executionArn };
  }

  async status(executionArn: string): Promise<ExecutionStatus | undefined> {
    try {
      const result = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return result.status;
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return undefined;
      throw error;
    }
  }
}

/** `arn:aws:states:r:a:stateMachine:name` + execution `x` -> `arn:aws:states:r:a:execution:name:x`. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

/** The `jobId` of an execution input (given as a value, or as the JSON text Step Functions keeps). */
function jobIdOf(input: unknown): string | undefined {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const jobId = (value as { readonly jobId?: unknown }).jobId;
  return typeof jobId === 'string' ? jobId : undefined;
}
