// Errors of the share: configuration mistakes (ShareError, thrown to the host code that
// builds the share) and 9P failures (NineError, turned into an Rlerror for the guest).

/** A share that cannot be set up (bad root, bad tag). Thrown by the constructor only. */
export class ShareError extends Error {
  override readonly name = 'ShareError';
}

/** Linux errno values as the guest's 9p client expects them in Rlerror. They are written
 *  out rather than taken from os.constants because the host may not be Linux. */
export const Errno = {
  EPERM: 1, ENOENT: 2, EIO: 5, ENXIO: 6, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20,
  EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ETXTBSY: 26, EFBIG: 27, ENOSPC: 28,
  ESPIPE: 29, EROFS: 30, EMLINK: 31, ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36,
  ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENODATA: 61, EOVERFLOW: 75,
  EOPNOTSUPP: 95, ESTALE: 116, EDQUOT: 122,
} as const;

/** A request the server refuses with this errno. */
export class NineError extends Error {
  constructor(readonly errno: number, message = '') {
    super(message || `errno ${errno}`);
  }
}

export const fail = (errno: number, why = ''): never => {
  throw new NineError(errno, why);
};

/** The errno for anything a handler threw: ours, a Node fs error (by its code), or a bug
 *  (EIO, so a server fault never takes the VMM down). */
export function errnoOf(e: unknown): number {
  if (e instanceof NineError) return e.errno;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && Object.hasOwn(Errno, code)) return Errno[code as keyof typeof Errno];
  if (code === 'ENOTSUP') return Errno.EOPNOTSUPP;
  if (code === 'EWOULDBLOCK') return Errno.EAGAIN;
  return Errno.EIO;
}
