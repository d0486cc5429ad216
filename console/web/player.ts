/**
 * One play/pause/seek control for several videos: the first leads, the others follow its clock
 * (re-aligned whenever they drift by more than a frame or two).
 */
import { h } from './dom.js';

const MAX_DRIFT_SECONDS = 0.1;

export function linkVideos(videos: readonly HTMLVideoElement[]): HTMLElement {
  const [leader, ...followers] = videos;
  const play = h('button', { type: 'button', id: 'play', 'aria-label': 'Play both videos' }, '▶ Play');
  const seek = h('input', {
    type: 'range',
    id: 'seek',
    min: 0,
    max: 1000,
    value: 0,
    step: 1,
    'aria-label': 'Position in both videos',
  });
  const clock = h('output', { id: 'clock', for: 'seek' }, '0.0 / 0.0 s');
  const group = h(
    'div',
    { class: 'player', role: 'group', 'aria-label': 'Playback of both videos' },
    play,
    seek,
    clock,
  );
  if (leader === undefined) return group;
  const duration = () => (Number.isFinite(leader.duration) ? leader.duration : 0);
  const show = () => {
    clock.textContent = `${leader.currentTime.toFixed(1)} / ${duration().toFixed(1)} s`;
    if (duration() > 0) seek.value = String(Math.round((leader.currentTime / duration()) * 1000));
    const playing = !leader.paused && !leader.ended;
    play.textContent = playing ? '❚❚ Pause' : '▶ Play';
    play.setAttribute('aria-label', playing ? 'Pause both videos' : 'Play both videos');
  };
  const align = () => {
    for (const follower of followers) {
      const target = Math.min(
        leader.currentTime,
        Number.isFinite(follower.duration) ? follower.duration : leader.currentTime,
      );
      if (Math.abs(follower.currentTime - target) > MAX_DRIFT_SECONDS) follower.currentTime = target;
    }
  };
  play.addEventListener('click', () => {
    if (leader.paused || leader.ended) {
      if (leader.ended) leader.currentTime = 0;
      align();
      for (const video of videos) void video.play().catch(() => undefined);
    } else for (const video of videos) video.pause();
  });
  seek.addEventListener('input', () => {
    const time = (Number(seek.value) / 1000) * duration();
    leader.currentTime = time;
    align();
    show();
  });
  leader.addEventListener('timeupdate', () => {
    align();
    show();
  });
  for (const event of ['play', 'pause', 'ended', 'loadedmetadata', 'seeked'])
    leader.addEventListener(event, show);
  leader.addEventListener('pause', () => {
    for (const follower of followers) follower.pause();
  });
  return group;
}
