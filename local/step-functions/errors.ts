/**
 * Failures of the local Step Functions runtime. The API errors carry the `__type` real Step
 * Functions answers with (`code`), so SDK clients and the AWS CLI see the same exception names.
 */

/** A request the Step Functions API refuses with HTTP 400 and `{ "__type": code, "message" }`. */
export abstract class StepFunctionsApiError extends Error {
  /** The AWS error code, sent as `__type`. */
  abstract readonly code: string;
  readonly httpStatus = 400;
}

/** StartExecution with a name that is taken (different input, or the execution already ended). */
export class ExecutionAlreadyExistsError extends StepFunctionsApiError {
  override readonly name = 'ExecutionAlreadyExistsError';
  readonly code = 'ExecutionAlreadyExists';
}

export class ExecutionDoesNotExistError extends StepFunctionsApiError {
  override readonly name = 'ExecutionDoesNotExistError';
  readonly code = 'ExecutionDoesNotExist';
}

export class StateMachineDoesNotExistError extends StepFunctionsApiError {
  override readonly name = 'StateMachineDoesNotExistError';
  readonly code = 'StateMachineDoesNotExist';
}

/** An ARN that is not a state machine or execution ARN. */
export class InvalidArnError extends StepFunctionsApiError {
  override readonly name = 'InvalidArnError';
  readonly code = 'InvalidArn';
}

/** An execution name longer than 80 characters or with characters Step Functions forbids. */
export class InvalidNameError extends StepFunctionsApiError {
  override readonly name = 'InvalidNameError';
  readonly code = 'InvalidName';
}

/** Execution input that is not JSON or is over 256 KiB. */
export class InvalidExecutionInputError extends StepFunctionsApiError {
  override readonly name = 'InvalidExecutionInputError';
  readonly code = 'InvalidExecutionInput';
}

/** A `nextToken` this server did not hand out. */
export class InvalidTokenError extends StepFunctionsApiError {
  override readonly name = 'InvalidTokenError';
  readonly code = 'InvalidToken';
}

/** A request body that does not match the operation's shape. */
export class RequestValidationError extends StepFunctionsApiError {
  override readonly name = 'RequestValidationError';
  readonly code = 'ValidationException';
}

/** An `X-Amz-Target` naming an operation this server does not implement. */
export class UnknownOperationError extends StepFunctionsApiError {
  override readonly name = 'UnknownOperationError';
  readonly code = 'UnknownOperationException';
}

/** A call on a host after `close()`. */
export class StateMachineHostClosedError extends Error {
  override readonly name = 'StateMachineHostClosedError';
}

/** A definition intrinsic (`Fn::Sub`, an unknown reference, ...) that cannot be turned into text. */
export class UnresolvableIntrinsicError extends Error {
  override readonly name = 'UnresolvableIntrinsicError';
}

/** A definition that is not valid JSON ASL once resolved. */
export class InvalidDefinitionError extends Error {
  override readonly name = 'InvalidDefinitionError';
}

/** A Task state whose resource is neither `arn:aws:states:::lambda:invoke` nor a Lambda function ARN. */
export class UnsupportedTaskResourceError extends Error {
  override readonly name = 'UnsupportedTaskResourceError';
}
