"""Picture bytes → the 28×28 MNIST-style tensor the model reads, in four steps: decoding → page and ink →
finding the digit → framing. Small images, Pillow's C filters and numpy: a 12 MP photo costs a few milliseconds."""

from bot.imaging.decoding import ImageLimits, decode_picture
from bot.imaging.framing import to_mnist_tensor
from bot.imaging.numbers import MAX_DIGITS, NumberInk, to_number_tensors

__all__ = ["MAX_DIGITS", "ImageLimits", "NumberInk", "decode_picture", "to_mnist_tensor", "to_number_tensors"]
