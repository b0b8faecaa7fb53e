/**
 * Where a helper built from native/ (`make -C native`) is: SBD_NATIVE_DIR, else native/build of the checkout, from
 * the source layout (src/lib → ../../native) or the built one (dist/src/lib → ../../../native, as in the image).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function findNativeLibrary(file: string): { path: string | undefined; candidates: string[] } {
  const candidates = [
    process.env.SBD_NATIVE_DIR && `${process.env.SBD_NATIVE_DIR}/${file}`,
    fileURLToPath(new URL(`../../native/build/${file}`, import.meta.url)),
    fileURLToPath(new URL(`../../../native/build/${file}`, import.meta.url)),
  ].filter((p): p is string => !!p);
  return { path: candidates.find((p) => existsSync(p)), candidates };
}
