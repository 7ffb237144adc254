// `rvisor image pull NAME`: one builder per image name.

import { type PullOptions, pullDebian } from './debian.js';
import { pullDebianSystem, SYSTEM_IMAGE } from './debian-system.js';
import { ImageError } from './errors.js';
import type { ImageInfo } from './store.js';

export const IMAGE_NAMES = ['debian', 'debian-system'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export async function pullImage(name: string, opts: PullOptions = {}): Promise<ImageInfo> {
  if (name === 'debian') return pullDebian(opts);
  if (name === SYSTEM_IMAGE) return pullDebianSystem(opts);
  throw new ImageError(`unknown image ${JSON.stringify(name)}: rvisor can pull ${IMAGE_NAMES.join(', ')}`);
}
