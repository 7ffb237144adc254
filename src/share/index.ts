// The host-directory 9P server behind virtio-9p (see share.ts).

export { DirectoryShare, type DirectoryShareOptions } from './share.js';
export { ShareError } from './errors.js';
