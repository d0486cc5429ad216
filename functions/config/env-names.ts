/**
 * The names of every environment variable the functions read.
 *
 * Imported by the CDK stack (which sets them) and by the functions (which read them), so the
 * two cannot drift apart. The local runtime also sets them, from the synthesized template.
 */
export const EnvName = {
  /** Input bucket name: where users drop videos, sidecars, presets and manifests. */
  inputBucket: 'VIDFLOW_INPUT_BUCKET',
  /** Output bucket name: where edited videos and their `<jobId>.json` records land. */
  outputBucket: 'VIDFLOW_OUTPUT_BUCKET',
  /** DynamoDB table holding one item per job. */
  jobsTable: 'VIDFLOW_JOBS_TABLE',
  /** ARN of the polling state machine the submit function starts. */
  stateMachineArn: 'VIDFLOW_STATE_MACHINE_ARN',
  /** Provider base URL; default `https://api.aimlapi.com`. */
  providerBaseUrl: 'AIMLAPI_BASE_URL',
  /** Provider API key in plain text: the local runtime only. In AWS the key lives in Secrets Manager. */
  providerApiKey: 'AIMLAPI_KEY',
  /** ARN of the Secrets Manager secret holding the provider API key (AWS). */
  providerSecretArn: 'VIDFLOW_PROVIDER_SECRET_ARN',
  /** Largest input video accepted, in bytes; default 16 MiB. */
  maxInputBytes: 'VIDFLOW_MAX_INPUT_BYTES',
  /** Largest provider output copied, in bytes; default 1 GiB. */
  maxOutputBytes: 'VIDFLOW_MAX_OUTPUT_BYTES',
  /** How the input reaches the provider: `auto` (default: a data URI when it fits, else a URL), `presigned` or `data-uri`. */
  videoUrlMode: 'VIDFLOW_VIDEO_URL_MODE',
  /**
   * Base URL of the CloudFront distribution (or the local stand-in) serving the input bucket: when
   * set, input URLs are CloudFront signed URLs, which answer HEAD and GET, instead of S3 presigned GETs.
   */
  inputCdnUrl: 'VIDFLOW_INPUT_CDN_URL',
  /** The CloudFront public key id input URLs are signed for. */
  inputCdnKeyPairId: 'VIDFLOW_INPUT_CDN_KEY_PAIR_ID',
  /** ARN of the Secrets Manager secret holding the PEM private key that signs input URLs (AWS). */
  inputCdnPrivateKeySecretArn: 'VIDFLOW_INPUT_CDN_PRIVATE_KEY_SECRET_ARN',
  /** The PEM private key itself (the local runtime). */
  inputCdnPrivateKey: 'VIDFLOW_INPUT_CDN_PRIVATE_KEY',
  /** Lifetime of the presigned input URL in seconds; default 3600, at most 3600. */
  presignExpiresSeconds: 'VIDFLOW_PRESIGN_EXPIRES_SECONDS',
  /** Overall deadline of a generation in seconds, from submission; default 1800. */
  jobTimeoutSeconds: 'VIDFLOW_JOB_TIMEOUT_SECONDS',
  /**
   * The first wait, in seconds, of an execution started without a plan (the policy replaces it
   * with its planned first wait whenever the job's submission time is known); default 60.
   */
  pollInitialSeconds: 'VIDFLOW_POLL_INITIAL_SECONDS',
  /**
   * The tail rule's wait, in seconds: between checks of a job beyond the policy's plan (its
   * estimate's far tail), and the longest wait without a submission time; default 60. Planned
   * waits are not capped.
   */
  pollMaxSeconds: 'VIDFLOW_POLL_MAX_SECONDS',
  /**
   * The polling policy's prior: the typical completion time in seconds, from submission, of a
   * generation with little history. A number (every model and frame size), or a comma-separated
   * list of `default=<s>`, `<model>=<s>` and `<model>@<frame size>=<s>`; default 210
   * (`runway/gen4_aleph`'s published example).
   */
  pollTypicalSeconds: 'VIDFLOW_POLL_TYPICAL_SECONDS',
  /** Shortest wait between two checks, in seconds; default 5. */
  pollMinSeconds: 'VIDFLOW_POLL_MIN_SECONDS',
  /**
   * The detection lag, in seconds, one status check is worth to the polling policy; default 4.
   * Higher: fewer checks, later detection.
   */
  pollCheckCostSeconds: 'VIDFLOW_POLL_CHECK_COST_SECONDS',
  /**
   * Generations in flight at the provider at once; drops beyond it wait in `WAITING` for a slot.
   * Default 10; `0` means no cap.
   */
  maxInFlight: 'VIDFLOW_MAX_IN_FLIGHT',
  /**
   * Credits the jobs admitted on one UTC day may use; once reserved, new drops wait in `WAITING`
   * until the next day or a higher budget. Default: no budget.
   */
  dailyCreditBudget: 'VIDFLOW_DAILY_CREDIT_BUDGET',
  /** The catalog model of a drop that names none; default `runway/gen4_aleph`. */
  defaultModel: 'VIDFLOW_DEFAULT_MODEL',
  /** Comma-separated catalog model ids drops may use; unset: every catalog model. */
  allowedModels: 'VIDFLOW_ALLOWED_MODELS',
  /** Credits reserved per job against the daily budget until its real cost is known; default 40. */
  creditsPerJobEstimate: 'VIDFLOW_CREDITS_PER_JOB_ESTIMATE',
  /**
   * How long an in-flight job may sit unchanged before the sweeper resolves it, in seconds;
   * default 600.
   */
  sweepGraceSeconds: 'VIDFLOW_SWEEP_GRACE_SECONDS',
  /** How far back the sweeper looks for in-flight jobs, in seconds; default 172800 (2 days). */
  sweepLookbackSeconds: 'VIDFLOW_SWEEP_LOOKBACK_SECONDS',
  /** Provider request timeout in milliseconds; default 30000. */
  providerTimeoutMs: 'VIDFLOW_PROVIDER_TIMEOUT_MS',
  /** Provider status-read (GET) timeout in milliseconds; default the provider request timeout. */
  providerReadTimeoutMs: 'VIDFLOW_PROVIDER_READ_TIMEOUT_MS',
  /** Hosts the output download may reach besides public HTTPS ones (local runtime: the emulator's origin). */
  downloadAllowedOrigins: 'VIDFLOW_DOWNLOAD_ALLOWED_ORIGINS',
  /** EventBridge bus that receives one event per terminal job state (AWS). */
  eventBusName: 'VIDFLOW_EVENT_BUS_NAME',
  /** File that receives one JSON line per terminal job state (local runtime). */
  eventsFile: 'VIDFLOW_EVENTS_FILE',
  /**
   * Webhook URL that receives each terminal job event, signed per Standard Webhooks (the local
   * runtime, and the webhook function in AWS).
   */
  webhookUrl: 'VIDFLOW_WEBHOOK_URL',
  /** Standard Webhooks signing secret (`whsec_` + base64) for `webhookUrl` (local runtime). */
  webhookSecret: 'VIDFLOW_WEBHOOK_SECRET',
  /** ARN of the Secrets Manager secret holding the Standard Webhooks signing secret (AWS). */
  webhookSecretArn: 'VIDFLOW_WEBHOOK_SECRET_ARN',
  /**
   * Multiplies the webhook retry schedule, `Retry-After` and the 5-day disable rule (local
   * runtime; default 1). `0.0001` makes a simulated day last under 9 s.
   */
  webhookTimeScale: 'VIDFLOW_WEBHOOK_TIME_SCALE',
  /** Name of the table of webhook endpoints, attempts and replayable messages (AWS). */
  webhooksTableName: 'VIDFLOW_WEBHOOKS_TABLE_NAME',
  /** Prefix of the Secrets Manager secrets holding each endpoint's signing secrets (AWS). */
  webhookSecretPrefix: 'VIDFLOW_WEBHOOK_SECRET_PREFIX',
  /** URL of the SQS queue the webhook function consumes; it sets each retry's delay on it (AWS). */
  webhookQueueUrl: 'VIDFLOW_WEBHOOK_QUEUE_URL',
  /** Custom S3 endpoint (local runtime). */
  s3Endpoint: 'VIDFLOW_S3_ENDPOINT',
  /** Custom DynamoDB endpoint (local runtime). */
  dynamodbEndpoint: 'VIDFLOW_DYNAMODB_ENDPOINT',
  /** Custom Step Functions endpoint (local runtime). */
  stepFunctionsEndpoint: 'VIDFLOW_STEPFUNCTIONS_ENDPOINT',
  /** Powertools log level. */
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  /** Powertools service name. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** `false` turns the Powertools Tracer off (the local runtime, which has no X-Ray daemon); default on. */
  tracingEnabled: 'POWERTOOLS_TRACE_ENABLED',
  /** `true` turns the Powertools Metrics (CloudWatch EMF, namespace `vidflow`) off (the local runtime); default on. */
  metricsDisabled: 'POWERTOOLS_METRICS_DISABLED',
} as const;

export type EnvName = (typeof EnvName)[keyof typeof EnvName];
