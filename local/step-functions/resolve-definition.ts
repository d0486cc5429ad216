import { InvalidDefinitionError, UnresolvableIntrinsicError } from './errors.js';

/** A CloudFormation reference: `{ Ref: logicalId }`, or `{ "Fn::GetAtt": [logicalId, attribute] }`. */
export interface LogicalReference {
  readonly logicalId: string;
  /** Set for `Fn::GetAtt`, absent for `Ref`. */
  readonly attribute?: string;
}

/**
 * Turns a reference into its local value. Pseudo parameters arrive as references too
 * (`{ logicalId: 'AWS::Partition' }`, `'AWS::Region'`, `'AWS::AccountId'`, ...).
 */
export type ResolveReference = (ref: LogicalReference) => string;

/**
 * Resolves a synthesized `DefinitionString` into plain ASL JSON.
 *
 * @param definitionString a string, or `{ "Fn::Join": [separator, parts] }` whose parts are
 *   strings, `{ Ref }`, `{ "Fn::GetAtt": [logicalId, attribute] }` (or `"logicalId.attribute"`),
 *   or nested `Fn::Join`s.
 * @param resolve gives the local value of each reference.
 * @returns the ASL JSON text.
 * @throws UnresolvableIntrinsicError for any other intrinsic, a malformed one, or a reference
 *   `resolve` throws for (kept as `cause`) or answers with a non-string.
 * @throws InvalidDefinitionError when the resolved text is not a JSON object.
 */
export function resolveDefinitionString(definitionString: unknown, resolve: ResolveReference): string {
  const asl = resolveText(definitionString, resolve, 'DefinitionString');
  let parsed: unknown;
  try {
    parsed = JSON.parse(asl);
  } catch (error) {
    throw new InvalidDefinitionError('The resolved state machine definition is not JSON', { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidDefinitionError('The resolved state machine definition is not a JSON object');
  }
  return asl;
}

function resolveText(value: unknown, resolve: ResolveReference, where: string): string {
  if (typeof value === 'string') return value;
  if (isRecord(value)) {
    const keys = Object.keys(value);
    const [key] = keys;
    if (keys.length === 1 && key !== undefined) {
      const argument = value[key];
      switch (key) {
        case 'Ref':
          if (typeof argument === 'string') return resolveReference({ logicalId: argument }, resolve, where);
          break;
        case 'Fn::GetAtt': {
          const reference = parseGetAtt(argument);
          if (reference) return resolveReference(reference, resolve, where);
          break;
        }
        case 'Fn::Join':
          if (
            Array.isArray(argument) &&
            argument.length === 2 &&
            typeof argument[0] === 'string' &&
            Array.isArray(argument[1])
          ) {
            const separator = argument[0];
            const parts: unknown[] = argument[1];
            return parts
              .map((part, index) => resolveText(part, resolve, `${where}[${index}]`))
              .join(separator);
          }
          break;
      }
    }
  }
  throw new UnresolvableIntrinsicError(`Cannot resolve ${JSON.stringify(value)} at ${where}`);
}

function parseGetAtt(argument: unknown): LogicalReference | undefined {
  if (Array.isArray(argument) && argument.length === 2) {
    const [logicalId, attribute] = argument;
    if (typeof logicalId === 'string' && typeof attribute === 'string') return { logicalId, attribute };
    return undefined;
  }
  if (typeof argument === 'string') {
    const dot = argument.indexOf('.');
    if (dot > 0 && dot < argument.length - 1) {
      return { logicalId: argument.slice(0, dot), attribute: argument.slice(dot + 1) };
    }
  }
  return undefined;
}

function resolveReference(reference: LogicalReference, resolve: ResolveReference, where: string): string {
  const label =
    reference.attribute === undefined ? reference.logicalId : `${reference.logicalId}.${reference.attribute}`;
  let resolved: unknown;
  try {
    resolved = resolve(reference);
  } catch (error) {
    throw new UnresolvableIntrinsicError(`Cannot resolve ${label} at ${where}`, { cause: error });
  }
  if (typeof resolved !== 'string') {
    throw new UnresolvableIntrinsicError(
      `Resolving ${label} at ${where} gave ${typeof resolved}, not a string`,
    );
  }
  return resolved;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
