/**
 * The jobs table (docs/architecture.md, "Jobs table"): one item per job, keyed by `jobId`,
 * with an index for every query the stores make (README "Querying results").
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { JobsAttribute, JobsIndex, JobsTableKey } from '../functions/config/jobs-table.js';

/** What the stores on the jobs table (job, completion history, admission) call on its items. */
export const JOB_ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

export type JobsIndexName = (typeof JobsIndex)[keyof typeof JobsIndex];

export interface JobStoreGrantOptions {
  /**
   * The indexes the grantee's code queries (`JobStore.listByStatus`: byStatus; `listBySource`:
   * bySource; `listPendingEvents`: byPendingEvent).
   * @default - none: no Query at all
   */
  readonly queryIndexes?: readonly JobsIndexName[];
}

export interface JobsTableProps {
  /**
   * What happens to the table when the stack is deleted. `RETAIN` also turns on deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A plain `AWS::DynamoDB::Table` (not a global table) because its template properties map one to
 * one onto `CreateTable`, which is how the local runtime creates the same table.
 */
export class JobsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: JobsTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.table = new Table(this, 'Resource', {
      partitionKey: { name: JobsTableKey.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });

    // Status and day together: a status alone would put millions of finished jobs in one partition.
    this.table.addGlobalSecondaryIndex({
      indexName: JobsIndex.byStatus,
      partitionKey: { name: JobsAttribute.statusDay, type: AttributeType.STRING },
      sortKey: { name: JobsAttribute.statusChangedAt, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: JobsIndex.bySource,
      partitionKey: { name: JobsAttribute.sourceId, type: AttributeType.STRING },
      sortKey: { name: JobsAttribute.createdAt, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Sparse: only jobs that reached the provider have a generationId.
    this.table.addGlobalSecondaryIndex({
      indexName: JobsIndex.byGenerationId,
      partitionKey: { name: JobsAttribute.generationId, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Sparse: only ended jobs whose terminal event is not marked sent. Keys only: the sweeper
    // reads each record again, strongly, before it publishes.
    this.table.addGlobalSecondaryIndex({
      indexName: JobsIndex.byPendingEvent,
      partitionKey: { name: JobsAttribute.eventPending, type: AttributeType.STRING },
      sortKey: { name: JobsAttribute.statusChangedAt, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }

  /**
   * Lets `grantee` use the stores on this table: get, put and update items (never scan, delete or
   * batch), and Query only the indexes named, each by its own ARN rather than `index/*`.
   */
  grantJobStore(grantee: IGrantable, options: JobStoreGrantOptions = {}): void {
    Grant.addToPrincipal({ grantee, actions: [...JOB_ITEM_ACTIONS], resourceArns: [this.table.tableArn] });
    const indexes = options.queryIndexes ?? [];
    if (indexes.length === 0) return;
    Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: indexes.map((name) => `${this.table.tableArn}/index/${name}`),
    });
  }
}
