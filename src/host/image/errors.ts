// One error type for everything `rvisor image` can get wrong, with a message written for
// the user: the CLI prints it as one line, without a stack trace.

export class ImageError extends Error {
  override name = 'ImageError';
}

/** The image has not been pulled (as opposed to being there but damaged). */
export class ImageMissing extends ImageError {
  override name = 'ImageMissing';
}
