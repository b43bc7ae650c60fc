/**
 * The opaque native handles the addon hands out, as branded types (their own module so that the
 * generated op declarations and native.ts both use them without importing each other).
 */
declare const handleBrand: unique symbol;
/** Opaque native tensor handle (an N-API external owning one at::Tensor). */
export type Handle = { readonly [handleBrand]: 'tensor' };
declare const genBrand: unique symbol;
export type GenHandle = { readonly [genBrand]: 'generator' };
