import { existsSync } from 'node:fs';

/**
 * The file for a v1 case path written with .nii.gz: that file when it exists, else the same name
 * with .nii (users never have to gzip by hand). Returns the .nii.gz path when neither exists.
 */
export function resolveNifti(niiGzPath: string): string {
  if (existsSync(niiGzPath)) return niiGzPath;
  const plain = niiGzPath.replace(/\.nii\.gz$/, '.nii');
  return existsSync(plain) ? plain : niiGzPath;
}
