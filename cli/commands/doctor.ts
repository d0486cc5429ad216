/**
 * `vidflow doctor [--json]`: checks a local runtime (or a deployed stack, with `--stack`) before
 * the first drop: the target's description is complete (stack outputs / endpoints.json), the
 * buckets and the jobs table answer the caller's credentials, the provider key is set, and the
 * provider accepts it without paying (a GET of a generation id that cannot exist: documented as
 * 404 with a good key, 401 with a bad one; anything else is "unknown", never "bad key").
 * One line per check; the exit code is non-zero when any check fails.
 */
import { randomUUID } from 'node:crypto';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { generationsPath } from '../../functions/adapters/provider-client.js';
import { SecretCache } from '../../functions/adapters/secret-cache.js';
import { DEFAULT_PROVIDER_BASE_URL } from '../../functions/config/config.js';
import type { CliContext } from '../context.js';
import { printJson } from '../format.js';
import { EMULATOR_API_KEY } from '../submission.js';

/** `ok`; `fail` (exit non-zero); `unknown`: the check could not tell (not a failure). */
export type CheckStatus = 'ok' | 'fail' | 'unknown';

export interface DoctorCheck {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

/**
 * Runs every check and prints them.
 *
 * @param connect connects to the target; its failure (no runtime, missing stack outputs) is the
 *   first check's failure, not a crash.
 * @returns the exit code: 1 when a check failed, else 0.
 */
export async function runDoctor(
  connect: () => Promise<CliContext>,
  out: NodeJS.WritableStream,
  options: { readonly json?: boolean; readonly fetch?: typeof fetch } = {},
): Promise<number> {
  const checks: DoctorCheck[] = [];
  let ctx: CliContext | undefined;
  try {
    ctx = await connect();
    checks.push({ name: 'target', status: 'ok', detail: ctx.target.description });
  } catch (error) {
    checks.push({ name: 'target', status: 'fail', detail: messageOf(error) });
  }
  if (ctx !== undefined) {
    try {
      checks.push(...(await checkTarget(ctx, options.fetch ?? fetch)));
    } finally {
      ctx.close();
    }
  }
  const failed = checks.some((check) => check.status === 'fail');
  if (options.json) printJson(out, { ok: !failed, checks });
  else {
    const width = Math.max(...checks.map((check) => check.name.length));
    for (const check of checks)
      out.write(`${check.status.padEnd(7)} ${check.name.padEnd(width)}  ${check.detail}\n`);
  }
  return failed ? 1 : 0;
}

async function checkTarget(ctx: CliContext, fetchFn: typeof fetch): Promise<DoctorCheck[]> {
  const { target, clients } = ctx;
  const checks: DoctorCheck[] = [];
  const probe = async (name: string, detail: string, run: () => Promise<unknown>) => {
    try {
      await run();
      checks.push({ name, status: 'ok', detail });
    } catch (error) {
      checks.push({ name, status: 'fail', detail: `${detail}: ${messageOf(error)}` });
    }
  };
  await probe('input bucket', target.inputBucket, () =>
    clients.s3.send(new HeadBucketCommand({ Bucket: target.inputBucket })),
  );
  await probe('output bucket', target.outputBucket, () =>
    clients.s3.send(new HeadBucketCommand({ Bucket: target.outputBucket })),
  );
  await probe('jobs table', target.jobsTable, () =>
    clients.dynamo.send(new DescribeTableCommand({ TableName: target.jobsTable })),
  );

  let key: string | undefined;
  let baseUrl: string;
  if (target.kind === 'local') {
    baseUrl = target.provider?.url ?? DEFAULT_PROVIDER_BASE_URL;
    key = target.provider?.emulated === true ? EMULATOR_API_KEY : process.env.AIMLAPI_KEY;
    checks.push(
      key === undefined || key === ''
        ? {
            name: 'provider key',
            status: 'fail',
            detail: 'the runtime calls the real provider: set AIMLAPI_KEY',
          }
        : {
            name: 'provider key',
            status: 'ok',
            detail: target.provider?.emulated === true ? 'the emulator' : 'AIMLAPI_KEY',
          },
    );
  } else {
    baseUrl = process.env.AIMLAPI_BASE_URL ?? DEFAULT_PROVIDER_BASE_URL;
    const secretArn = target.providerSecretArn;
    if (secretArn === undefined || clients.secrets === undefined) {
      checks.push({
        name: 'provider key',
        status: 'fail',
        detail: 'the stack has no ProviderSecretArn output',
      });
    } else {
      try {
        const secrets = clients.secrets;
        key = await new SecretCache(() => secrets).value(secretArn);
        checks.push(
          key
            ? { name: 'provider key', status: 'ok', detail: secretArn }
            : {
                name: 'provider key',
                status: 'fail',
                detail: `${secretArn} is empty: put the AI/ML API key in it`,
              },
        );
      } catch (error) {
        checks.push({ name: 'provider key', status: 'fail', detail: `${secretArn}: ${messageOf(error)}` });
      }
    }
  }
  if (key) checks.push(await checkProviderAcceptsKey(baseUrl, key, fetchFn));
  return checks;
}

/**
 * Asks the provider about a generation that cannot exist: free, and documented to answer 404
 * with a good key and 401 with a bad one.
 */
export async function checkProviderAcceptsKey(
  baseUrl: string,
  key: string,
  fetchFn: typeof fetch,
): Promise<DoctorCheck> {
  const name = 'provider accepts the key';
  const url = `${baseUrl.replace(/\/+$/, '')}${generationsPath}?generation_id=vidflow-doctor-${randomUUID()}`;
  let status: number;
  try {
    const response = await fetchFn(url, {
      headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    await response.body?.cancel();
    status = response.status;
  } catch (error) {
    return { name, status: 'unknown', detail: `${baseUrl} did not answer: ${messageOf(error)}` };
  }
  if (status === 404)
    return { name, status: 'ok', detail: `${baseUrl} (404 for an unknown generation, as documented)` };
  if (status === 401) return { name, status: 'fail', detail: `${baseUrl} refused the key (HTTP 401)` };
  return {
    name,
    status: 'unknown',
    detail: `${baseUrl} answered HTTP ${status}, neither 404 (good key) nor 401 (bad key)`,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error
    ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`
    : String(error);
}
