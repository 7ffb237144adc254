// The host layer: what rvisor needs from the machine it runs on (Node APIs allowed here).
// Guest images, built from a distribution's packages and kept in the user's cache; the
// daemon's inventory of VMs, kept under the state directory.

export { pullImage, IMAGE_NAMES, type ImageName } from './image/pull.js';
export { openImage, listImages, removeImage, cacheRoot, type ImageInfo, type Manifest } from './image/store.js';
export { ImageError, ImageMissing } from './image/errors.js';
export type { PullOptions } from './image/debian.js';
export { EXIT_MARKER, guestCommandLine } from './image/init-script.js';
export { Inventory, INVENTORY_VERSION, type InventoryOptions } from './daemon/inventory.js';
export { insideState, stateRoot } from './daemon/paths.js';
export { startApi, type ApiOptions, type ApiServer } from './api/server.js';
