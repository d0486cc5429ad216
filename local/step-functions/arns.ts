import { InvalidArnError } from './errors.js';

/** The parts of `arn:<partition>:states:<region>:<account>:stateMachine:<name>`. */
export interface StateMachineArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly stateMachineName: string;
}

/** The parts of `arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<name>`. */
export interface ExecutionArnParts extends StateMachineArnParts {
  readonly stateMachineArn: string;
  readonly executionName: string;
}

/**
 * @throws InvalidArnError unless `arn` is an unqualified state machine ARN (no version or alias).
 */
export function parseStateMachineArn(arn: string): StateMachineArnParts {
  const parts = arn.split(':');
  const [prefix, partition, service, region, account, resourceType, stateMachineName] = parts;
  if (
    parts.length !== 7 ||
    prefix !== 'arn' ||
    service !== 'states' ||
    resourceType !== 'stateMachine' ||
    !partition ||
    !region ||
    !account ||
    !stateMachineName
  ) {
    throw new InvalidArnError(`Invalid Arn: '${arn}'`);
  }
  return { partition, region, account, stateMachineName };
}

/** @throws InvalidArnError unless `arn` is an execution ARN. */
export function parseExecutionArn(arn: string): ExecutionArnParts {
  const parts = arn.split(':');
  const [prefix, partition, service, region, account, resourceType, stateMachineName, executionName] = parts;
  if (
    parts.length !== 8 ||
    prefix !== 'arn' ||
    service !== 'states' ||
    resourceType !== 'execution' ||
    !partition ||
    !region ||
    !account ||
    !stateMachineName ||
    !executionName
  ) {
    throw new InvalidArnError(`Invalid Arn: '${arn}'`);
  }
  const machine = { partition, region, account, stateMachineName };
  return { ...machine, stateMachineArn: formatStateMachineArn(machine), executionName };
}

export function formatStateMachineArn(parts: StateMachineArnParts): string {
  return `arn:${parts.partition}:states:${parts.region}:${parts.account}:stateMachine:${parts.stateMachineName}`;
}

export function formatExecutionArn(machine: StateMachineArnParts, executionName: string): string {
  return `arn:${machine.partition}:states:${machine.region}:${machine.account}:execution:${machine.stateMachineName}:${executionName}`;
}
