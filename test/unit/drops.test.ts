import { describe, expect, it } from 'vitest';
import {
  classifyDrop,
  folderOf,
  isSafeManifestVideoKey,
  isSidecarKeyOf,
  presetKeysFor,
  sidecarKeyOf,
  VIDEO_SUFFIXES,
  videoContentType,
} from '../../functions/domain/drops.js';

describe('classifyDrop', () => {
  it.each(
    VIDEO_SUFFIXES.flatMap((suffix) => [
      suffix,
      suffix.toUpperCase(),
      `.${suffix[1]?.toUpperCase()}${suffix.slice(2)}`,
    ]),
  )('classifies a key ending in %s as a video', (suffix) => {
    const key = `trips/day one/clip${suffix}`;
    expect(classifyDrop(key)).toStrictEqual({ kind: 'video', key });
  });

  it('classifies a mixed-case .Mp4 key with Unicode and spaces as a video', () => {
    expect(classifyDrop('vacances/été 2024/plage.Mp4')).toStrictEqual({
      kind: 'video',
      key: 'vacances/été 2024/plage.Mp4',
    });
  });

  it('classifies "<video key>.json" as the sidecar of that video', () => {
    expect(classifyDrop('trips/clip.mp4.json')).toStrictEqual({
      kind: 'sidecar',
      key: 'trips/clip.mp4.json',
      videoKey: 'trips/clip.mp4',
    });
    expect(classifyDrop('clip.MOV.JSON')).toStrictEqual({
      kind: 'sidecar',
      key: 'clip.MOV.JSON',
      videoKey: 'clip.MOV',
    });
  });

  it('classifies _defaults.json as a preset of its folder', () => {
    expect(classifyDrop('trips/2024/_defaults.json')).toStrictEqual({
      kind: 'preset',
      key: 'trips/2024/_defaults.json',
      folder: 'trips/2024/',
    });
    expect(classifyDrop('_defaults.json')).toStrictEqual({
      kind: 'preset',
      key: '_defaults.json',
      folder: '',
    });
  });

  it("classifies a .json under jobs/ named after a video as that video's sidecar", () => {
    expect(classifyDrop('jobs/x.mp4.json')).toStrictEqual({
      kind: 'sidecar',
      key: 'jobs/x.mp4.json',
      videoKey: 'jobs/x.mp4',
    });
    expect(classifyDrop('jobs/x.MOV.Json')).toStrictEqual({
      kind: 'sidecar',
      key: 'jobs/x.MOV.Json',
      videoKey: 'jobs/x.MOV',
    });
  });

  it('matches the jobs/ prefix exactly as documented: JOBS/ and Jobs/ hold no manifests', () => {
    expect(classifyDrop('JOBS/run.json')).toStrictEqual({ kind: 'ignored', key: 'JOBS/run.json' });
    expect(classifyDrop('Jobs/run.JSON')).toStrictEqual({ kind: 'ignored', key: 'Jobs/run.JSON' });
    expect(classifyDrop('jobs/run.JSON')).toStrictEqual({ kind: 'manifest', key: 'jobs/run.JSON' });
  });

  it.each([
    ['clip.Mp4', { kind: 'video', key: 'clip.Mp4' }],
    ['a/b.wEbM', { kind: 'video', key: 'a/b.wEbM' }],
    ['clip.mp4.JSON', { kind: 'sidecar', key: 'clip.mp4.JSON', videoKey: 'clip.mp4' }],
    ['clip.Mp4.jSoN', { kind: 'sidecar', key: 'clip.Mp4.jSoN', videoKey: 'clip.Mp4' }],
  ])('classifies %s in mixed case', (key, drop) => {
    expect(classifyDrop(key)).toStrictEqual(drop);
  });

  it('tells a sidecar key of a video in any case of .json, and nothing else', () => {
    expect(isSidecarKeyOf('clip.mp4.JSON', 'clip.mp4')).toBe(true);
    expect(isSidecarKeyOf('clip.mp4.json', 'clip.mp4')).toBe(true);
    expect(isSidecarKeyOf('clip.mp4.jsonx', 'clip.mp4')).toBe(false);
    expect(isSidecarKeyOf('clip.MP4.json', 'clip.mp4')).toBe(false);
    expect(isSidecarKeyOf('clip.mp4.bak.json', 'clip.mp4')).toBe(false);
  });

  it('classifies other .json files under jobs/ as manifests', () => {
    expect(classifyDrop('jobs/batch/run-1.json')).toStrictEqual({
      kind: 'manifest',
      key: 'jobs/batch/run-1.json',
    });
  });

  it('classifies a video under jobs/ as a video', () => {
    expect(classifyDrop('jobs/x.mp4')).toStrictEqual({ kind: 'video', key: 'jobs/x.mp4' });
  });

  it.each([
    'notes.txt',
    'trips/photo.jpg',
    'trips/clip.mp4.bak',
    'trips/other.json',
    '.mp4',
    'trips/',
    'trips/clip.avi',
    'jobs/readme.txt',
    'trips/defaults.json',
  ])('ignores %j', (key) => {
    expect(classifyDrop(key)).toStrictEqual({ kind: 'ignored', key });
  });
});

describe('presetKeysFor', () => {
  it('lists the preset of every enclosing folder, nearest first', () => {
    expect(presetKeysFor('a/b/c/clip.mp4')).toStrictEqual([
      'a/b/c/_defaults.json',
      'a/b/_defaults.json',
      'a/_defaults.json',
      '_defaults.json',
    ]);
  });

  it('lists only the top-level preset for a top-level video', () => {
    expect(presetKeysFor('clip.mp4')).toStrictEqual(['_defaults.json']);
  });
});

describe('key helpers', () => {
  it('names the sidecar of a video by appending .json', () => {
    expect(sidecarKeyOf('trips/clip.mp4')).toBe('trips/clip.mp4.json');
  });

  it('gives the folder of a key with its trailing slash', () => {
    expect(folderOf('a/b/c.mp4')).toBe('a/b/');
    expect(folderOf('c.mp4')).toBe('');
  });

  it('keeps a stored video content type and derives one from the suffix otherwise', () => {
    expect(videoContentType({ key: 'a.mp4', contentType: 'video/quicktime' })).toBe('video/quicktime');
    expect(videoContentType({ key: 'a.MOV', contentType: 'application/octet-stream' })).toBe(
      'video/quicktime',
    );
    expect(videoContentType({ key: 'a.webm', contentType: '' })).toBe('video/webm');
    expect(videoContentType({ key: 'a.mkv', contentType: 'binary/octet-stream' })).toBe('video/x-matroska');
    expect(videoContentType({ key: 'a.m4v', contentType: 'application/octet-stream' })).toBe('video/x-m4v');
  });
});

describe('isSafeManifestVideoKey', () => {
  it.each(['trips/clip.mp4', 'clip.mp4', 'a/b.c/d..e.mp4', 'été/vidéo 1.mp4'])('accepts %j', (key) => {
    expect(isSafeManifestVideoKey(key)).toBe(true);
  });

  it.each([
    ['a parent segment', '../x.mp4'],
    ['a nested parent segment', 'a/../../x.mp4'],
    ['a leading slash', '/x'],
    ['an S3 URL', 's3://b/k'],
    ['an HTTPS URL', 'https://example.com/x.mp4'],
    ['a current-folder segment', 'a/./b'],
    ['a lone dot', '.'],
    ['an empty key', ''],
    ['a key over 1024 characters', `${'a'.repeat(1021)}.mp4`],
  ])('refuses %s (%j)', (_name, key) => {
    expect(isSafeManifestVideoKey(key)).toBe(false);
  });
});
