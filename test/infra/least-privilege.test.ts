/**
 * Least privilege, function by function: every action each role allows, on which resources,
 * compared with what the function's code calls. The table below was derived by reading the
 * adapters each handler builds (functions/adapters/dependencies.ts and the handler itself); a
 * grant the code does not need, or a call without a grant, is a failing test.
 *
 * Resources are written as the logical id without CloudFormation's hash (`InputBucket/*` for
 * `Fn::Join [GetAtt InputBucket.Arn, "/*"]`, `ProviderApiKey` for a `Ref`).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnTemplate, createVidflowStack } from '../../infra/synth.js';
import { FUNCTION_TAG } from '../../infra/vidflow-function.js';

type Json = Record<string, unknown>;
type FunctionName =
  | 'submit'
  | 'check'
  | 'finalize'
  | 'record-failure'
  | 'sweep'
  | 'webhook'
  | 'webhook-fanout';
/** action -> the resources it is allowed on */
type Allowed = Readonly<Record<string, readonly string[]>>;

/** Every function writes only its own log group and sends its X-Ray traces. */
function logsAndTraces(logGroup: string): Allowed {
  return {
    // Powertools Logger (stdout) through the Lambda runtime: its own group only, no CreateLogGroup.
    'logs:CreateLogStream': [logGroup],
    'logs:PutLogEvents': [logGroup],
    // Tracing: ACTIVE and the Powertools Tracer (functions/adapters/observability.ts).
    'xray:PutTraceSegments': ['*'],
    'xray:PutTelemetryRecords': ['*'],
  };
}

const EXPECTED: Readonly<Record<FunctionName, Allowed>> = {
  submit: {
    ...logsAndTraces('SubmitLogs'),
    // object-store.ts: HeadObject, ranged and whole GetObject (video sniffing, sidecars, presets,
    // manifests, data URIs); presignGet signs the provider's GET URL with this role.
    's3:GetObject': ['InputBucket/*'],
    // object-store.ts: the same reads with the drop's VersionId.
    's3:GetObjectVersion': ['InputBucket/*'],
    // object-store.ts: a missing sidecar or preset answers 404 instead of 403 only with ListBucket.
    's3:ListBucket': ['InputBucket'],
    // job-store.ts get; completion-history-store.ts read (the planned first wait).
    'dynamodb:GetItem': ['JobsTable'],
    // job-store.ts create (conditional put of a new job).
    'dynamodb:PutItem': ['JobsTable'],
    // job-store.ts update (claim, generation id, terminal status, eventPublishedAt).
    'dynamodb:UpdateItem': ['JobsTable'],
    // job-store.ts listByStatus: AWAITING_PROMPT jobs a preset completes; listBySource: the jobs of
    // a video a sidecar completes (submit-job.ts; two same-second writes are two jobs, job-identity.ts).
    'dynamodb:Query': ['JobsTable/index/byStatus', 'JobsTable/index/bySource'],
    // dependencies.ts providerKeySource: the provider key, cached 5 minutes.
    'secretsmanager:GetSecretValue': ['ProviderApiKey'],
    // events.ts EventBridgeJobEvents: the terminal event of a rejected or failed submission.
    'events:PutEvents': ['EventBus'],
    // executions.ts start: the polling execution named after the job.
    'states:StartExecution': ['JobStateMachine'],
    // Not the code: Lambda's on-failure destination of the async S3 invocation sends with this role.
    'sqs:SendMessage': ['SubmitDeadLetterQueue'],
    'sqs:GetQueueAttributes': ['SubmitDeadLetterQueue'],
    'sqs:GetQueueUrl': ['SubmitDeadLetterQueue'],
  },
  check: {
    ...logsAndTraces('CheckLogs'),
    // job-store.ts get; completion-history-store.ts read.
    'dynamodb:GetItem': ['JobsTable'],
    // completion-history-store.ts record: the first observation of a frame size.
    'dynamodb:PutItem': ['JobsTable'],
    // job-store.ts update (provider status, poll count); completion-history-store.ts setSlot.
    'dynamodb:UpdateItem': ['JobsTable'],
    // dependencies.ts providerKeySource: the status check is authenticated.
    'secretsmanager:GetSecretValue': ['ProviderApiKey'],
  },
  finalize: {
    ...logsAndTraces('FinalizeLogs'),
    // object-store.ts upload (one streamed PutObject, or multipart) and putJson (<jobId>.json).
    's3:PutObject': ['OutputBucket/*'],
    // object-store.ts upload: lib-storage aborts a failed multipart upload.
    's3:AbortMultipartUpload': ['OutputBucket/*'],
    // job-store.ts get.
    'dynamodb:GetItem': ['JobsTable'],
    // admission-store.ts ensureItem: releasing the job's slot creates the slots item if missing.
    'dynamodb:PutItem': ['JobsTable'],
    // job-store.ts update (COPYING, COMPLETED, eventPublishedAt); admission-store.ts release/settle.
    'dynamodb:UpdateItem': ['JobsTable'],
    // dependencies.ts providerKeySource: a fresh output URL is read from the provider on a rerun.
    'secretsmanager:GetSecretValue': ['ProviderApiKey'],
    // events.ts EventBridgeJobEvents: Job Completed.
    'events:PutEvents': ['EventBus'],
  },
  'record-failure': {
    ...logsAndTraces('RecordFailureLogs'),
    // job-store.ts get.
    'dynamodb:GetItem': ['JobsTable'],
    // admission-store.ts ensureItem: releasing the job's slot creates the slots item if missing.
    'dynamodb:PutItem': ['JobsTable'],
    // job-store.ts update (FAILED/TIMED_OUT, eventPublishedAt); admission-store.ts release/settle.
    'dynamodb:UpdateItem': ['JobsTable'],
    // events.ts EventBridgeJobEvents: Job Failed, Job Timed Out.
    'events:PutEvents': ['EventBus'],
  },
  sweep: {
    ...logsAndTraces('SweepLogs'),
    // object-store.ts presignGet/readAll: a waiting job let in is POSTed with its input's URL or bytes.
    's3:GetObject': ['InputBucket/*'],
    's3:GetObjectVersion': ['InputBucket/*'],
    // job-store.ts get; admission-store.ts read (slots, credits); completion-history-store.ts read.
    'dynamodb:GetItem': ['JobsTable'],
    // admission-store.ts ensureItem (the slots and the day's credits items).
    'dynamodb:PutItem': ['JobsTable'],
    // job-store.ts update (resolving stuck jobs, eventPublishedAt); admission-store.ts slots and credits.
    'dynamodb:UpdateItem': ['JobsTable'],
    // job-store.ts listByStatus: sweep-jobs.ts (stuck jobs), admission.ts (WAITING, oldest first);
    // listPendingEvents: sweep-jobs.ts (ended jobs whose event is unsent).
    'dynamodb:Query': ['JobsTable/index/byPendingEvent', 'JobsTable/index/byStatus'],
    // dependencies.ts providerKeySource: the POST of a waiting job let in.
    'secretsmanager:GetSecretValue': ['ProviderApiKey'],
    // events.ts EventBridgeJobEvents: events of jobs it ends, and events left unsent.
    'events:PutEvents': ['EventBus'],
    // executions.ts start: a generation without a running execution, or a waiting job let in.
    'states:StartExecution': [
      'arn:AWS::Partition:states:AWS::Region:AWS::AccountId:stateMachine:Vidflow-jobs',
    ],
    // executions.ts status: does a stuck job's execution still run?
    'states:DescribeExecution': [
      'arn:AWS::Partition:states:AWS::Region:AWS::AccountId:execution:Vidflow-jobs:*',
    ],
  },
  webhook: {
    ...logsAndTraces('WebhookDeliveryWebhookLogs'),
    // webhook/handler.ts: the next attempt's delay is the message's visibility timeout.
    'sqs:ChangeMessageVisibility': ['WebhookDeliveryQueue'],
    // Not the code: the SQS event source mapping receives and deletes with this role.
    'sqs:ReceiveMessage': ['WebhookDeliveryQueue'],
    'sqs:DeleteMessage': ['WebhookDeliveryQueue'],
    'sqs:GetQueueAttributes': ['WebhookDeliveryQueue'],
    // Not called: part of CDK's grantConsumeMessages.
    'sqs:GetQueueUrl': ['WebhookDeliveryQueue'],
    // webhook-aws.ts DynamoWebhookEndpointStore.list (the endpoints) and DynamoWebhookDeliveryLog.record,
    // DynamoWebhookEndpointStore.put (each attempt; an endpoint disabled by a 410 or 5 days of failures).
    'dynamodb:Query': ['WebhookDeliveryTable'],
    'dynamodb:PutItem': ['WebhookDeliveryTable'],
    // webhook-aws.ts SecretsManagerWebhookSecretStore.get: each endpoint's secrets, under the stack's prefix;
    // webhook-function-deps.ts: the secret of the context's webhookUrl (endpoint ep_default).
    'secretsmanager:GetSecretValue': [
      'WebhookSecret',
      'arn:AWS::Partition:secretsmanager:AWS::Region:AWS::AccountId:secret:Vidflow/webhooks/*',
    ],
    // Not called: part of CDK's secret.grantRead (infra/webhook-delivery.ts).
    'secretsmanager:DescribeSecret': ['WebhookSecret'],
  },
  'webhook-fanout': {
    ...logsAndTraces('WebhookDeliveryFanOutLogs'),
    // webhook-aws.ts DynamoWebhookEndpointStore.list (the endpoints), DynamoWebhookDeliveryLog.archive (replay).
    'dynamodb:Query': ['WebhookDeliveryTable'],
    'dynamodb:PutItem': ['WebhookDeliveryTable'],
    // webhook-aws.ts sendToDeliveryQueue: SendMessageBatch is authorised as sqs:SendMessage.
    'sqs:SendMessage': ['WebhookDeliveryQueue'],
  },
};

/** Every `<action> <resource>` whose resource has a `*`, and why it cannot be narrower. */
const WILDCARD_RESOURCES: Readonly<Record<string, string>> = {
  'xray:PutTraceSegments *': 'X-Ray has no resource-level permissions',
  'xray:PutTelemetryRecords *': 'X-Ray has no resource-level permissions',
  's3:GetObject InputBucket/*': 'drops arrive under any key the user picks',
  's3:GetObjectVersion InputBucket/*': 'drops arrive under any key the user picks',
  's3:PutObject OutputBucket/*': 'output keys mirror the input keys users pick',
  's3:AbortMultipartUpload OutputBucket/*': 'output keys mirror the input keys users pick',
  'states:DescribeExecution arn:AWS::Partition:states:AWS::Region:AWS::AccountId:execution:Vidflow-jobs:*':
    'executions are named after job ids: any execution of this state machine',
  'secretsmanager:GetSecretValue arn:AWS::Partition:secretsmanager:AWS::Region:AWS::AccountId:secret:Vidflow/webhooks/*':
    'endpoints are data: each gets its secret under the prefix when it is added, after deployment',
};

function asRecord(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  }
  return value as Json;
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value;
}

/** `InputBucket3BF8630A` -> `InputBucket`. */
function withoutHash(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

/** A statement's resource as the table writes it. */
function nameOf(resource: unknown): string {
  if (resource === '*') return '*';
  const value = asRecord(resource);
  if (typeof value.Ref === 'string') return withoutHash(value.Ref);
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn') return withoutHash(String(getAtt[0]));
  const join = value['Fn::Join'];
  if (Array.isArray(join) && join[0] === '') {
    return asArray(join[1])
      .map((part) => (typeof part === 'string' ? part : nameOf(part)))
      .join('');
  }
  throw new Error(`unexpected resource ${JSON.stringify(resource)}`);
}

/** Every statement of the policies attached to a function's role. */
function statementsOf(template: CfnTemplate, functionLogicalId: string): Json[] {
  const resources = asRecord(template.Resources);
  const role = asRecord(asRecord(asRecord(resources[functionLogicalId]).Properties).Role);
  const roleId = asArray(role['Fn::GetAtt'])[0];
  return Object.values(resources)
    .map(asRecord)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .map((r) => asRecord(r.Properties))
    .filter((props) => asArray(props.Roles).some((r) => asRecord(r).Ref === roleId))
    .flatMap((props) => asArray(asRecord(props.PolicyDocument).Statement).map(asRecord));
}

/** What a role allows, as action -> sorted resource names. */
function allowedBy(statements: readonly Json[]): Record<string, string[]> {
  const allowed: Record<string, string[]> = {};
  for (const statement of statements) {
    for (const action of [statement.Action].flat().map(String)) {
      const names = [statement.Resource].flat().map(nameOf);
      allowed[action] = [...new Set([...(allowed[action] ?? []), ...names])].sort();
    }
  }
  return allowed;
}

function sorted(allowed: Allowed): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(allowed).map(([action, resources]) => [action, [...resources].sort()]),
  );
}

describe('least privilege', () => {
  let template: CfnTemplate;
  let functions: Record<FunctionName, string>;

  beforeAll(() => {
    const { stack } = createVidflowStack({
      bundle: false,
      context: { webhookUrl: 'https://hooks.example.com/vidflow' },
    });
    template = Template.fromStack(stack).toJSON();
    // Every function of the stack, by its `vidflow:function` tag.
    functions = Object.fromEntries(
      Object.entries(asRecord(template.Resources))
        .map(([id, resource]) => [id, asRecord(resource)] as const)
        .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
        .flatMap(([id, resource]) => {
          const tags = asArray(asRecord(resource.Properties).Tags ?? []).map(asRecord);
          const tag = tags.find((t) => t.Key === FUNCTION_TAG);
          return tag === undefined ? [] : [[String(tag.Value), id]];
        }),
    ) as Record<FunctionName, string>;
  });

  it('has a row for every function of the stack', () => {
    expect(Object.keys(functions).sort()).toStrictEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.keys(EXPECTED) as FunctionName[])(
    'lets %s do exactly what its code calls, on exactly those resources',
    (name) => {
      expect(allowedBy(statementsOf(template, functions[name]))).toStrictEqual(sorted(EXPECTED[name]));
    },
  );

  it('allows only plain Allow statements: no Deny, NotAction, NotResource or wildcard action', () => {
    for (const logicalId of Object.values(functions)) {
      for (const statement of statementsOf(template, logicalId)) {
        expect(Object.keys(statement).sort()).toStrictEqual(['Action', 'Effect', 'Resource']);
        expect(statement.Effect).toBe('Allow');
        expect([statement.Action].flat().filter((action) => String(action).includes('*'))).toStrictEqual([]);
      }
    }
  });

  it('allows a resource with `*` only where the table gives the reason', () => {
    const withWildcard = new Set<string>();
    for (const logicalId of Object.values(functions)) {
      for (const [action, resources] of Object.entries(allowedBy(statementsOf(template, logicalId)))) {
        for (const resource of resources)
          if (resource.includes('*')) withWildcard.add(`${action} ${resource}`);
      }
    }
    expect([...withWildcard].sort()).toStrictEqual(Object.keys(WILDCARD_RESOURCES).sort());
  });

  it('lets no function query an index by wildcard: each index is named by its own ARN', () => {
    const queried = Object.values(functions).flatMap(
      (logicalId) => allowedBy(statementsOf(template, logicalId))['dynamodb:Query'] ?? [],
    );
    // The webhook functions query the webhooks table itself (the endpoints' partition), no index.
    expect([...new Set(queried)].sort()).toStrictEqual([
      'JobsTable/index/byPendingEvent',
      'JobsTable/index/bySource',
      'JobsTable/index/byStatus',
      'WebhookDeliveryTable',
    ]);
  });
});
