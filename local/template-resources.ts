/**
 * Reading the synthesized template for the local runtime: which resource plays which part,
 * what each function's environment resolves to locally, and which S3 notifications the
 * stack configures. The template is the one description of the stack; nothing here repeats it.
 */
import type { S3Event } from 'aws-lambda';
import { decodeS3Key } from '../functions/adapters/s3-event.js';
import { EnvName } from '../functions/config/env-names.js';
import {
  type CfnTemplate,
  findVidflowFunctions,
  renderDefinition,
  stateMachineDefinition,
} from '../infra/synth.js';
import type { VidflowFunctionName } from '../infra/vidflow-function.js';
import { LOCAL_REGION } from './aws-clients.js';

export const LOCAL_ACCOUNT = '000000000000';

/** Names of the local resources (README "Local runtime"). */
export const LocalName = {
  inputBucket: 'vidflow-input',
  outputBucket: 'vidflow-output',
  jobsTable: 'vidflow-jobs',
  /** The stack's webhooks table: created locally like every table, unused (the local relay keeps files). */
  webhooksTable: 'vidflow-webhooks',
  stateMachine: 'vidflow-jobs',
  eventBus: 'vidflow',
} as const;

export const localStateMachineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${LocalName.stateMachine}`;

export function localFunctionArn(name: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:vidflow-${name}`;
}

export class TemplateReadError extends Error {
  override readonly name = 'TemplateReadError';
}

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The template's resources by logical id, with what each stands for locally. */
export class LocalTemplate {
  private readonly resources: Record<string, Json>;
  /** logical id -> local physical name (Ref) */
  private readonly names = new Map<string, string>();
  /** logical id -> local ARN (Fn::GetAtt Arn) */
  private readonly arns = new Map<string, string>();
  readonly functions: ReturnType<typeof findVidflowFunctions>;

  constructor(readonly template: CfnTemplate) {
    if (!isRecord(template.Resources)) throw new TemplateReadError('the template has no Resources');
    this.resources = template.Resources as Record<string, Json>;
    const outputs = isRecord(template.Outputs) ? template.Outputs : {};
    const outputRef = (name: string): string => {
      const output = outputs[name];
      const value = isRecord(output) ? output.Value : undefined;
      if (!isRecord(value) || typeof value.Ref !== 'string') {
        throw new TemplateReadError(`the template has no output ${name} naming a resource`);
      }
      return value.Ref;
    };
    this.names.set(outputRef('InputBucketName'), LocalName.inputBucket);
    this.names.set(outputRef('OutputBucketName'), LocalName.outputBucket);
    this.names.set(outputRef('JobsTableName'), LocalName.jobsTable);
    this.names.set(outputRef('StateMachineArn'), localStateMachineArn);
    this.names.set(outputRef('EventBusName'), LocalName.eventBus);
    if (outputs.WebhooksTableName !== undefined)
      this.names.set(outputRef('WebhooksTableName'), LocalName.webhooksTable);
    this.functions = findVidflowFunctions(template);
    for (const [name, fn] of Object.entries(this.functions)) {
      this.names.set(fn.logicalId, `vidflow-${name}`);
      this.arns.set(fn.logicalId, localFunctionArn(name));
    }
  }

  typeOf(logicalId: string): string | undefined {
    const type = this.resources[logicalId]?.Type;
    return typeof type === 'string' ? type : undefined;
  }

  /** Resolve `Ref`, `Fn::GetAtt [x, Arn]`, `Fn::Join` and pseudo parameters to local values. */
  resolve(value: unknown): string {
    if (typeof value === 'string') return value;
    if (!isRecord(value)) throw new TemplateReadError(`cannot resolve ${JSON.stringify(value)}`);
    if (typeof value.Ref === 'string') {
      if (value.Ref === 'AWS::Partition') return 'aws';
      if (value.Ref === 'AWS::Region') return LOCAL_REGION;
      if (value.Ref === 'AWS::AccountId') return LOCAL_ACCOUNT;
      if (value.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
      const name = this.names.get(value.Ref);
      if (name !== undefined) return name;
      throw new TemplateReadError(
        `no local resource for Ref ${value.Ref} (${this.typeOf(value.Ref) ?? 'unknown'})`,
      );
    }
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && getAtt[1] === 'Arn') {
      const arn = this.arns.get(getAtt[0]);
      if (arn !== undefined) return arn;
      throw new TemplateReadError(`no local ARN for ${getAtt[0]}`);
    }
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      return join[1].map((part: unknown) => this.resolve(part)).join(join[0]);
    }
    throw new TemplateReadError(`cannot resolve ${JSON.stringify(value)}`);
  }

  /** Is this logical id one the local runtime replaces (secret, event bus) rather than runs? */
  private isReplacedLocally(value: unknown): boolean {
    if (!isRecord(value) || typeof value.Ref !== 'string') return false;
    const type = this.typeOf(value.Ref);
    return type === 'AWS::SecretsManager::Secret' || type === 'AWS::Events::EventBus';
  }

  /**
   * A function's environment as the template gives it, resolved to local resources. The
   * secret and event bus have local stand-ins (`AIMLAPI_KEY`, the events file), so their
   * variables are left out here and the runtime adds the stand-ins.
   */
  functionEnvironment(name: VidflowFunctionName): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.functions[name].environment)) {
      if (this.isReplacedLocally(value)) continue;
      env[key] = this.resolve(value);
    }
    return env;
  }

  /** The state machine's ASL with every token resolved to local ARNs. */
  stateMachineDefinition(): string {
    return JSON.stringify(
      renderDefinition(stateMachineDefinition(this.template), (intrinsic) => this.resolve(intrinsic)),
    );
  }

  /** The stack's S3 notification rules for a bucket, as a predicate over event records. */
  notificationFilter(bucketName: string): (event: S3Event) => string[] {
    const rules: { events: string[]; prefix: string; suffix: string; target: string }[] = [];
    for (const resource of Object.values(this.resources)) {
      if (resource.Type !== 'Custom::S3BucketNotifications') continue;
      const props = isRecord(resource.Properties) ? resource.Properties : {};
      if (this.resolve(props.BucketName) !== bucketName) continue;
      const config = isRecord(props.NotificationConfiguration) ? props.NotificationConfiguration : {};
      const lambdas = Array.isArray(config.LambdaFunctionConfigurations)
        ? config.LambdaFunctionConfigurations
        : [];
      for (const entry of lambdas) {
        if (!isRecord(entry)) continue;
        const filterRules =
          (isRecord(entry.Filter) && isRecord(entry.Filter.Key) && entry.Filter.Key.FilterRules) || [];
        const ruleValue = (name: string) => {
          const rule = (Array.isArray(filterRules) ? filterRules : []).find(
            (candidate: unknown) => isRecord(candidate) && String(candidate.Name).toLowerCase() === name,
          );
          return isRecord(rule) && typeof rule.Value === 'string' ? rule.Value : '';
        };
        rules.push({
          events: Array.isArray(entry.Events) ? entry.Events.map(String) : [],
          prefix: ruleValue('prefix'),
          suffix: ruleValue('suffix'),
          target: this.resolve(entry.LambdaFunctionArn),
        });
      }
    }
    // Filters match the key as stored (decoded), like S3 does.
    return (event) => {
      const record = event.Records[0];
      if (record === undefined) return [];
      const key = decodeS3Key(record.s3.object.key);
      const eventName = `s3:${record.eventName}`;
      const targets = rules
        .filter(
          (rule) =>
            rule.events.some((pattern) =>
              pattern.endsWith('*') ? eventName.startsWith(pattern.slice(0, -1)) : pattern === eventName,
            ) &&
            key.startsWith(rule.prefix) &&
            key.endsWith(rule.suffix),
        )
        .map((rule) => rule.target);
      return [...new Set(targets)];
    };
  }

  /** The submit function's async invocation settings (retries, event age). */
  asyncInvokeConfig(functionName: VidflowFunctionName): {
    retryAttempts: number;
    maxEventAgeSeconds: number;
  } {
    const logicalId = this.functions[functionName].logicalId;
    for (const resource of Object.values(this.resources)) {
      if (resource.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
      const props = isRecord(resource.Properties) ? resource.Properties : {};
      if (!isRecord(props.FunctionName) || props.FunctionName.Ref !== logicalId) continue;
      return {
        retryAttempts: typeof props.MaximumRetryAttempts === 'number' ? props.MaximumRetryAttempts : 2,
        maxEventAgeSeconds:
          typeof props.MaximumEventAgeInSeconds === 'number' ? props.MaximumEventAgeInSeconds : 21_600,
      };
    }
    return { retryAttempts: 2, maxEventAgeSeconds: 21_600 };
  }
}

/** Environment variable names the local runtime sets on top of the template's. */
export const LOCAL_ONLY_ENV: readonly string[] = [
  EnvName.providerApiKey,
  EnvName.eventsFile,
  EnvName.s3Endpoint,
  EnvName.dynamodbEndpoint,
  EnvName.stepFunctionsEndpoint,
  EnvName.downloadAllowedOrigins,
];
