import { parseParamsDocument, parseManifest } from '../functions/domain/params.js';
for (const [t, k] of [['[]','sidecar'], ['{"prompt":"p","strength":0.5}','sidecar'], ['{"seed":"7","references":["a",{"type":"video","url":"x"}]}','preset'], ['{"prompt":"p"}','manifest'], ['{"video":"","model":"m"}','manifest'], ['{"video":"a.mp4","references":[{"type":"image","url":"https://x"}]}','manifest']] as const) {
  try { console.log(k === 'manifest' ? parseManifest(t) : parseParamsDocument(t, k)); } catch (e) { console.log((e as any).code, (e as Error).message); }
}
