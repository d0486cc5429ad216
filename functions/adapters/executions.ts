/**
 * Starting the polling execution through the Step Functions API (AWS, or the local runtime's
 * loopback API).
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
      // Same name, other input (a retry computed another first wait): the execution exists, which is all we need.
      if (error instanceof ExecutionAlreadyExists) {
        const executionArn = executionArnOf(this.stateMachineArn, name);
        await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
        return { executionArn };
      }
      throw error;
    }
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
