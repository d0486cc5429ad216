/** Drop a video with its prompt and parameters; checked by the pipeline's rules before upload. */
import { ApiError, api, type Target } from './api.js';
import { formatBytes, h, showBanner } from './dom.js';

/** The upload form: the drop zone, the key, the prompt and the parameters, sent on submit. */
export function renderUpload(main: HTMLElement, target: Target): void {
  let file: File | undefined;
  const chosen = h('p', { id: 'upload-chosen', 'aria-live': 'polite' }, 'No video chosen.');
  const key = h('input', {
    id: 'upload-key',
    name: 'key',
    required: true,
    autocomplete: 'off',
    'aria-describedby': 'upload-key-help',
  });
  const prompt = h('textarea', {
    id: 'upload-prompt',
    name: 'prompt',
    rows: 3,
    required: true,
    maxlength: target.rules.maxPromptCharacters * 2,
  });
  const frameSize = h(
    'select',
    { id: 'upload-frame-size', name: 'frameSize' },
    h('option', { value: '' }, 'default (1280:720)'),
    target.rules.frameSizes.map((size) => h('option', { value: size }, size)),
  );
  const seed = h('input', {
    id: 'upload-seed',
    name: 'seed',
    inputmode: 'numeric',
    autocomplete: 'off',
    placeholder: `0 to ${target.rules.maxSeed}`,
  });
  const problem = h('p', { id: 'upload-problem', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'upload-submit' }, 'Upload and start');
  const progress = h('p', { id: 'upload-progress', 'aria-live': 'polite' });
  const zone = dropZone(target, (picked) => {
    file = picked;
    chosen.textContent = picked ? `${picked.name} (${formatBytes(picked.size)})` : 'No video chosen.';
    if (picked && key.value.trim() === '') key.value = picked.name;
  });
  const form = h(
    'form',
    { class: 'upload', id: 'upload-form', novalidate: true },
    zone,
    chosen,
    h('label', { for: 'upload-key' }, 'Key in ', h('span', { class: 'mono' }, target.inputBucket)),
    key,
    h(
      'small',
      { id: 'upload-key-help' },
      'A folder path is fine (trips/day1.mp4); the key must end in .mp4, .mov, .m4v, .webm or .mkv.',
    ),
    h('label', { for: 'upload-prompt' }, 'Prompt'),
    prompt,
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('label', { for: 'upload-frame-size' }, 'Frame size'), frameSize),
      h('div', {}, h('label', { for: 'upload-seed' }, 'Seed (optional)'), seed),
    ),
    problem,
    submit,
    progress,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    problem.textContent = '';
    if (file === undefined) {
      problem.textContent = 'Choose or drop a video first.';
      return;
    }
    const fields = {
      key: key.value.trim(),
      prompt: prompt.value,
      frameSize: frameSize.value,
      seed: seed.value.trim(),
    };
    const picked = file;
    submit.disabled = true;
    void (async () => {
      try {
        const jobId = await upload(picked, fields, progress);
        progress.textContent = `Uploaded: job ${jobId}`;
        showBanner(undefined);
        location.hash = `#/job/${jobId}`;
      } catch (error) {
        problem.textContent =
          error instanceof ApiError || error instanceof Error ? error.message : String(error);
        progress.textContent = '';
      } finally {
        submit.disabled = false;
      }
    })();
  });
  main.replaceChildren(h('h1', {}, 'Upload a video'), form);
}

/**
 * The drop zone: a label for the (hidden) file input that also takes a dropped file, and opens
 * the file picker from the keyboard. `choose` hears every pick, or `undefined` for none.
 */
function dropZone(target: Target, choose: (picked: File | undefined) => void): HTMLElement {
  const fileInput = h('input', {
    type: 'file',
    id: 'upload-file',
    accept: 'video/*,.mp4,.mov,.m4v,.webm,.mkv',
    class: 'visually-hidden',
  });
  const zone = h(
    'label',
    { class: 'dropzone', id: 'dropzone', for: 'upload-file', tabindex: 0 },
    h('strong', {}, 'Drop a video here'),
    h('span', {}, ` or press to choose one (at most ${formatBytes(target.rules.maxInputBytes)})`),
    fileInput,
  );
  fileInput.addEventListener('change', () => choose(fileInput.files?.[0]));
  zone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      fileInput.click();
    }
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    choose(event.dataTransfer?.files[0]);
  });
  return zone;
}

/**
 * Checks the fields against the pipeline's rules before sending any byte, then uploads the video
 * with them as the drop's metadata.
 *
 * @returns the new job's id.
 * @throws ApiError with the server's message when the check or the upload is refused.
 */
async function upload(
  picked: File,
  fields: Readonly<Record<'key' | 'prompt' | 'frameSize' | 'seed', string>>,
  progress: HTMLElement,
): Promise<string> {
  await api('/api/uploads/check', {
    method: 'POST',
    body: JSON.stringify({ ...fields, sizeBytes: picked.size }),
  });
  progress.textContent = `Uploading ${formatBytes(picked.size)}…`;
  const query = new URLSearchParams(Object.entries(fields).filter(([, value]) => value !== ''));
  const uploaded = await api<{ jobId: string }>(`/api/uploads?${query}`, { method: 'PUT', body: picked });
  return uploaded.jobId;
}
