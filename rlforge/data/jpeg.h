// rlforge/data/jpeg.h — JPEG frames for image observations in datasets, on
// Debian's libjpeg (libjpeg-turbo).
//
// Minari stores an image observation space's frames as JPEG bytes, one per
// observation, encoded by Pillow with its defaults: baseline, quality 75,
// 4:2:0 chroma subsampling for RGB (libjpeg's defaults, which EncodeJpeg
// uses too), and decodes them with Pillow (libjpeg's default islow DCT and
// fancy upsampling, as DecodeJpeg). JPEG is lossy: a frame read back differs
// from the one written by a few intensity levels.
#ifndef RLFORGE_DATA_JPEG_H_
#define RLFORGE_DATA_JPEG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/env/space.h"

namespace rlforge {

// Whether Minari treats `space` as images (minari.dataset.minari_storage.
// is_image_space): a uint8 Box of rank 2 or 3, at least 32 x 32, bounds 0
// and 255.
bool IsMinariImageSpace(const Space& space);

// An image space's frame: [H, W] (1 channel) or [H, W, C].
struct FrameShape {
  int height = 0, width = 0, channels = 0;
  size_t bytes() const { return static_cast<size_t>(height) * width * channels; }
};
FrameShape ImageFrameShape(const Space& space);

// Encodes an 8-bit image of `channels` (1: grayscale, 3: RGB) interleaved
// components, rows top to bottom. Error when libjpeg fails.
std::vector<uint8_t> EncodeJpeg(const uint8_t* pixels, int height, int width, int channels, int quality = 75);

// Decodes `bytes` into `out` [height * width * channels], converting to
// grayscale or RGB as `channels` asks. InvalidArgument (naming `what`) when
// the bytes are not a JPEG or the image is not height x width.
void DecodeJpeg(const uint8_t* bytes, size_t size, int height, int width, int channels, uint8_t* out,
                const std::string& what);

// What a frame of image space `space` reads back as from a dataset: its JPEG
// encoding decoded, in place (how replays of such datasets compare frames).
void JpegRoundTrip(const Space& space, uint8_t* frame);

}  // namespace rlforge

#endif  // RLFORGE_DATA_JPEG_H_
