"""Random distortions that make MNIST digits look like real pictures after preprocessing.

A posted photo, once cropped and fit into MNIST's 20x20 box, still differs from MNIST by a
small shift, a tilt, a slightly different size or aspect, and a thicker or thinner pen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

CENTRE = 13.5  # of a 28x28 image, in pixel coordinates


@dataclass(frozen=True)
class Distortion:
    max_rotation_degrees: float = 12.0
    max_shear_degrees: float = 8.0
    scale_range: tuple[float, float] = (0.85, 1.12)
    max_aspect_change: float = 0.12
    max_shift_pixels: float = 2.5
    stroke_range: tuple[float, float] = (-0.35, 0.7)  # < 0 thins the pen, > 0 thickens it


def distort_batch(images: tf.Tensor, distortion: Distortion, seed: tf.Tensor) -> tf.Tensor:
    """One random affine warp and one random pen width per image of a (N, 28, 28, 1) float batch."""
    count = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 7)

    def uniform(index: int, low: float, high: float) -> tf.Tensor:
        return tf.random.stateless_uniform([count], seeds[index], low, high)

    rotation = uniform(0, -1.0, 1.0) * math.radians(distortion.max_rotation_degrees)
    shear = uniform(1, -1.0, 1.0) * math.radians(distortion.max_shear_degrees)
    scale = uniform(2, *distortion.scale_range)
    aspect = uniform(3, -1.0, 1.0) * distortion.max_aspect_change
    shift_x = uniform(4, -1.0, 1.0) * distortion.max_shift_pixels
    shift_y = uniform(5, -1.0, 1.0) * distortion.max_shift_pixels
    stroke = uniform(6, *distortion.stroke_range)

    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_inverse_affine(rotation, shear, scale * (1 + aspect), scale * (1 - aspect), shift_x, shift_y),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return _change_stroke_width(warped, stroke)


def _inverse_affine(rotation, shear, scale_x, scale_y, shift_x, shift_y) -> tf.Tensor:
    """Rows of 8 projective parameters that map each output pixel back to where it came from.

    The forward warp is: about the centre, scale by (scale_x, scale_y), shear, rotate, then shift.
    """
    cos, sin = tf.cos(rotation), tf.sin(rotation)
    tan = tf.tan(shear)
    # forward matrix M = R · H · S with H = [[1, tan], [0, 1]]
    m00, m01 = cos * scale_x, (cos * tan - sin) * scale_y
    m10, m11 = sin * scale_x, (sin * tan + cos) * scale_y
    determinant = m00 * m11 - m01 * m10
    a0, a1 = m11 / determinant, -m01 / determinant
    b0, b1 = -m10 / determinant, m00 / determinant
    source_x = CENTRE + shift_x
    source_y = CENTRE + shift_y
    a2 = CENTRE - a0 * source_x - a1 * source_y
    b2 = CENTRE - b0 * source_x - b1 * source_y
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _change_stroke_width(images: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Blend towards a 3x3 dilation (amount > 0) or erosion (amount < 0) of the ink."""
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
    amount = tf.reshape(amount, [-1, 1, 1, 1])
    target = tf.where(amount > 0, dilated, eroded)
    return tf.clip_by_value(images + tf.abs(amount) * (target - images), 0.0, 1.0)
