import { describe, expect, it } from 'vitest';
import {
  deriveJobId,
  isTerminal,
  JobStatus,
  outputKeyProblem,
  outputKeysFor,
} from '../../functions/domain/job.js';

const identity = {
  bucket: 'vidflow-input',
  key: 'trips/clip.mp4',
  eTag: '0123456789abcdef0123456789abcdef',
  lastModified: '2025-05-01T12:00:00.000Z',
} as const;

describe('deriveJobId', () => {
  it('gives the same id for the same object version', () => {
    expect(deriveJobId(identity)).toBe(deriveJobId({ ...identity }));
  });

  it('is 20 characters of lowercase base32 (URL-safe)', () => {
    for (const key of ['a.mp4', 'trips/clip.mp4', 'été/vidéo 1.mp4', 'x'.repeat(1000)]) {
      expect(deriveJobId({ ...identity, key })).toMatch(/^[a-z2-7]{20}$/);
    }
  });

  it('is RFC 4648 base32 of sha256(bucket, key, version), so ids stored by earlier releases still match', () => {
    // Expected values computed independently: Python's base64.b32encode(sha256(...)).lower()[:20].
    expect(deriveJobId(identity)).toBe('pfgzbwkvo3sooyn7cpys');
    expect(deriveJobId({ ...identity, versionId: 'v1' })).toBe('aldncwx37g6esuxx3nju');
  });

  it('differs by version id', () => {
    expect(deriveJobId({ ...identity, versionId: 'v1' })).not.toBe(
      deriveJobId({ ...identity, versionId: 'v2' }),
    );
  });

  it('differs by ETag where the bucket is not versioned', () => {
    expect(deriveJobId({ ...identity, eTag: 'other' })).not.toBe(deriveJobId(identity));
  });

  it('differs by Last-Modified where the bucket is not versioned (same bytes uploaded again)', () => {
    expect(deriveJobId({ ...identity, lastModified: '2025-05-01T12:00:01.000Z' })).not.toBe(
      deriveJobId(identity),
    );
  });

  it('differs by key and by bucket', () => {
    expect(deriveJobId({ ...identity, key: 'trips/clip2.mp4' })).not.toBe(deriveJobId(identity));
    expect(deriveJobId({ ...identity, bucket: 'other' })).not.toBe(deriveJobId(identity));
  });

  it('uses the version id alone when there is one: a duplicate notification with another ETag spelling gives the same id', () => {
    expect(deriveJobId({ ...identity, versionId: 'v1', eTag: 'a' })).toBe(
      deriveJobId({ ...identity, versionId: 'v1', eTag: 'b', lastModified: 'other' }),
    );
  });
});

describe('outputKeysFor', () => {
  it('keeps folders and strips only the extension', () => {
    expect(outputKeysFor('a.b/c.d.mp4', 'job1')).toStrictEqual({
      video: 'a.b/c.d/job1.mp4',
      record: 'a.b/c.d/job1.json',
    });
  });

  it('handles a top-level key, spaces and Unicode', () => {
    expect(outputKeysFor('vidéo 1.MOV', 'job1')).toStrictEqual({
      video: 'vidéo 1/job1.mp4',
      record: 'vidéo 1/job1.json',
    });
  });

  it('leaves a key without an extension whole, even in a dotted folder', () => {
    expect(outputKeysFor('a.b/clip', 'job1')).toStrictEqual({
      video: 'a.b/clip/job1.mp4',
      record: 'a.b/clip/job1.json',
    });
  });
});

describe('outputKeyProblem', () => {
  it.each([
    ['..mp4', './job1.mp4'],
    ['a/..mp4', 'a/./job1.mp4'],
    ['a/...mp4', 'a/../job1.mp4'],
    ['./clip.mp4', './clip/job1.mp4'],
    ['a/../b.mp4', 'a/../b/job1.mp4'],
  ])('refuses %j, whose output key %j has a dot segment', (key, video) => {
    expect(outputKeysFor(key, 'job1').video).toBe(video);
    expect(outputKeyProblem(key, 'job1')).toMatch(/"\." or "\.\." segment/);
  });

  it.each(['a\u0001b.mp4', 'tab\there.mp4', 'x\u007f.mp4'])(
    'refuses %j, whose output key has a control character',
    (key) => {
      expect(outputKeyProblem(key, 'job1')).toBe('the output key would contain control characters');
    },
  );

  it('refuses a key whose output keys pass 1024 bytes, saying how long the input may be', () => {
    expect(outputKeyProblem(`${'k'.repeat(1000)}.mp4`, 'abcdefghijklmnopqrst')).toBe(
      'the output key would be 1026 bytes; S3 keys are at most 1024 (the input key may be 1002 bytes at most)',
    );
  });

  it.each([
    'clip.mp4',
    'a.b/c.d.mp4',
    '.hidden/clip.mp4',
    'a..b.mp4',
    'vidéo 🎬.mov',
    'a//b.mp4',
    `${'k'.repeat(998)}.mp4`,
  ])('accepts %j', (key) => {
    expect(outputKeyProblem(key, 'abcdefghijklmnopqrst')).toBeUndefined();
  });
});

describe('isTerminal', () => {
  it.each([
    [JobStatus.awaitingPrompt, false],
    [JobStatus.submitted, false],
    [JobStatus.generating, false],
    [JobStatus.copying, false],
    [JobStatus.completed, true],
    [JobStatus.failed, true],
    [JobStatus.rejected, true],
    [JobStatus.timedOut, true],
    [JobStatus.cancelled, true],
  ])('says %s is terminal: %s', (status, terminal) => {
    expect(isTerminal(status)).toBe(terminal);
  });
});
