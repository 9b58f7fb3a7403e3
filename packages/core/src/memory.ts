import { binding } from "./binding";

/**
 * Returns the C heap's free pages to the system (glibc `malloc_trim(0)`,
 * which also releases whole free pages inside the heap). glibc keeps freed
 * memory mapped, so without this a long-running process's RSS keeps the peak
 * of every burst of native allocations. Returns true if memory was released;
 * false when there was none, or without glibc. Never throws; takes about a
 * millisecond per 15 MB released, on the calling thread.
 */
export function trimNativeHeap(): boolean {
  return binding().trimNativeHeap();
}
