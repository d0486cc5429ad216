/**
 * Object keys on the local S3's disk. s3rver keeps an object as files under one directory per
 * `/`-separated key segment, joined with `path.join`: so `..` segments walk out of the bucket
 * (into the other bucket, or out of the data directory), `.` and empty segments vanish, and
 * distinct keys (`a//b`, `a/./b`, `a/b`) collide. Real S3 stores every key literally.
 *
 * This module gives s3rver an injective key-to-path encoding whose segments are never `.`, `..`
 * or empty, applied per segment start so that it keeps key order and prefixes (s3rver's listing
 * walks directories by encoded prefix):
 * - a segment starting with `.` starts with `.~` instead (`..` -> `.~.`), and one starting with
 *   `~` starts with `~~`;
 * - an empty segment that is not the last is written `~` (a last empty segment, as in the folder
 *   marker `a/`, is s3rver's own `._S3rver_object` file and stays as it is).
 */
import { createRequire } from 'node:module';

/** Encodes a key (or a key prefix) into s3rver's on-disk key path. */
export function encodeLocalKeyPath(key: string): string {
  const segments = key.split('/');
  return segments
    .map((segment, index) => {
      if (segment === '') return index === segments.length - 1 ? '' : '~';
      if (segment.startsWith('.')) return `.~${segment.slice(1)}`;
      if (segment.startsWith('~')) return `~${segment}`;
      return segment;
    })
    .join('/');
}

/** Decodes an on-disk key path written by {@link encodeLocalKeyPath}. */
export function decodeLocalKeyPath(keyPath: string): string {
  return keyPath
    .split('/')
    .map((segment) => {
      if (segment === '~') return '';
      if (segment.startsWith('.~')) return `.${segment.slice(2)}`;
      if (segment.startsWith('~~')) return segment.slice(1);
      return segment;
    })
    .join('/');
}

interface FilesystemStoreClass {
  encodeKeyPath(key: string): string;
  decodeKeyPath(keyPath: string): string;
  readonly prototype: {
    deleteObject(this: FilesystemStoreInstance, bucket: string, key: string): Promise<void>;
  };
}

interface FilesystemStoreInstance {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string, resource: string): string;
}

let installed = false;

/**
 * Makes s3rver's filesystem store use {@link encodeLocalKeyPath} for every key it stores, lists
 * or deletes (once per process; s3rver reads these statics at call time).
 */
export function installLiteralKeyPaths(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const store = require('s3rver/lib/stores/filesystem') as FilesystemStoreClass;
  const { rmdir, readdir, unlink } = require('node:fs/promises') as typeof import('node:fs/promises');
  const { join } = require('node:path') as typeof import('node:path');
  store.encodeKeyPath = encodeLocalKeyPath;
  store.decodeKeyPath = decodeLocalKeyPath;
  // s3rver's own deleteObject prunes empty directories from the raw key's segments: a `..`
  // segment would remove directories outside the bucket. The same, on encoded segments.
  store.prototype.deleteObject = async function deleteObject(bucket: string, key: string): Promise<void> {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        unlink(this.getResourcePath(bucket, key, resource)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        }),
      ),
    );
    const bucketPath = this.getBucketPath(bucket);
    const parts = encodeLocalKeyPath(key).split('/');
    parts.pop();
    while (parts.length > 0) {
      const dir = join(bucketPath, ...parts);
      const entries = await readdir(dir).catch(() => ['missing']);
      if (entries.length > 0) return;
      await rmdir(dir);
      parts.pop();
    }
  };
}

/** s3rver's upload ids: 32 hex digits. Anything else is refused before it names a directory. */
export function isLocalUploadId(uploadId: string): boolean {
  return /^[0-9a-f]{32}$/.test(uploadId);
}

/**
 * s3rver's router matches a key as non-empty `/`-separated segments, so a key with an empty
 * segment (`a//b`, `/a`) answers 404. Percent-encoding the slash that opens an empty segment
 * routes it, and the router's decoding gives back the literal key.
 */
export function routablePath(path: string): string {
  const match = /^(\/[^/]+\/)(.+)$/.exec(path);
  if (match === null) return path;
  const [, bucketPart = '', keyPart = ''] = match;
  return `${bucketPart}${keyPart.replace(/^\/|\/(?=\/)/g, '%2F')}`;
}
