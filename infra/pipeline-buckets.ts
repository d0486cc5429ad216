/**
 * The pipeline's two buckets (drops in, results out) with what comes with them when the stack
 * creates them: a versioned, TLS-only, encrypted bucket, an optional customer-managed KMS key and
 * a server access-logs bucket. Each may instead be an adopted, existing bucket.
 */
import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  BucketGrants,
  type IBucket,
  type LifecycleRule,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { acknowledgeNagFinding, nagResource } from './nag.js';

export interface PipelineBucketsProps {
  /** Name of an existing bucket to adopt as the input bucket; absent: one is created. */
  readonly inputBucketName?: string;
  /** Name of an existing bucket to adopt as the output bucket; absent: one is created. */
  readonly outputBucketName?: string;
  /** Encrypt the created buckets with a customer-managed KMS key instead of SSE-S3. */
  readonly bucketKms: boolean;
  /** Move input videos to S3 Glacier Instant Retrieval this long after upload (created bucket only). */
  readonly archiveInputsAfter?: Duration;
  /** What happens to the created buckets (and the key) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Grants on the buckets in the CDK's style, each as narrow as the granted code's S3 calls.
 *
 * Not a construct of its own on purpose: a construct scope would add a segment to the resources'
 * construct paths, and so change the logical IDs of the buckets and the key of a deployed stack,
 * which CloudFormation would answer by replacing them (and losing their objects). The resources
 * stay in the stack's scope, with the ids they always had.
 *
 * @throws Error when the input and output buckets are the same adopted bucket.
 */
export class PipelineBuckets {
  readonly inputBucket: IBucket;
  readonly outputBucket: IBucket;
  /** The created buckets' KMS key, with `bucketKms`. */
  readonly key?: Key;
  /** Server access logs of the created buckets; absent when both buckets are adopted. */
  private accessLogsBucket?: Bucket;

  constructor(
    private readonly scope: Stack,
    private readonly props: PipelineBucketsProps,
  ) {
    if (props.inputBucketName !== undefined && props.inputBucketName === props.outputBucketName) {
      // Outputs are videos too: writing them into the input bucket would trigger submit again, forever.
      throw new Error('vidflow: the input and output buckets must differ');
    }
    this.key = props.bucketKms
      ? new Key(scope, 'BucketKey', {
          description: 'vidflow: encrypts the input and output buckets',
          enableKeyRotation: true,
          removalPolicy: props.removalPolicy,
        })
      : undefined;
    this.inputBucket = this.adoptOrCreateBucket('InputBucket', props.inputBucketName, [
      ...(props.archiveInputsAfter === undefined
        ? []
        : [
            {
              id: 'archive-inputs',
              transitions: [
                {
                  storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
                  transitionAfter: props.archiveInputsAfter,
                },
              ],
            },
          ]),
    ]);
    this.outputBucket = this.adoptOrCreateBucket('OutputBucket', props.outputBucketName);
  }

  /**
   * Lets `grantee` read drops: GetObject (which covers HEAD and ranged GETs, and signs presigned
   * URLs) and GetObjectVersion (a drop's exact version) on every object of the input bucket;
   * with `list`, ListBucket too, which turns a missing sidecar or preset into a 404 rather than a
   * 403. With the KMS key, Decrypt: reading a drop, and the provider's GET of a presigned URL.
   */
  grantReadDrops(grantee: IGrantable & IConstruct, options: { readonly list?: boolean } = {}): void {
    BucketGrants.fromBucket(this.inputBucket).actionsOnObjectKeys(
      grantee,
      '*',
      's3:GetObject',
      's3:GetObjectVersion',
    );
    acknowledgeNagFinding(
      grantee,
      'AwsSolutions-IAM5',
      'Drops arrive under any key the user picks; reads are limited to objects of the input bucket.',
      `Resource::${nagObjectsArn(this.inputBucket)}`,
    );
    if (options.list === true) {
      Grant.addToPrincipal({
        grantee,
        actions: ['s3:ListBucket'],
        resourceArns: [this.inputBucket.bucketArn],
      });
    }
    this.key?.grant(grantee, 'kms:Decrypt');
  }

  /**
   * Lets `grantee` write results: PutObject (single and multipart uploads) and
   * AbortMultipartUpload (lib-storage cleans up a failed upload) on every object of the output
   * bucket. With the KMS key, GenerateDataKey to encrypt and Decrypt, which a multipart upload
   * needs to complete.
   */
  grantWriteResults(grantee: IGrantable & IConstruct): void {
    BucketGrants.fromBucket(this.outputBucket).actionsOnObjectKeys(
      grantee,
      '*',
      's3:PutObject',
      's3:AbortMultipartUpload',
    );
    acknowledgeNagFinding(
      grantee,
      'AwsSolutions-IAM5',
      'Output keys mirror the input keys users pick; writes are limited to objects of the output bucket.',
      `Resource::${nagObjectsArn(this.outputBucket)}`,
    );
    this.key?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  }

  private adoptOrCreateBucket(
    id: string,
    existingName: string | undefined,
    extraLifecycleRules: readonly LifecycleRule[] = [],
  ): IBucket {
    if (existingName !== undefined) return Bucket.fromBucketName(this.scope, id, existingName);
    const { removalPolicy } = this.props;
    return new Bucket(this.scope, id, {
      serverAccessLogsBucket: this.getAccessLogsBucket(),
      serverAccessLogsPrefix: `${id}/`,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      ...(this.key === undefined
        ? { encryption: BucketEncryption.S3_MANAGED }
        : { encryption: BucketEncryption.KMS, encryptionKey: this.key, bucketKeyEnabled: true }),
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        ...extraLifecycleRules,
      ],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
  }

  /** Created with the first bucket that logs to it. */
  private getAccessLogsBucket(): Bucket {
    if (this.accessLogsBucket !== undefined) return this.accessLogsBucket;
    const { removalPolicy } = this.props;
    const bucket = new Bucket(this.scope, 'AccessLogsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Server access logging delivers only to SSE-S3 buckets.
      encryption: BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    acknowledgeNagFinding(
      bucket,
      'AwsSolutions-S1',
      'It is the access-logs bucket; logging it into itself would loop.',
    );
    this.accessLogsBucket = bucket;
    return bucket;
  }
}

/** How cdk-nag spells `bucket/*` in a finding, for a created or an adopted bucket. */
function nagObjectsArn(bucket: IBucket): string {
  return nagResource(bucket, bucket.arnForObjects('*'));
}
