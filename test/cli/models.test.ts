/**
 * The model catalog at the command line: `vidflow models` (the catalog, no target needed), the
 * model in `list` and `status`, and `stats --by model`, against a local runtime.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStatus } from '../../functions/domain/job.js';
import { CATALOG } from '../../functions/domain/models/catalog.js';
import { isSettled, putObject } from '../support/runtime-harness.js';
import { type CliRuntime, runVidflow, startCliRuntime, testClip } from './cli-harness.js';

const KREA = 'krea/krea-wan-14b/video-to-video';

describe('vidflow models', () => {
  it('--json prints every catalog model with its fields, rules and defaults', async () => {
    const result = await runVidflow(['models', '--json']);

    expect(result.code).toBe(0);
    const models = JSON.parse(result.stdout) as { id: string; fields: { name: string }[] }[];
    expect(models.map((model) => model.id)).toEqual([
      'runway/gen4_aleph',
      'runway/act_two',
      KREA,
      'klingai/video-o1-video-to-video-edit',
      'blackforestlabs/flux-3-video-v2v',
      'blackforestlabs/flux-3-video-draft-v2v',
    ]);
    const actTwo = models.find((model) => model.id === 'runway/act_two');
    expect(actTwo).toMatchObject({
      videoField: 'reference',
      openApiFile: 'docs/api-references/video-models/runway/act_two.json',
      outputs: ['video'],
    });
    expect(actTwo?.fields.map((field) => field.name)).toEqual([
      'character',
      'frame_size',
      'body_control',
      'expression_intensity',
      'seed',
    ]);
    expect(actTwo?.fields.find((field) => field.name === 'expression_intensity')).toEqual({
      name: 'expression_intensity',
      type: 'integer',
      required: false,
      description: 'A larger value increases the intensity of the character’s expression.',
      default: 3,
      minimum: 1,
      maximum: 5,
      rule: 'an integer from 1 to 5',
    });
  });

  it('prints a table of fields per model', async () => {
    const result = await runVidflow(['models']);

    expect(result.code).toBe(0);
    for (const spec of CATALOG) expect(result.stdout).toContain(`${spec.id}`);
    expect(result.stdout).toMatch(/^strength +no +0\.85 +a number from 0 to 1$/m);
    expect(result.stdout).toMatch(/^character +yes +- +an object \{ "type": "video" or "image"/m);
  });
});

describe('the model in list, status and stats', () => {
  let cli: CliRuntime;
  let alephId: string;
  let kreaId: string;

  beforeAll(async () => {
    let clip: string;
    [cli, clip] = await Promise.all([startCliRuntime(), testClip()]);
    const body = await readFile(clip);
    const bucket = cli.runtime.endpoints.inputBucket;
    [alephId, kreaId] = await Promise.all([
      putObject(cli.clients.s3, { bucket, key: 'by-model/aleph.mp4', body, metadata: { prompt: 'snow' } }),
      putObject(cli.clients.s3, {
        bucket,
        key: 'by-model/krea.mp4',
        body,
        metadata: { prompt: 'ink', model: KREA },
      }),
    ]);
    await Promise.all([alephId, kreaId].map((id) => cli.waitForJob(id, isSettled)));
  });

  afterAll(async () => {
    await cli?.stop();
  });

  it('stats --by model --json counts jobs, completions and credits per model', async () => {
    const result = await cli.vidflow(['stats', '--since', '1h', '--by', 'model', '--json']);

    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout) as { byModel: Record<string, unknown>; creditsUsed: number };
    expect(Object.keys(stats.byModel).sort()).toEqual([KREA, 'runway/gen4_aleph']);
    expect(stats.byModel[KREA]).toMatchObject({ jobs: 1, completed: 1 });
    expect(stats.byModel['runway/gen4_aleph']).toMatchObject({ jobs: 1, completed: 1 });
  });

  it('stats --by model prints a table of models', async () => {
    const result = await cli.vidflow(['stats', '--by', 'model']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^MODEL +JOBS +COMPLETED +CREDITS$/m);
    expect(result.stdout).toMatch(new RegExp(`^${KREA} +1 +1 +\\d+$`, 'm'));
    expect(result.stdout).toMatch(/^runway\/gen4_aleph +1 +1 +\d+$/m);
  });

  it('stats --by refuses anything but model', async () => {
    const result = await cli.vidflow(['stats', '--by', 'colour']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--by takes "model", got "colour"');
  });

  it('list and status show the model', async () => {
    const list = await cli.vidflow(['list', '--status', JobStatus.completed]);
    const status = await cli.vidflow(['status', kreaId]);

    expect(list.stdout).toMatch(/^JOB +STATUS +SINCE \(UTC\) +SOURCE +MODEL +ERROR/m);
    expect(list.stdout).toMatch(new RegExp(`^${kreaId} .* by-model/krea\\.mp4 +${KREA}`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^${alephId} .* by-model/aleph\\.mp4 +runway/gen4_aleph`, 'm'));
    expect(status.stdout).toContain(`model      ${KREA}\n`);
  });
});
