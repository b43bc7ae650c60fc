/** Shape arithmetic shared by every stage. */

/** The product of `values` (1 for none): the number of elements of an array of that shape. */
export function product(values: readonly number[]): number {
  let p = 1;
  for (const v of values) p *= v;
  return p;
}
