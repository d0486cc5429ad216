/**
 * The model catalog's rules (functions/domain/models/), each from its published OpenAPI file:
 * what a drop may give each model, the exact rejection (code, model, field) when it breaks one,
 * and the body sent when it does not. The emulator's independent schemas must agree on both.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/config/config.js';
import { EnvName } from '../../functions/config/env-names.js';
import { ConfigError, InputRejectedError } from '../../functions/domain/errors.js';
import { CATALOG, findModel, modelSettingsProblems } from '../../functions/domain/models/catalog.js';
import {
  catalogRequestBody,
  estimateRequestCredits,
  resolveModel,
  validateCatalogRequest,
} from '../../functions/domain/models/catalog-request.js';
import { hasPrompt, validateDropRequest } from '../../functions/domain/params.js';
import { validateModelCreate } from '../../local/emulator/models/index.js';

const VIDEO = 'https://bucket.example.com/in/clip.mp4';

function spec(id: string) {
  const found = findModel(id);
  if (found === undefined) throw new Error(`${id} is not in the catalog`);
  return found;
}

function rejection(run: () => unknown): InputRejectedError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputRejectedError);
    return error as InputRejectedError;
  }
  throw new Error('expected a rejection');
}

/** Per model: a valid set of fields, and values each breaking one published rule. */
const RULES: readonly {
  readonly id: string;
  readonly valid: Readonly<Record<string, unknown>>;
  readonly broken: readonly (readonly [field: string, value: unknown])[];
}[] = [
  {
    id: 'runway/act_two',
    valid: { character: { type: 'video', url: 'https://cdn.example.com/me.mp4' }, seed: 4_294_967_295 },
    broken: [
      ['character', { type: 'audio', url: 'https://cdn.example.com/me.mp3' }],
      ['character', { type: 'image', url: 'http://cdn.example.com/me.png' }],
      ['character', { type: 'image', url: 'https://cdn.example.com/me.png', extra: 1 }],
      ['frame_size', '1920:1080'],
      ['body_control', 'yes'],
      ['expression_intensity', 0],
      ['expression_intensity', 2.5],
      ['seed', 4_294_967_296],
      ['seed', -1],
    ],
  },
  {
    id: 'krea/krea-wan-14b/video-to-video',
    valid: { prompt: 'ink', strength: 0, enable_prompt_expansion: true, seed: -5 },
    broken: [
      ['strength', -0.01],
      ['strength', '0.5'],
      ['enable_prompt_expansion', 1],
      ['seed', 1.5],
    ],
  },
  {
    id: 'klingai/video-o1-video-to-video-edit',
    valid: {
      prompt: 'x'.repeat(2500),
      image_list: Array.from({ length: 7 }, (_, i) => `https://cdn.example.com/${i}.png`),
      elements: [
        {
          reference_image_urls: ['https://cdn.example.com/a.png'],
          frontal_image_url: 'data:image/png;base64,AA==',
        },
      ],
      keep_audio: false,
      provider: 'FAL',
    },
    broken: [
      ['prompt', 'x'.repeat(2501)],
      ['image_list', []],
      ['image_list', Array.from({ length: 8 }, (_, i) => `https://cdn.example.com/${i}.png`)],
      ['elements', [{ reference_image_urls: [], frontal_image_url: 'https://cdn.example.com/a.png' }]],
      ['elements', [{ reference_image_urls: ['https://cdn.example.com/a.png'] }]],
      ['provider', 'replicate'],
    ],
  },
  {
    id: 'blackforestlabs/flux-3-video-v2v',
    valid: { prompt: 'p', duration: 20, aspect_ratio: '21:9', resolution: 'fhd', safety_tolerance: 4 },
    broken: [
      ['prompt', ''],
      ['duration', 4],
      ['duration', 5.5],
      ['aspect_ratio', '5:4'],
      ['resolution', '4k'],
      ['safety_tolerance', 5],
      ['generate_audio', 'false'],
    ],
  },
  {
    id: 'blackforestlabs/flux-3-video-draft-v2v',
    valid: { prompt: 'p', resolution: 'hd' },
    broken: [['resolution', 'fhd']],
  },
];

describe('catalog models', () => {
  it('lists every model once, each citing its published OpenAPI file', () => {
    const ids = CATALOG.map((model) => model.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const model of CATALOG)
      expect(model.openApiFile).toMatch(/^docs\/api-references\/video-models\/.+\.json$/);
  });

  describe.each(RULES)('$id', ({ id, valid, broken }) => {
    it('accepts its valid fields and sends them with the drop’s video', () => {
      const { prompt, ...fields } = valid;
      const request = validateCatalogRequest(spec(id), {
        model: id,
        ...(typeof prompt === 'string' ? { prompt } : {}),
        modelFields: fields,
      });
      expect(request.fields).toEqual(valid);
      const body = catalogRequestBody(request, VIDEO);
      expect(validateModelCreate(body)).toMatchObject({ ok: true });
    });

    it.each(broken)('rejects %s = %j with MODEL_FIELD_INVALID naming the model and field', (field, value) => {
      const error = rejection(() =>
        validateCatalogRequest(spec(id), { model: id, modelFields: { ...valid, [field]: value } }),
      );
      expect(error).toMatchObject({ code: 'MODEL_FIELD_INVALID', model: id, field });
      expect(error.message).toMatch(new RegExp(`^model ${id}, field ${field}: must be `));
      // The emulator, written separately from the same published file, refuses it too.
      const request = { model: id, fields: { ...valid, [field]: value }, videoField: spec(id).video.name };
      expect(validateModelCreate(catalogRequestBody(request, VIDEO))).toMatchObject({ ok: false });
    });
  });

  it('rejects a missing required field, a field the model does not take, and the video field', () => {
    const actTwo = spec('runway/act_two');
    expect(rejection(() => validateCatalogRequest(actTwo, {}))).toMatchObject({
      code: 'MODEL_FIELD_INVALID',
      field: 'character',
      message: expect.stringContaining('is required'),
    });
    const character = { type: 'image', url: 'https://cdn.example.com/me.png' };
    expect(
      rejection(() => validateCatalogRequest(actTwo, { prompt: 'p', modelFields: { character } })),
    ).toMatchObject({
      code: 'MODEL_FIELD_UNKNOWN',
      model: 'runway/act_two',
      field: 'prompt',
    });
    expect(
      rejection(() => validateCatalogRequest(actTwo, { modelFields: { character, reference: character } })),
    ).toMatchObject({ code: 'MODEL_FIELD_UNKNOWN', field: 'reference' });
  });

  it('sends act_two’s video as its reference object', () => {
    const request = validateCatalogRequest(spec('runway/act_two'), {
      modelFields: { character: { type: 'image', url: 'https://cdn.example.com/me.png' } },
      frameSize: '960:960',
    });
    expect(request.frameSize).toBe('960:960');
    expect(catalogRequestBody(request, VIDEO)).toEqual({
      model: 'runway/act_two',
      character: { type: 'image', url: 'https://cdn.example.com/me.png' },
      frame_size: '960:960',
      reference: { type: 'video', url: VIDEO },
    });
  });
});

describe('model settings', () => {
  it('resolves the drop’s model, else the default, and refuses unknown or disallowed ones', () => {
    const settings = {
      defaultModel: 'runway/act_two',
      allowedModels: ['runway/act_two', 'runway/gen4_aleph'],
    };
    expect(resolveModel({}, settings).id).toBe('runway/act_two');
    expect(resolveModel({ model: 'runway/gen4_aleph' }, settings).id).toBe('runway/gen4_aleph');
    expect(rejection(() => resolveModel({ model: 'runway/aleph2' }, settings))).toMatchObject({
      code: 'MODEL_UNKNOWN',
      model: 'runway/aleph2',
      field: 'model',
    });
    expect(
      rejection(() => resolveModel({ model: 'krea/krea-wan-14b/video-to-video' }, settings)),
    ).toMatchObject({
      code: 'MODEL_NOT_ALLOWED',
      field: 'model',
    });
  });

  it('waits for a prompt only when the model takes one', () => {
    expect(hasPrompt({})).toBe(false);
    expect(hasPrompt({ model: 'runway/act_two' })).toBe(true);
    expect(hasPrompt({ model: 'krea/krea-wan-14b/video-to-video' })).toBe(false);
    expect(hasPrompt({}, { defaultModel: 'runway/act_two' })).toBe(true);
    expect(hasPrompt({ model: 'nope' })).toBe(true);
  });

  it('keeps runway/gen4_aleph requests exactly as before', () => {
    expect(validateDropRequest({ prompt: 'snow', seed: 3 })).toStrictEqual({
      model: 'runway/gen4_aleph',
      prompt: 'snow',
      frameSize: '1280:720',
      duration: 5,
      seed: 3,
    });
  });

  it('reserves each model’s credit estimate, the configured one for gen4_aleph', () => {
    expect(estimateRequestCredits({ model: 'runway/gen4_aleph' }, 55)).toBe(55);
    expect(
      estimateRequestCredits({ model: 'blackforestlabs/flux-3-video-v2v', fields: { duration: 20 } }, 55),
    ).toBe(200);
    expect(estimateRequestCredits({ model: 'krea/krea-wan-14b/video-to-video', fields: {} }, 55)).toBe(30);
  });

  it('reads VIDFLOW_DEFAULT_MODEL and VIDFLOW_ALLOWED_MODELS, failing fast on ids the catalog lacks', () => {
    const base = { [EnvName.jobsTable]: 'jobs' };
    expect(
      loadConfig({
        ...base,
        [EnvName.defaultModel]: 'runway/act_two',
        [EnvName.allowedModels]: ' runway/act_two , runway/gen4_aleph ',
      }).models,
    ).toEqual({ defaultModel: 'runway/act_two', allowedModels: ['runway/act_two', 'runway/gen4_aleph'] });
    expect(() => loadConfig({ ...base, [EnvName.defaultModel]: 'runway/aleph2' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [EnvName.allowedModels]: 'runway/act_two' })).toThrow(
      /default model "runway\/gen4_aleph" is not among the allowed models/,
    );
    expect(modelSettingsProblems({ defaultModel: 'runway/gen4_aleph' })).toEqual([]);
  });
});
