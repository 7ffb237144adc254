// What a block device model (virtio-blk) needs from storage: byte-addressed, synchronous
// reads and writes on an image. Storage formats (raw, qcow2) live in src/storage and know
// nothing of virtio; the device knows nothing of files.

export interface BlockBackend {
  /** Virtual disk size in bytes (a multiple of 512). */
  readonly size: number;
  readonly readOnly: boolean;
  /** Serial number for VIRTIO_BLK_T_GET_ID (at most 20 bytes are used). */
  readonly serial: string;
  /** Fills `dest` from disk offset `offset`. Throws on I/O error or a corrupt image. */
  read(offset: number, dest: Uint8Array): void;
  /** Writes `src` at `offset`. Throws on I/O error, or when read-only. */
  write(offset: number, src: Uint8Array): void;
  /** Makes every completed write durable (fdatasync, metadata included). */
  flush(): void;
  /** The range's contents become unspecified; storage may be released. */
  discard(offset: number, length: number): void;
  /** The range reads as zeroes afterwards; with `unmap`, storage may be released. */
  writeZeroes(offset: number, length: number, unmap: boolean): void;
  /** Forgets whatever is cached of the image: another process (a migration's source on
   *  shared storage) wrote it since it was opened. Absent: nothing is cached. */
  invalidate?(): void;
  close(): void;
}
