import { describe, expect, it } from 'vitest';
import { InputRejectedError } from '../../functions/domain/errors.js';
import { MODEL } from '../../functions/domain/job.js';
import {
  FRAME_SIZES,
  isBlankPrompt,
  MAX_PARAMS_DOCUMENT_BYTES,
  mergeParams,
  type ParamsSource,
  parseExactInteger,
  parseManifest,
  parseMetadataParams,
  parseParamsDocument,
  validateDropRequest,
  validateRequest,
} from '../../functions/domain/params.js';
import { thrownBy } from '../support/assertions.js';

/** The rejection code `fn` throws, after checking it is an input rejection. */
function rejectionCode(fn: () => unknown): string {
  const error = thrownBy(fn);
  expect(error).toBeInstanceOf(InputRejectedError);
  return (error as InputRejectedError).code;
}

/** Validate a request built from metadata only, as a video drop with nothing else would be. */
function fromMetadata(metadata: Record<string, string>) {
  return validateRequest(mergeParams(parseMetadataParams(metadata)));
}

describe('where parameters come from', () => {
  it('takes each field from the highest source that has it: metadata, then sidecar, then preset', () => {
    const metadata: ParamsSource = { prompt: 'from metadata' };
    const sidecar: ParamsSource = { prompt: 'from sidecar', frameSize: '720:1280', seed: 1 };
    const preset: ParamsSource = {
      prompt: 'from preset',
      frameSize: '960:960',
      seed: 2,
      duration: 5,
      references: ['https://cdn.example.com/style.png'],
    };

    expect(mergeParams(metadata, sidecar, preset)).toStrictEqual({
      prompt: 'from metadata',
      frameSize: '720:1280',
      seed: 1,
      duration: 5,
      references: ['https://cdn.example.com/style.png'],
    });
  });

  it('skips sources that are absent', () => {
    expect(mergeParams(undefined, { seed: 9 }, undefined)).toStrictEqual({ seed: 9 });
  });

  it('reads every field of the S3 user metadata', () => {
    expect(
      parseMetadataParams({
        prompt: 'make it snow',
        'frame-size': ' 720:1280 ',
        duration: '5',
        seed: '42',
        references: 'https://a.example.com/1.png, https://b.example.com/2.png,',
      }),
    ).toStrictEqual({
      prompt: 'make it snow',
      frameSize: '720:1280',
      duration: 5,
      seed: 42,
      references: ['https://a.example.com/1.png', 'https://b.example.com/2.png'],
    });
  });

  it('decodes a percent-encoded UTF-8 metadata prompt', () => {
    expect(parseMetadataParams({ prompt: 'caf%C3%A9%20au%20lait%20%E2%98%95' })).toStrictEqual({
      prompt: 'café au lait ☕',
    });
  });

  it('keeps a literal percent sign that is not an escape ("100% natural")', () => {
    expect(parseMetadataParams({ prompt: '100% natural' })).toStrictEqual({ prompt: '100% natural' });
  });

  it('decodes a prompt S3 returns RFC 2047-encoded (raw non-ASCII metadata), B and Q, in several words', () => {
    const b = Buffer.from('東京の夜景、雪', 'utf8').toString('base64');
    expect(parseMetadataParams({ prompt: `=?UTF-8?B?${b}?=` })).toStrictEqual({ prompt: '東京の夜景、雪' });
    expect(parseMetadataParams({ prompt: '=?utf-8?Q?caf=C3=A9_au_lait?=' })).toStrictEqual({
      prompt: 'café au lait',
    });
    const [first, second] = [
      Buffer.from('snow on ').toString('base64'),
      Buffer.from('東京').toString('base64'),
    ];
    expect(parseMetadataParams({ prompt: `=?UTF-8?B?${first}?= =?UTF-8?B?${second}?=` })).toStrictEqual({
      prompt: 'snow on 東京',
    });
  });

  it('rejects an RFC 2047 prompt whose bytes are not UTF-8', () => {
    expect(rejectionCode(() => parseMetadataParams({ prompt: '=?UTF-8?B?/w==?=' }))).toBe('METADATA_INVALID');
  });

  it('rejects a metadata prompt whose percent-encoding is broken', () => {
    expect(rejectionCode(() => parseMetadataParams({ prompt: 'caf%C3' }))).toBe('METADATA_INVALID');
  });

  it('parses a sidecar with references as URLs or as image objects', () => {
    const text = JSON.stringify({
      prompt: 'relight at dusk',
      frame_size: '848:480',
      duration: 5,
      seed: 7,
      references: ['https://a.example.com/1.png', { type: 'image', url: 'https://b.example.com/2.png' }],
    });

    expect(parseParamsDocument(text, 'sidecar')).toStrictEqual({
      prompt: 'relight at dusk',
      frameSize: '848:480',
      duration: 5,
      seed: 7,
      references: ['https://a.example.com/1.png', 'https://b.example.com/2.png'],
    });
  });

  it('parses a manifest into its video and its parameters', () => {
    expect(parseManifest(JSON.stringify({ video: 'trips/clip.mp4', prompt: 'p', seed: 3 }))).toStrictEqual({
      video: 'trips/clip.mp4',
      params: { prompt: 'p', seed: 3 },
    });
  });
});

describe('validating a request', () => {
  it('fills the provider defaults: frame size 1280:720 and duration 5', () => {
    expect(validateRequest({ prompt: 'make it snow' })).toStrictEqual({
      model: MODEL,
      prompt: 'make it snow',
      frameSize: '1280:720',
      duration: 5,
    });
  });

  it('keeps seed and references when given', () => {
    expect(
      validateRequest({ prompt: 'p', seed: 0, references: ['https://a.example.com/x.png'] }),
    ).toStrictEqual({
      model: MODEL,
      prompt: 'p',
      frameSize: '1280:720',
      duration: 5,
      seed: 0,
      references: ['https://a.example.com/x.png'],
    });
  });

  it('drops an empty reference list', () => {
    expect(validateRequest({ prompt: 'p', references: [] })).toStrictEqual({
      model: MODEL,
      prompt: 'p',
      frameSize: '1280:720',
      duration: 5,
    });
  });

  it('rejects a missing prompt with PROMPT_MISSING', () => {
    expect(rejectionCode(() => validateRequest({}))).toBe('PROMPT_MISSING');
  });

  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['white space', '\n\t '],
    ['zero-width spaces', '\u200b\u200b'],
    ['zero-width joiners and a BOM', '\u200d\u200c\ufeff'],
    ['no-break and ideographic spaces', '\u00a0\u3000\u2007'],
    ['word joiner and soft hyphen', '\u2060\u00ad'],
    ['bidi marks', '\u200e\u200f\u202a\u202c'],
    ['Hangul fillers', '\u3164\u115f\uffa0'],
    ['a blank Braille pattern', '\u2800\u2800'],
    ['variation selectors and tags', '\ufe0f\u{e0041}\u{e007f}'],
    ['combining marks alone', '\u0301\u0308'],
  ])('rejects a prompt of %s, nothing visible, as blank with PROMPT_MISSING', (_name, prompt) => {
    expect(rejectionCode(() => validateRequest({ prompt }))).toBe('PROMPT_MISSING');
    expect(isBlankPrompt(prompt)).toBe(true);
  });

  it.each(['a', '\u200bcat\u200b', 'é', '🎬', '\u3164x', '.'])(
    'accepts a prompt with something visible: %j',
    (prompt) => {
      expect(isBlankPrompt(prompt)).toBe(false);
      expect(validateRequest({ prompt }).prompt).toBe(prompt);
    },
  );

  it('takes an empty metadata value as absent, so a sidecar value applies', () => {
    const merged = mergeParams(parseMetadataParams({ prompt: '', seed: '' }), {
      prompt: 'from sidecar',
      seed: 7,
    });
    expect(validateRequest(merged)).toMatchObject({ prompt: 'from sidecar', seed: 7 });
  });

  it.each([
    ['42.0', 'SEED_INVALID'],
    ['4.2e1', 'SEED_INVALID'],
    ['42.00000000000000001', 'SEED_INVALID'],
    ['4294967295.0000001', 'SEED_INVALID'],
    ['1E3', 'SEED_INVALID'],
  ])('rejects the sidecar seed %s, which JSON would round to an integer, with %s', (literal, code) => {
    expect(rejectionCode(() => parseParamsDocument(`{"prompt": "p", "seed": ${literal}}`, 'sidecar'))).toBe(
      code,
    );
  });

  it.each(['5.0', '5e0', '50e-1'])('rejects the manifest duration %s with DURATION_INVALID', (literal) => {
    expect(
      rejectionCode(() =>
        parseManifest(`{"video": "a.mp4", "prompt": "seed 1.5 and \\"x\\": 2.5", "duration": ${literal}}`),
      ),
    ).toBe('DURATION_INVALID');
  });

  it('accepts exact integers in documents, and numbers inside strings', () => {
    expect(
      parseParamsDocument('{"prompt": "rate 1.5e3", "seed": 4294967295, "duration": 5}', 'preset'),
    ).toStrictEqual({
      prompt: 'rate 1.5e3',
      seed: 4_294_967_295,
      duration: 5,
    });
  });

  it.each([
    ['42', 42],
    ['-7', -7],
    ['007', 7],
    ['42.0', undefined],
    ['+1', undefined],
    [' 1', undefined],
    ['1_000', undefined],
    ['9007199254740993', undefined],
    ['', undefined],
  ])('parseExactInteger(%j) is %s', (text, value) => {
    expect(parseExactInteger(text)).toBe(value);
  });

  it('rejects a prompt over 1000 characters with PROMPT_TOO_LONG', () => {
    expect(rejectionCode(() => validateRequest({ prompt: 'a'.repeat(1001) }))).toBe('PROMPT_TOO_LONG');
  });

  it('accepts a prompt of exactly 1000 characters', () => {
    expect(validateRequest({ prompt: 'a'.repeat(1000) }).prompt).toHaveLength(1000);
  });

  it('counts characters in UTF-16 code units as upstream does: 500 emoji are accepted, 500 emoji and one letter are not', () => {
    const fiveHundred = '🎬'.repeat(500);
    expect(fiveHundred.length).toBe(1000);
    expect(validateRequest({ prompt: fiveHundred }).prompt).toBe(fiveHundred);
    expect(rejectionCode(() => validateRequest({ prompt: `${fiveHundred}a` }))).toBe('PROMPT_TOO_LONG');
    expect(rejectionCode(() => validateRequest({ prompt: '🎬'.repeat(501) }))).toBe('PROMPT_TOO_LONG');
  });

  it('takes at most one reference image, as upstream does', () => {
    const two = ['https://a.example.com/1.png', 'https://b.example.com/2.png'];
    expect(rejectionCode(() => validateRequest({ prompt: 'p', references: two }))).toBe('REFERENCES_INVALID');
  });

  it('accepts a base64 data: URI reference of an image within 5 MB as encoded, and refuses others', () => {
    const png = `data:image/png;base64,${Buffer.from('not really a png').toString('base64')}`;
    expect(validateRequest({ prompt: 'p', references: [png] }).references).toEqual([png]);
    const tooBig = `data:image/png;base64,${'A'.repeat(5_000_000)}`;
    expect(rejectionCode(() => validateRequest({ prompt: 'p', references: [tooBig] }))).toBe(
      'REFERENCES_INVALID',
    );
    const notImage = `data:text/plain;base64,${Buffer.from('hi').toString('base64')}`;
    expect(rejectionCode(() => validateRequest({ prompt: 'p', references: [notImage] }))).toBe(
      'REFERENCES_INVALID',
    );
    expect(rejectionCode(() => validateRequest({ prompt: 'p', references: ['data:image/png,%00'] }))).toBe(
      'REFERENCES_INVALID',
    );
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['bell', 'ring \u0007'],
    ['escape', '\u001b[31mred'],
    ['DEL', 'x\u007f'],
    ['C1 next line', 'x\u0085y'],
  ])('rejects a prompt with a control character (%s) with PROMPT_INVALID', (_name, prompt) => {
    expect(rejectionCode(() => validateRequest({ prompt }))).toBe('PROMPT_INVALID');
  });

  it('accepts tabs and line breaks in a prompt', () => {
    expect(validateRequest({ prompt: 'line one\r\nline\ttwo' }).prompt).toBe('line one\r\nline\ttwo');
  });

  it.each([...FRAME_SIZES])('accepts the frame size %s', (frameSize) => {
    expect(validateRequest({ prompt: 'p', frameSize }).frameSize).toBe(frameSize);
  });

  it.each(['1920:1080', '1280x720', '', '1280:720 '])(
    'rejects the frame size %j with FRAME_SIZE_INVALID',
    (frameSize) => {
      expect(rejectionCode(() => validateRequest({ prompt: 'p', frameSize }))).toBe('FRAME_SIZE_INVALID');
    },
  );

  it('rejects a duration of 10 with DURATION_INVALID', () => {
    expect(rejectionCode(() => validateRequest({ prompt: 'p', duration: 10 }))).toBe('DURATION_INVALID');
    expect(rejectionCode(() => fromMetadata({ prompt: 'p', duration: '10' }))).toBe('DURATION_INVALID');
  });

  it('rejects a metadata duration that is not a number with DURATION_INVALID', () => {
    expect(rejectionCode(() => fromMetadata({ prompt: 'p', duration: 'five' }))).toBe('DURATION_INVALID');
  });

  it.each([
    '-1',
    '4294967296',
    '1.5',
    'abc',
    '1e3',
    '42.0',
    '+42',
    '0x2A',
    '٤٢',
    '42 7',
    '99999999999999999999',
  ])('rejects the metadata seed %j with SEED_INVALID: only exact plain-decimal integers pass', (seed) => {
    expect(rejectionCode(() => fromMetadata({ prompt: 'p', seed }))).toBe('SEED_INVALID');
  });

  it.each([
    ['0', 0],
    ['4294967295', 4_294_967_295],
  ])('accepts the metadata seed %s', (seed, expected) => {
    expect(fromMetadata({ prompt: 'p', seed }).seed).toBe(expected);
  });

  it.each([
    ['an http URL', 'http://cdn.example.com/x.png'],
    ['an ftp URL', 'ftp://cdn.example.com/x.png'],
    ['a malformed URL', 'not a url'],
    ['a scheme alone', 'https://'],
    ['a URL over 2048 characters', `https://cdn.example.com/${'a'.repeat(2048)}.png`],
  ])('rejects a reference that is %s with REFERENCES_INVALID', (_name, url) => {
    expect(rejectionCode(() => fromMetadata({ prompt: 'p', references: url }))).toBe('REFERENCES_INVALID');
  });
});

describe('parameter documents', () => {
  it('rejects a sidecar that is not JSON with SIDECAR_INVALID', () => {
    expect(rejectionCode(() => parseParamsDocument('{"prompt": "p",', 'sidecar'))).toBe('SIDECAR_INVALID');
  });

  it('reads a sidecar of exactly 64 KiB and rejects one byte more with SIDECAR_INVALID', () => {
    const document = (bytes: number) => `{"prompt":"${'a'.repeat(bytes - '{"prompt":""}'.length)}"}`;
    expect(Buffer.byteLength(document(MAX_PARAMS_DOCUMENT_BYTES))).toBe(65_536);

    expect(parseParamsDocument(document(MAX_PARAMS_DOCUMENT_BYTES), 'sidecar').prompt).toHaveLength(65_523);
    expect(rejectionCode(() => parseParamsDocument(document(MAX_PARAMS_DOCUMENT_BYTES + 1), 'sidecar'))).toBe(
      'SIDECAR_INVALID',
    );
  });

  it.each([
    ['a seed as a string', { seed: '7' }],
    ['a duration as a string', { duration: '5' }],
    ['a prompt as a number', { prompt: 42 }],
    ['references as a string', { references: 'https://a.example.com/x.png' }],
    [
      'a reference object of another type',
      { references: [{ type: 'video', url: 'https://a.example.com/x' }] },
    ],
  ])('rejects a sidecar with %s with SIDECAR_INVALID', (_name, document) => {
    expect(rejectionCode(() => parseParamsDocument(JSON.stringify(document), 'sidecar'))).toBe(
      'SIDECAR_INVALID',
    );
  });

  it.each(['[]', 'null', '"make it snow"', '42'])(
    'rejects a sidecar that is not an object (%s) with SIDECAR_INVALID',
    (text) => {
      expect(rejectionCode(() => parseParamsDocument(text, 'sidecar'))).toBe('SIDECAR_INVALID');
    },
  );

  it('says which fields are wrong and how, at most three of them', () => {
    const error = thrownBy(() =>
      parseParamsDocument(
        JSON.stringify({ prompt: 42, seed: '7', references: ['https://a.example.com/x.png', 3], extra: 1 }),
        'preset',
      ),
    );

    expect((error as Error).message).toBe(
      'preset is invalid: document: unknown field "extra"; prompt: expected a string, got a number; ' +
        'seed: expected a number, got a string',
    );
    expect((thrownBy(() => parseParamsDocument('[]', 'sidecar')) as Error).message).toBe(
      'sidecar is invalid: document: expected a JSON object, got an array',
    );
    expect((thrownBy(() => parseManifest('{"prompt":"p"}')) as Error).message).toBe(
      'manifest is invalid: video: is required',
    );
  });

  it('rejects a runway/gen4_aleph sidecar with an unknown field with SIDECAR_INVALID', () => {
    // Fields that are not common ones belong to the drop's model: for gen4_aleph, none do.
    const error = thrownBy(() =>
      validateDropRequest(parseParamsDocument(JSON.stringify({ prompt: 'p', strength: 0.5 }), 'sidecar')),
    );
    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error).toMatchObject({ code: 'SIDECAR_INVALID', retryable: false });
    expect((error as Error).message).toContain('strength');
  });

  it('rejects an invalid preset with PRESET_INVALID', () => {
    expect(rejectionCode(() => parseParamsDocument('{"frame_size": 1280}', 'preset'))).toBe('PRESET_INVALID');
    expect(rejectionCode(() => parseParamsDocument('not json', 'preset'))).toBe('PRESET_INVALID');
  });

  it.each([
    ['without a video', { prompt: 'p' }],
    ['with an empty video', { video: '', prompt: 'p' }],
  ])('rejects a manifest %s with MANIFEST_INVALID', (_name, manifest) => {
    expect(rejectionCode(() => parseManifest(JSON.stringify(manifest)))).toBe('MANIFEST_INVALID');
  });

  it('rejects a runway/gen4_aleph manifest with an unknown field with MANIFEST_INVALID', () => {
    const { params } = parseManifest(JSON.stringify({ video: 'a.mp4', prompt: 'p', strength: 0.5 }));
    expect(rejectionCode(() => validateDropRequest(params))).toBe('MANIFEST_INVALID');
  });

  it('rejects a manifest naming a model the catalog does not have with MODEL_UNKNOWN', () => {
    const { params } = parseManifest(JSON.stringify({ video: 'a.mp4', prompt: 'p', model: 'other' }));
    expect(rejectionCode(() => validateDropRequest(params))).toBe('MODEL_UNKNOWN');
  });
});
