/**
 * Every physical name the stack gives a resource, derived from one place: the stack name. Two
 * deployments with different stack names (say `Vidflow` and `VidflowDev`) can then share an
 * account and region. The default stack `Vidflow` keeps the names earlier versions used
 * (`vidflow/provider-api-key`, bus and dashboard `vidflow`), so an existing deployment updates
 * in place instead of replacing its secret and bus.
 */

/** The stack name when the `stackName` context key is absent. */
export const DEFAULT_STACK_NAME = 'Vidflow';

/** What CloudFormation accepts as a stack name (letters, digits, hyphens; a letter first; 128 at most). */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/**
 * The longest stack name accepted: the state machine name (`<stack>-jobs`) is limited to 80
 * characters, the tightest of the derived names.
 */
export const MAX_STACK_NAME_LENGTH = 75;

/** The physical names of one deployment. */
export interface PhysicalNames {
  /** The stack name itself. */
  readonly stackName: string;
  /** Lower-case kebab form of the stack name: `Vidflow` -> `vidflow`, `VidflowDev` -> `vidflow-dev`. */
  readonly prefix: string;
  /** The custom EventBridge bus (unless the `eventBusName` context key names another). */
  readonly eventBus: string;
  /** The Secrets Manager secret created for the provider key. */
  readonly providerSecret: string;
  /** The Secrets Manager secret created for the webhook signing key. */
  readonly webhookSecret: string;
  /** The CloudWatch dashboard. */
  readonly dashboard: string;
  /** The Step Functions state machine. */
  readonly stateMachine: string;
  /** The Powertools `service` dimension of the functions' metrics and logs (keeps two stacks' metrics apart). */
  readonly service: string;
}

/**
 * Whether a stack name is one this app accepts.
 *
 * @returns an explanation when it is not, `undefined` when it is.
 */
export function stackNameProblem(stackName: string): string | undefined {
  if (!STACK_NAME.test(stackName)) {
    return `"${stackName}" is not a stack name: letters, digits and hyphens, starting with a letter`;
  }
  if (stackName.length > MAX_STACK_NAME_LENGTH) {
    return `"${stackName}" is longer than ${MAX_STACK_NAME_LENGTH} characters (the state machine name "<stack>-jobs" allows 80)`;
  }
  return undefined;
}

/**
 * The physical names derived from a stack name.
 *
 * @throws Error when the stack name is not valid (see {@link stackNameProblem}).
 */
export function physicalNames(stackName: string = DEFAULT_STACK_NAME): PhysicalNames {
  const problem = stackNameProblem(stackName);
  if (problem !== undefined) throw new Error(problem);
  const prefix = kebabCase(stackName);
  return {
    stackName,
    prefix,
    eventBus: prefix,
    providerSecret: `${prefix}/provider-api-key`,
    webhookSecret: `${prefix}/webhook-secret`,
    dashboard: prefix,
    stateMachine: `${stackName}-jobs`,
    service: prefix,
  };
}

/** `VidflowDev` -> `vidflow-dev`, `vidflow-prod` -> `vidflow-prod`, `VIDFLOW2` -> `vidflow2`. */
function kebabCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/-+/g, '-')
    .replace(/-$/, '')
    .toLowerCase();
}
