/**
 * Segmentation handling at the end of nnU-Net v1's pipeline: MaskTransform (data outside the
 * nonzero mask back to 0) and RemoveLabelTransform(-1, 0).
 */
import { type Tensor, tidy } from '@nnunet/torch';

/**
 * MaskTransform(mask_was_used_for_normalization, mask_idx_in_seg=0, set_outside_to=0): in every data
 * channel c with maskedChannels[c], voxels where seg[:, 0] < 0 (outside the nonzero mask, or
 * outside the image after the spatial transform) become 0. Modifies data in place.
 */
export function maskOutside_(data: Tensor, seg: Tensor, maskedChannels: readonly boolean[]): void {
  tidy(() => {
    const outside = seg.select(1, 0).lt(0);
    maskedChannels.forEach((masked, c) => {
      if (masked && c < (data.shape[1] as number)) data.select(1, c).maskedFill_(outside, 0);
    });
  });
}

/** RemoveLabelTransform(remove, replace): seg voxels equal to `label` become `replacement`, in place. */
export function replaceLabel_(seg: Tensor, label: number, replacement: number): void {
  tidy(() => {
    seg.maskedFill_(seg.eq(label), replacement);
  });
}
