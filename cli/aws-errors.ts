/**
 * AWS failures a person can fix, turned into messages that say how. Kept apart from `stack.ts`
 * so every command can use it without loading the CloudFormation client.
 */
import { CliError } from './context.js';

/** A CliError for the AWS failures a person can fix (credentials, region, permissions), else undefined. */
export function explainAwsError(error: unknown): CliError | undefined {
  if (!(error instanceof Error)) return undefined;
  const text = `${error.name}: ${error.message}`;
  if (error.name === 'CredentialsProviderError' || /Could not load credentials/i.test(text)) {
    return new CliError(
      'no AWS credentials found: set AWS_PROFILE or pass --profile, run `aws sso login` or `aws configure`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      1,
      { cause: error },
    );
  }
  if (/Region is missing/i.test(text)) {
    return new CliError('no AWS region: pass --region, set AWS_REGION, or give your profile a region', 1, {
      cause: error,
    });
  }
  if (/ExpiredToken|InvalidClientTokenId|UnrecognizedClient|SignatureDoesNotMatch/.test(text)) {
    return new CliError(
      `AWS refused the credentials (${error.name}): refresh them (e.g. \`aws sso login\`) or pick another --profile`,
      1,
      { cause: error },
    );
  }
  if (/AccessDenied|not authorized/i.test(text)) {
    return new CliError(`AWS denied the request: ${error.message}`, 1, { cause: error });
  }
  return undefined;
}
